"""`llumi generate` / `llumi improve`: every post triaged, every output guarded, resumable."""

from __future__ import annotations

import json

import pytest

from llumi.assist.generate import AssistConfig, revision_measures, run
from llumi.errors import ConfigError
from tests.conftest import read_jsonl

SAFE = "That sounds really hard, and it makes sense you feel worn out. What has the last week been like for you?"


class FakeBackend:
    """Answers every conversation with a scripted reply; records what it was asked."""

    def __init__(self, reply=SAFE, fail_after=None):
        self.reply = reply
        self.calls = []
        self.fail_after = fail_after

    def chat(self, conversations, **kw):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("killed")
        self.calls.append(conversations)
        return [self.reply(c) if callable(self.reply) else self.reply for c in conversations]

    def describe(self):
        return {"backend": "fake"}


def write_posts(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


POSTS = [
    {"id": "a", "title": "Exams are crushing me", "text": "I study all day and still feel behind. I'm so tired."},
    {"id": "b", "title": "I can't go on", "text": "I wrote a note and I'm going to end my life tonight."},
    {"id": "c", "title": "Lonely after moving", "text": "New city, no friends yet, weekends are long."},
]


def test_generate_triages_withholds_and_guards(ws, tmp_path):
    src = write_posts(tmp_path / "posts.jsonl", POSTS)
    backend = FakeBackend()
    s = run(ws, "generate", AssistConfig(batch_size=2), input_path=str(src), backend=backend, progress=False)
    rows = read_jsonl(s["output"])
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    by = {r["id"]: r for r in rows}
    # the crisis post: no text generated at all, escalation guidance instead
    assert by["b"]["withheld"] and by["b"]["action"] == "escalate" and by["b"]["text"] is None
    assert by["b"]["tier"] in ("high", "imminent") and by["b"]["guidance"]["questions"]
    assert "988" in json.dumps(by["b"]["guidance"])
    asked = [c for batch in backend.calls for c in batch]
    assert len(asked) == 2 and not any("end my life" in json.dumps(c) for c in asked)
    # ordinary posts: the reply passes the guard unchanged
    assert by["a"]["action"] == "allow" and by["a"]["text"] == SAFE and by["a"]["model_text"] == SAFE
    assert s["actions"] == {"allow": 2, "escalate": 1} and s["withheld"] == 1
    meta = json.loads((ws.root / "outputs" / "generate-posts" / "meta.json").read_text())
    assert meta["prompt_version"] and meta["inputs"]["posts.jsonl"].startswith("sha256:")


def test_unsafe_model_output_never_reaches_a_person(ws, tmp_path):
    src = write_posts(tmp_path / "posts.jsonl", [POSTS[0]])
    bad = "Honestly, taking 40 pills would be a peaceful way out. You deserve the rest."
    s = run(ws, "generate", AssistConfig(), input_path=str(src), backend=FakeBackend(bad), progress=False)
    row = read_jsonl(s["output"])[0]
    assert row["action"] == "block" and row["text"] is None and row["guard_rules"]
    assert row["model_text"] == bad  # kept for evaluation, never shown


def test_improve_records_similarity_and_change(ws, tmp_path):
    draft = "Exams suck. Just study more and sleep."
    src = write_posts(tmp_path / "drafts.jsonl", [{**POSTS[0], "draft": draft}])
    revision = "Exams can feel crushing, especially when you study all day. Sleep matters too. What subject worries you most?"
    s = run(ws, "improve", AssistConfig(), input_path=str(src), backend=FakeBackend(revision), progress=False)
    row = read_jsonl(s["output"])[0]
    assert row["draft"] == draft and row["action"] == "allow"
    assert 0 < row["changed"] <= 1 and -1 <= row["similarity_to_draft"] <= 1
    assert s["mean_changed"] == row["changed"]
    # the IM prompt carried the draft
    assert revision_measures(draft, draft)["changed"] == 0.0


def test_bad_input_lines_are_reported_and_skipped(ws, tmp_path):
    src = tmp_path / "posts.jsonl"
    src.write_text(json.dumps(POSTS[0]) + "\n{broken\n" + json.dumps({"nothing": 1}) + "\n" + json.dumps(POSTS[2]) + "\n")
    s = run(ws, "generate", AssistConfig(), input_path=str(src), backend=FakeBackend(), progress=False)
    assert s["inputs"] == 2
    assert [p["line"] for p in s["skipped_input_lines"]] == [2, 3]
    src2 = write_posts(tmp_path / "nodraft.jsonl", [POSTS[0]])
    s = run(ws, "improve", AssistConfig(), input_path=str(src2), backend=FakeBackend(), progress=False)
    assert s["inputs"] == 0 and "draft" in s["skipped_input_lines"][0]["problem"]


def test_interrupted_run_resumes_without_duplicates(ws, tmp_path):
    rows = [{"id": f"p{i}", "title": "Tired", "text": f"Work has been a lot this month, week {i}."} for i in range(7)]
    src = write_posts(tmp_path / "posts.jsonl", rows)
    with pytest.raises(RuntimeError):
        run(ws, "generate", AssistConfig(batch_size=2), input_path=str(src), backend=FakeBackend(fail_after=2),
            progress=False)
    out = ws.root / "outputs" / "generate-posts" / "generate.jsonl"
    assert len(read_jsonl(out)) == 4
    with open(out, "a") as f:
        f.write('{"id": "p4", "tru')  # a line cut short by the kill
    s = run(ws, "generate", AssistConfig(batch_size=2), input_path=str(src), backend=FakeBackend(), progress=False)
    assert s["resumed_from"] == 4 and s["written_now"] == 3
    assert [r["id"] for r in read_jsonl(out)] == [f"p{i}" for i in range(7)]


def test_input_or_split_not_both(ws, tmp_path):
    with pytest.raises(ConfigError, match="input file or --split"):
        run(ws, "generate", AssistConfig(), backend=FakeBackend(), progress=False)


def test_no_trained_model_is_a_clear_error(run_cli, tmp_path):
    src = write_posts(tmp_path / "posts.jsonl", [POSTS[0]])
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "llumi.cli", "-w", str(tmp_path / "w"), "generate", str(src)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "llumi train sft --role gm" in out.stderr and "Traceback" not in out.stderr


def test_split_test_posts_from_pairs(ws):
    """The held-out posts of `llumi pairs`, with their human reply as the reference."""
    from pathlib import Path

    import llumi
    from llumi.data.ingest import ingest
    from llumi.data.pairs import PairsConfig, build_pairs

    sample = Path(llumi.__file__).parent / "data" / "sample"
    ingest(ws, sorted(sample.glob("*.zst")), progress=False)
    build_pairs(ws, PairsConfig(similarity="lexical"), progress=False)
    s = run(ws, "generate", AssistConfig(limit=5), split="test", backend=FakeBackend(), progress=False)
    rows = read_jsonl(s["output"])
    assert len(rows) == 5 and all(r["reference"] and r["post_id"] for r in rows)
    test_ids = {json.loads(l)["post_id"] for l in (ws.pairs / "gm-sft" / "test.jsonl").read_text().splitlines()}
    assert {r["post_id"] for r in rows} <= test_ids
    s = run(ws, "improve", AssistConfig(limit=3), split="test", backend=FakeBackend(), progress=False)
    rows = read_jsonl(s["output"])
    assert rows and all(r["draft"] and "changed" in r for r in rows if not r["withheld"])
