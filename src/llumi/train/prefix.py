"""Shared-prefix batches for SFT: a prompt prefix that every row of a batch begins with (the GM system
prompt, ~130 of ~330 tokens per row) is computed once per batch instead of once per row.

TRL's padding-free batch is one flat sequence of rows ``[row1][row2]...`` with position ids restarting
at 0 for each row. When all rows begin with the same P tokens and none of those P positions feeds the
loss, ``SharedPrefixCollator`` rewrites it as ``[prefix][suffix1][suffix2]...``: the prefix once at
positions 0..P-1, each suffix at positions P.. as in its row. ``prefix_sdpa`` (an attention function
registered with transformers) lets the prefix attend causally to itself and each suffix to the prefix and
causally to itself, so every suffix token sees exactly the keys and values it saw in its own row. The
prefix's hidden states are the same in every row (same tokens, same positions, causal attention), so
the loss is the same and each LoRA weight's gradient through the prefix is the sum over the rows, as
before; only the prefix's linear layers, norms and attention run once instead of once per row.

One difference, statistical only: LoRA dropout draws one mask for the shared prefix instead of one per
row (each row's mask has the same distribution as before, so the expected gradient is unchanged).

Valid where the model runs its attention through transformers' ``sdpa`` (full or sliding-window causal
attention layers only) on TRL's padding-free batches; ``applies`` says why not otherwise, and the
recipe then trains on the plain batches. ``shared_prefix: false`` in a recipe turns it off.
"""

from __future__ import annotations

from typing import Any

NAME = "llumi_prefix_sdpa"
KEY = "shared_prefix"  # the model keyword that carries the layout: (P, (suffix lengths...))
REAL_TOKENS = "llumi_real_tokens"  # tokens of the rows as they were (prefix counted once per row)
MIN_PREFIX = 8  # shorter shared prefixes are not worth the extra attention calls


def register() -> str:
    """Register ``prefix_sdpa`` with transformers (idempotent); returns its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, prefix_sdpa)
    if NAME not in ALL_MASK_ATTENTION_FUNCTIONS:  # plain batches get sdpa's own masks
        AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME


def prefix_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """transformers' sdpa attention; on a shared-prefix batch, the prefix and each suffix separately."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    layout = kwargs.pop(KEY, None)
    if layout is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    prefix, lengths = layout
    window = kwargs.get("sliding_window") or None
    device = query.device
    pos = torch.arange(prefix + max(lengths), device=device)

    def mask(q_pos, k_pos):  # causal (and sliding-window) by position in the row, as the model's own mask
        m = k_pos[None, :] <= q_pos[:, None]
        if window:
            m = m & (q_pos[:, None] - k_pos[None, :] < window)
        return m[None, None]

    kp, vp = key[:, :, :prefix], value[:, :, :prefix]
    outs = [sdpa_attention_forward(module, query[:, :, :prefix], kp, vp,
                                   mask(pos[:prefix], pos[:prefix]) if window else None,
                                   dropout=dropout, scaling=scaling, **kwargs)[0]]
    start = prefix
    for n in lengths:
        end = start + n
        q_pos = pos[prefix:prefix + n]
        k = torch.cat([kp, key[:, :, start:end]], dim=2)
        v = torch.cat([vp, value[:, :, start:end]], dim=2)
        outs.append(sdpa_attention_forward(module, query[:, :, start:end], k, v, mask(q_pos, pos[:prefix + n]),
                                           dropout=dropout, scaling=scaling, **kwargs)[0])
        start = end
    return torch.cat(outs, dim=1), None  # (batch, tokens, heads, head_dim), as sdpa_attention_forward


def applies(model, collator) -> str | None:
    """None where shared-prefix batches compute exactly what the plain ones do; else why not."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    if not isinstance(collator, DataCollatorForLanguageModeling) or not collator.padding_free:
        return "needs TRL's padding-free batches (packing: true or padding_free: true)"
    config = model.config
    impl = getattr(config, "_attn_implementation", None)
    if impl not in ("sdpa", NAME):
        return f"needs sdpa attention, the model uses {impl}"
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    kinds = set(getattr(text, "layer_types", None) or ["full_attention"])
    if not kinds <= {"full_attention", "sliding_attention"}:
        return f"needs attention layers only, the model has {', '.join(sorted(kinds))}"
    if getattr(text, "attn_logit_softcapping", None):
        return "attention logit soft-capping is not supported by sdpa"
    return None


def enable(model) -> None:
    """Run the model's attention through ``prefix_sdpa`` (the same as sdpa on plain batches)."""
    register()
    model.set_attn_implementation(NAME)


class SharedPrefixCollator:
    """TRL's padding-free collator, then the batch rewritten with its shared prefix once (see above).
    A batch with one row, or whose rows share fewer than MIN_PREFIX tokens, stays as it is."""

    def __init__(self, base):
        self.base = base
        self.batches = 0  # batches collated, and how many of them had a shared prefix
        self.shared = 0

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        out = self.base(examples)
        self.batches += 1
        shared = share_prefix(out)
        if shared is None:
            return out
        self.shared += 1
        return shared


def share_prefix(batch: dict[str, Any]) -> dict[str, Any] | None:
    """The padding-free ``batch`` with its rows' common prefix once, or None where it does not apply."""
    import torch

    ids, labels, positions = batch["input_ids"], batch["labels"], batch.get("position_ids")
    if positions is None or ids.shape[0] != 1:
        return None
    starts = (positions[0] == 0).nonzero().flatten().tolist()
    ends = starts[1:] + [ids.shape[1]]
    if len(starts) < 2 or starts[0] != 0:
        return None
    rows = [(ids[0, s:e], labels[0, s:e]) for s, e in zip(starts, ends)]
    # Padding (pad_to_multiple_of) would be one more "row" of position 0s after the last one: leave it alone.
    if any(not torch.equal(positions[0, s:e], torch.arange(e - s)) for s, e in zip(starts, ends)):
        return None
    # The longest prefix all rows share that no loss position reads: the hidden state at t predicts
    # label t+1, so the prefix must end before the position preceding each row's first label.
    limit = min(len(r[0]) - 1 for r in rows)
    for _, lab in rows:
        scored = (lab != -100).nonzero().flatten()
        if len(scored):
            limit = min(limit, int(scored[0]) - 1)
    first = rows[0][0][:limit]
    prefix = limit
    for tok, _ in rows[1:]:
        differs = (tok[:limit] != first).nonzero().flatten()
        if len(differs):
            prefix = min(prefix, int(differs[0]))
    if prefix < MIN_PREFIX:
        return None
    lengths = tuple(len(t) - prefix for t, _ in rows)
    new_ids = torch.cat([first[:prefix]] + [t[prefix:] for t, _ in rows])[None]
    new_labels = torch.cat([torch.full((prefix,), -100, dtype=labels.dtype)] + [lab[prefix:] for _, lab in rows])[None]
    new_pos = torch.cat([torch.arange(prefix)] + [torch.arange(prefix, prefix + n) for n in lengths])[None]
    new_pos = new_pos.to(positions.dtype)
    return {"input_ids": new_ids, "labels": new_labels, "position_ids": new_pos, KEY: (prefix, lengths),
            REAL_TOKENS: int(ids.shape[1])}


def trainer_class():
    """``trl.SFTTrainer`` that trains on shared-prefix batches where ``applies`` (built lazily: imports TRL)."""
    import torch
    import trl

    class SharedPrefixSFTTrainer(trl.SFTTrainer):
        """SFTTrainer(..., shared_prefix=True): see llumi.train.prefix. ``self.shared_prefix`` is None when
        the batches are plain, with the reason in ``self.shared_prefix_off``."""

        def __init__(self, *args, shared_prefix: bool = True, **kwargs):
            super().__init__(*args, **kwargs)
            self.shared_prefix = None
            self.shared_prefix_off = "turned off (shared_prefix: false)" if not shared_prefix else \
                applies(self.model, self.data_collator)
            if self.shared_prefix_off is None:
                enable(self.model)
                self.shared_prefix = self.data_collator = SharedPrefixCollator(self.data_collator)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            real = inputs.pop(REAL_TOKENS, None)
            counted = self._total_train_tokens
            result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                          num_items_in_batch=num_items_in_batch)
            if self.shared_prefix is not None and self.model.training and self._total_train_tokens != counted:
                # TRL counted the flat sequence (the prefix once); count each row's tokens, as for plain batches
                here = real if real is not None else inputs["position_ids"].size(1)
                extra = torch.tensor(here - inputs["position_ids"].size(1), device=inputs["position_ids"].device)
                self._total_train_tokens += int(self.accelerator.gather_for_metrics(extra).sum().item()) // self._tp_size
                self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
            return result

    return SharedPrefixSFTTrainer
