"""Export a merged Hugging Face model folder to a GGUF file that llama.cpp (``xllamacpp``) can run.

Written here because llama.cpp's own ``convert_hf_to_gguf.py`` is not a package and is not available
offline; it follows that script for the architectures LLUMI trains (llama, incl. SmolLM2; gemma3),
using the ``gguf`` package's ``GGUFWriter`` and ``TensorNameMap``.

Where the run started from a GGUF (a packaged default), pass it as ``reference_gguf``: its tokenizer
and descriptive metadata are copied as they are, so llama.cpp tokenises exactly as it did for the
original model. Without one, a byte-level BPE tokenizer is rebuilt from ``tokenizer.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from llumi.errors import InputError

OUTTYPES = ("f32", "f16", "q8_0", "q4_0")

# HF model_type -> GGUF architecture
ARCHITECTURES = {"llama": "llama", "mistral": "llama", "gemma3_text": "gemma3", "gemma3": "gemma3"}

# Keys never copied from the reference (they describe the reference's own file or are set here).
_OWN_KEYS = ("GGUF.", "general.architecture", "general.file_type", "general.quantization_version")


def export_gguf(
    hf_folder: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    outtype: str = "f16",
    reference_gguf: str | os.PathLike | None = None,
) -> Path:
    """Write the model in ``hf_folder`` (merged; no adapter) to ``out_path`` as GGUF ``outtype``."""
    import gguf
    import numpy as np

    folder = Path(hf_folder)
    out = Path(out_path)
    if outtype not in OUTTYPES:
        raise InputError(f"GGUF outtype {outtype!r} is not one of {', '.join(OUTTYPES)}")
    if not (folder / "config.json").exists():
        adapter = (folder / "adapter_config.json").exists()
        hint = " (it holds a LoRA adapter: export the merged model instead)" if adapter else ""
        raise InputError(f"{folder} is not a Hugging Face model folder: no config.json{hint}")
    config = json.loads((folder / "config.json").read_text())
    if "text_config" in config and config.get("model_type") == "gemma3":
        raise InputError(f"{folder}: multimodal gemma3 checkpoints are not supported; use the text model")
    model_type = config.get("model_type")
    arch = ARCHITECTURES.get(model_type)
    if arch is None:
        raise InputError(
            f"{folder}: GGUF export supports model types {', '.join(sorted(ARCHITECTURES))}, not {model_type!r}"
        )
    reference = gguf.GGUFReader(str(reference_gguf)) if reference_gguf else None
    if reference is not None:
        ref_arch = _field(reference, "general.architecture")
        if ref_arch != arch:
            raise InputError(f"reference GGUF {reference_gguf} is a {ref_arch!r} model, this one is {arch!r}")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    writer = gguf.GGUFWriter(str(tmp), arch)
    try:
        _write_hparams(writer, arch, config, outtype)
        if reference is not None:
            _copy_reference_kv(writer, reference, config)
            template = _chat_template(folder) or _field(reference, "tokenizer.chat_template")
            if template:  # the folder's template is the one the model was tuned with
                writer.add_chat_template(template)
        else:
            writer.add_name(config.get("_name_or_path") or folder.name)
            _write_bpe_tokenizer(writer, folder, config)
        _write_tensors(writer, folder, arch, config, outtype, np, gguf)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return out


# --- hyperparameters --------------------------------------------------------------------------

def _rope_theta(config: dict[str, Any], layer_type: str | None = None, default: float = 10000.0) -> float:
    rp = config.get("rope_parameters") or {}
    if layer_type and isinstance(rp.get(layer_type), dict):
        rp = rp[layer_type]
    return float(rp.get("rope_theta") or config.get("rope_theta") or default)


def _write_hparams(writer, arch: str, c: dict[str, Any], outtype: str) -> None:
    import gguf

    n_head = c["num_attention_heads"]
    n_kv = c.get("num_key_value_heads") or n_head
    head_dim = c.get("head_dim") or c["hidden_size"] // n_head
    writer.add_context_length(c.get("max_position_embeddings", 2048))
    writer.add_embedding_length(c["hidden_size"])
    writer.add_block_count(c["num_hidden_layers"])
    writer.add_feed_forward_length(c["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_layer_norm_rms_eps(c.get("rms_norm_eps", 1e-6))
    writer.add_file_type({"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                          "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[outtype])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    if arch == "llama":
        if c.get("attention_bias") or c.get("mlp_bias"):
            raise InputError("GGUF export: llama models with attention or MLP biases are not supported")
        rope = c.get("rope_parameters") or c.get("rope_scaling") or {}
        rope_type = rope.get("rope_type") or rope.get("type") or "default"
        if rope_type not in ("default", "linear"):
            raise InputError(f"GGUF export: rope type {rope_type!r} is not supported (default and linear are)")
        writer.add_rope_freq_base(_rope_theta(c))
        writer.add_vocab_size(c["vocab_size"])
        writer.add_rope_dimension_count(head_dim)
        if head_dim != c["hidden_size"] // n_head:
            writer.add_key_length(head_dim)
            writer.add_value_length(head_dim)
        if rope_type == "linear":
            writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            writer.add_rope_scaling_factor(rope["factor"])
    elif arch == "gemma3":  # as llama.cpp's Gemma3Model.set_gguf_parameters
        if c.get("query_pre_attn_scalar", head_dim) != head_dim:
            raise InputError("GGUF export: llama.cpp's gemma3 scales attention by 1/sqrt(head_dim); this "
                             f"model has query_pre_attn_scalar={c['query_pre_attn_scalar']} != head_dim={head_dim}")
        if c.get("final_logit_softcapping") or c.get("attn_logit_softcapping"):
            raise InputError("GGUF export: gemma3 logit soft-capping is not supported by llama.cpp's gemma3")
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        writer.add_rope_freq_base(_rope_theta(c, "full_attention", 1_000_000.0))
        writer.add_sliding_window(c["sliding_window"])
        rope = (c.get("rope_parameters") or {}).get("full_attention") or c.get("rope_scaling") or {}
        if (rope.get("rope_type") or rope.get("type")) == "linear":
            writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            writer.add_rope_scaling_factor(rope["factor"])


def _copy_reference_kv(writer, reference, config: dict[str, Any]) -> None:
    """Copy the tokenizer and descriptive metadata of the GGUF the model came from."""
    import gguf

    arch = reference.fields["general.architecture"].contents()
    tokens = reference.fields.get("tokenizer.ggml.tokens")
    if tokens is not None and len(tokens.data) != config["vocab_size"]:
        raise InputError(
            f"reference GGUF has {len(tokens.data)} tokens but the model's vocab_size is {config['vocab_size']}: "
            "it is not the GGUF this model came from"
        )
    for key, field in reference.fields.items():
        if key.startswith(_OWN_KEYS) or key.startswith(f"{arch}.") or key == "tokenizer.chat_template":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub_type=sub)


def _field(reader, key: str) -> Any:
    field = reader.fields.get(key)
    return field.contents() if field is not None else None


def _chat_template(folder: Path) -> str | None:
    """The chat template saved with a Hugging Face tokenizer, if any."""
    if (folder / "chat_template.jinja").exists():
        return (folder / "chat_template.jinja").read_text()
    cfg = folder / "tokenizer_config.json"
    template = json.loads(cfg.read_text()).get("chat_template") if cfg.exists() else None
    return template if isinstance(template, str) else None


# --- tokenizer (no reference) -----------------------------------------------------------------

def _pre_tokenizer_name(tok_json: dict[str, Any]) -> str:
    """llama.cpp's name for a byte-level pre-tokenizer, recognised by its structure."""
    pre = tok_json.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [p.get("type") for p in parts]
    if kinds == ["ByteLevel"] and parts[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits") and parts[1].get("use_regex", True):
        return "smollm"  # individual digits, then the GPT-2 regex (as starcoder / SmolLM)
    raise InputError(
        f"GGUF export: pre-tokenizer {kinds} is not one this exporter recognises; export with "
        "reference_gguf=<the GGUF the model came from>, or use the transformers backend"
    )


def _write_bpe_tokenizer(writer, folder: Path, config: dict[str, Any]) -> None:
    import gguf
    from transformers import AutoTokenizer

    path = folder / "tokenizer.json"
    if not path.exists():
        raise InputError(f"{folder}: no tokenizer.json; GGUF export needs a fast (tokenizers) tokenizer")
    tj = json.loads(path.read_text())
    model = tj.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise InputError(
            f"{folder}: GGUF export rebuilds byte-level BPE tokenizers only (this one is "
            f"{model.get('type')}{', byte-fallback' if model.get('byte_fallback') else ''}); "
            "pass reference_gguf=<the GGUF the model came from>"
        )
    pre = _pre_tokenizer_name(tj)
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    vocab: dict[str, int] = dict(model["vocab"])
    added = {a["content"]: a for a in tj.get("added_tokens", [])}
    for content, a in added.items():
        vocab[content] = a["id"]
    size = max(config["vocab_size"], max(vocab.values()) + 1)
    by_id = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(size):
        t = by_id.get(i)
        if t is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif t in added:
            tokens.append(t)
            types.append(gguf.TokenType.CONTROL if added[t].get("special") else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(t)
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for token, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                       ("unk", writer.add_unk_token_id), ("pad", writer.add_pad_token_id)):
        tid = getattr(tok, f"{token}_token_id")
        if tid is not None:
            add(tid)
    probe = tok("a")["input_ids"]
    writer.add_add_bos_token(bool(probe) and tok.bos_token_id is not None and probe[0] == tok.bos_token_id)
    writer.add_add_eos_token(bool(probe) and tok.eos_token_id is not None and probe[-1] == tok.eos_token_id)
    template = _chat_template(folder) or tok.chat_template
    if template:
        writer.add_chat_template(template)


# --- tensors ----------------------------------------------------------------------------------

def _permute(w, n_head: int):
    """HF -> llama.cpp rotary layout for llama Q/K weights (as llama.cpp's convert script; pass the
    number of key/value heads for K)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _iter_weights(folder: Path):
    import torch
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise InputError(f"{folder}: no *.safetensors weights (save the model with safe_serialization)")
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for name in st.keys():
                yield name, st.get_tensor(name).to(torch.float32).numpy()


def _write_tensors(writer, folder, arch, c, outtype, np, gguf) -> None:
    written: set[str] = set()
    n_head = c["num_attention_heads"]
    n_kv = c.get("num_key_value_heads") or n_head
    tied = c.get("tie_word_embeddings", arch == "gemma3")
    name_map = gguf.TensorNameMap(gguf.MODEL_ARCH[arch.upper()], c["num_hidden_layers"])
    for name, data in _iter_weights(folder):
        if name.endswith((".rotary_emb.inv_freq", "rotary_emb.inv_freq")):
            continue
        if tied and name == "lm_head.weight":
            continue
        if arch == "llama" and name.endswith("q_proj.weight"):
            data = _permute(data, n_head)
        elif arch == "llama" and name.endswith("k_proj.weight"):
            data = _permute(data, n_kv)
        elif arch == "gemma3" and name.endswith("norm.weight"):
            data = data + 1.0  # llama.cpp's Gemma norms hold (1 + w)
        new = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise InputError(f"GGUF export: no llama.cpp name for tensor {name!r} ({arch})")
        if new in written:
            raise InputError(f"GGUF export: two tensors map to {new!r}")
        written.add(new)
        data = np.ascontiguousarray(data)
        qtype = None
        if outtype == "q8_0" or (outtype == "q4_0" and new in ("token_embd.weight", "output.weight")):
            qtype = gguf.GGMLQuantizationType.Q8_0  # as llama.cpp, embeddings stay at 8 bits
        elif outtype == "q4_0":
            qtype = gguf.GGMLQuantizationType.Q4_0
        if data.ndim <= 1 or outtype == "f32" or new.endswith("_norm.weight"):
            writer.add_tensor(new, data.astype(np.float32))
        elif qtype is not None and data.shape[-1] % gguf.GGML_QUANT_SIZES[qtype][0] == 0:
            writer.add_tensor(new, gguf.quants.quantize(data.astype(np.float32), qtype), raw_dtype=qtype)
        else:
            writer.add_tensor(new, data.astype(np.float16))
