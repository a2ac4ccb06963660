"""`llumi stats`: counts and distributions of a hand-made store."""

from __future__ import annotations

import json

import pytest

from llumi.data.stats import TOTAL, compute_stats
from llumi.errors import InputError
from tests.test_pairs import DAY, T0, reply, write_store


@pytest.fixture
def store(ws):
    posts = [{"post_id": "p1"}, {"post_id": "p2"}, {"post_id": "p3"},
             {"post_id": "k1", "community": "other", "created_utc": None}]
    replies = [
        reply("a", "p1", 2, 1), reply("b", "p1", 8, 2), reply("c", "p1", 4, 3),       # lag ~100 days
        reply("d", "p2", 1, 1, retrieved_on=T0 + 60 + 2 * DAY),                      # lag 2 days
        reply("e", "k1", -3, None, community="other", retrieved_on=None),           # undated, no lag
        reply("x", "gone", 5, 1), reply("y", "gone", 6, 2), reply("z", "lost", 7, 3),  # orphans
    ]
    write_store(ws, posts, replies)
    return ws


def test_counts_per_community_and_orphans(store):
    s = compute_stats(store)["communities"]
    assert set(s) == {"support", "other", TOTAL}
    sup = s["support"]
    assert (sup["posts"], sup["replies"], sup["posts_with_replies"], sup["posts_without_replies"]) == (3, 7, 2, 1)
    assert (sup["orphan_replies"], sup["orphan_reply_posts"]) == (3, 2)
    assert sup["replies_per_post"]["max"] == 3 and sup["replies_per_post"]["min"] == 0
    assert sup["reply_score"]["max"] == 8 and sup["reply_score"]["min"] == 1
    assert sup["reply_score_lag_days"]["min"] == pytest.approx(2.0, abs=0.01)
    assert sup["reply_score_lag_days"]["max"] == pytest.approx(100.0, abs=0.01)
    other = s["other"]
    assert (other["posts"], other["replies"], other["undated_posts"], other["undated_replies"]) == (1, 1, 1, 1)
    assert other["reply_score_lag_days"] is None and other["replies_with_score_lag"] == 0
    assert s[TOTAL]["replies"] == 8 and s[TOTAL]["posts"] == 4 and s[TOTAL]["orphan_replies"] == 3


def test_writes_json_plots_and_meta(store):
    summary = compute_stats(store)
    assert json.loads((store.stats / "stats.json").read_text())["communities"] == json.loads(
        json.dumps(summary["communities"]))
    for name in ("score_hist", "replies_per_post_hist", "score_lag_hist"):
        png = store.stats / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert summary["outputs"]["plots"][name] == str(png)
    meta = json.loads((store.stats / "meta.json").read_text())
    assert meta["stage"] == "stats" and meta["inputs"]["store"].startswith("sha256:")


def test_community_filter_and_unknown_community(store):
    s = compute_stats(store, ["Other"], plots=False)["communities"]
    assert set(s) == {"other", TOTAL} and s[TOTAL]["replies"] == 1
    with pytest.raises(InputError, match="no posts or replies in the store for community 'nope'; communities are: other, support"):
        compute_stats(store, ["nope"])


def test_cli_stats_json_and_text(store, run_cli):
    code, out, err = run_cli("stats", "--json", "--no-plots")
    assert code == 0, err
    summary = json.loads(out)                      # exactly one JSON object
    assert summary["communities"]["support"]["orphan_replies"] == 3
    assert summary["outputs"]["stats"].endswith("stats.json")
    code, out, err = run_cli("stats")
    assert code == 0 and any(line.startswith("support ") for line in out.splitlines())
    assert "3 replies point to 2 posts that are not in the store" in out


def test_empty_store_is_a_clear_error(ws, run_cli):
    from llumi.errors import WorkspaceError

    with pytest.raises(WorkspaceError, match="run `llumi ingest"):
        compute_stats(ws)
