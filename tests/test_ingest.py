"""`llumi ingest`: real dumps, every kind of bad input, resumption, privacy."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
import zstandard

from llumi.data import store
from llumi.data.ingest import IngestConfig, ingest
from llumi.errors import ConfigError, InputError
from llumi.workspace import Workspace
from tests.conftest import read_jsonl, shared_data

BASE_T = 1_600_000_000


def comment(cid, post="p1", body="This is a thoughtful reply, thank you for sharing.", **kw):
    obj = {"id": cid, "parent_id": f"t3_{post}", "link_id": f"t3_{post}", "subreddit": "Peer",
           "author": f"user_{cid}", "body": body, "score": 3, "created_utc": BASE_T + 100,
           "retrieved_on": BASE_T + 86400, "edited": False, "distinguished": None, "stickied": False,
           "controversiality": 0}
    obj.update(kw)
    return obj


def submission(pid, title="I feel so alone lately", selftext="Nobody seems to notice me at work or home.", **kw):
    obj = {"id": pid, "subreddit": "Peer", "author": f"op_{pid}", "title": title, "selftext": selftext,
           "is_self": True, "url": f"https://www.reddit.com/r/Peer/comments/{pid}/", "score": 5,
           "upvote_ratio": 1.0, "num_comments": 2, "created_utc": BASE_T, "retrieved_on": BASE_T + 86400,
           "over_18": False, "stickied": False, "removed_by_category": None}
    obj.update(kw)
    return obj


def lines_of(objs) -> bytes:
    return b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objs)


def write_zst(path: Path, data: bytes, window_log: int = 31) -> Path:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
    path.write_bytes(zstandard.ZstdCompressor(compression_params=params).compress(data))
    return path


def check_accounting(summary):
    total = summary["kept"] + sum(summary["dropped"].values()) + sum(summary["quarantined"].values())
    assert summary["lines_read"] == total, summary


def table(ws, name):
    con = store.connect(ws)
    return con.execute(f"select * from {name} order by source, source_line").fetchall()


# --- real dumps --------------------------------------------------------------------------------------

def test_real_2005_dump_with_2gib_window(ws):
    path = shared_data("reddit-dumps", "RC_2005-12.zst")
    s = ingest(ws, [path], progress=False)
    check_accounting(s)
    assert s["lines_read"] == 1075
    assert s["quarantined"] == {}
    assert s["kept_replies"] > 300 and s["dropped"]["deleted"] > 0
    # top-level only by default: nested replies are dropped as such
    assert s["dropped"]["nested"] > 0
    con = store.connect(ws)
    assert con.execute("select count(*) from replies where parent_id not like 't3_%'").fetchone()[0] == 0
    # score lag is kept: this month was re-scraped about 3,900 days later
    lag_days = con.execute("select median(score_lag) / 86400 from replies").fetchone()[0]
    assert 3000 < lag_days < 4500
    # real usernames never reach the store
    raw = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(open(path, "rb")).read()
    authors = {json.loads(l)["author"] for l in raw.splitlines()} - {"[deleted]"}
    stored = {a for (a,) in con.execute("select distinct author from replies").fetchall()}
    assert stored and not (stored & authors)
    assert all(a is None or (a.startswith("a_") and len(a) == 18) for a in stored)


def test_real_askwomen_submissions_small_window(ws):
    s = ingest(ws, [shared_data("reddit-dumps", "AskWomen_submissions.zst")], progress=False)
    check_accounting(s)
    assert s["lines_read"] == 8271
    assert s["dropped"]["removed"] == 6643  # the count the dump documentation gives
    assert s["kept_posts"] > 500 and s["kept_replies"] == 0


def test_counselchat_through_preset_mapping(ws):
    path = shared_data("counselchat", "counselchat.csv")
    cfg = IngestConfig(preset="counselchat", community="counselchat")
    s = ingest(ws, [path], cfg, progress=False)
    check_accounting(s)
    con = store.connect(ws)
    replies, posts = con.execute("select count(*) from replies").fetchone()[0], con.execute("select count(*) from posts").fetchone()[0]
    assert 1500 < replies <= 2012 and 200 < posts < 1000
    assert con.execute("select max(score) from replies").fetchone()[0] > 5
    # every reply joins to its question
    assert con.execute("select count(*) from replies r left join posts p using (post_id) where p.post_id is null").fetchone()[0] == 0


def test_table_mapping_errors_name_the_columns(ws, tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("qid,question,answer,ups\n1,How do I cope?,Try talking to someone you trust.,3\n")
    with pytest.raises(ConfigError, match="needs a column mapping for post_id, reply_text, score.*columns are: qid, question, answer, ups"):
        ingest(ws, [csv], IngestConfig(community="x"), progress=False)
    with pytest.raises(ConfigError, match="mapped column.*not found: score='upvotes'"):
        ingest(ws, [csv], IngestConfig(community="x", columns={"post_id": "qid", "post_text": "question",
                                                                  "reply_text": "answer", "score": "upvotes"}), progress=False)
    s = ingest(ws, [csv], IngestConfig(community="x", columns={"post_id": "qid", "post_text": "question",
                                                                  "reply_text": "answer", "score": "ups"}), progress=False)
    assert s["kept_replies"] == 1 and s["kept_posts"] == 1


# --- the formats -------------------------------------------------------------------------------------

def sample_objs():
    return [submission("p1"), comment("c1"), comment("c2", body="Another kind reply with a question for you?"),
            comment("c3", post="p2", body="A reply to the second post, which never arrives.")]


@pytest.mark.parametrize("kind", ["zst31", "zst21", "multiframe", "gzip", "jsonl"])
def test_formats_agree(tmp_path, kind):
    data = lines_of(sample_objs())
    path = tmp_path / "dump"
    if kind == "zst31":
        write_zst(path, data)
    elif kind == "zst21":
        write_zst(path, data, window_log=21)
    elif kind == "multiframe":
        c = zstandard.ZstdCompressor()
        half = data.index(b"\n", len(data) // 2) + 1
        path.write_bytes(c.compress(data[:half]) + c.compress(data[half:]))
    elif kind == "gzip":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [path], progress=False)
    assert (s["lines_read"], s["kept_posts"], s["kept_replies"]) == (4, 1, 3)


def test_reddit_thread_json_with_nested_replies(tmp_path):
    def t1(cid, body, replies=()):
        return {"kind": "t1", "data": {**comment(cid, body=body), "name": f"t1_{cid}",
                                       "replies": {"kind": "Listing", "data": {"children": list(replies)}} if replies else ""}}

    thread = [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {**submission("p1"), "name": "t3_p1"}}]}},
        {"kind": "Listing", "data": {"children": [
            t1("c1", "Top-level reply that is long enough.", [t1("c2", "A reply to the reply, also long enough.",
                                                                  [t1("c3", "Third level reply, long enough too.")])]),
            {"kind": "more", "data": {"count": 3, "children": ["x1"]}},
        ]}},
    ]
    path = tmp_path / "thread.json"
    path.write_text(json.dumps(thread))
    s = ingest(Workspace(tmp_path / "a"), [path], progress=False)
    assert (s["kept_posts"], s["kept_replies"], s["dropped"].get("nested")) == (1, 1, 2)
    ws = Workspace(tmp_path / "b")
    s = ingest(ws, [path], IngestConfig(max_depth=2), progress=False)
    assert (s["kept_replies"], s["dropped"].get("nested")) == (2, 1)
    assert sorted(r[3] for r in table(ws, "replies")) == [1, 2]


def test_nested_depth_resolved_across_files(tmp_path):
    objs = [comment("c1"), comment("c2", parent_id="t1_c1", body="Reply to c1, which is long enough."),
            comment("c3", parent_id="t1_c2", body="Reply to c2, which is long enough."),
            comment("c4", parent_id="t1_missing", body="Parent never arrives, long enough.")]
    path = write_zst(tmp_path / "RC.zst", lines_of(objs))
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [path], IngestConfig(max_depth=2), progress=False)
    check_accounting(s)
    assert s["kept_replies"] == 2 and s["dropped"]["nested"] == 2
    assert {r[0] for r in table(ws, "replies")} == {"c1", "c2"}


def test_submissions_and_comments_join_and_orphans_are_kept(tmp_path):
    ws = Workspace(tmp_path / "w")
    rs = write_zst(tmp_path / "RS.zst", lines_of([submission("p1")]))
    rc = write_zst(tmp_path / "RC.zst", lines_of([comment("c1", post="p1"), comment("c2", post="gone", body="Reply to a post that never arrives.")]))
    ingest(ws, [rs, rc], progress=False)
    con = store.connect(ws)
    joined = con.execute("select r.reply_id, p.title from replies r left join posts p using (post_id) order by 1").fetchall()
    assert joined == [("c1", "I feel so alone lately"), ("c2", None)]


# --- cleaning and privacy ----------------------------------------------------------------------------

def test_drop_reasons(tmp_path):
    objs = [
        comment("k1"),
        comment("d1", body="[deleted]"), comment("r1", body="[removed]"), comment("e1", body="   "),
        comment("m1", distinguished="moderator"), comment("s1", stickied=True),
        comment("b1", author="AutoModerator"), comment("b2", author="helpful_bot"),
        comment("n1", parent_id="t1_k1"), comment("t1", body="ok"), comment("l1", body="x" * 10_001),
        comment("o1", subreddit="pics"),
        comment("x1", _meta={"removal_type": "moderator"}), comment("x2", _meta={"was_deleted_later": True}),
        submission("p1"), submission("p2", selftext="[removed]"), submission("p3", selftext="", is_self=False),
        submission("p4", stickied=True), submission("p5", removed_by_category="moderator"),
    ]
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [write_zst(tmp_path / "d.zst", lines_of(objs))], IngestConfig(subreddits=("peer",)), progress=False)
    check_accounting(s)
    assert s["kept_replies"] == 1 and s["kept_posts"] == 1
    assert s["dropped"] == {"deleted": 1, "removed": 4, "empty": 1, "moderator": 3, "bot": 2, "nested": 1,
                            "too_short": 1, "too_long": 1, "other_community": 1, "deleted_later": 1, "link_post": 1}


def test_duplicates_and_near_duplicates(tmp_path):
    text = "You are not alone in this, and I am glad you reached out to us tonight."
    objs = [comment("c1", body=text), comment("c2", body=text, created_utc=BASE_T + 200),
            comment("c3", body=text.upper() + "!!", created_utc=BASE_T + 300),
            comment("c4", post="p2", body=text)]
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [write_zst(tmp_path / "d.zst", lines_of(objs))], progress=False)
    check_accounting(s)
    assert s["kept_replies"] == 1
    assert s["dropped"] == {"duplicate": 2, "near_duplicate": 1}


def test_near_duplicate_keys_hashed_by_another_duckdb_are_recomputed(tmp_path):
    """Replies carry their duplicate keys from ingest, equal to what finalize would compute from the text
    (non-ASCII case included); when a source's manifest records another DuckDB's hash (its keys are not
    comparable), every key is computed from the texts when ingest finishes."""
    import duckdb
    import orjson
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    text = "ÇA VA mieux: you are not alone in this, and I am glad you reached out tonight."
    ws = Workspace(tmp_path / "w")
    a = write_zst(tmp_path / "a.zst", lines_of([comment("c1", body=text)]))
    ingest(ws, [a], progress=False)
    part = next((ws.store / "replies").glob("*.parquet"))
    stored = pq.read_table(part)
    want = duckdb.sql("select hash(text), hash(rtrim(lower(text), ' .!?')), length(text) from stored").fetchall()[0]
    assert tuple(stored[k][0].as_py() for k in ("text_hash", "norm_hash", "text_chars")) == want
    # As if another DuckDB had hashed source a: a different probe, keys that match nothing.
    pq.write_table(stored.set_column(stored.schema.get_field_index("norm_hash"), "norm_hash",
                                     pc.cast(pc.add(stored["norm_hash"], 1), stored.schema.field("norm_hash").type)), part)
    manifest = next((ws.store / "manifest").glob("*.json"))
    manifest.write_bytes(orjson.dumps({**orjson.loads(manifest.read_bytes()), "near_duplicate_probe": 1}))
    b = write_zst(tmp_path / "b.zst", lines_of([comment("c2", body=text.lower() + "!", created_utc=BASE_T + 500)]))
    s = ingest(ws, [b], progress=False)
    assert s["dropped"] == {"near_duplicate": 1} and [r[0] for r in table(ws, "replies")] == ["c1"]


def test_same_comment_in_two_dumps_is_stored_once_latest_score_wins(tmp_path):
    ws = Workspace(tmp_path / "w")
    a = write_zst(tmp_path / "a.zst", lines_of([comment("c1", score=1, retrieved_on=BASE_T + 10)]))
    b = write_zst(tmp_path / "b.zst", lines_of([comment("c1", score=9, retrieved_on=BASE_T + 200_000)]))
    ingest(ws, [a], progress=False)
    ingest(ws, [b], progress=False)
    assert table(ws, "replies")[0][7] == 9
    assert len(table(ws, "replies")) == 1


def test_scrubbing_and_pseudonyms(tmp_path):
    body = ("Hey u/some_person and /u/Other-One, email me at helper@example.com or call 555-123-4567, "
            "see https://example.org/page?x=1 and www.example.net for more. Or 555-0142 at night; 988 is fine.")
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [write_zst(tmp_path / "d.zst", lines_of([comment("c1", body=body, author="RealName42")]))],
               progress=False)
    assert s["scrubbed"] == {"mention": 2, "email": 1, "phone": 2, "url": 2}
    row = table(ws, "replies")[0]
    text = row[6]
    assert "some_person" not in text and "example.com" not in text and "4567" not in text and "example.org" not in text
    assert text.count("[USER]") == 2 and "[EMAIL]" in text and text.count("[PHONE]") == 2 and text.count("[URL]") == 2
    assert "988 is fine" in text  # short crisis numbers are not personal data
    # pseudonym: keyed, stable within the workspace, different in another workspace, key never stored
    pseudonym = row[5]
    assert pseudonym.startswith("a_") and "RealName42" not in json.dumps(row)
    ws2 = Workspace(tmp_path / "w2")
    ingest(ws2, [tmp_path / "d.zst"], progress=False)
    assert table(ws2, "replies")[0][5] != pseudonym
    key_hex = ws.key_path.read_text().strip()
    for f in ws.store.rglob("*"):
        if f.is_file():
            assert key_hex.encode() not in f.read_bytes(), f


@pytest.fixture(params=["duckdb", "arrow"])
def engine(request, monkeypatch):
    """Both JSON engines (DuckDB's where memfd exists, Arrow's elsewhere) must give the same results."""
    monkeypatch.setenv("LLUMI_JSON_ENGINE", request.param)
    return request.param


# --- bad input ---------------------------------------------------------------------------------------

def test_bad_lines_are_quarantined_with_line_numbers(tmp_path, engine):
    objs = [
        submission("p1"),                                   # 1
        b'{"id": "c9", "body": "truncated json',            # 2 malformed
        b"",                                                # 3 blank
        b"[1, 2, 3]",                                       # 4 not an object
        comment("c1", created_utc=str(BASE_T + 5)),         # 5 created_utc as text: fine
        comment("c2", score="lots"),                        # 6 wrong type
        {k: v for k, v in comment("c3").items() if k != "body"},  # 7 missing field
        comment("c4", body="y" * 2_000_000),                # 8 a 2 MB line (over max_line_bytes)
        {k: v for k, v in comment("c5").items() if k != "id"},  # 9 no id
        comment("c6", body="A different reply, also kind."),  # 10
    ]
    path = write_zst(tmp_path / "bad.zst", lines_of(objs))
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [path], progress=False)
    check_accounting(s)
    assert s["lines_read"] == 10
    assert s["quarantined"] == {"malformed_json": 1, "not_an_object": 1, "wrong_type": 1, "missing_field": 2,
                                "line_too_long": 1}
    assert s["dropped"] == {"blank": 1}
    assert (s["kept_posts"], s["kept_replies"]) == (1, 2)
    q = sorted((r["line"], r["reason"]) for f in (ws.store / "quarantine").glob("*.jsonl") for r in read_jsonl(f))
    assert q == [(2, "malformed_json"), (4, "not_an_object"), (6, "wrong_type"), (7, "missing_field"),
                 (8, "line_too_long"), (9, "missing_field")]
    rows = [r for f in (ws.store / "quarantine").glob("*.jsonl") for r in read_jsonl(f)]
    assert all(r["source"] == "bad.zst" and r["detail"] for r in rows)
    assert next(r for r in rows if r["line"] == 2)["raw"].startswith('{"id": "c9"')
    # created_utc given as text was cast, not lost
    assert {r[0]: r[8] for r in table(ws, "replies")}["c1"] == BASE_T + 5


def test_created_utc_as_text_throughout_a_file(tmp_path):
    objs = [comment(f"c{i}", created_utc=str(BASE_T + i), body=f"Reply number {i} which is long enough") for i in range(50)]
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [write_zst(tmp_path / "d.zst", lines_of(objs))], progress=False)
    assert s["kept_replies"] == 50 and s["quarantined"] == {}


def test_edited_false_or_epoch(tmp_path, engine):
    ws = Workspace(tmp_path / "w")
    ingest(ws, [write_zst(tmp_path / "d.zst", lines_of([comment("c1"), comment("c2", edited=BASE_T + 999,
                                                                                 body="Edited reply, long enough.")]))],
           progress=False)
    assert {r[0]: r[11] for r in table(ws, "replies")} == {"c1": False, "c2": True}


def test_integers_must_be_whole_numbers(tmp_path, engine):
    """A score of 1.5 is not rounded: the line is quarantined; 2.0 and "12" (text) are read as integers."""
    objs = [comment("c1", score=1.5), comment("c2", score=2.0, body="Another reply, long enough."),
            comment("c3", score="12", created_utc=str(BASE_T + 9), body="A third reply, long enough.")]
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [write_zst(tmp_path / "d.zst", lines_of(objs))], progress=False)
    check_accounting(s)
    assert s["quarantined"] == {"wrong_type": 1}
    assert sorted((r[0], r[7], r[8]) for r in table(ws, "replies")) == [("c2", 2, BASE_T + 100), ("c3", 12, BASE_T + 9)]
    q = [r for f in (ws.store / "quarantine").glob("*.jsonl") for r in read_jsonl(f)]
    assert [(r["line"], r["reason"]) for r in q] == [(1, "wrong_type")] and "score" in q[0]["detail"]


def test_truncated_zst_keeps_what_was_read_and_says_how_far(tmp_path):
    objs = [comment(f"c{i}", body=f"Reply {i}: " + "kind words " * 20) for i in range(3000)]
    full = zstandard.ZstdCompressor(level=1).compress(lines_of(objs))
    path = tmp_path / "cut.zst"
    path.write_bytes(full[: len(full) // 2])
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [path], progress=False)
    check_accounting(s)
    src = s["sources"][0]
    assert src["status"] == "truncated"
    assert "truncated" in src["message"] and "compressed bytes" in src["message"]
    assert 0 < s["kept_replies"] < 3000
    assert s["quarantined"].get("truncated_line", 0) <= 1
    # the complete file later finishes the job
    path.write_bytes(full)
    s2 = ingest(ws, [path], progress=False)
    assert s2["sources"][0]["status"] == "done"
    assert store.connect(ws).execute("select count(*) from replies").fetchone()[0] == 3000


def test_chunk_boundaries_inside_utf8_characters_and_lines(tmp_path, engine):
    # ~3 MB of multi-byte text read in 1 MiB chunks: boundaries fall inside characters and lines.
    body = "Ünïcödé ✨ 你好 — ça va? " * 20
    objs = [comment(f"c{i}", body=f"{i} {body}") for i in range(6000)]
    data = lines_of(objs)
    assert len(data) > 3 << 20
    ws = Workspace(tmp_path / "w")
    s = ingest(ws, [write_zst(tmp_path / "u.zst", data)], IngestConfig(chunk_mb=1), progress=False)
    check_accounting(s)
    assert s["kept_replies"] == 6000 and s["quarantined"] == {}
    texts = {r[0]: r[6] for r in table(ws, "replies")}
    assert texts["c4321"] == f"4321 {body}".strip()
    assert len(list((ws.store / "replies").glob("*.parquet"))) >= 3


def test_reader_chunks_end_at_the_first_newline_past_the_size_and_reuse_their_buffers(tmp_path):
    """Chunks live in reused buffers: whether each is released at once (the buffer then takes a later
    chunk) or all are held, the bytes are the source's, every chunk but the last ends at the first newline
    at or after ``chunk_bytes``, and a line longer than a buffer (5 MB) grows one. Where the platform has
    memfd (Linux), each chunk can also be read by path."""
    import random

    from llumi.data import readers

    rng = random.Random(7)
    lines = [("x" * rng.randint(0, 3000)).encode() for _ in range(3000)]
    lines[1500] = b"y" * (5 << 20)
    data = b"\n".join(lines)  # no newline at the end
    path = write_zst(tmp_path / "r.zst", data)
    size = 1 << 16
    for release_at_once in (True, False):
        got, held, buffers, seen_files = [], [], set(), set()
        for c in readers.ByteSource(path).chunks(size):
            got.append(bytes(c.data))
            assert c.lines == got[-1].count(b"\n") + (0 if got[-1].endswith(b"\n") else 1)
            seen_files.add(c.file)
            if c.file is not None:  # the in-memory file DuckDB reads: the chunk, then blank lines only
                with open(c.file, "rb") as f:
                    whole = f.read()
                assert whole[: len(got[-1])] == got[-1] and not whole[len(got[-1]):].strip(b"\n")
            buffers.add(id(c.buffer))
            c.release() if release_at_once else held.append(c)
        assert b"".join(got) == data
        for g in got[:-1]:
            assert g.endswith(b"\n") and b"\n" not in g[size - 1: -1]
        assert len(buffers) <= (6 if release_at_once else len(got))  # the queue, the one being filled, growth
        assert len(got) > 50
        assert sum(c.count(b"\n") for c in got) == len(lines) - 1
    assert any(len(g) > 5 << 20 for g in got)
    if hasattr(os, "memfd_create"):
        assert seen_files


def test_missing_and_bad_sources_are_clear(ws, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        ingest(ws, [tmp_path / "nope.zst"], progress=False)
    with pytest.raises(InputError, match="no sources"):
        ingest(ws, [], progress=False)
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x00\x01binary")
    with pytest.raises(InputError, match="cannot tell the format"):
        ingest(ws, [odd], progress=False)


# --- idempotence and resumption ------------------------------------------------------------------------

def big_dump(tmp_path) -> Path:
    objs = []
    for p in range(300):
        objs.append(submission(f"p{p}", title=f"Post {p}: I feel lost and tired"))
        for c in range(10):
            objs.append(comment(f"c{p}_{c}", post=f"p{p}", score=c, body=f"Reply {c} to post {p}: " + "you matter " * 30))
    return write_zst(tmp_path / "big.zst", lines_of(objs))


def store_state(ws: Workspace):
    con = store.connect(ws)
    return (con.execute("select * from posts order by post_id").fetchall(),
            con.execute("select * from replies order by reply_id").fetchall(),
            sorted(p.name for p in (ws.store / "replies").glob("*.parquet")))


def test_rerun_adds_nothing(tmp_path):
    path = big_dump(tmp_path)
    ws = Workspace(tmp_path / "w")
    cfg = IngestConfig(chunk_mb=1)
    first = ingest(ws, [path], cfg, progress=False)
    before = store_state(ws)
    again = ingest(ws, [path], cfg, progress=False)
    assert again["sources"][0]["status"] == "skipped" and again["lines_read"] == 0
    assert store_state(ws) == before
    assert len(before[1]) == first["kept_replies"] == 3000


def test_interrupted_ingest_resumes_to_the_same_state(tmp_path):
    path = big_dump(tmp_path)
    cfg = IngestConfig(chunk_mb=1)
    whole = Workspace(tmp_path / "whole")
    whole.ensure()
    cut = Workspace(tmp_path / "cut")
    cut.ensure()
    # same key, so pseudonyms are comparable
    cut.key_path.write_text(whole.key_path.read_text() if whole.key_path.exists() else whole.secret_key().hex())
    expected = ingest(whole, [path], cfg, progress=False)

    class Crash(Exception):
        pass

    def crash_after_first(key, index):
        if index == 1:
            raise Crash

    with pytest.raises(Crash):
        ingest(cut, [path], cfg, progress=False, on_chunk=crash_after_first)
    resumed = ingest(cut, [path], cfg, progress=False)
    assert store_state(cut) == store_state(whole)
    for k in ("lines_read", "kept", "dropped", "quarantined"):
        assert resumed[k] == expected[k]


# --- CLI ---------------------------------------------------------------------------------------------

def test_cli_json_summary(run_cli, tmp_path):
    path = write_zst(tmp_path / "d.zst", lines_of(sample_objs() + [b"not json"]))
    code, out, err = run_cli("ingest", str(path), "--json")
    assert code == 0, err
    s = json.loads(out)
    for key in ("lines_read", "kept", "dropped", "quarantined", "sources", "store"):
        assert key in s
    assert s["lines_read"] == 5 and s["quarantined"] == {"malformed_json": 1}
    code, out, err = run_cli("ingest", str(path))
    assert code == 0 and "already ingested" in out


def test_cli_bad_setting_is_a_message(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "llumi.cli", "-w", str(tmp_path / "w"), "ingest", "x.zst",
                          "--set", "min_chars=lots"], capture_output=True, text=True)
    assert out.returncode == 1 and "min_chars: expected an integer" in out.stderr and "Traceback" not in out.stderr


def test_edited_numbers_become_true_and_nothing_else_changes():
    """The rewrite that lets ``edited`` (false, or the epoch of the edit) parse as a boolean column."""
    import json
    import re

    from llumi.data.parse import _edited_as_bool

    reference = re.compile(rb'"edited":(\s*)-?\d[\d.eE+\-]*')  # the rule it implements, as a re.sub
    lines = [b'{"id":"a","edited":false,"body":"it was \\"edited\\":1 in text"}',
             b'{"id":"b","edited":1567890123.0,"score":2}', b'{"id":"c","edited": 1567890123}',
             b'{"id":"d","edited":-1,"x":1}', b'{"id":"e","edited":1.5e9}', b'{"id":"f","edited":true}']
    data = b"\n".join(lines) + b"\n"
    got = _edited_as_bool(data)
    want = reference.sub(rb'"edited":\1true', data)
    assert [json.loads(x) for x in got.splitlines()] == [json.loads(x) for x in want.splitlines()]
    assert [json.loads(x)["edited"] for x in got.splitlines()] == [False, True, True, True, True, True]
    assert json.loads(got.splitlines()[0])["body"] == 'it was "edited":1 in text'  # text is never touched
    plain = b'{"id":"a","edited":false}\n'
    assert _edited_as_bool(plain) is plain  # nothing to rewrite: no copy

    # A writable buffer (the reader's) is rewritten in place, "true" padded with spaces to the number's
    # length; a number too short for that ("-1") makes it a copy instead, with the same result.
    for keep in (lines[:3] + lines[4:], lines):
        original = b"\n".join(keep) + b"\n"
        buf = bytearray(original)
        out = _edited_as_bool(memoryview(buf))
        want = [json.loads(x) for x in reference.sub(rb'"edited":\1true', original).splitlines()]
        assert [json.loads(x) for x in bytes(out).splitlines()] == want
        if keep is lines:
            assert isinstance(out, bytes) and buf == original  # copied; the buffer is left as it was
        else:
            assert isinstance(out, memoryview) and out.obj is buf and len(buf) == len(original)
            assert b'"edited":true        ,"score":2' in buf


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc (Linux)")
def test_ingest_leaves_no_files_open(tmp_path):
    """Chunk buffers and the workers' in-memory files (the careful path's, taken here for the malformed
    line) are closed when an ingest ends: a long-running process does not leak them."""
    import gc

    objs = [comment(f"c{i}", body=f"Reply {i}: " + "kind words " * 20) for i in range(200)]
    data = lines_of(objs[:100]) + b'{"id": "broken\n' + lines_of(objs[100:])
    path = write_zst(tmp_path / "d.zst", data)

    def open_memfds() -> int:
        return sum("memfd:" in os.readlink(f"/proc/self/fd/{f}") for f in os.listdir("/proc/self/fd")
                   if os.path.exists(f"/proc/self/fd/{f}"))

    before = len(os.listdir("/proc/self/fd"))
    for i in range(3):
        s = ingest(Workspace(tmp_path / f"w{i}"), [path], progress=False)
        assert s["quarantined"] == {"malformed_json": 1} and s["kept_replies"] == 200
        gc.collect()
    assert open_memfds() == 0 and len(os.listdir("/proc/self/fd")) <= before


def test_edited_as_duckdb_reads_it():
    """DuckDB reads ``edited`` as text; false, a positive time (number or text) or true become booleans,
    anything else unknown."""
    import pyarrow as pa

    from llumi.data.parse import _edited_from_text

    col = pa.chunked_array([["false", "true", "1570000000", "0", " 1.5e9 ", "FALSE", None, "yes", "-5", ".5"]])
    assert _edited_from_text(col).to_pylist() == [False, True, True, False, True, False, None, None, False, True]


def test_unknown_json_engine_is_a_clear_error_before_anything_is_written(tmp_path, monkeypatch):
    import subprocess
    import sys

    path = write_zst(tmp_path / "d.zst", lines_of([comment("c1")]))
    env = {**os.environ, "LLUMI_JSON_ENGINE": "simdjson"}
    out = subprocess.run([sys.executable, "-m", "llumi.cli", "--workspace", str(tmp_path / "w"), "ingest", str(path)],
                         capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "LLUMI_JSON_ENGINE must be one of duckdb, arrow" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "w").exists()


def test_duckdb_unable_to_read_its_files_falls_back_to_arrow(tmp_path, monkeypatch, capsys):
    """Where DuckDB cannot open the chunks' in-memory files (a sandbox hiding /proc), parsing goes on
    with Arrow's reader, with one warning, to the same store."""
    import duckdb

    from llumi.data import parse

    if parse.default_engine() != "duckdb":
        pytest.skip("DuckDB's engine is not the default here")
    objs = [comment(f"c{i}", body=f"Reply {i}: kind words for you", edited=(BASE_T + 5 if i % 3 else False))
            for i in range(50)]
    path = write_zst(tmp_path / "d.zst", lines_of(objs))
    expected = ingest(Workspace(tmp_path / "a"), [path], progress=False)
    want = sorted((r[0], r[6], r[11]) for r in table(Workspace(tmp_path / "a"), "replies"))

    class Blind:
        def sql(self, query):
            raise duckdb.IOException("IO Error: cannot open file /proc/self/fd/7: Permission denied")

    monkeypatch.setattr(parse, "duckdb_connection", lambda: Blind())
    got = ingest(Workspace(tmp_path / "b"), [path], progress=False)
    assert "parsing with Arrow's JSON reader instead" in capsys.readouterr().err
    assert got["kept_replies"] == expected["kept_replies"] == 50 and not got["quarantined"]
    assert sorted((r[0], r[6], r[11]) for r in table(Workspace(tmp_path / "b"), "replies")) == want
