"""Nothing lost, nothing counted twice: several raters at once against a running server (every answer
sent twice), and a process killed mid-write."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from llumi.rate.study import StudyConfig, Studies

POSTS = [{"id": f"p{i}", "title": f"Post {i}", "text": f"Work has been really stressful this week, day {i}."}
         for i in range(6)]
OUTPUTS = {"a": {p["id"]: f"That sounds stressful ({p['id']}). What would help tonight?" for p in POSTS},
           "b": {p["id"]: f"ok {p['id']}" for p in POSTS}}
PASSWORD = "rater-password-1"


def check_invariants(db_path: Path, dims: int) -> tuple[int, int]:
    """Every saved answer is whole (all ratings and preferences), nothing exists without its answer, and
    no rater answered a post twice. Returns (answers, ratings)."""
    import sqlite3

    con = sqlite3.connect(db_path)
    answers = con.execute("select study_id, post_key, user_id, status from study_responses").fetchall()
    assert len(answers) == len({a[:3] for a in answers})
    for sid, post, uid, status in answers:
        items = con.execute("select count(*) from study_items where study_id=? and post_key=?", (sid, post)).fetchall()[0][0]
        n = con.execute("select count(*) from study_ratings r join study_items i on i.id = r.item_id "
                        "where i.study_id=? and i.post_key=? and r.user_id=?", (sid, post, uid)).fetchall()[0][0]
        p = con.execute("select count(*) from study_preferences where study_id=? and post_key=? and user_id=?",
                        (sid, post, uid)).fetchall()[0][0]
        assert (n, p) == ((items * dims, items * (items - 1) // 2) if status == "rated" else (0, 0))
    orphans = con.execute("""select count(*) from study_ratings r join study_items i on i.id = r.item_id
        where not exists (select 1 from study_responses s where s.study_id = i.study_id
                          and s.post_key = i.post_key and s.user_id = r.user_id)""").fetchall()[0][0]
    assert orphans == 0
    ratings = con.execute("select count(*) from study_ratings").fetchall()[0][0]
    con.close()
    return len(answers), ratings


def test_concurrent_raters_against_a_running_server(tmp_path_factory):
    import httpx

    from tests.tiny_model import make_tiny_model
    from tests.webtools import build, serve
    from llumi.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("ws") / "work").ensure()
    app, db, _, _ = build(ws, make_tiny_model(tmp_path_factory.mktemp("tiny") / "model"),
                          requests_per_minute=0, generations_per_minute=0)
    studies = Studies(db)
    studies.create("load", POSTS, OUTPUTS, StudyConfig(dimensions=("empathy", "safety"), raters_per_item=4))
    names = [f"rater{i}" for i in range(4)]
    for i, name in enumerate(names):
        user = db.add_user(name, PASSWORD, "supporter")
        studies.declare(user["id"], ("clinician", "peer", "lay", "lay")[i])
    server, thread, url = serve(app)
    errors = []

    def rater(name: str) -> None:
        try:
            with httpx.Client(base_url=url, follow_redirects=False, timeout=60) as c:
                token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/signin").text).group(1)
                assert c.post("/signin", data={"username": name, "password": PASSWORD, "csrf_token": token}).status_code == 303
                page = c.get("/rate/s/load").text
                csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
                assert c.post("/rate/s/load/consent", data={"csrf_token": csrf}).status_code == 303
                while 'id="rating-form"' in (page := c.get("/rate/s/load").text):
                    post = re.search(r'name="post" value="([^"]+)"', page).group(1)
                    form = {"csrf_token": csrf, "post": post, "action": "save"}
                    for field in sorted(set(re.findall(r'name="(r_\d+_\w+)"', page))):
                        form[field] = "4"
                    for field in sorted(set(re.findall(r'name="(p_\d+_\d+)"', page))):
                        form[field] = "a"
                    for _ in range(2):   # every answer twice, like a double click or a retried request
                        r = c.post("/rate/s/load/answer", data=form)
                        assert r.status_code == 303, r.text
        except Exception as e:  # noqa: BLE001 - collected and reported by the test
            errors.append(f"{name}: {e!r}")

    threads = [threading.Thread(target=rater, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    server.should_exit = True
    thread.join(timeout=10)
    app.state.assistant.close()
    assert errors == []
    answers, ratings = check_invariants(ws.root / "web.db", dims=2)
    assert answers == 4 * 6 and ratings == 4 * 6 * 2 * 2


WRITER = textwrap.dedent("""
    import sys, itertools
    from llumi.web.db import Database
    from llumi.rate.study import Studies
    s = Studies(Database(sys.argv[1]))
    uid = int(sys.argv[2])
    for n in itertools.count():
        task = s.next_task("kill", uid)
        if task is None:
            break
        ratings = {r["item"]: {"empathy": 3, "safety": 4} for r in task["replies"]}
        prefs = {pair: "tie" for pair in task["pairs"]}
        s.submit("kill", uid, task["post"], ratings=ratings, preferences=prefs)
        if n == 0:
            print("ready", flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.3])
def test_a_process_killed_mid_write_leaves_only_whole_answers(tmp_path, delay):
    from llumi.web.db import Database

    db = Database(tmp_path / "web.db")
    studies = Studies(db)
    posts = [{"id": f"p{i}", "title": None, "text": f"I feel low today {i}"} for i in range(400)]
    outputs = {s: {p["id"]: f"{s} reply {p['id']}" for p in posts} for s in ("a", "b", "c")}
    studies.create("kill", posts, outputs, StudyConfig(dimensions=("empathy", "safety"), raters_per_item=1))
    user = db.add_user("writer", PASSWORD, "supporter")
    studies.declare(user["id"], "lay")
    studies.consent("kill", user["id"])
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "web.db"), str(user["id"])],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    db.close()
    answers, _ = check_invariants(tmp_path / "web.db", dims=2)
    assert 0 < answers < 400    # killed part-way, and what was saved is whole
    # the rater resumes where the killed process stopped
    again = Studies(Database(tmp_path / "web.db"))
    assert again.progress("kill", user["id"]) == {"done": answers, "remaining": 400 - answers}
