"""`llumi train dpo`: Direct Preference Optimization of the GM or the IM, starting from its SFT run.

    cfg = load_config("configs/gm-dpo-cpu.yaml")
    summary = main(cfg, Workspace())

The reference model is the SFT model, not the raw base: the SFT run's merged model (base + SFT adapter)
is loaded as the starting point and a new LoRA adapter is trained on it, so the reference that TRL uses
(the same weights with the adapter disabled) is exactly the SFT model. DPO2 (round 2) is the same recipe
on a later pair file (pairs from human ratings), starting from the latest round-1 DPO run.

Writes into <workspace>/runs/<role>-dpo[-r2]-<UTC time>/ the same files as the SFT recipe; eval.json
holds validation DPO loss, reward accuracy and reward margin of the tuned model beside its starting
point (see ``preference_eval``).
"""

from __future__ import annotations

import math
from typing import Any

from llumi.config import to_dict
from llumi.train import runs
from llumi.train.common import (TRAIN_PACKAGES, check_device, data_files, fits, inputs_provenance, load_model,
                                merge_and_save, no_rows_error, pick_dtype, plot_curves, progress_callback,
                                read_rows, save_adapter, trl_args, weights_hash)
from llumi.train.config import TrainConfig, construct
from llumi.workspace import Workspace, read_meta, write_json_atomic, write_meta


def main(cfg: TrainConfig, ws: Workspace, callbacks: tuple = (), progress: bool = True) -> dict[str, Any]:
    """Run one DPO recipe end to end; returns a summary (run folder, steps, metrics)."""
    device = check_device(cfg)  # fails at once when the config needs a GPU this machine lacks
    import peft
    import transformers
    import trl
    from datasets import Dataset

    # 1. The starting point: the merged model of the SFT run (round 2: of the round-1 DPO run).
    start = runs.resolve_run(ws, cfg.start_from, f"{cfg.role}-{'dpo' if cfg.round == 2 else 'sft'}")
    start_meta = read_meta(start)
    model, tokenizer = load_model(start / "merged", cfg, device)

    # 2. Data: preference pairs; prompts too long to leave room for a reply are skipped.
    files = data_files(cfg, ws)
    datasets, skipped = {}, {}
    for split, path in files.items():
        rows = read_rows(path, ("prompt", "chosen", "rejected"),
                         cfg.max_train_rows if split == "train" else cfg.max_eval_rows)
        kept = [r for r in rows if fits(tokenizer, r["prompt"], cfg)]
        if not kept:
            raise no_rows_error(split, len(rows), cfg)
        datasets[split], skipped[split] = Dataset.from_list(kept), len(rows) - len(kept)

    # 3. The run folder: an unfinished run of the same config and inputs is resumed.
    inputs = inputs_provenance(files)
    start_hash = weights_hash(start / "merged")
    fp = runs.fingerprint({"config": {**to_dict(cfg), "resume": None}, "inputs": inputs, "start": start_hash})
    run, checkpoint = runs.open_run(ws, cfg.name, fp, cfg.resume, device)
    write_json_atomic(run / "run.json", {"fingerprint": fp, "config": to_dict(cfg), "status": "training"})

    # 4. Train a new LoRA adapter with TRL's DPOTrainer; no ref_model: the reference is the adapter
    #    disabled, i.e. the merged SFT model. TRL and PEFT validate their own settings.
    dtype = pick_dtype(cfg, device)
    args = trl_args(cfg, device, dtype, run / "checkpoints", learning_rate=2e-5, save_steps=10)
    lora = construct(peft.LoraConfig, cfg.lora, "lora")
    label = f"train {cfg.name}"
    trainer = trl.DPOTrainer(
        model=model, ref_model=None, args=args, processing_class=tokenizer, peft_config=lora,
        train_dataset=datasets["train"], eval_dataset=datasets.get("validation"),
        callbacks=[*([progress_callback(label)] if progress else []), *callbacks],
    )
    trainer.remove_callback(transformers.PrinterCallback)  # our progress line goes to stderr instead
    result = trainer.train(resume_from_checkpoint=checkpoint)
    history = list(trainer.state.log_history)  # before evaluation adds its own entries

    # 5. Evaluate on the validation split: the tuned policy against its starting point (the reference).
    evaluation: dict[str, Any] = {"split": "validation" if "validation" in datasets else None}
    if "validation" in datasets:
        evaluation.update(preference_eval(trainer, args.beta, start.name))
    save_adapter(trainer, run / "adapter")  # every process: under FSDP the weights are gathered first
    if not trainer.is_world_process_zero():  # under accelerate launch, one process writes the outputs
        return {"run": run.name, "path": str(run)}
    write_json_atomic(run / "eval.json", evaluation)

    # 6. The merged model (SFT model + DPO adapter), the curves and the provenance.
    if cfg.save_merged:
        merge_and_save(start / "merged", run / "adapter", run / "merged", cfg, tokenizer, dtype)
    plot_curves(history, run / "curves.png", f"{cfg.name} ({cfg.model}, from {start.name})")
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
        base_model=start_meta.get("base_model"),
        start_from={"run": str(start), "stage": start_meta.get("stage"), "round": start_meta.get("round"),
                    "merged_weights_sha256": start_hash},
        reference_model=f"{start.name}/merged: the starting point (this run's adapter disabled)",
        data={"rows": {s: len(d) for s, d in datasets.items()}, "skipped_too_long": skipped},
        device=device, processes=trainer.args.world_size, dtype=str(dtype).replace("torch.", ""), metrics=metrics,
        trl_args=args.to_dict(), lora_config=lora.to_dict(),
    )
    write_json_atomic(run / "run.json", {"fingerprint": fp, "config": to_dict(cfg), "status": "finished"})
    pointer = {"run": run.name, "path": str(run), "role": cfg.role, "stage": cfg.stage, "round": cfg.round,
               "adapter": str(run / "adapter"), "merged": str(run / "merged") if cfg.save_merged else None,
               "base_model": str(start / "merged"), "model": cfg.model, "start_from": start.name,
               "metrics": metrics}
    runs.write_latest(ws, cfg.name, cfg.role, pointer)
    return {**pointer, "skipped_too_long": skipped, "resumed_from": checkpoint}


def preference_eval(trainer, beta: float, start_name: str) -> dict[str, Any]:
    """DPO metrics of the tuned policy and of its starting point on the trainer's eval dataset, side by side.

    For the tuned policy: DPO loss, reward accuracy (share of pairs with reward(chosen) > reward(rejected),
    reward = beta * (log p_policy - log p_reference) of the reply) and mean reward margin.
    For the starting point the policy *is* the reference, so every reward is 0: the loss is log 2, the
    margin 0 and the reward accuracy undefined (None). As a stand-in it reports the starting model's
    implicit preference accuracy: the share of pairs where it gives the chosen reply a higher
    log-probability than the rejected one (summed over tokens, and per token, since sums favour short
    replies). The tuned policy gets the same stand-in, so the two columns compare like with like.
    """
    import torch
    import torch.nn.functional as F

    model = trainer.model
    model.eval()
    pol, ref, lengths = [], [], []
    with torch.no_grad():
        for batch in trainer.get_eval_dataloader():
            ids, attn = batch["input_ids"], batch["attention_mask"]
            mask = batch["completion_mask"][:, 1:].float()
            targets = ids[:, 1:]

            def seq_logps():
                logits = model(input_ids=ids, attention_mask=attn, use_cache=False).logits[:, :-1].float()
                token = torch.gather(F.log_softmax(logits, dim=-1), 2, targets.unsqueeze(-1)).squeeze(-1)
                return (token * mask).sum(1)

            pol.append(seq_logps())
            with model.disable_adapter():
                ref.append(seq_logps())
            lengths.append(mask.sum(1))
    # Every batch is [chosen..., rejected...]; split each batch before concatenating.
    def pairs(chunks):
        c, r = zip(*(x.chunk(2) for x in chunks))
        return torch.cat(c), torch.cat(r)

    (pc, pr), (rc, rr), (lc, lr) = pairs(pol), pairs(ref), pairs(lengths)
    lc, lr = lc.clamp(min=1), lr.clamp(min=1)
    chosen_reward, rejected_reward = beta * (pc - rc), beta * (pr - rr)
    margin = chosen_reward - rejected_reward
    f = lambda t: float(t.float().mean())  # noqa: E731
    return {
        "rows": int(pc.numel()),
        "beta": beta,
        "start": {
            "model": f"{start_name} (the reference)",
            "loss": math.log(2), "reward_accuracy": None, "reward_margin": 0.0,
            "preference_accuracy": f(rc > rr), "preference_accuracy_per_token": f(rc / lc > rr / lr),
            "logp_margin": f(rc - rr),
            "note": "policy == reference, so DPO rewards are 0 and reward accuracy is undefined; "
                    "preference_accuracy (log p(chosen) > log p(rejected)) stands in for it",
        },
        "trained": {
            "model": "DPO (reference + new adapter)",
            "loss": f(-F.logsigmoid(margin)), "reward_accuracy": f(chosen_reward > rejected_reward),
            "reward_margin": f(margin),
            "preference_accuracy": f(pc > pr), "preference_accuracy_per_token": f(pc / lc > pr / lr),
            "logp_margin": f(pc - pr),
        },
    }


def _last(history: list[dict[str, Any]], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return values[-1] if values else None
