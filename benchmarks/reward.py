"""The community-preference reward model on a real community's votes: CounselChat (issue 5).

Run from the repository root (needs ../shared/data/counselchat/; a few minutes on a 2-core CPU)::

    .venv/bin/python benchmarks/reward.py
    .venv/bin/python benchmarks/reward.py --seeds 1      # one split only

CounselChat (questions answered by licensed therapists, each answer with its upvotes) goes through the
stages a user runs, in a temporary workspace: ``ingest`` with the counselchat preset, then
``build_pairs`` with the relaxed score floors ``benchmarks/counselchat.py`` explains (its upvotes are
mostly 0-3: chosen >= 1 upvote and >= 2 x max(rejected, 1), rejected >= 0; no timestamps, so every
pair is undated), split by post 60/20/20, then ``llumi eval train-reward`` (``train_reward``): C chosen
on validation, pairwise accuracy measured on the held-out test posts. The split is redrawn with
``--seeds`` different pair seeds (different posts held out) because one test split holds only ~60 pairs.

Baselines on the same test pairs: chance (0.5) and "the longer answer wins" (answer length is the
strongest simple cue of upvotes on CounselChat); and an ablation, the same fit on the embeddings
without the length feature and on length alone. Writes ``benchmarks/out/reward.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
CSV = REPO.parent / "shared" / "data" / "counselchat" / "counselchat.csv"
OUT = REPO / "benchmarks" / "out" / "reward.json"
PAIRS = {"communities": ("counselchat",), "sft_min_score": 1, "min_chosen_score": 1, "min_rejected_score": 0,
         "dpo_min_ratio": 2.0, "splits": (0.6, 0.2, 0.2), "similarity": "lexical"}


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (c - h, c + h)


def ablation(ws, cache: dict) -> dict[str, float | None]:
    """Test accuracy of the same Bradley-Terry fit (C chosen on validation) on feature subsets: the
    embeddings without length, and length alone."""
    import numpy as np

    from llumi.embed import embed
    from llumi.evaluate.reward import C_GRID, RewardModel, _fit, pairwise_accuracy, read_pairs

    splits = {s: read_pairs(ws.pairs / "gm-dpo" / f"{s}.jsonl")[0] for s in ("train", "validation", "test")}
    texts = [t for rows in splits.values() for r in rows for t in (r["post"], r["chosen"], r["rejected"])]
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        cache.update(zip(missing, embed(missing)))

    def feats(post: str, reply: str, which: str):
        r, p = cache[reply], cache[post]
        length = np.array([np.log1p(len(reply.split()))], dtype=np.float32)
        return {"embeddings": np.hstack([r, r * p]), "length": length}[which]

    out = {}
    for which in ("embeddings", "length"):
        D = {s: np.array([feats(r["post"], r["chosen"], which) - feats(r["post"], r["rejected"], which) for r in rows])
             for s, rows in splits.items()}
        grid = {c: pairwise_accuracy(RewardModel(_fit(D["train"], c, 0)), D["validation"]) for c in C_GRID}
        c = max(grid, key=lambda k: (grid[k], -abs(np.log10(k))))
        out[which] = pairwise_accuracy(RewardModel(_fit(D["train"], c, 0)), D["test"])
    return out


def main() -> None:
    from llumi import config as cfgmod
    from llumi.data.ingest import IngestConfig, ingest
    from llumi.data.pairs import PairsConfig, build_pairs
    from llumi.evaluate.reward import train_reward
    from llumi.workspace import Workspace

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--seeds", type=int, default=5, help="Number of different post splits (pair seeds 0..N-1).")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    if not a.csv.exists():
        sys.exit(f"{a.csv} not found: this benchmark needs the shared data folder beside the repository")
    t0 = time.time()
    runs = []
    cache: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="llumi-reward-") as d:
        ws = Workspace(Path(d) / "work")
        s = ingest(ws, [a.csv], IngestConfig(preset="counselchat", community="counselchat"), progress=False)
        print(f"ingested {s['kept_posts']} posts, {s['kept_replies']} answers", file=sys.stderr)
        for seed in range(a.seeds):
            build_pairs(ws, cfgmod.load(PairsConfig, None, {**PAIRS, "seed": seed}), progress=False)
            r = train_reward(ws, seed=0)
            runs.append({"pair_seed": seed, "pairs": r["pairs"], "c": r["c"], "accuracy": r["accuracy"],
                         "length_baseline": r["length_baseline_accuracy"], "validation_grid": r["validation_grid"],
                         "ablation": ablation(ws, cache)})
            print(f"split {seed}: pairs {r['pairs']}, C {r['c']}, test accuracy {r['accuracy']['test']:.3f} "
                  f"(longer answer: {r['length_baseline_accuracy'].get('test', float('nan')):.3f})", file=sys.stderr)
    n_test = sum(r["pairs"]["test"] for r in runs)
    pooled = sum(r["accuracy"]["test"] * r["pairs"]["test"] for r in runs) / n_test
    pooled_len = sum(r["length_baseline"]["test"] * r["pairs"]["test"] for r in runs) / n_test
    accs = [r["accuracy"]["test"] for r in runs]
    pooled_ablation = {k: sum(r["ablation"][k] * r["pairs"]["test"] for r in runs) / n_test for k in ("embeddings", "length")}
    result = {"runs": runs, "test_pairs_total": n_test, "pooled_test_accuracy": pooled,
              "pooled_test_accuracy_wilson95": wilson(pooled * n_test, n_test),
              "pooled_length_baseline": pooled_len, "pooled_ablation": pooled_ablation, "mean_test_accuracy": sum(accs) / len(accs),
              "min_max_test_accuracy": [min(accs), max(accs)], "pairs_rule": {k: list(v) if isinstance(v, tuple) else v for k, v in PAIRS.items()},
              "seconds": round(time.time() - t0, 1), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "command": ".venv/bin/python benchmarks/reward.py " + " ".join(sys.argv[1:])}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    lo, hi = result["pooled_test_accuracy_wilson95"]
    print(f"held-out pairwise accuracy over {a.seeds} post splits: pooled {pooled:.3f} (Wilson 95% {lo:.3f}-{hi:.3f}, "
          f"{n_test} test pairs; pairs of one post are correlated, so wider in truth); per split "
          f"{', '.join(f'{x:.3f}' for x in accs)}")
    print(f"longer-answer baseline on the same pairs: {pooled_len:.3f}; chance 0.5")
    print(f"ablation (same fit, pooled): embeddings without length {pooled_ablation['embeddings']:.3f}, "
          f"length alone {pooled_ablation['length']:.3f}")
    print(f"written {a.out.relative_to(REPO) if a.out.is_relative_to(REPO) else a.out}; {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
