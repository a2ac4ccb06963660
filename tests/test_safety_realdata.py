"""Triage measured on real posts (../shared/data/risk); skipped where that folder is absent.

Targets from the issue: at least 90% of r/SuicideWatch posts at low or above, at most 3% of control
posts. The false-positive target is asserted; the 90% recall target is NOT reached by the rules (see
docs/safety-results.md), so recall is asserted at the level the rules reach today, and a change that
loses recall fails here. The rules were tuned on SDCNL only; the 27-subreddit file is the held-out
check (its r/SuicideWatch recall and its control communities' rate).
"""

import csv
import sys

import pytest

from tests.conftest import shared_data

from llumi.safety import tier_at_least, triage

CONTROLS = {"personalfinance", "UKPersonalFinance", "legaladvice", "teaching", "guns", "ukpolitics",
            "unitedkingdom", "conspiracy", "mindfulness"}


def _rows(path):
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _rate(texts, floor):
    return sum(tier_at_least(triage(t).tier, floor) for t in texts) / len(texts)


@pytest.mark.slow
def test_suicidewatch_recall_and_control_false_positives_27_subreddits():
    rows = _rows(shared_data("risk", "rmhd-27subreddits.csv"))
    sw = [r["post"] for r in rows if r["subreddit"] == "suicidewatch"]
    control = [r["post"] for r in rows if r["subreddit"] in CONTROLS]
    assert len(sw) == 260 and len(control) == 9 * 260
    assert _rate(control, "low") <= 0.03  # the target (1.5%, 34 of 2,340, reached in round 5)
    assert _rate(control, "moderate") <= 0.01
    assert _rate(sw, "low") >= 0.776  # 77.7% (202 of 260) reached in round 5, held out; the target of 90% is not met
    assert _rate(sw, "moderate") >= 0.53


@pytest.mark.slow
def test_suicidewatch_recall_sdcnl():
    rows = _rows(shared_data("risk", "sdcnl-train.csv"))
    sw = [(r["title"] + "\n" + r["selftext"]) for r in rows if r["is_suicide"] == "1"]
    assert _rate(sw, "low") >= 0.842  # 84.2% (663 of 787) reached in round 5 (tuned here); the target of 90% is not met
    assert _rate(sw, "moderate") >= 0.53
