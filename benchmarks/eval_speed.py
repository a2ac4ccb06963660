"""How long `llumi eval` takes on 1,000 responses without the judge (issue 5: under 5 minutes).

Run from the repository root (needs ../shared/data/counselchat/)::

    .venv/bin/python benchmarks/eval_speed.py
    .venv/bin/python benchmarks/eval_speed.py --responses 200

Real text: CounselChat questions as the posts and therapists' answers as the responses (one per
question-answer row, so ``--responses`` rows give that many posts and responses). Untimed setup: the
corpus is ingested into a temporary workspace, pairs are built and the reward model is trained, so the
timed evaluation runs everything a default ``llumi eval`` runs when a reward model exists: every
per-response measure (readability, lexicon empathy, style matching, length and style markers, triage
and guard), sentence-embedding similarity, reward scores and win rates, diversity (distinct-n,
self-BLEU), bootstrap intervals (1,000 resamples) and paired comparisons, metrics.json and the HTML
report. Two systems are evaluated (the answers, and the same answers reversed word by word as a
second system) so that paired comparisons and win rates run too: ``--responses`` counts both.
The embedder's one-time load is included. Writes ``benchmarks/out/eval_speed.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
CSV = REPO.parent / "shared" / "data" / "counselchat" / "counselchat.csv"
OUT = REPO / "benchmarks" / "out" / "eval_speed.json"
LIMIT_S = 300


def main() -> None:
    from llumi import config as cfgmod
    from llumi.data.ingest import IngestConfig, ingest
    from llumi.data.pairs import PairsConfig, build_pairs
    from llumi.evaluate import evaluate_systems
    from llumi.evaluate.reward import train_reward
    from llumi.workspace import Workspace

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--responses", type=int, default=1000, help="Responses in all (two systems, half each).")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    if not a.csv.exists():
        sys.exit(f"{a.csv} not found: this benchmark needs the shared data folder beside the repository")
    half = a.responses // 2
    with tempfile.TemporaryDirectory(prefix="llumi-evalspeed-") as d:
        d = Path(d)
        ws = Workspace(d / "work")
        ingest(ws, [a.csv], IngestConfig(preset="counselchat", community="counselchat"), progress=False)
        build_pairs(ws, cfgmod.load(PairsConfig, None, {"communities": ("counselchat",), "min_chosen_score": 1,
                                                        "min_rejected_score": 0, "sft_min_score": 1,
                                                        "splits": (0.6, 0.2, 0.2), "similarity": "lexical"}),
                    progress=False)
        train_reward(ws)
        rows = list(csv.DictReader(open(a.csv, newline="", encoding="utf-8")))
        rows = [r for r in rows if (r.get("answerText") or "").strip()][:half]
        if len(rows) < half:
            sys.exit(f"only {len(rows)} answers in {a.csv}")
        with open(d / "posts.jsonl", "w") as f, open(d / "a.jsonl", "w") as fa, open(d / "b.jsonl", "w") as fb:
            for i, r in enumerate(rows):
                f.write(json.dumps({"id": i, "title": r["questionTitle"], "text": r["questionText"] or ""}) + "\n")
                fa.write(json.dumps({"id": i, "text": r["answerText"]}) + "\n")
                fb.write(json.dumps({"id": i, "text": " ".join(reversed(r["answerText"].split()))}) + "\n")
        t0 = time.time()
        s = evaluate_systems(ws, {"answers": d / "a.jsonl", "reversed": d / "b.jsonl"}, posts=d / "posts.jsonl",
                             human=False, name="speed", progress=True)
        wall = time.time() - t0
    result = {"responses": 2 * half, "posts": s["posts"], "wall_seconds": round(wall, 1),
              "responses_per_second": round(2 * half / wall, 1), "target_seconds": LIMIT_S, "met": wall < LIMIT_S,
              "timings": s["timings"], "measures": s["measures"], "cores": len(os.sched_getaffinity(0)),
              "load_avg": os.getloadavg(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "command": ".venv/bin/python benchmarks/eval_speed.py " + " ".join(sys.argv[1:])}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{2 * half} responses on {s['posts']} posts, no judge: {wall:.1f} s ({2 * half / wall:.1f} responses/s); "
          f"target < {LIMIT_S} s: {'met' if wall < LIMIT_S else 'NOT met'}")
    print("phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in s["timings"].items()))
    print(f"written {a.out.relative_to(REPO) if a.out.is_relative_to(REPO) else a.out}")


if __name__ == "__main__":
    main()
