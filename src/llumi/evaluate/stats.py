"""Per-system statistics: diversity (distinct-n, self-BLEU), means with bootstrap confidence intervals,
and paired comparisons of two systems on the same posts (paired bootstrap and Wilcoxon signed-rank).

Self-BLEU is written here rather than taken from sacrebleu or nltk: with every other response as a
reference it is quadratic there, while keeping each n-gram's two largest counts makes it linear.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from typing import Sequence

from llumi.evaluate.measures import words

BOOTSTRAP_VERSION = "percentile-1"


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Distinct-n (Li et al. 2016): distinct n-grams over all n-grams, across a system's responses."""
    total, seen = 0, set()
    for t in texts:
        w = words(t)
        grams = [tuple(w[i:i + n]) for i in range(len(w) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


def _ngrams(w: list[str], n: int) -> Counter:
    return Counter(tuple(w[i:i + n]) for i in range(len(w) - n + 1))


def self_bleu(texts: Sequence[str], max_n: int = 4, epsilon: float = 0.1) -> float | None:
    """Self-BLEU (Zhu et al. 2018, Texygen): the mean BLEU-4 of each response against all the others as
    references; higher means less diverse. Sentence BLEU (Papineni et al. 2002) with clipped counts
    against the multi-reference maximum, the closest reference length for the brevity penalty, and
    NLTK's smoothing method 1 (epsilon for an n-gram order without a match)."""
    docs = [words(t) for t in texts]
    docs = [d for d in docs if d]
    if len(docs) < 2:
        return None
    counts = [[_ngrams(d, n) for n in range(1, max_n + 1)] for d in docs]
    # for every n-gram: its largest count in any document (and which), and the second largest
    top: list[dict[tuple, tuple[int, int, int]]] = [defaultdict(lambda: (0, -1, 0)) for _ in range(max_n)]
    for i, per_n in enumerate(counts):
        for k, c in enumerate(per_n):
            table = top[k]
            for g, v in c.items():
                best, who, second = table[g]
                if v > best:
                    table[g] = (v, i, best)
                elif v > second:
                    table[g] = (best, who, v)
    lengths = sorted(len(d) for d in docs)
    scores = []
    for i, d in enumerate(docs):
        logp = 0.0
        for k in range(max_n):
            c = counts[i][k]
            denom = sum(c.values())
            if denom == 0:
                continue  # a response shorter than n words: the geometric mean is over the orders it has
            match = 0
            for g, v in c.items():
                best, who, second = top[k][g]
                ref = second if who == i else best
                match += min(v, ref)
            p = match / denom if match else epsilon / denom
            logp += math.log(p)
        orders = sum(1 for k in range(max_n) if sum(counts[i][k].values()))
        if orders == 0:
            continue
        # the closest other length (remove this document's own length once)
        h = len(d)
        others = lengths.copy()
        others.pop(bisect.bisect_left(others, h))
        j = bisect.bisect_left(others, h)
        cands = [others[x] for x in (j - 1, j) if 0 <= x < len(others)]
        r = min(cands, key=lambda x: (abs(x - h), x))
        bp = 1.0 if h > r else math.exp(1 - r / h)
        scores.append(bp * math.exp(logp / orders))
    return sum(scores) / len(scores) if scores else None


def bootstrap_mean(values: Sequence[float], n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean with a percentile bootstrap confidence interval (Efron & Tibshirani 1993), seeded."""
    import numpy as np

    x = np.asarray([v for v in values if v is not None], dtype=float)
    if len(x) == 0:
        return {"n": 0, "mean": None, "low": None, "high": None}
    if len(x) == 1:
        return {"n": 1, "mean": float(x[0]), "low": float(x[0]), "high": float(x[0])}
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    a = (1 - level) / 2
    return {"n": int(len(x)), "mean": float(x.mean()), "low": float(np.quantile(means, a)),
            "high": float(np.quantile(means, 1 - a))}


def paired_comparison(a: Sequence[float], b: Sequence[float], n_boot: int = 1000, seed: int = 0,
                      level: float = 0.95) -> dict:
    """System A minus system B on the same posts (pairs where either value is None are left out): mean
    difference with a paired bootstrap interval and two-sided bootstrap p-value (Koehn 2004), and the
    Wilcoxon signed-rank test (Wilcoxon 1945; scipy, zero differences dropped)."""
    import numpy as np

    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    if not pairs:
        return {"n": 0, "diff": None, "low": None, "high": None, "p_bootstrap": None, "p_wilcoxon": None}
    d = np.asarray([x - y for x, y in pairs], dtype=float)
    out = {"n": int(len(d)), "diff": float(d.mean())}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    alpha = (1 - level) / 2
    out["low"], out["high"] = float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
    if np.all(d == 0):
        out["p_bootstrap"], out["p_wilcoxon"] = 1.0, 1.0
        return out
    # share of resampled means on the other side of zero, doubled (two-sided), at least 1/n_boot
    other = np.mean(means <= 0) if d.mean() > 0 else np.mean(means >= 0)
    out["p_bootstrap"] = float(min(1.0, max(2 * other, 1.0 / n_boot)))
    try:
        from scipy.stats import wilcoxon

        out["p_wilcoxon"] = float(wilcoxon(d, zero_method="wilcox").pvalue) if np.count_nonzero(d) else 1.0
    except ValueError:
        out["p_wilcoxon"] = None
    return out
