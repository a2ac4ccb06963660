"""The GM tuned on a real community's votes (CounselChat), against the untuned model (issue 4, §7).

Run it from the repository root (not in CI: it trains for real; about 10 minutes on an idle 2-core CPU)::

    .venv/bin/python benchmarks/counselchat.py
    .venv/bin/python benchmarks/counselchat.py --sft-steps 2 --dpo-steps 2 --eval-rows 8   # a smoke test

CounselChat (``../shared/data/counselchat/counselchat.csv``: questions answered by licensed
therapists, each answer with its upvotes) goes through the same stages a user runs, in a fresh
temporary workspace (or ``--workspace``):

1. ``ingest`` with ``IngestConfig(preset="counselchat", community="counselchat")``: the table through
   the column mapping (questionID, questionTitle, questionText, answerText, upvotes);
2. ``build_pairs`` with settings that suit CounselChat: its upvotes are mostly 0-3, so the score floors
   are relaxed (SFT: best answer with at least 1 upvote; DPO: ``min_chosen_score=1``,
   ``min_rejected_score=0``) while the SHP ratio rule stays (chosen >= 2 x max(rejected, 1), so a
   chosen answer has at least 2 upvotes). It has no timestamps, so every pair is undated (allowed by
   default). Splits are llumi's own, by post (hash of seed and question id), not the csv's ``split``
   column; IM data are built with the lexical similarity (they are not used here);
3. GM SFT with ``configs/gm-sft-cpu.yaml`` and GM DPO with ``configs/gm-dpo-cpu.yaml`` (steps: the
   configs' own unless ``--sft-steps`` / ``--dpo-steps``), each evaluated on up to ``--eval-rows``
   validation rows (default 48).

It prints, side by side, on the validation split: SFT loss of the untuned model and of the SFT model;
DPO loss, reward accuracy and reward margin of the SFT model (the DPO starting point and reference,
whose rewards are 0 by definition) and of the DPO model; and the implicit preference accuracy
(log p(chosen) > log p(rejected), summed and per token) of the SFT and DPO models, as the DPO recipe
reports them (the recipes do not report it for the untuned model). Writes the figures, the pair
counts, the steps, seconds per stage, the machine and versions to ``benchmarks/out/counselchat.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
CSV = REPO.parent / "shared" / "data" / "counselchat" / "counselchat.csv"
OUT = REPO / "benchmarks" / "out" / "counselchat.json"

# Pair rules for CounselChat (upvotes mostly 0-3): relaxed score floors, the SHP ratio rule kept.
# Splits: llumi's own, by post, but 70/30/0: this benchmark uses no test split, and the default 10%
# validation would hold only ~30 DPO pairs (the DPO schedule trains on a few dozen pairs at most anyway).
PAIRS = {"communities": ("counselchat",), "sft_min_score": 1, "min_chosen_score": 1, "min_rejected_score": 0,
         "dpo_min_ratio": 2.0, "splits": (0.7, 0.3, 0.0), "similarity": "lexical"}


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for name in ("llumi", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "duckdb", "pyarrow"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def machine() -> dict[str, Any]:
    import torch

    from llumi.train.common import cpu_has_bf16

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu or platform.processor(), "cores": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads(), "cpu_bf16": cpu_has_bf16(), "load_avg": os.getloadavg()}


def run(a: argparse.Namespace, ws_root: Path) -> dict[str, Any]:
    from llumi import config as cfgmod
    from llumi.data.ingest import IngestConfig, ingest
    from llumi.data.pairs import PairsConfig, build_pairs
    from llumi.train import dpo, sft
    from llumi.train.config import TrainConfig
    from llumi.workspace import Workspace, git_commit

    ws = Workspace(ws_root)
    progress = not a.quiet
    seconds: dict[str, float] = {}
    started = time.time()

    say(f"== ingest {a.csv} (preset counselchat) into {ws.root}")
    t = time.time()
    s_ingest = ingest(ws, [a.csv], IngestConfig(preset="counselchat", community="counselchat"), progress=progress)
    seconds["ingest"] = round(time.time() - t, 1)
    say(f"   {s_ingest['kept_posts']} posts, {s_ingest['kept_replies']} replies kept; "
        f"dropped {dict(s_ingest['dropped'])}, quarantined {dict(s_ingest['quarantined'])}")

    say("== pairs")
    t = time.time()
    pairs_cfg = cfgmod.load(PairsConfig, None, PAIRS)
    s_pairs = build_pairs(ws, pairs_cfg, progress=progress)
    seconds["pairs"] = round(time.time() - t, 1)
    counts = {k: {s: v[s] for s in ("train", "validation", "test")} | {"total": v["total"]}
              for k, v in s_pairs["outputs"].items()}
    for k in ("gm-sft", "gm-dpo"):
        c = counts[k]
        say(f"   {k}: {c['total']} ({c['train']} train, {c['validation']} validation, {c['test']} test)")
    say(f"   gm-dpo candidates dropped: {s_pairs['dropped']['gm-dpo']}")

    common = {"max_eval_rows": a.eval_rows, **({"threads": a.threads} if a.threads else {})}
    sft_cfg = cfgmod.load(TrainConfig, REPO / "configs" / "gm-sft-cpu.yaml",
                          {**common, **({"max_steps": a.sft_steps} if a.sft_steps else {})})
    say(f"== GM SFT ({sft_cfg.max_steps} steps)")
    t = time.time()
    s_sft = sft.main(sft_cfg, ws, progress=progress)
    seconds["sft"] = round(time.time() - t, 1)

    dpo_cfg = cfgmod.load(TrainConfig, REPO / "configs" / "gm-dpo-cpu.yaml",
                          {**common, "start_from": s_sft["path"],
                           **({"max_steps": a.dpo_steps} if a.dpo_steps else {})})
    say(f"== GM DPO ({dpo_cfg.max_steps} steps, from {s_sft['run']})")
    t = time.time()
    s_dpo = dpo.main(dpo_cfg, ws, progress=progress)
    seconds["dpo"] = round(time.time() - t, 1)
    seconds["total"] = round(time.time() - started, 1)

    def run_info(s: dict[str, Any]) -> dict[str, Any]:
        meta = json.loads((Path(s["path"]) / "meta.json").read_text())
        m = s["metrics"]
        return {"run": s["run"], "steps": m["steps"], "train_loss": m["train_loss"],
                "train_seconds": m["train_seconds"], "train_tokens": m["train_tokens"],
                "rows": meta["data"]["rows"], "skipped_too_long": meta["data"]["skipped_too_long"],
                "dtype": meta["dtype"], "device": meta["device"],
                "learning_rate": meta["trl_args"].get("learning_rate"),
                "batch": meta["trl_args"].get("per_device_train_batch_size")}

    ev_sft, ev_dpo = s_sft["metrics"]["eval"], s_dpo["metrics"]["eval"]
    # Pairs from one post share a chosen or a rejected answer, so they are not independent: count posts.
    eval_posts = {k: len({json.loads(line)["post_id"] for line in (ws.pairs / k / "validation.jsonl")
                          .read_text().splitlines()[:a.eval_rows] if line.strip()}) for k in ("gm-sft", "gm-dpo")}
    for ev in (ev_dpo.get("start"), ev_dpo.get("trained")):
        if ev:
            ev["reward_accuracy_95ci"] = wilson(ev["reward_accuracy"], ev_dpo["rows"])
            ev["preference_accuracy_95ci"] = wilson(ev["preference_accuracy"], ev_dpo["rows"])
    return {
        "benchmark": "counselchat: GM SFT + DPO on CounselChat's votes, validation figures against the untuned model",
        "data": {"csv": str(a.csv), "lines_read": s_ingest["lines_read"], "kept_posts": s_ingest["kept_posts"],
                 "kept_replies": s_ingest["kept_replies"], "dropped": dict(s_ingest["dropped"]),
                 "quarantined": dict(s_ingest["quarantined"])},
        "pairs_settings": {k: list(v) if isinstance(v, tuple) else v for k, v in PAIRS.items()},
        "pairs": counts,
        "pairs_dropped": {"gm-sft": s_pairs["dropped"]["gm-sft"], "gm-dpo": s_pairs["dropped"]["gm-dpo"]},
        "posts_by_split": s_pairs["posts"]["by_split"],
        "undated_gm_dpo_pairs": s_pairs["pair_candidates"]["undated_in_gm_dpo"],
        "model": sft_cfg.model,
        "eval_rows": a.eval_rows,
        "eval_posts": eval_posts,
        "sft": {"config": "configs/gm-sft-cpu.yaml", **run_info(s_sft), "eval": ev_sft},
        "dpo": {"config": "configs/gm-dpo-cpu.yaml", **run_info(s_dpo), "eval": ev_dpo},
        "seconds": seconds,
        "git_commit": git_commit(),
    }


def wilson(p: float | None, n: int, z: float = 1.96) -> list[float] | None:
    """95% Wilson interval of a share p of n trials (treating the pairs as independent, which they are not)."""
    if p is None or not n:
        return None
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 4), round(centre + half, 4)]


def table(r: dict[str, Any]) -> str:
    es, ed = r["sft"]["eval"], r["dpo"]["eval"]

    def n(v: Any, fmt: str = ".4f") -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)

    lines = [f"Validation figures, smollm2-135m GM on CounselChat (SFT {r['sft']['steps']} steps, "
             f"DPO {r['dpo']['steps']} steps)", ""]
    lines.append(f"{'':34s}{'untuned':>10s}{'SFT':>10s}{'DPO':>10s}   rows")
    if es.get("start"):
        lines.append(f"{'SFT loss (gm-sft validation)':34s}{n(es['start']['loss']):>10s}{n(es['trained']['loss']):>10s}"
                     f"{'':>10s}   {es['rows']}")
    if ed.get("start"):
        s, t = ed["start"], ed["trained"]
        rows = f"   {ed['rows']} pairs"
        lines += [
            f"{'DPO loss (gm-dpo validation)':34s}{'':>10s}{n(s['loss']):>10s}{n(t['loss']):>10s}{rows}",
            f"{'DPO reward accuracy':34s}{'':>10s}{n(s['reward_accuracy']):>10s}{n(t['reward_accuracy']):>10s}{rows}",
            f"{'DPO reward margin':34s}{'':>10s}{n(s['reward_margin']):>10s}{n(t['reward_margin']):>10s}{rows}",
            f"{'preference accuracy (sum log p)':34s}{'n/a':>10s}{n(s['preference_accuracy']):>10s}"
            f"{n(t['preference_accuracy']):>10s}{rows}",
            f"{'preference accuracy (per token)':34s}{'n/a':>10s}{n(s['preference_accuracy_per_token']):>10s}"
            f"{n(t['preference_accuracy_per_token']):>10s}{rows}",
            f"{'log p(chosen) - log p(rejected)':34s}{'n/a':>10s}{n(s['logp_margin'], '.3f'):>10s}"
            f"{n(t['logp_margin'], '.3f'):>10s}{rows}",
        ]
    lines.append("")
    lines.append("SFT model = DPO starting point and reference: its DPO rewards are 0 by definition (loss log 2, "
                 "reward accuracy undefined). Untuned preference accuracy is not reported by the recipes.")
    ci = (ed.get("trained") or {}).get("reward_accuracy_95ci")
    if ci:
        lines.append(f"DPO reward accuracy 95% Wilson interval {ci[0]:.2f}-{ci[1]:.2f} over {ed['rows']} pairs from "
                     f"{r['eval_posts']['gm-dpo']} posts (pairs of one post are correlated: wider in truth)")
    p = r["pairs"]
    lines.append(f"pairs: gm-sft {p['gm-sft']['total']} ({p['gm-sft']['train']} train / "
                 f"{p['gm-sft']['validation']} val), "
                 f"gm-dpo {p['gm-dpo']['total']} ({p['gm-dpo']['train']} train / {p['gm-dpo']['validation']} val); "
                 f"rows used (train / validation): SFT {r['sft']['rows']['train']} / "
                 f"{r['sft']['rows'].get('validation')}, "
                 f"DPO {r['dpo']['rows']['train']} / {r['dpo']['rows'].get('validation')}")
    lines.append("seconds: " + ", ".join(f"{k} {v}" for k, v in r["seconds"].items()))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, default=CSV, help="CounselChat csv (default: ../shared/data/counselchat/).")
    ap.add_argument("--workspace", type=Path, default=None,
                    help="Workspace to use and keep (default: a fresh temporary one, removed at the end).")
    ap.add_argument("--sft-steps", type=int, default=None, help="SFT steps (default: configs/gm-sft-cpu.yaml's).")
    ap.add_argument("--dpo-steps", type=int, default=None, help="DPO steps (default: configs/gm-dpo-cpu.yaml's).")
    ap.add_argument("--eval-rows", type=int, default=48,
                    help="Validation rows (SFT examples, DPO pairs) to evaluate on.")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: one per core).")
    ap.add_argument("--out", type=Path, default=OUT, help="Where to write the figures (JSON).")
    ap.add_argument("--quiet", action="store_true", help="No progress lines.")
    a = ap.parse_args()
    if not a.csv.exists():
        sys.exit(f"{a.csv} not found: this benchmark needs the shared data folder beside the repository")

    t0 = time.time()
    before = machine()
    if a.workspace:
        result = run(a, a.workspace)
    else:
        with tempfile.TemporaryDirectory(prefix="llumi-counselchat-") as d:
            result = run(a, Path(d) / "work")
    result.update({
        "machine": {**before, "load_avg_at_end": os.getloadavg()},
        "versions": versions(),
        "wall_seconds": round(time.time() - t0, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": ".venv/bin/python benchmarks/counselchat.py " + " ".join(sys.argv[1:]),
    })
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(table(result))
    try:
        shown = a.out.resolve().relative_to(REPO)
    except ValueError:
        shown = a.out
    print(f"wall time {result['wall_seconds']:.0f} s; written {shown}")


if __name__ == "__main__":
    main()
