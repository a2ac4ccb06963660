"""Training throughput: LLUMI's SFT recipe against TRL's SFTTrainer with its defaults, side by side.

    python benchmarks/train.py                      # builds pairs from the bundled sample if needed
    python benchmarks/train.py --workspace llumi-work --rows 64
    python benchmarks/train.py --no-baseline --set dtype=float32    # an ablation of the recipe

Both train the same LoRA (r=16 on attention + MLP) on the same model (smollm2-135m via resolve_model)
and the same rows (GM SFT examples: system + post -> best reply, loss on the reply) for one epoch.
The recipe runs as `llumi train sft --config configs/gm-sft-cpu.yaml` does (padding-free batches, bf16
weights where the CPU computes bf16 natively, no activation checkpointing); the baseline is
`trl.SFTTrainer(model, args=SFTConfig(output_dir, use_cpu), peft_config=...)` with every other setting
at TRL's default (batch 8 padded, activation checkpointing on, bf16 autocast, fp32 weights).
Throughput counts only real tokens (TRL's own `num_tokens`: no padding) over `train_runtime`
(training only, not loading). Writes benchmarks/out/train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "train.json"


def ensure_pairs(workspace: Path | None, tmp: Path) -> Path:
    """The gm-sft pairs folder: the given workspace's, or one built from the bundled sample."""
    if workspace and (workspace / "pairs" / "gm-sft" / "train.jsonl").exists():
        return workspace / "pairs" / "gm-sft"
    ws = tmp / "work"
    sample = sorted((REPO / "src" / "llumi" / "data" / "sample").glob("*.zst"))
    llumi = [sys.executable, "-m", "llumi.cli", "--workspace", str(ws)]
    print("building pairs from the bundled sample ...", file=sys.stderr, flush=True)
    subprocess.run([*llumi, "ingest", *map(str, sample), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*llumi, "pairs", "--quiet"], check=True, stdout=subprocess.DEVNULL)
    return ws / "pairs" / "gm-sft"


def run_baseline(model_path: Path, train_file: Path, lora: dict, rows: int, out: Path) -> dict:
    """TRL's SFTTrainer with its defaults (same LoRA, same rows)."""
    import peft
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llumi.train.common import read_rows

    data = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]}
            for r in read_rows(train_file, ("messages",), rows)]
    model = AutoModelForCausalLM.from_pretrained(model_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    args = trl.SFTConfig(output_dir=str(out), use_cpu=True, report_to="none", save_strategy="no",
                         disable_tqdm=True, num_train_epochs=1)  # one pass over the rows, as the recipe
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(data),
                             processing_class=tokenizer, peft_config=peft.LoraConfig(**lora))
    result = trainer.train()
    tokens = [h["num_tokens"] for h in trainer.state.log_history if "num_tokens" in h][-1]
    return {"seconds": result.metrics["train_runtime"], "tokens": tokens, "steps": trainer.state.global_step,
            "rows": len(data), "settings": {k: getattr(args, k) for k in (
                "per_device_train_batch_size", "activation_checkpointing", "bf16", "padding_free", "packing",
                "max_length", "learning_rate")} | {"weights": str(model.dtype).replace("torch.", "")}}


def run_recipe(train_file: Path, rows: int, tmp: Path, overrides: dict) -> dict:
    """LLUMI's SFT recipe with configs/gm-sft-cpu.yaml, one epoch over the same rows, no evaluation."""
    from llumi.train import load_config, sft
    from llumi.workspace import Workspace

    cfg = load_config(REPO / "configs" / "gm-sft-cpu.yaml", {
        "data": str(train_file), "max_steps": -1, "epochs": 1, "max_train_rows": rows,
        "save_merged": False, "trl.save_strategy": "no", **overrides})
    summary = sft.main(cfg, Workspace(tmp / "recipe-work"), progress=False)
    meta = json.loads((Path(summary["path"]) / "meta.json").read_text())
    m = summary["metrics"]
    return {"seconds": m["train_seconds"], "tokens": m["train_tokens"], "steps": m["steps"],
            "rows": meta["data"]["rows"]["train"], "skipped_too_long": meta["data"]["skipped_too_long"]["train"],
            "settings": {k: meta["trl_args"].get(k) for k in (
                "per_device_train_batch_size", "activation_checkpointing", "bf16", "padding_free", "packing",
                "max_length", "learning_rate")} | {"weights": meta["dtype"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, default=None, help="Use this workspace's pairs/gm-sft.")
    ap.add_argument("--rows", type=int, default=16,
                    help="Training rows for each side, one epoch (16 = two steps of TRL's default batch of 8).")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="Change one recipe setting, e.g. --set dtype=float32 (for ablations; repeatable).")
    ap.add_argument("--no-baseline", action="store_true", help="Time the recipe only (ablations).")
    a = ap.parse_args()
    from llumi.config import parse_overrides

    overrides = parse_overrides(a.overrides)

    import torch

    from llumi.models import resolve_model
    from llumi.train.common import cpu_has_bf16
    from llumi.train.config import DEFAULT_LORA

    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pairs = ensure_pairs(a.workspace, tmp)
        train_file = pairs / "train.jsonl"
        model = resolve_model("smollm2-135m")
        # The recipe skips rows whose prompt leaves no room for a reply; give the baseline the same rows.
        from llumi.train.common import fits, read_rows
        from llumi.train.config import load_config
        from transformers import AutoTokenizer

        cfg = load_config(REPO / "configs" / "gm-sft-cpu.yaml")
        tok = AutoTokenizer.from_pretrained(model.path)
        kept = [r for r in read_rows(train_file, ("messages",)) if fits(tok, r["messages"][:-1], cfg)][:a.rows]
        same = tmp / "rows.jsonl"
        same.write_text("".join(json.dumps(r) + "\n" for r in kept))

        base = None
        if not a.no_baseline:
            print(f"TRL defaults: {len(kept)} rows ...", file=sys.stderr, flush=True)
            base = run_baseline(model.path, same, DEFAULT_LORA, len(kept), tmp / "baseline")
        print(f"LLUMI recipe: {len(kept)} rows ...", file=sys.stderr, flush=True)
        ours = run_recipe(same, len(kept), tmp, overrides)

    for r in (base, ours):
        if r:
            r["tokens_per_s"] = r["tokens"] / r["seconds"]
    ratio = ours["tokens_per_s"] / base["tokens_per_s"] if base else None
    result = {
        "benchmark": "train: SFT tokens/s, LLUMI recipe vs TRL SFTTrainer defaults",
        "model": "smollm2-135m", "rows": len(kept), "ratio": ratio, "target": 1.5,
        "trl_defaults": base, "llumi_recipe": ours, "recipe_overrides": overrides,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "cpu_bf16": cpu_has_bf16(),
                    "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                    "load_avg_at_end": os.getloadavg()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python benchmarks/train.py " + " ".join(sys.argv[1:]),
    }
    out = OUT if base and not overrides else OUT.with_name("train-ablation.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"{'':14s}{'tokens':>8s}{'seconds':>9s}{'tokens/s':>10s}  settings")
    for name, r in (("TRL defaults", base), ("LLUMI recipe", ours)):
        if r:
            print(f"{name:14s}{r['tokens']:8.0f}{r['seconds']:9.1f}{r['tokens_per_s']:10.1f}  {r['settings']}")
    if ratio:
        print(f"ratio: {ratio:.2f}x (target 1.5x)", end="   ")
    print(f"written {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
