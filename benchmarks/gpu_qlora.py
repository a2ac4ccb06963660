"""The paper's GPU recipe at the paper's model size: QLoRA against plain bf16 LoRA, side by side.

    python benchmarks/gpu_qlora.py --pairs llumi-work/pairs            # on a machine with a CUDA GPU
    python benchmarks/gpu_qlora.py --pairs llumi-work/pairs --shape tiny --device cpu --phases lora-sft
                                                                      # a dry run of this script on a CPU

Mistral-7B-Instruct-v0.2's weights cannot be downloaded where LLUMI is developed (no model hub), so
this builds a model with exactly its architecture (32 layers, hidden 4096, 32 query / 8 key-value
heads, MLP 14336, vocabulary 32000) and random weights, with a byte-level BPE tokenizer trained on the
pairs' own text so that sequence lengths are realistic. Memory and speed depend on the shapes, not the
values, so those figures hold for the real model; its losses and accuracies mean nothing.

Phases, each through llumi's recipes (`llumi.train.sft.main` / `dpo.main`) with the repo's configs and
only the steps, the validation rows and the run's outputs cut:
  qlora-sft   configs/gm-sft-mistral-qlora.yaml (4-bit NF4 base, LoRA r=16, batch 4 x 4, 1024 tokens)
  qlora-dpo   configs/gm-dpo-mistral-qlora.yaml from that SFT run (batch 2 x 8)
  lora-sft    the baseline: the same SFT recipe with the base in bf16 (LoRA without quantization)
For each: seconds per optimizer step and training tokens/s (steps after the first), peak GPU memory
during training and over the whole phase (load, train, evaluate, merge), and the phase's wall time.
Writes benchmarks/out/gpu_qlora.json (or --out).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "out" / "gpu_qlora.json"

# Mistral-7B-Instruct-v0.2's config.json, less what does not change shapes or cost.
SHAPES = {
    "mistral-7b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=8, vocab_size=32000, max_position_embeddings=32768, rope_theta=1e6),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=2000, max_position_embeddings=2048, rope_theta=1e6),
}
PHASES = ("qlora-sft", "qlora-dpo", "lora-sft")


def pair_texts(pairs: Path, limit: int = 5000):
    """Every message text of the pairs' JSON lines (for training the tokenizer)."""
    n = 0
    for path in sorted(pairs.glob("*/*.jsonl")):
        for line in open(path, encoding="utf-8"):
            row = json.loads(line)
            for key in ("messages", "prompt", "chosen", "rejected"):
                for message in row.get(key) or []:
                    yield message["content"]
            n += 1
            if n >= limit:
                return


def build_model(folder: Path, shape: str, pairs: Path, device: str) -> Path:
    """A random MistralForCausalLM of the given shape, saved in bf16, with a tokenizer from the pairs."""
    import torch
    from transformers import GenerationConfig, MistralConfig, MistralForCausalLM

    from tests.tiny_model import make_tokenizer

    dims = SHAPES[shape]
    tokenizer = make_tokenizer(vocab_size=dims["vocab_size"], texts=list(pair_texts(pairs)))
    assert len(tokenizer) <= dims["vocab_size"]
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    config = MistralConfig(**dims, sliding_window=None, tie_word_embeddings=False, rms_norm_eps=1e-5, **ids)
    torch.manual_seed(0)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = MistralForCausalLM(config)
    finally:
        torch.set_default_dtype(before)
    model.generation_config = GenerationConfig(**ids)
    model.save_pretrained(folder, max_shard_size="5GB")
    tokenizer.save_pretrained(folder)
    del model
    return folder


def step_timer():
    """A TrainerCallback recording each optimizer step's end time, the tokens seen and peak GPU memory."""
    import torch
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available()

    class Timer(TrainerCallback):
        def __init__(self):
            self.ends: list[float] = []
            self.tokens: dict[int, float] = {}
            self.train_peak = None

        def on_train_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.ends.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "num_tokens" in logs:
                self.tokens[state.global_step] = logs["num_tokens"]

        def on_train_end(self, args, state, control, **kw):
            self.train_peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None

        def figures(self) -> dict:
            steps = [b - a for a, b in zip([self.start, *self.ends], self.ends)]
            later = steps[1:] or steps  # the first step pays for warm-up
            n = len(self.ends)
            tokens = None
            if n >= 2 and n in self.tokens and 1 in self.tokens:
                tokens = (self.tokens[n] - self.tokens[1]) / (self.ends[-1] - self.ends[0])
            return {"steps": n, "s_per_step": statistics.median(later), "step_seconds": [round(s, 3) for s in steps],
                    "train_tokens_per_s": tokens, "train_peak_gib": self.train_peak}

    return Timer()


def run_phase(name: str, model: Path, ws, args) -> dict:
    import torch

    from llumi.train import dpo, load_config, sft

    stage = name.split("-")[1]
    over = {"model": str(model), "max_steps": args.dpo_steps if stage == "dpo" else args.sft_steps,
            "max_eval_rows": args.eval_rows, "save_merged": name == "qlora-sft", "trl.logging_steps": 1,
            "trl.save_steps": 1000}
    if name == "lora-sft":
        over.update(quantize="none", dtype="bfloat16")
    if args.device == "cpu":
        over.update(requires_gpu=False, device="cpu", quantize="none", dtype="float32",
                    **{"trl.optim": "adamw_torch"})
    cfg = load_config(REPO / "configs" / f"gm-{stage}-mistral-qlora.yaml", over)
    timer = step_timer()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    summary = (sft if stage == "sft" else dpo).main(cfg, ws, callbacks=(timer,), progress=True)
    wall = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    ev = summary["metrics"]["eval"]
    result = {"phase": name, "quantize": cfg.quantize, "dtype": cfg.dtype, "wall_s": round(wall, 1),
              "phase_peak_gib": peak, **timer.figures(),
              "batch": cfg.trl.get("per_device_train_batch_size"),
              "grad_accumulation": cfg.trl.get("gradient_accumulation_steps"), "max_length": cfg.max_length,
              "eval": {k: ev.get(k) for k in ("rows", "start", "trained")}}
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=Path, required=True, help="A pairs folder (gm-sft/, gm-dpo/) from `llumi pairs`.")
    p.add_argument("--shape", choices=sorted(SHAPES), default="mistral-7b")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--phases", default=",".join(PHASES), help=f"Comma-separated, of {', '.join(PHASES)}.")
    p.add_argument("--sft-steps", type=int, default=4)
    p.add_argument("--dpo-steps", type=int, default=3)
    p.add_argument("--eval-rows", type=int, default=16)
    p.add_argument("--budget-s", type=float, default=480, help="Start no phase after this many seconds.")
    p.add_argument("--scratch", type=Path, default=None, help="Folder for the model and runs (default: a temp dir).")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    phases = [x for x in args.phases.split(",") if x]
    if unknown := set(phases) - set(PHASES):
        p.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    if "qlora-dpo" in phases and "qlora-sft" not in phases:
        p.error("qlora-dpo starts from the qlora-sft run: name both")

    import torch
    import transformers
    import trl

    from llumi.workspace import Workspace

    t_start = time.perf_counter()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="llumi-gpu-"))
    t0 = time.perf_counter()
    model = build_model(scratch / "model", args.shape, args.pairs, args.device)
    report = {"shape": args.shape, "dims": SHAPES[args.shape], "build_s": round(time.perf_counter() - t0, 1),
              "device": torch.cuda.get_device_name(0) if args.device == "cuda" else platform.processor() or "cpu",
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                           "trl": trl.__version__},
              "phases": []}
    print(f"built a random {args.shape} in {report['build_s']} s", file=sys.stderr, flush=True)
    workspaces = {"qlora": Workspace(scratch / "work-qlora").ensure(), "lora": Workspace(scratch / "work-lora").ensure()}
    for ws in workspaces.values():
        shutil.copytree(args.pairs, ws.pairs, dirs_exist_ok=True)
    for name in phases:
        if time.perf_counter() - t_start > args.budget_s:
            report["phases"].append({"phase": name, "skipped": f"over the {args.budget_s:.0f} s budget"})
            continue
        try:
            report["phases"].append(run_phase(name, model, workspaces[name.split("-")[0]], args))
        except Exception as e:  # keep what the other phases measured
            report["phases"].append({"phase": name, "error": f"{type(e).__name__}: {e}"[:2000]})
            if name == "qlora-sft" and "qlora-dpo" in phases:
                phases.remove("qlora-dpo")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    report["total_s"] = round(time.perf_counter() - t_start, 1)
    args.out.write_text(json.dumps(report, indent=2))
    print_table(report)


def print_table(report: dict) -> None:
    done = {r["phase"]: r for r in report["phases"] if "s_per_step" in r}
    print(f"{report['device']}, random {report['shape']} ({report['dims']['num_hidden_layers']} layers, "
          f"hidden {report['dims']['hidden_size']})")
    print(f"{'phase':10s} {'s/step':>8s} {'tokens/s':>9s} {'train peak GiB':>15s} {'phase peak GiB':>15s} {'wall s':>7s}")
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    for r in report["phases"]:
        if r["phase"] not in done:
            print(f"{r['phase']:10s} {r.get('error') or r.get('skipped')}")
            continue
        print(f"{r['phase']:10s} {r['s_per_step']:8.2f} {fmt(r['train_tokens_per_s'], '9.0f')} "
              f"{fmt(r['train_peak_gib'], '15.1f')} {fmt(r['phase_peak_gib'], '15.1f')} {r['wall_s']:7.0f}")
    q, b = done.get("qlora-sft"), done.get("lora-sft")
    if q and b and q["train_peak_gib"] and b["train_peak_gib"]:
        print(f"QLoRA / bf16 LoRA (SFT): peak memory {q['train_peak_gib'] / b['train_peak_gib']:.2f}x, "
              f"time per step {q['s_per_step'] / b['s_per_step']:.2f}x")


if __name__ == "__main__":
    main()
