"""A tiny random Llama model with a byte-level BPE tokenizer trained on the fly, for fast tests.

``make_tiny_model(path)`` writes a complete Hugging Face model folder (config, safetensors weights,
tokenizer with a chat template, bos/eos/pad) and returns its path. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from pathlib import Path

# A chat template in the ChatML style SmolLM2 uses, so the tiny model exercises the same path.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_SUBJECTS = ["I", "my friend", "my sister", "the team", "everyone here", "my partner", "nobody", "you"]
_VERBS = ["feel", "worry about", "keep thinking about", "cannot stop", "want to talk about", "miss", "hope for"]
_OBJECTS = [
    "the exams next week", "sleeping at night", "the new job", "being alone", "a long walk outside",
    "the way things were", "asking for help", "what happens tomorrow", "a quiet evening", "getting better",
]
_ENDINGS = [".", "!", "?", ", and it is hard.", ", but it helps to share.", " every single day."]


def sentences(n: int = 400, seed: int = 0) -> list[str]:
    """Invented sentences in the register of a support forum, for training the tokenizer."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_ENDINGS)}"
        for _ in range(n)
    ]


def make_tokenizer(vocab_size: int = 400, seed: int = 0, texts=None):
    """A byte-level BPE ``PreTrainedTokenizerFast`` (GPT-2 pre-tokenizer) with a chat template, trained on
    ``texts`` (an iterable of strings; default: invented sentences)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(sentences(seed=seed) if texts is None else texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def make_tiny_model(path: str | Path, *, seed: int = 0, vocab_size: int = 400,
                    tie_word_embeddings: bool = True) -> Path:
    """Write a tiny random LlamaForCausalLM (2 layers, hidden 64, 4 heads, 2 kv heads) to ``path``."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    path = Path(path)
    tokenizer = make_tokenizer(vocab_size=vocab_size, seed=seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Larger than the default init, so greedy decoding is not a flat tie between tokens.
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.2)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_tiny_gemma3(path: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny random Gemma3ForCausalLM (text only; 2 layers, hidden 64) with the same tokenizer."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, GenerationConfig

    path = Path(path)
    tokenizer = make_tokenizer(vocab_size=vocab_size, seed=seed)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        query_pre_attn_scalar=16,
        sliding_window=64,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.2)
            elif name.endswith("norm.weight"):
                p.normal_(0.0, 0.1)  # Gemma norms scale by (1 + w): exercise the export's +1
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
