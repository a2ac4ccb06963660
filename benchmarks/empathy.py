"""How well LLUMI's two empathy scorers agree with EPITOME's human levels (issue 5).

Run from the repository root (needs ../shared/data/epitome/; about 2 minutes on a 2-core CPU)::

    .venv/bin/python benchmarks/empathy.py

For each of EPITOME's three mechanisms (Sharma et al. 2020: emotional reactions, interpretations,
explorations; human levels 0-2 on real Reddit post/response pairs):

- the **lexicon scorer** (``llumi.evaluate.empathy.score``, the default; written from the mechanisms'
  definitions, never fitted to these rows) on every row;
- the **trained classifier** (``llumi eval train-empathy``: MiniLM embeddings + logistic regression)
  by 5-fold cross-validation grouped by seeker post, so no post is in a training and a test fold;
- a **majority baseline** (always the most frequent level; Spearman undefined).

Prints Spearman's rho, accuracy and macro-F1 per mechanism and writes ``benchmarks/out/empathy.json``.
Nothing trained here is kept: EPITOME is licensed for non-commercial research only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "epitome"
OUT = REPO / "benchmarks" / "out" / "empathy.json"


def main() -> None:
    from llumi.evaluate import empathy

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="Folder of EPITOME-format CSVs.")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    if not a.data.exists():
        sys.exit(f"{a.data} not found: this benchmark needs the shared data folder beside the repository")
    t0 = time.time()
    rows = empathy.read_epitome(empathy.epitome_paths(a.data))
    lexicon = empathy.evaluate_lexicon(rows)
    t_lex = time.time() - t0
    majority = {}
    for m, rs in rows.items():
        top = Counter(r["level"] for r in rs).most_common(1)[0][0]
        majority[m] = {**empathy.agreement([top] * len(rs), [r["level"] for r in rs]), "level": top}
    t1 = time.time()
    _, cv = empathy.train(rows, folds=a.folds, seed=0, progress=lambda m: print(f"cross-validated {m}", file=sys.stderr))
    result = {"lexicon": lexicon, "trained_cv": cv, "majority": majority,
              "rows": {m: len(r) for m, r in rows.items()},
              "levels": {m: dict(sorted(Counter(r["level"] for r in rs).items())) for m, rs in rows.items()},
              "seconds": {"lexicon": round(t_lex, 1), "trained_cv": round(time.time() - t1, 1)},
              "versions": {"lexicon": empathy.LEXICON_VERSION, "classifier": empathy.CLASSIFIER_VERSION},
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "command": ".venv/bin/python benchmarks/empathy.py " + " ".join(sys.argv[1:])}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    f = lambda v: "  n/a" if v is None else f"{v:5.3f}"  # noqa: E731
    print(f"{'mechanism':22s}{'rows':>6s}   {'lexicon rho/acc/F1':>20s}   {'trained (CV) rho/acc/F1':>24s}   {'majority acc':>12s}")
    for m in rows:
        lx, tr = lexicon[m], cv[m]
        print(f"{m:22s}{len(rows[m]):6d}   {f(lx['spearman'])}/{f(lx['accuracy'])}/{f(lx['macro_f1'])}   "
              f"    {f(tr['spearman'])}/{f(tr['accuracy'])}/{f(tr['macro_f1'])}   {f(majority[m]['accuracy']):>12s}")
    print(f"written {a.out.relative_to(REPO) if a.out.is_relative_to(REPO) else a.out}; {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
