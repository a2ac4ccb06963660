"""Rating-study statistics against values known by hand or from the literature."""

import math

import pytest

from llumi.rate.stats import krippendorff_alpha, pairwise_from_ratings, summarize, win_rates

NAN = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the worked example with missing
# values: 4 observers, 12 units, values 1-5. Published: nominal 0.743, ordinal 0.815, interval 0.849.
EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def example_units():
    units = {}
    for rater, row in enumerate(EXAMPLE):
        for unit, value in enumerate(row):
            if value is not None:
                units.setdefault(unit, {})[f"r{rater}"] = value
    return units


@pytest.mark.parametrize("level,expected", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_alpha_reproduces_krippendorffs_worked_example(level, expected):
    assert krippendorff_alpha(example_units(), level, scale=(1, 2, 3, 4, 5)) == pytest.approx(expected, abs=5e-4)


def test_alpha_is_one_for_perfect_agreement_and_undefined_without_information():
    agree = {u: {"a": v, "b": v, "c": v} for u, v in enumerate([1, 3, 5, 2, 4])}
    assert krippendorff_alpha(agree) == pytest.approx(1.0)
    assert krippendorff_alpha({0: {"a": 3, "b": 3}}) is None               # one unit
    assert krippendorff_alpha({0: {"a": 3}, 1: {"a": 4}}) is None           # nobody rated twice
    assert krippendorff_alpha({0: {"a": 3, "b": 3}, 1: {"a": 3, "b": 3}}) is None  # no variation


def test_alpha_drops_to_chance_or_below_for_systematic_disagreement():
    opposite = {u: {"a": v, "b": 6 - v} for u, v in enumerate([1, 2, 4, 5, 1, 5])}
    assert krippendorff_alpha(opposite) < 0


def test_win_rates_count_ties_as_half_and_orient_each_pair_once():
    prefs = [{"a": "dpo", "b": "human", "choice": "a"}, {"a": "human", "b": "dpo", "choice": "b"},
             {"a": "dpo", "b": "human", "choice": "tie"}, {"a": "human", "b": "dpo", "choice": "a"}]
    w = win_rates(prefs)
    assert list(w) == ["dpo vs human"]
    assert w["dpo vs human"] == {"a": "dpo", "b": "human", "a_wins": 2, "b_wins": 1, "ties": 1, "n": 4,
                                 "a_win_rate": pytest.approx(2.5 / 4)}


def _study():
    """Two clinicians who agree exactly on safety, two lay raters who disagree with each other."""
    ratings = []
    clinician_view = {"s1": [5, 4, 2, 5], "s2": [2, 1, 3, 1]}
    lay = {"l1": {"s1": [5, 5, 5, 5], "s2": [1, 1, 1, 1]}, "l2": {"s1": [1, 1, 1, 1], "s2": [5, 5, 5, 5]}}
    for post in range(4):
        for system in ("s1", "s2"):
            item = f"{system}-{post}"
            for rater in ("c1", "c2"):
                ratings.append({"item": item, "post": post, "system": system, "rater": rater,
                                "credential": "clinician", "dimension": "safety",
                                "score": clinician_view[system][post]})
            for rater, view in lay.items():
                ratings.append({"item": item, "post": post, "system": system, "rater": rater,
                                "credential": "lay", "dimension": "safety", "score": view[system][post]})
    return ratings


def test_summarize_splits_agreement_and_means_by_credential():
    s = summarize(_study(), dimensions=("safety",))
    assert s["by_credential"]["clinician"]["alpha"]["safety"] == pytest.approx(1.0)
    assert s["by_credential"]["lay"]["alpha"]["safety"] < 0
    assert s["overall"]["raters"] == 4 and s["overall"]["ratings"] == 32
    clin = s["by_credential"]["clinician"]["means"]
    assert clin["s1"]["safety"]["mean"] == pytest.approx(4.0) and clin["s2"]["safety"]["mean"] == pytest.approx(1.75)
    # overall: each item's mean over its four raters, then the mean over items
    assert math.isclose(s["overall"]["means"]["s1"]["safety"]["mean"],
                        sum((2 * v + 5 + 1) / 4 for v in [5, 4, 2, 5]) / 4)


def test_pairwise_from_ratings_reads_the_higher_mean_as_a_win():
    w = pairwise_from_ratings([r for r in _study() if r["credential"] == "clinician"], "safety")
    assert w["s1 vs s2"]["a_wins"] == 3 and w["s1 vs s2"]["b_wins"] == 1
