"""`llumi pairs`: hand-made stores where the right pairs are known."""

from __future__ import annotations

import importlib.util
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llumi import config, prompts
from llumi.data import schema
from llumi.data.pairs import LexicalSimilarity, PairsConfig, build_pairs
from llumi.errors import ConfigError, InputError, WorkspaceError

from tests.conftest import read_jsonl

T0 = 1_600_000_000
DAY = 86_400
SPLITS = ("train", "validation", "test")
POST_TEXT = "I lost my job last week and I can't stop feeling like a failure. How do I get through this?"


def write_store(ws, posts: list[dict], replies: list[dict], part: str = "part-x") -> None:
    """Write posts and replies as store parts with exactly the store schemas (defaults filled in)."""
    post_defaults = {"community": "support", "author": "a_0000000000000000", "title": "Struggling",
                     "text": POST_TEXT, "score": 5, "created_utc": T0, "retrieved_on": T0 + 100 * DAY,
                     "score_lag": 100 * DAY, "edited": False, "num_comments": 0, "source": "test.jsonl",
                     "source_line": 1}
    reply_defaults = {"parent_id": None, "depth": 1, "community": "support", "author": "a_1111111111111111",
                      "text": "That sounds really hard.", "score": 1, "created_utc": T0 + 60,
                      "retrieved_on": T0 + 100 * DAY, "score_lag": None, "edited": False, "is_submitter": False,
                      "source": "test.jsonl", "source_line": 1}
    for table, rows, defaults, sch in (("posts", posts, post_defaults, schema.POSTS),
                                       ("replies", replies, reply_defaults, schema.REPLIES)):
        full = []
        for i, r in enumerate(rows):
            row = {**defaults, **r}
            if table == "replies":
                row["parent_id"] = row["parent_id"] or f"t3_{row['post_id']}"
                if row["score_lag"] is None and row["created_utc"] is not None:
                    row["score_lag"] = row["retrieved_on"] - row["created_utc"]
            row["source_line"] = i + 1
            full.append(row)
        folder = ws.store / table
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(full, schema=sch), folder / f"{part}.parquet")


def reply(rid, post_id, score, minutes, text=None, **kw):
    created = None if minutes is None else T0 + minutes * 60
    return {"reply_id": rid, "post_id": post_id, "score": score, "created_utc": created,
            "text": text or f"Reply {rid}: I hear you, that sounds so hard. What has helped you before?", **kw}


@pytest.fixture
def store(ws):
    """A small community where every rule has a case:

    p1: r1 (10, earliest) r2 (4) r3 (2) r4 (9, latest). Only r4 > r2 and r4 > r3 pass: r1 leads
        everything by >= 2x but was written first; r1 over r4 is below the ratio.
    p2: r5 (3, early), r6 (5, later): ratio 1.67 < 2 -> no pair. Best reply r6: 5 - 3 >= 1 margin.
    p3: six replies doubling in score over time: 15 passing pairs, cap applies.
    p4: undated replies (CSV-like): 8 over 2.
    p5: a lone reply of score 1 (no SFT: below min score).
    Also: an orphan reply, the poster's own reply, a nested reply, a reply to a too-short post.
    """
    posts = [
        {"post_id": "p1", "created_utc": T0},
        {"post_id": "p2", "created_utc": T0 + DAY},
        {"post_id": "p3", "created_utc": T0 + 2 * DAY},
        {"post_id": "p4", "created_utc": None, "retrieved_on": None, "score_lag": None},
        {"post_id": "p5", "created_utc": T0 + 3 * DAY},
        {"post_id": "short", "title": "hi", "text": ""},
    ]
    replies = [
        reply("r1", "p1", 10, 1), reply("r2", "p1", 4, 2), reply("r3", "p1", 2, 3), reply("r4", "p1", 9, 4),
        reply("r5", "p2", 3, 1), reply("r6", "p2", 5, 2),
        *[reply(f"c{i}", "p3", 2 ** (i + 1), i + 1) for i in range(6)],
        reply("u1", "p4", 8, None, retrieved_on=None), reply("u2", "p4", 2, None, retrieved_on=None),
        reply("l1", "p5", 1, 1),
        reply("orphan", "gone", 50, 1),
        reply("op", "p1", 40, 9, is_submitter=True),
        reply("deep", "p1", 40, 9, depth=2, parent_id="t1_r1"),
        reply("tooshort", "short", 40, 9),
    ]
    write_store(ws, posts, replies)
    return ws


def build(ws, progress=False, **overrides):
    cfg = config.load(PairsConfig, overrides={"similarity": "lexical", **overrides})
    return build_pairs(ws, cfg, progress=progress)


def rows(ws, name):
    return [r for s in SPLITS for r in read_jsonl(ws.pairs / name / f"{s}.jsonl")]


def pair_ids(ws, name="gm-dpo"):
    return {(r["chosen_id"], r["rejected_id"]) for r in rows(ws, name)}


def test_shp_rule_later_and_ratio(store):
    summary = build(store, max_pairs_per_post=0)
    got = pair_ids(store)
    p1 = {p for p in got if p[0] in {"r1", "r2", "r3", "r4"}}
    assert p1 == {("r4", "r2"), ("r4", "r3")}
    # The earliest, highest reply is never chosen: its lead may come from being seen first.
    assert not any(c == "r1" for c, _ in got)
    assert not any({"r5", "r6"} & set(p) for p in got), "ratio 5/3 < 2 must not pair"
    # Excluded replies never appear anywhere.
    for name in ("gm-sft", "gm-dpo"):
        blob = json.dumps(rows(store, name))
        for rid in ("orphan", "op", "deep", "tooshort"):
            assert f'"{rid}"' not in blob
    drops = summary["dropped"]
    assert drops["replies"] == {"orphan_reply": 1, "by_submitter": 1, "too_deep": 1, "post_too_short": 1}
    assert drops["gm-dpo"]["chosen_not_later"] == 3          # r1>r2, r1>r3, r2>r3
    assert drops["gm-dpo"]["ratio_below_min"] == 2           # r1>r4, r6>r5
    assert "over_cap_per_post" not in drops["gm-dpo"]
    assert summary["outputs"]["gm-dpo"]["total"] == 2 + 15 + 1


def test_without_later_rule_earlier_higher_may_win(store):
    build(store, require_later=False, max_pairs_per_post=0)
    assert ("r1", "r2") in pair_ids(store) and ("r1", "r3") in pair_ids(store)


def test_ratio_and_score_floors_are_settings(store):
    build(store, dpo_min_ratio=1.5, min_rejected_score=3, max_pairs_per_post=0)
    got = pair_ids(store)
    assert ("r6", "r5") in got                         # 5/3 >= 1.5, later
    assert ("r4", "r3") not in got                     # rejected score 2 < floor 3
    assert all(r["rejected_score"] >= 3 and r["chosen_score"] >= 1.5 * r["rejected_score"] for r in rows(store, "gm-dpo"))


def test_cap_per_post_keeps_strongest(store):
    summary = build(store, max_pairs_per_post=3)
    p3 = [r for r in rows(store, "gm-dpo") if r["post_id"] == "p3"]
    assert len(p3) == 3
    assert sorted(r["score_ratio"] for r in p3) == [16.0, 16.0, 32.0]   # 64/2, 64/4, 32/2
    assert summary["dropped"]["gm-dpo"]["over_cap_per_post"] == 15 - 3
    assert all(sum(r["post_id"] == p for r in rows(store, "gm-dpo")) <= 3 for p in ("p1", "p3", "p4"))


def test_undated_pairs_allowed_and_flagged_or_skipped(store):
    summary = build(store)
    undated = [r for r in rows(store, "gm-dpo") if r["undated"]]
    assert [(r["chosen_id"], r["rejected_id"]) for r in undated] == [("u1", "u2")]
    assert summary["pair_candidates"]["undated_in_gm_dpo"] == 1
    assert all(not r["undated"] for r in rows(store, "gm-dpo") if r["post_id"] != "p4")
    summary = build(store, undated="skip")
    assert not any(r["undated"] for r in rows(store, "gm-dpo"))
    assert summary["dropped"]["gm-dpo"]["undated"] == 1


def test_sft_takes_best_reply_above_thresholds(store):
    summary = build(store)
    sft = {r["post_id"]: r for r in rows(store, "gm-sft")}
    assert sft["p1"]["reply_id"] == "r1" and sft["p1"]["median_other_score"] == 4
    assert sft["p2"]["reply_id"] == "r6"
    assert sft["p3"]["reply_id"] == "c5"
    assert "p5" not in sft and summary["dropped"]["gm-sft"]["below_min_score"] == 1
    assert sft["p1"]["messages"][-1]["role"] == "assistant" and sft["p1"]["messages"][-1]["content"].startswith("Reply r1:")
    build(store, sft_min_margin=3)
    assert "p2" not in {r["post_id"] for r in rows(store, "gm-sft")}


def test_every_line_is_trl_conversational(store):
    build(store)
    for name in ("gm-sft", "im-sft"):
        for r in rows(store, name):
            assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]
            assert all(isinstance(m["content"], str) and m["content"] for m in r["messages"])
    for name in ("gm-dpo", "im-dpo"):
        for r in rows(store, name):
            assert [m["role"] for m in r["prompt"]] == ["system", "user"]
            assert [m["role"] for m in r["chosen"]] == ["assistant"] == [m["role"] for m in r["rejected"]]
            assert r["chosen"] != r["rejected"]
            for key in ("post_id", "community", "split", "score_ratio", "time_gap", "undated"):
                assert key in r
    dpo = {(r["chosen_id"], r["rejected_id"]): r for r in rows(store, "gm-dpo")}
    r = dpo[("r4", "r2")]
    assert r["prompt"] == prompts.gm_messages("Struggling", POST_TEXT)
    assert r["chosen_score"] == 9 and r["rejected_score"] == 4 and r["score_ratio"] == 2.25
    assert r["time_gap"] == 120 and r["chosen_created_utc"] - r["rejected_created_utc"] == 120
    assert r["chosen_score_lag"] == 100 * DAY - 240 and r["rejected_score_lag"] == 100 * DAY - 120
    assert r["chosen"][0]["content"].startswith("Reply r4:")


def many_posts_store(ws, n=60):
    posts = [{"post_id": f"q{i:03d}", "created_utc": T0 + i * DAY} for i in range(n)]
    replies = []
    for i in range(n):
        replies += [reply(f"q{i:03d}a", f"q{i:03d}", 2, 1), reply(f"q{i:03d}b", f"q{i:03d}", 8, 2)]
    write_store(ws, posts, replies)


def splits_of(ws):
    out = {}
    for name in ("gm-sft", "gm-dpo", "im-sft", "im-dpo"):
        for s in SPLITS:
            for r in read_jsonl(ws.pairs / name / f"{s}.jsonl"):
                assert r["split"] == s
                out.setdefault(r["post_id"], set()).add(s)
    return out


def test_no_post_in_two_splits_and_deterministic(ws):
    many_posts_store(ws)
    summary = build(ws)
    first = splits_of(ws)
    assert len(first) == 60 and all(len(s) == 1 for s in first.values())
    counts = summary["posts"]["by_split"]
    assert set(counts) == set(SPLITS) and all(counts[s] > 0 for s in SPLITS) and counts["train"] > counts["test"]
    build(ws)
    assert splits_of(ws) == first
    build(ws, seed=7)
    assert splits_of(ws) != first


def test_time_split_puts_latest_posts_in_test(ws):
    many_posts_store(ws, n=20)
    build(ws, split_by="time", splits="0.6,0.2,0.2")
    s = {p: next(iter(v)) for p, v in splits_of(ws).items()}
    assert [s[f"q{i:03d}"] for i in range(20)] == ["train"] * 12 + ["validation"] * 4 + ["test"] * 4


DRAFT = "I'm so sorry you lost your job. That is a really hard thing and it does not make you a failure."
REVISION = ("I'm so sorry you lost your job. That is a really hard thing, and it does not make you a failure. "
            "What has been the hardest part of this week for you?")
OTHER = "Have you tried going for a run? Exercise fixes most things, honestly."


def im_store(ws):
    posts = [{"post_id": "m1", "created_utc": T0}]
    replies = [reply("other", "m1", 3, 1, OTHER), reply("draft", "m1", 2, 2, DRAFT), reply("rev", "m1", 12, 3, REVISION)]
    write_store(ws, posts, replies)


def test_im_pairs_only_above_similarity_threshold(ws):
    im_store(ws)
    summary = build(ws)
    # Both (rev, draft) and (rev, other) pass the preference rules; only the close one is an IM example.
    assert pair_ids(ws) == {("rev", "draft"), ("rev", "other")}
    (sft,) = rows(ws, "im-sft")
    assert (sft["draft_id"], sft["revision_id"]) == ("draft", "rev")
    assert sft["similarity"] >= 0.4 and sft["similarity_method"] == "lexical"
    assert sft["messages"][:2] == prompts.im_messages("Struggling", POST_TEXT, DRAFT)
    assert sft["messages"][2] == {"role": "assistant", "content": REVISION}
    (dpo,) = rows(ws, "im-dpo")
    assert dpo["chosen"] == [{"role": "assistant", "content": REVISION}]
    assert dpo["rejected"] == [{"role": "assistant", "content": DRAFT}]      # the unchanged draft
    assert summary["dropped"]["im"]["below_similarity"] == 1
    assert summary["similarity"]["method"] == "lexical"
    build(ws, im_min_similarity=0.99)
    assert rows(ws, "im-sft") == []


def test_lexical_similarity_orders_paraphrase_above_unrelated():
    lex = LexicalSimilarity()
    for t in (DRAFT, REVISION, OTHER):
        lex.add_document(t)
    d, r, o = (lex.vector(t) for t in (DRAFT, REVISION, OTHER))
    assert lex.cosine(d, d) == pytest.approx(1.0)
    assert lex.cosine(d, r) > 0.6 > 0.1 > lex.cosine(d, o)
    assert lex.cosine({}, d) == 0.0


def test_im_embedding_path_embeds_each_text_once(ws, monkeypatch):
    """The embedding method through a stand-in for llumi.embed (the real one is the slow test below)."""
    import importlib.machinery
    import sys
    import types

    import numpy as np

    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers not installed")
    seen = []

    def fake_embed(texts, batch_size=64):
        seen.extend(texts)
        vecs = {DRAFT: [1.0, 0.0], REVISION: [0.8, 0.6], OTHER: [0.0, 1.0]}
        return np.array([vecs[t] for t in texts], dtype=np.float32)

    fake = types.ModuleType("llumi.embed")
    fake.__spec__ = importlib.machinery.ModuleSpec("llumi.embed", None)
    fake.embed = fake_embed
    monkeypatch.setitem(sys.modules, "llumi.embed", fake)
    im_store(ws)
    summary = build(ws, similarity="auto")
    assert summary["similarity"]["method"] == "embedding" and summary["similarity"]["threshold"] == 0.7
    assert sorted(seen) == sorted([DRAFT, REVISION, OTHER])          # each distinct reply once
    (r,) = rows(ws, "im-dpo")
    assert (r["draft_id"], r["revision_id"], r["similarity"]) == ("draft", "rev", 0.8)
    assert r["similarity_method"] == "embedding"


def test_auto_falls_back_to_lexical_with_a_warning(ws, monkeypatch, capsys):
    import llumi.data.pairs as pairs_mod

    real = pairs_mod.importlib.util.find_spec
    monkeypatch.setattr(pairs_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "sentence_transformers" else real(name, *a))
    im_store(ws)
    summary = build(ws, similarity="auto")
    assert summary["similarity"]["method"] == "lexical" and summary["similarity"]["threshold"] == 0.4
    assert "falls back to the lexical method" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="pip install 'llumi\\[embed\\]'"):
        build(ws, similarity="embedding")


@pytest.mark.slow
def test_im_with_real_sentence_embedder(ws):
    if importlib.util.find_spec("llumi.embed") is None or importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("llumi.embed / sentence-transformers not available")
    im_store(ws)
    summary = build(ws, similarity="embedding")
    assert summary["similarity"]["method"] == "embedding" and summary["similarity"]["threshold"] == 0.7
    assert [(r["draft_id"], r["revision_id"]) for r in rows(ws, "im-sft")] == [("draft", "rev")]
    assert rows(ws, "im-sft")[0]["similarity"] > 0.7


def test_meta_json_says_how_it_was_made(store):
    build(store, max_pairs_per_post=4)
    for name in ("gm-sft", "gm-dpo", "im-sft", "im-dpo"):
        meta = json.loads((store.pairs / name / "meta.json").read_text())
        assert meta["stage"] == f"pairs/{name}"
        assert meta["prompt_version"] == prompts.PROMPT_VERSION
        assert meta["config"]["max_pairs_per_post"] == 4 and meta["seed"] == 42
        assert meta["inputs"]["store"].startswith("sha256:")
        assert meta["counts"] == {s: len(read_jsonl(store.pairs / name / f"{s}.jsonl")) for s in SPLITS}
        assert meta["rule"] and "git_commit" in meta and meta["versions"]["duckdb"]
    assert "later" in json.loads((store.pairs / "gm-dpo" / "meta.json").read_text())["rule"]
    assert json.loads((store.pairs / "im-sft" / "meta.json").read_text())["similarity"]["method"] == "lexical"
    first = json.loads((store.pairs / "gm-dpo" / "meta.json").read_text())["inputs"]["store"]
    write_store(store, [{"post_id": "z1"}], [reply("z1a", "z1", 3, 1)], part="part-y")
    build(store)
    assert json.loads((store.pairs / "gm-dpo" / "meta.json").read_text())["inputs"]["store"] != first


def test_communities_filter_and_clear_errors(ws):
    write_store(ws, [{"post_id": "p1"}, {"post_id": "k1", "community": "other"}],
                [reply("a", "p1", 2, 1), reply("b", "p1", 8, 2), reply("c", "k1", 2, 1, community="other"),
                 reply("d", "k1", 8, 2, community="other")])
    summary = build(ws, communities="Other")
    assert summary["communities"] == ["other"] and {r["community"] for r in rows(ws, "gm-dpo")} == {"other"}
    with pytest.raises(InputError, match="no replies in the store for community 'nope'; communities are: other, support"):
        build(ws, communities="nope")


def test_empty_store_is_a_clear_error(ws):
    with pytest.raises(WorkspaceError, match="run `llumi ingest"):
        build(ws)
    write_store(ws, [{"post_id": "p1"}], [])
    with pytest.raises(InputError, match="holds no replies"):
        build(ws)


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigError, match="splits"):
        config.load(PairsConfig, overrides={"splits": "0.5,0.1"})
    with pytest.raises(ConfigError, match="undated.*allow, skip"):
        config.load(PairsConfig, overrides={"undated": "maybe"})
    with pytest.raises(ConfigError, match="unknown setting"):
        config.load(PairsConfig, overrides={"min_ratio": 3})


def test_cli_pairs_json(store, run_cli, tmp_path):
    cfg = tmp_path / "pairs.yaml"
    cfg.write_text("similarity: lexical\nmax_pairs_per_post: 2\n")
    code, out, err = run_cli("pairs", "--config", str(cfg), "--set", "seed=3", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["seed"] == 3
    assert set(summary["outputs"]) == {"gm-sft", "gm-dpo", "im-sft", "im-dpo"}
    assert summary["outputs"]["gm-dpo"]["total"] == 2 + 2 + 1
    assert set(summary["dropped"]) == {"replies", "gm-sft", "gm-dpo", "im"}
    code, out, err = run_cli("pairs", "--set", "similarity=lexical")
    assert code == 0 and "gm-dpo" in out


def test_cli_pairs_error_is_a_message(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "llumi.cli", "--workspace", str(tmp_path / "w"), "pairs",
                          "--set", "no_such=1"], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr and "unknown setting" in out.stderr


def test_cli_show_config_round_trips(store, run_cli, tmp_path):
    code, out, _ = run_cli("pairs", "--show-config", "--set", "dpo_min_ratio=3")
    assert code == 0 and "dpo_min_ratio: 3.0" in out and "require_later: true" in out
    assert not (store.pairs / "gm-dpo").exists()                     # builds nothing
    (tmp_path / "c.yaml").write_text(out)
    assert config.load(PairsConfig, tmp_path / "c.yaml") == PairsConfig(dpo_min_ratio=3.0)
