"""The statistics of a rating study, as plain functions over plain records.

A *rating* is one rater's score of one item (a post and one system's reply) on one dimension; a
*preference* is one rater's choice between two items for the same post. Records are dicts:

    rating:     {"item": "i7", "post": "p3", "system": "dpo", "rater": "r2", "credential": "clinician",
                 "dimension": "safety", "score": 4}
    preference: {"post": "p3", "rater": "r2", "credential": "lay", "a": "dpo", "b": "human",
                 "choice": "a" | "b" | "tie"}

``summarize`` gives what ``llumi rate report`` shows: per system and dimension the mean with a
bootstrap confidence interval, pairwise win rates, and Krippendorff's alpha per dimension, all of it
again split by rater credential. Nothing here knows about the database or the web app.
"""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import combinations
from typing import Any, Iterable, Sequence

import numpy as np

from llumi.evaluate.stats import bootstrap_mean   # one bootstrap for eval and rating reports

CREDENTIALS = ("clinician", "peer", "lay")   # licensed clinician, trained peer supporter, lay person
DIMENSIONS = ("readability", "empathy", "connection", "actionability", "safety")


def krippendorff_alpha(units: dict[Any, dict[Any, float]], level: str = "ordinal",
                       scale: Sequence[float] | None = None) -> float | None:
    """Krippendorff's alpha for ``{unit: {rater: value}}`` (missing ratings simply absent).

    ``level`` is nominal, ordinal, interval or ratio; ``scale`` lists every value the scale allows (for
    the ordinal metric the distance between two values counts the values in between, so unused scale
    points matter). Computed by the ``krippendorff`` package (Castro 2017), which reproduces the worked
    example of Krippendorff (2011). Units with fewer than two ratings carry no information and are
    dropped; ``None`` when fewer than two units remain or every value is the same (alpha undefined).
    """
    import krippendorff

    kept = {u: r for u, r in units.items() if len(r) >= 2}
    if len(kept) < 2:
        return None
    raters = sorted({rater for r in kept.values() for rater in r}, key=str)
    index = {rater: i for i, rater in enumerate(raters)}
    data = np.full((len(raters), len(kept)), np.nan)
    for j, r in enumerate(kept.values()):
        for rater, value in r.items():
            data[index[rater], j] = float(value)
    values = np.unique(data[~np.isnan(data)])
    if len(values) < 2:
        return None
    domain = sorted(set(values.tolist()) | set(float(v) for v in (scale or ())))
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=domain))


def win_rates(preferences: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For every pair of systems "A vs B": A's wins, B's wins, ties, and A's win rate with ties counted
    as half a win each (``None`` when the pair was never compared)."""
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in preferences:
        a, b, choice = p["a"], p["b"], p["choice"]
        if a == b:
            continue
        key, flip = ((a, b), False) if str(a) <= str(b) else ((b, a), True)
        slot = {"a": 0, "b": 1, "tie": 2}[choice]
        if flip and slot < 2:
            slot = 1 - slot
        tally[key][slot] += 1
    out = {}
    for (a, b), (wa, wb, ties) in sorted(tally.items()):
        n = wa + wb + ties
        out[f"{a} vs {b}"] = {"a": a, "b": b, "a_wins": wa, "b_wins": wb, "ties": ties, "n": n,
                              "a_win_rate": (wa + ties / 2) / n if n else None}
    return out


def _alpha_by_dimension(ratings: list[dict[str, Any]], dimensions: Sequence[str],
                        scale: Sequence[float]) -> dict[str, float | None]:
    out = {}
    for dim in dimensions:
        units: dict[Any, dict[Any, float]] = defaultdict(dict)
        for r in ratings:
            if r["dimension"] == dim:
                units[r["item"]][r["rater"]] = r["score"]
        out[dim] = krippendorff_alpha(units, "ordinal", scale)
    return out


def _means(ratings: list[dict[str, Any]], dimensions: Sequence[str], seed: int) -> dict[str, dict[str, Any]]:
    """Per system and dimension: the mean over items of each item's mean rating (so an item rated by
    three raters weighs as much as one rated once), with a bootstrap interval over items."""
    per_item: dict[tuple[str, str, Any], list[float]] = defaultdict(list)
    for r in ratings:
        per_item[(r["system"], r["dimension"], r["item"])].append(float(r["score"]))
    by: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (system, dim, _), scores in per_item.items():
        by[system][dim].append(sum(scores) / len(scores))
    return {system: {dim: bootstrap_mean(by[system].get(dim, []), n_boot=2000, seed=seed) for dim in dimensions}
            for system in sorted(by)}


def summarize(ratings: Sequence[dict[str, Any]], preferences: Sequence[dict[str, Any]] = (), *,
              dimensions: Sequence[str] = DIMENSIONS, scale: Sequence[float] = (1, 2, 3, 4, 5),
              seed: int = 0) -> dict[str, Any]:
    """Everything a study report shows, overall and split by rater credential."""
    ratings, preferences = list(ratings), list(preferences)

    def block(rs: list[dict[str, Any]], ps: list[dict[str, Any]]) -> dict[str, Any]:
        return {"raters": len({r["rater"] for r in rs} | {p["rater"] for p in ps}),
                "ratings": len(rs), "preferences": len(ps),
                "means": _means(rs, dimensions, seed), "win_rates": win_rates(ps),
                "alpha": _alpha_by_dimension(rs, dimensions, scale)}

    credentials = sorted({r["credential"] for r in ratings} | {p["credential"] for p in preferences})
    return {"dimensions": list(dimensions), "scale": list(scale), "overall": block(ratings, preferences),
            "by_credential": {c: block([r for r in ratings if r["credential"] == c],
                                       [p for p in preferences if p["credential"] == c]) for c in credentials}}


def pairwise_from_ratings(ratings: Sequence[dict[str, Any]], dimension: str) -> dict[str, dict[str, Any]]:
    """Win rates implied by ratings on one dimension: for each post and pair of systems, the system whose
    item has the higher mean rating wins (equal means tie). A reading of the ratings, not a substitute
    for asked preferences."""
    per: dict[tuple[Any, str], list[float]] = defaultdict(list)
    for r in ratings:
        if r["dimension"] == dimension:
            per[(r["post"], r["system"])].append(float(r["score"]))
    posts: dict[Any, dict[str, float]] = defaultdict(dict)
    for (post, system), scores in per.items():
        posts[post][system] = sum(scores) / len(scores)
    prefs = []
    for post, systems in posts.items():
        for a, b in combinations(sorted(systems), 2):
            diff = systems[a] - systems[b]
            choice = "tie" if math.isclose(diff, 0.0, abs_tol=1e-9) else ("a" if diff > 0 else "b")
            prefs.append({"a": a, "b": b, "choice": choice})
    return win_rates(prefs)
