"""Per-system statistics: distinct-n, self-BLEU, bootstrap intervals, paired comparisons."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from llumi.evaluate import stats as S
from llumi.evaluate.measures import words


def test_distinct_n_by_hand():
    texts = ["a b a b", "a c"]
    # unigrams: a b a b a c -> 3 distinct of 6; bigrams: ab ba ab ac -> 3 distinct of 4
    assert S.distinct_n(texts, 1) == pytest.approx(3 / 6)
    assert S.distinct_n(texts, 2) == pytest.approx(3 / 4)
    assert S.distinct_n([], 1) is None and S.distinct_n(["one"], 2) is None


def _bleu_bruteforce(texts, max_n=4, epsilon=0.1):
    """Sentence BLEU of each text against all others, the direct (quadratic) way."""
    docs = [words(t) for t in texts]
    out = []
    for i, h in enumerate(docs):
        refs = [d for j, d in enumerate(docs) if j != i]
        logp, orders = 0.0, 0
        for n in range(1, max_n + 1):
            hc = Counter(tuple(h[k:k + n]) for k in range(len(h) - n + 1))
            if not hc:
                continue
            orders += 1
            maxref = Counter()
            for r in refs:
                for g, v in Counter(tuple(r[k:k + n]) for k in range(len(r) - n + 1)).items():
                    maxref[g] = max(maxref[g], v)
            match = sum(min(v, maxref[g]) for g, v in hc.items())
            denom = sum(hc.values())
            logp += math.log(match / denom if match else epsilon / denom)
        r = min((len(x) for x in refs), key=lambda x: (abs(x - len(h)), x))
        bp = 1.0 if len(h) > r else math.exp(1 - r / len(h))
        out.append(bp * math.exp(logp / orders))
    return sum(out) / len(out)


def test_self_bleu_matches_the_quadratic_definition():
    rng = random.Random(0)
    vocab = "i you feel sad today tomorrow walk talk friend the a and really hope".split()
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(3, 14))) for _ in range(25)]
    texts += [texts[0], texts[3]]  # exact repeats: the top-two-counts bookkeeping must handle them
    assert S.self_bleu(texts) == pytest.approx(_bleu_bruteforce(texts), rel=1e-9)


def test_self_bleu_extremes():
    same = ["you are not alone in this at all"] * 5
    assert S.self_bleu(same) == pytest.approx(1.0)
    disjoint = ["alpha beta gamma delta", "epsilon zeta eta theta", "iota kappa lambda mu"]
    assert S.self_bleu(disjoint) < 0.05
    assert S.self_bleu(["only one"]) is None


def test_bootstrap_mean_interval_contains_the_mean_and_is_seeded():
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    a = S.bootstrap_mean(values, seed=1)
    assert a["mean"] == 4.5 and a["low"] < 4.5 < a["high"] and a["n"] == 8
    assert S.bootstrap_mean(values, seed=1) == a
    assert S.bootstrap_mean([3.0] * 10) == {"n": 10, "mean": 3.0, "low": 3.0, "high": 3.0}
    assert S.bootstrap_mean([None, 2.0, None])["n"] == 1
    assert S.bootstrap_mean([])["mean"] is None


def test_bootstrap_interval_narrows_with_more_data():
    rng = random.Random(0)
    small = [rng.gauss(0, 1) for _ in range(20)]
    large = [rng.gauss(0, 1) for _ in range(2000)]
    ws = S.bootstrap_mean(small)
    wl = S.bootstrap_mean(large)
    assert (wl["high"] - wl["low"]) < (ws["high"] - ws["low"]) / 4


def test_paired_comparison_detects_a_consistent_difference():
    rng = random.Random(0)
    b = [rng.gauss(0, 1) for _ in range(60)]
    a = [x + 0.5 + rng.gauss(0, 0.1) for x in b]
    c = S.paired_comparison(a, b)
    assert c["n"] == 60 and c["diff"] == pytest.approx(0.5, abs=0.05)
    assert c["low"] > 0 and c["p_bootstrap"] < 0.01 and c["p_wilcoxon"] < 0.001
    # the same scores: no difference
    same = S.paired_comparison(b, b)
    assert same["diff"] == 0 and same["p_bootstrap"] == 1.0 and same["p_wilcoxon"] == 1.0


def test_paired_comparison_uses_only_posts_both_answered_and_sees_noise_as_noise():
    rng = random.Random(1)
    a = [rng.gauss(0, 1) for _ in range(80)]
    b = [rng.gauss(0, 1) for _ in range(80)]
    c = S.paired_comparison(a, b)
    assert c["low"] < 0 < c["high"] and c["p_bootstrap"] > 0.05
    c = S.paired_comparison([1.0, None, 3.0], [0.0, 5.0, None])
    assert c["n"] == 1 and c["diff"] == 1.0
    assert S.paired_comparison([None], [1.0])["n"] == 0
