"""The bundled sample community (src/llumi/data/sample): real dump form, the intended mess, enough pairs.

Reads the files the way the real dumps must be read: a zstd stream with a 2 GiB window, line by line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import zstandard

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "src" / "llumi" / "data" / "sample"
SUBS = SAMPLE / "PeerSupportSample_submissions.zst"
COMS = SAMPLE / "PeerSupportSample_comments.zst"


def read_lines(path: Path) -> list[str]:
    """Stream-decode, split on newlines, carrying the remainder across chunk boundaries."""
    out, rest = [], b""
    with open(path, "rb") as fh:
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(fh)
        while chunk := reader.read(1 << 14):
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            out += [p.decode("utf-8") for p in parts]
    if rest:
        out.append(rest.decode("utf-8"))
    return [line for line in out if line.strip()]


def parse(lines):
    good, bad = [], []
    for line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad.append(line)
            continue
        (good if isinstance(obj, dict) else bad).append(obj)
    return good, bad


@pytest.fixture(scope="module")
def sample():
    sub_lines, com_lines = read_lines(SUBS), read_lines(COMS)
    subs, bad_subs = parse(sub_lines)
    coms, bad_coms = parse(com_lines)
    return {"sub_lines": sub_lines, "com_lines": com_lines, "subs": subs, "coms": coms,
            "bad_subs": bad_subs, "bad_coms": bad_coms}


def as_int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def is_bot_or_mod(c) -> bool:
    author = c.get("author") or ""
    return (author == "AutoModerator" or author.lower().endswith("bot") or c.get("distinguished") is not None
            or bool(c.get("stickied")))


def test_files_small_and_marked_invented():
    assert SUBS.exists() and COMS.exists()
    assert SUBS.stat().st_size + COMS.stat().st_size < 1_500_000
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert "invented" in readme.lower() and "make_sample.py" in readme and "Apache-2.0" in readme


def test_comments_file_has_a_2gib_window():
    head = COMS.read_bytes()[:32]
    assert zstandard.get_frame_parameters(head).window_size == 2**31
    with open(COMS, "rb") as fh, pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().stream_reader(fh).read(1 << 16)   # a default decoder refuses it


def test_line_counts(sample):
    assert 440 <= len(sample["sub_lines"]) <= 480
    assert 3200 <= len(sample["com_lines"]) <= 3900
    assert any(ord(ch) > 127 for line in sample["com_lines"] for ch in line)   # raw UTF-8, multi-byte


def test_fields_as_in_the_real_dumps(sample):
    sub_keys = {"id", "subreddit", "author", "title", "selftext", "is_self", "url", "score", "num_comments",
                "created_utc", "retrieved_on", "over_18", "stickied", "removed_by_category", "permalink",
                "link_flair_text"}
    com_keys = {"id", "parent_id", "link_id", "subreddit", "author", "score", "created_utc", "retrieved_on",
                "edited", "distinguished", "stickied", "controversiality"}
    assert all(sub_keys <= s.keys() for s in sample["subs"])
    assert sum(1 for c in sample["coms"] if not com_keys <= c.keys()) == 1          # the line without a score
    assert all(re.fullmatch(r"[0-9a-z]+", c["id"]) for c in sample["coms"])
    assert all(c["parent_id"][:3] in ("t3_", "t1_") and c["link_id"].startswith("t3_") for c in sample["coms"])
    assert {c["subreddit"] for c in sample["coms"]} == {"PeerSupportSample"}
    later = [c for c in sample["coms"] if "author_fullname" in c]
    assert later and all(c["author_fullname"].startswith("t2_") for c in later)
    assert any("_meta" in c for c in sample["coms"])
    assert any(isinstance(c.get("edited"), int) and c["edited"] is not True for c in sample["coms"])


def test_the_intended_mess_is_there(sample):
    subs, coms = sample["subs"], sample["coms"]
    assert len(sample["bad_coms"]) >= 3 and len(sample["bad_subs"]) >= 1
    assert any(line.startswith("<html>") for line in sample["bad_coms"])
    bodies = Counter(c.get("body") for c in coms)
    assert bodies["[deleted]"] >= 50 and bodies["[removed]"] >= 20
    assert sum(1 for c in coms if c.get("author") == "[deleted]" and c.get("body") not in ("[deleted]", "[removed]")) >= 10
    assert sum(1 for c in coms if isinstance(c.get("body"), str) and not c["body"].strip()) >= 3
    assert sum(1 for c in coms if "body" not in c) >= 1
    assert sum(1 for c in coms if c.get("author") == "AutoModerator") >= 10
    assert any(c.get("distinguished") == "moderator" and c.get("stickied") and c["author"] != "AutoModerator" for c in coms)
    assert any(s["stickied"] for s in subs)
    assert len({c["author"] for c in coms if c["author"].lower().endswith("bot")}) >= 2
    assert any(isinstance(c.get("score"), str) for c in coms)
    assert any(isinstance(c.get("created_utc"), str) for c in coms)
    assert any(s["selftext"] == "[removed]" for s in subs) and any(s["author"] == "[deleted]" for s in subs)
    # duplicates: the same id twice, and the same text posted twice by one person
    ids = Counter(c["id"] for c in coms)
    assert sum(1 for n in ids.values() if n > 1) >= 1
    texts = defaultdict(set)
    for c in coms:
        if c.get("body") and c["body"] not in ("[deleted]", "[removed]") and not is_bot_or_mod(c):
            texts[c["body"]].add(c["id"])
    assert sum(1 for v in texts.values() if len(v) > 1) >= 3
    # nesting a few levels deep
    parent = {c["id"]: c["parent_id"] for c in coms}

    def depth(cid):
        d = 1
        while parent.get(cid, "t3_").startswith("t1_"):
            cid, d = parent[cid][3:], d + 1
        return d
    assert max(depth(c["id"]) for c in coms) >= 3
    # posts with no replies, comments whose post is absent
    sub_ids = {s["id"] for s in subs}
    linked = {c["link_id"][3:] for c in coms}
    assert len(sub_ids - linked) >= 5
    assert sum(1 for c in coms if c["link_id"][3:] not in sub_ids) >= 5
    # personal data for the scrubber (all invented)
    text = "\n".join(c.get("body") or "" for c in coms)
    assert re.search(r"\b[\w.]+@example\.(com|net|org)\b", text)
    assert re.search(r"\(?555\)?[ -]?\d{3}[ -]?\d{4}|555-01\d\d", text)
    assert re.search(r"https?://(www\.)?example\.(com|org)/", text)
    assert re.search(r"(^|\s)u/\w+", text)


def test_crisis_posts(sample):
    crisis = re.compile(r"kill(ing)? myself|end (my life|it)\b|wouldn't wake up|better off without me|"
                        r"suicide|tired of being alive", re.I)
    hits = [s for s in sample["subs"] if crisis.search(s["title"] + " " + s["selftext"])]
    assert len(hits) >= 3
    ids = {s["id"] for s in hits}
    replies = [c for c in sample["coms"] if c["link_id"][3:] in ids and not is_bot_or_mod(c)]
    assert len(replies) >= 10 and any("988" in (c.get("body") or "") for c in replies)


def test_no_accidental_duplicates(sample):
    """Equal texts after normalisation are only the deliberate double posts (same author, same post)."""
    seen = defaultdict(set)
    for c in sample["coms"]:
        body = c.get("body")
        if not body or not body.strip() or body in ("[deleted]", "[removed]") or is_bot_or_mod(c):
            continue
        seen[re.sub(r"[^a-z0-9]+", "", body.lower())].add((c["author"], c["link_id"]))
    assert all(len(v) == 1 for v in seen.values()), [k for k, v in seen.items() if len(v) > 1][:5]


def shp_pairs(sample, min_rejected=1):
    """(earlier reply, later reply) to the same post, both top-level, later scored >= 2x earlier, earlier >= min."""
    subs = {s["id"]: s for s in sample["subs"]}
    by_post, seen = defaultdict(list), set()
    for c in sample["coms"]:
        body, score, t = c.get("body"), as_int(c.get("score")), as_int(c.get("created_utc"))
        if c["id"] in seen or c["parent_id"] != c["link_id"] or score is None or t is None:
            continue
        if not isinstance(body, str) or len(body.strip()) < 10 or body in ("[deleted]", "[removed]"):
            continue
        if c.get("author") == "[deleted]" or is_bot_or_mod(c):
            continue
        post = subs.get(c["link_id"][3:])
        if post is None or post["selftext"] in ("[deleted]", "[removed]"):
            continue
        seen.add(c["id"])
        by_post[post["id"]].append((t, score))
    pairs = Counter()
    for pid, replies in by_post.items():
        for t1, s1 in replies:
            for t2, s2 in replies:
                if t2 > t1 and s1 >= min_rejected and s2 >= 2 * s1:
                    pairs[pid] += 1
    return pairs


def test_enough_shp_preference_pairs(sample):
    pairs = shp_pairs(sample)
    assert sum(pairs.values()) >= 300
    assert len(pairs) >= 150                                   # spread over many posts, not a few big threads
    capped = sum(min(n, 5) for n in shp_pairs(sample, min_rejected=2).values())
    assert capped >= 300                                       # SHP's own floor (both >= 2), 5 pairs per post


def test_generator_is_deterministic(tmp_path):
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_sample.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    for f in (SUBS, COMS):
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name
