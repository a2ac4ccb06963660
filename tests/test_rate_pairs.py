"""DPO2 pairs from ratings: who may decide, thresholds, conflicts, and the row format."""

import pytest

from llumi.errors import ConfigError
from llumi.rate.pairs import RatingPairsConfig, rating_pairs, split_of

POSTS = {"p1": {"title": "Can't sleep", "text": "Everything feels heavy lately and I can't sleep."}}
ITEMS = {"a": {"post": "p1", "system": "dpo", "text": "That sounds exhausting. What keeps you up?"},
         "b": {"post": "p1", "system": "human", "text": "just sleep more lol"}}


def rating(item, rater, credential, dimension, score):
    return {"item": item, "post": ITEMS[item]["post"], "system": ITEMS[item]["system"], "rater": rater,
            "credential": credential, "dimension": dimension, "score": score}


def pref(rater, credential, a, b, choice):
    return {"post": "p1", "rater": rater, "credential": credential, "a": a, "b": b, "choice": choice}


def test_a_majority_preference_makes_a_pair_in_the_trl_format():
    prefs = [pref("r1", "lay", "a", "b", "a"), pref("r2", "peer", "b", "a", "b"), pref("r3", "lay", "a", "b", "b")]
    rows, counts = rating_pairs(POSTS, ITEMS, [], prefs, RatingPairsConfig(min_preference_margin=0.3), study="s")
    assert len(rows) == 1 and counts["pair: preference"] == 1
    row = rows[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"] and "Can't sleep" in row["prompt"][1]["content"]
    assert row["chosen"] == [{"role": "assistant", "content": ITEMS["a"]["text"]}]
    assert row["rejected"][0]["content"] == ITEMS["b"]["text"]
    assert (row["chosen_system"], row["rejected_system"], row["study"]) == ("dpo", "human", "s")
    assert row["preference_margin"] == pytest.approx(1 / 3, abs=1e-4)
    # a margin of 1/3 is below the default 0.5: no pair
    rows, counts = rating_pairs(POSTS, ITEMS, [], prefs, RatingPairsConfig())
    assert rows == [] and counts["preference margin below threshold"] == 1


def test_rating_differences_make_pairs_only_above_the_threshold():
    ratings = [rating("a", "r1", "lay", "empathy", 5), rating("b", "r1", "lay", "empathy", 3),
               rating("a", "r1", "lay", "readability", 4), rating("b", "r1", "lay", "readability", 4)]
    rows, counts = rating_pairs(POSTS, ITEMS, ratings, [], RatingPairsConfig(min_rating_diff=1.0))
    assert len(rows) == 1 and rows[0]["chosen_system"] == "dpo" and rows[0]["rating_margin"] == 1.0
    rows, counts = rating_pairs(POSTS, ITEMS, ratings, [], RatingPairsConfig(min_rating_diff=1.5))
    assert rows == [] and counts["rating difference below threshold"] == 1


def test_only_clinicians_may_decide_a_pair_where_safety_differs():
    lay_safety = [rating("a", "r1", "lay", "safety", 1), rating("b", "r1", "lay", "safety", 5),
                  rating("a", "r1", "lay", "empathy", 5), rating("b", "r1", "lay", "empathy", 2)]
    rows, counts = rating_pairs(POSTS, ITEMS, lay_safety, [], RatingPairsConfig())
    assert rows == [] and counts["safety differs but no eligible rater rated both"] == 1
    # a clinician who sees b as the safer reply decides, whatever empathy and the preference say
    clinician = [rating("a", "c1", "clinician", "safety", 2), rating("b", "c1", "clinician", "safety", 4)]
    rows, counts = rating_pairs(POSTS, ITEMS, lay_safety + clinician, [pref("r1", "lay", "a", "b", "a")],
                                RatingPairsConfig())
    assert len(rows) == 1 and rows[0]["chosen_system"] == "human"
    assert rows[0]["source"] == "safety (eligible raters)" and counts["preference overridden by safety"] == 1
    # a clinician who sees no safety difference lets the other dimensions decide
    same = [rating("a", "c1", "clinician", "safety", 4), rating("b", "c1", "clinician", "safety", 4)]
    rows, _ = rating_pairs(POSTS, ITEMS, lay_safety + same, [], RatingPairsConfig())
    assert len(rows) == 1 and rows[0]["chosen_system"] == "dpo" and rows[0]["source"] == "ratings"


def test_preference_and_ratings_that_disagree_drop_the_pair_and_agreement_keeps_one():
    ratings = [rating("a", "r1", "lay", "empathy", 5), rating("b", "r1", "lay", "empathy", 2)]
    rows, counts = rating_pairs(POSTS, ITEMS, ratings, [pref("r2", "lay", "a", "b", "b")], RatingPairsConfig())
    assert rows == [] and counts["preference and ratings disagree"] == 1
    rows, counts = rating_pairs(POSTS, ITEMS, ratings, [pref("r2", "lay", "a", "b", "a")], RatingPairsConfig())
    assert len(rows) == 1 and rows[0]["source"] == "preference+ratings"


def test_credentials_restrict_whose_preferences_count():
    prefs = [pref("r1", "lay", "a", "b", "b"), pref("c1", "clinician", "a", "b", "a")]
    cfg = RatingPairsConfig(from_ratings=False, credentials={"preference": ("clinician",)})
    rows, _ = rating_pairs(POSTS, ITEMS, [], prefs, cfg)
    assert len(rows) == 1 and rows[0]["chosen_system"] == "dpo"


def test_identical_replies_and_bad_rules_are_refused():
    items = {**ITEMS, "b": {**ITEMS["b"], "text": ITEMS["a"]["text"] + "  "}}
    rows, counts = rating_pairs(POSTS, items, [], [pref("r1", "lay", "a", "b", "a")], RatingPairsConfig())
    assert rows == [] and counts["identical replies"] == 1
    with pytest.raises(ConfigError, match="decisive"):
        RatingPairsConfig(decisive="kindness")
    with pytest.raises(ConfigError):
        RatingPairsConfig(from_preferences=False, from_ratings=False)


def test_split_is_by_post_and_stable():
    cfg = RatingPairsConfig(validation_share=0.25)
    splits = [split_of(f"post{i}", cfg) for i in range(2000)]
    assert splits == [split_of(f"post{i}", cfg) for i in range(2000)]
    assert 0.2 < splits.count("validation") / 2000 < 0.3
