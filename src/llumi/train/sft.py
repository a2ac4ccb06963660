"""`llumi train sft`: supervised fine-tuning of the GM or the IM with a LoRA adapter (TRL + PEFT).

    cfg = load_config("configs/gm-sft-cpu.yaml")
    summary = main(cfg, Workspace())

Reads <workspace>/pairs/<role>-sft (rows ``{"messages": [system, user, assistant]}``), trains on the
assistant reply only (prompt-completion format, so the long system prompt costs compute but is not
learned), then writes into <workspace>/runs/<role>-sft-<UTC time>/: adapter/, merged/, checkpoints/,
eval.json (validation loss of the base model and of the tuned one, side by side), curves.png and
meta.json, and finally points runs/latest-<role>-sft.json at it. A re-run of the same config finds an
unfinished run and resumes it from its last checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

from llumi.config import to_dict
from llumi.train import prefix, runs
from llumi.train.common import (TRAIN_PACKAGES, check_device, data_files, fits, inputs_provenance, load_model,
                                merge_and_save, no_rows_error, pick_dtype, plot_curves, progress_callback,
                                read_rows, save_adapter, trl_args, weights_hash)
from llumi.train.config import TrainConfig, construct
from llumi.workspace import Workspace, write_json_atomic, write_meta


def main(cfg: TrainConfig, ws: Workspace, callbacks: tuple = (), progress: bool = True) -> dict[str, Any]:
    """Run one SFT recipe end to end; returns a summary (run folder, steps, metrics)."""
    device = check_device(cfg)  # fails at once when the config needs a GPU this machine lacks
    import peft
    import transformers
    from datasets import Dataset

    from llumi.models import resolve_model

    # 1. Data: prompt = system + user, completion = the reply (loss on the reply only).
    files = data_files(cfg, ws)
    base = resolve_model(cfg.model)
    model, tokenizer = load_model(base.path, cfg, device)
    datasets, skipped = {}, {}
    for split, path in files.items():
        rows = read_rows(path, ("messages",), cfg.max_train_rows if split == "train" else cfg.max_eval_rows)
        rows = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows]
        kept = [r for r in rows if fits(tokenizer, r["prompt"], cfg)]
        if not kept:
            raise no_rows_error(split, len(rows), cfg)
        datasets[split], skipped[split] = Dataset.from_list(kept), len(rows) - len(kept)

    # 2. The run folder: an unfinished run of the same config and inputs is resumed.
    inputs = inputs_provenance(files)
    base_hash = weights_hash(base.path)
    fp = runs.fingerprint({"config": {**to_dict(cfg), "resume": None}, "inputs": inputs, "base": base_hash})
    run, checkpoint = runs.open_run(ws, cfg.name, fp, cfg.resume, device)
    write_json_atomic(run / "run.json", {"fingerprint": fp, "config": to_dict(cfg), "status": "training"})

    # 3. Train a LoRA adapter with TRL's SFTTrainer; TRL and PEFT validate their own settings.
    dtype = pick_dtype(cfg, device)
    args = trl_args(cfg, device, dtype, run / "checkpoints", learning_rate=2e-4, save_steps=20)
    lora = construct(peft.LoraConfig, cfg.lora, "lora")
    label = f"train {cfg.name}"
    trainer = prefix.trainer_class()(
        model=model, args=args, processing_class=tokenizer, peft_config=lora,
        train_dataset=datasets["train"], eval_dataset=datasets.get("validation"),
        callbacks=[*([progress_callback(label)] if progress else []), *callbacks],
        shared_prefix=cfg.shared_prefix,
    )
    trainer.remove_callback(transformers.PrinterCallback)  # our progress line goes to stderr instead
    result = trainer.train(resume_from_checkpoint=checkpoint)
    history = list(trainer.state.log_history)  # before evaluation adds its own entries

    # 4. Evaluate on the validation split: the tuned model, and its starting point (adapter off = base).
    evaluation: dict[str, Any] = {"split": "validation" if "validation" in datasets else None}
    if "validation" in datasets:
        after = trainer.evaluate()
        with trainer.model.disable_adapter():
            before = trainer.evaluate()
        evaluation.update({
            "rows": len(datasets["validation"]),
            "start": {"model": f"base ({cfg.model})", "loss": before["eval_loss"],
                      "perplexity": math.exp(min(before["eval_loss"], 50))},
            "trained": {"model": f"SFT ({cfg.model} + adapter)", "loss": after["eval_loss"],
                        "perplexity": math.exp(min(after["eval_loss"], 50))},
        })
    save_adapter(trainer, run / "adapter")  # every process: under FSDP the weights are gathered first
    if not trainer.is_world_process_zero():  # under accelerate launch, one process writes the outputs
        return {"run": run.name, "path": str(run)}
    write_json_atomic(run / "eval.json", evaluation)

    # 5. The merged model (base + adapter), the curves and the provenance.
    if cfg.save_merged:
        merge_and_save(base.path, run / "adapter", run / "merged", cfg, tokenizer, dtype)
    plot_curves(history, run / "curves.png", f"{cfg.name} ({cfg.model})")
    metrics = {"train_loss": _last(history, "train_loss"), "steps": trainer.state.global_step,
               "train_seconds": result.metrics.get("train_runtime"),  # this session only, when resumed
               "train_tokens": _last(history, "num_tokens"),  # real (non-pad) tokens
               "eval": evaluation}
    write_meta(
        run, stage=f"train-{cfg.stage}", config=to_dict(cfg), inputs=inputs, seed=cfg.seed,
        extra_packages=TRAIN_PACKAGES,
        outputs={"adapter": "adapter", "merged": "merged" if cfg.save_merged else None,
                 "eval": "eval.json", "curves": "curves.png", "checkpoints": "checkpoints"},
        role=cfg.role, round=cfg.round, resumed_from=checkpoint,
        base_model={**base.describe(), "weights_sha256": base_hash},
        data={"rows": {s: len(d) for s, d in datasets.items()}, "skipped_too_long": skipped},
        device=device, processes=trainer.args.world_size, dtype=str(dtype).replace("torch.", ""), metrics=metrics,
        trl_args=args.to_dict(), lora_config=lora.to_dict(), shared_prefix=_shared(trainer),
    )
    write_json_atomic(run / "run.json", {"fingerprint": fp, "config": to_dict(cfg), "status": "finished"})
    pointer = {"run": run.name, "path": str(run), "role": cfg.role, "stage": cfg.stage, "round": cfg.round,
               "adapter": str(run / "adapter"), "merged": str(run / "merged") if cfg.save_merged else None,
               "base_model": str(base.path), "model": cfg.model, "metrics": metrics}
    runs.write_latest(ws, cfg.name, cfg.role, pointer)
    return {**pointer, "skipped_too_long": skipped, "resumed_from": checkpoint}


def _shared(trainer) -> dict[str, Any]:
    """Whether this session trained on shared-prefix batches, and on how many (see llumi.train.prefix)."""
    c = trainer.shared_prefix
    if c is None:
        return {"used": False, "why_not": trainer.shared_prefix_off}
    return {"used": True, "batches": c.batches, "batches_with_shared_prefix": c.shared}


def _last(history: list[dict[str, Any]], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return values[-1] if values else None
