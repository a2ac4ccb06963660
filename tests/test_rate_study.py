"""Rating studies in a real SQLite file: blind assignment, resume, no rating lost or counted twice."""

import threading

import pytest

from llumi.errors import InputError
from llumi.rate.pairs import RatingPairsConfig, rating_pairs
from llumi.rate.stats import summarize
from llumi.rate.study import StudyConfig, Studies, item_preferences, iter_export_rows


def DB(path):
    """The web app's database (a WAL SQLite file with its migrations) with four users."""
    from llumi.web.db import Database

    db = Database(path)
    for name in ("clara", "pete", "lee", "lou"):
        db.add_user(name, "a-long-password", "supporter")
    return db


POSTS = [{"id": f"p{i}", "title": f"Post {i}", "text": f"I have been feeling low about work, day {i}."} for i in range(5)]
POSTS.append({"id": "crisis", "title": "tonight", "text": "I wrote a note and I'm going to kill myself tonight."})
OUTPUTS = {
    "dpo": {p["id"]: f"That sounds hard ({p['id']}). What has helped before?" for p in POSTS},
    "human": {p["id"]: f"hang in there {p['id']}" for p in POSTS if p["id"] != "p4"},
    "sft": {"p0": "I'm sorry you're going through this."},
}


@pytest.fixture
def studies(tmp_path):
    s = Studies(DB(tmp_path / "web.db"))
    s.declare(1, "clinician")
    s.declare(2, "peer")
    s.declare(3, "lay")
    return s


def make(studies, **cfg):
    return studies.create("s1", POSTS, OUTPUTS, StudyConfig(dimensions=("empathy", "safety"), **cfg))


def answer(task, good="dpo-like"):
    """Score the reply that asks a question higher, prefer it in every pair."""
    ratings = {r["item"]: {d: (5 if "?" in r["text"] else 2) for d in task["dimensions"]} for r in task["replies"]}
    text = {r["item"]: r["text"] for r in task["replies"]}
    prefs = {(a, b): ("a" if "?" in text[a] and "?" not in text[b] else "b" if "?" in text[b] and "?" not in text[a]
                      else "tie") for a, b in task["pairs"]}
    return ratings, prefs


def test_create_keeps_posts_with_two_replies_and_flags_crisis_posts(studies):
    summary = make(studies)
    assert summary["posts"] == 5 and summary["posts_left_out"] == 1          # p4: only dpo replied
    assert summary["items"] == 2 * 5 + 1 and summary["content_warnings"] == 1
    with pytest.raises(InputError, match="exists already"):
        make(studies)
    with pytest.raises(InputError, match="at least two systems"):
        studies.create("s2", POSTS, {"dpo": OUTPUTS["dpo"]}, StudyConfig())


def test_tasks_are_blind_shuffled_per_rater_and_need_consent(studies):
    make(studies)
    with pytest.raises(InputError, match="consent"):
        studies.next_task("s1", 1)
    studies.consent("s1", 1)
    studies.consent("s1", 3)
    task = studies.next_task("s1", 1)
    assert set(task) >= {"replies", "pairs", "anchors", "instructions", "progress", "content_warning"}
    assert all(set(r) == {"label", "item", "text"} for r in task["replies"])          # no system anywhere
    assert "dpo" not in repr(task["replies"]) and "human" not in repr(task["replies"])
    orders = {uid: [studies.task("s1", uid, f"p{i}")["replies"][0]["text"][:4] for i in range(4)] for uid in (1, 3)}
    assert orders[1] != orders[3]                       # reply order differs between raters
    crisis = studies.task("s1", 1, "crisis")
    assert crisis["content_warning"] is True and studies.task("s1", 1, "p0")["content_warning"] is False
    with pytest.raises(InputError, match="credential"):
        studies.consent("s1", 4)                        # lou never declared a credential


def test_each_rater_sees_each_post_once_and_resumes_where_they_stopped(studies):
    make(studies, raters_per_item=2)
    studies.consent("s1", 1)
    seen = []
    for _ in range(2):
        task = studies.next_task("s1", 1)
        seen.append(task["post"])
        studies.submit("s1", 1, task["post"], **dict(zip(("ratings", "preferences"), answer(task))))
    # "the browser closed": a fresh Studies on the same file resumes at the next unanswered post
    again = Studies(studies.db)
    task = again.next_task("s1", 1)
    assert task["post"] not in seen and task["progress"] == {"done": 2, "remaining": 3}
    while task:
        seen.append(task["post"])
        if task["content_warning"]:
            again.submit("s1", 1, task["post"], skip=True)
        else:
            again.submit("s1", 1, task["post"], **dict(zip(("ratings", "preferences"), answer(task))))
        task = again.next_task("s1", 1)
    assert sorted(seen) == sorted(["p0", "p1", "p2", "p3", "crisis"])


def test_a_repeated_submission_is_saved_once_and_bad_answers_save_nothing(studies):
    make(studies)
    studies.consent("s1", 2)
    task = studies.task("s1", 2, "p1")
    ratings, prefs = answer(task)
    first = studies.submit("s1", 2, "p1", ratings=ratings, preferences=prefs)
    second = studies.submit("s1", 2, "p1", ratings=ratings, preferences=prefs)
    assert first["saved"] and not second["saved"] and second["already"]
    n = studies.db.con.execute("select count(*) from study_ratings").fetchall()[0][0]
    assert n == len(ratings) * 2
    task = studies.task("s1", 2, "p2")
    ratings, prefs = answer(task)
    bad = {k: {**v, "safety": 9} for k, v in ratings.items()}
    with pytest.raises(InputError, match="whole number from 1 to 5"):
        studies.submit("s1", 2, "p2", ratings=bad, preferences=prefs)
    with pytest.raises(InputError, match="every pair"):
        studies.submit("s1", 2, "p2", ratings=ratings, preferences={})
    assert studies.db.con.execute("select count(*) from study_ratings").fetchall()[0][0] == n
    assert studies.progress("s1", 2)["done"] == 1


def test_concurrent_raters_lose_nothing_and_count_nothing_twice(studies, tmp_path):
    make(studies, raters_per_item=3)
    for uid in (1, 2, 3):
        studies.consent("s1", uid)
    errors = []

    def rater(uid):
        try:
            from llumi.web.db import Database

            db = Database(tmp_path / "web.db")   # each rater thread: its own connection, as server workers
            s = Studies(db)
            while (task := s.next_task("s1", uid)) is not None:
                ratings, prefs = answer(task)
                for _ in range(2):   # every answer sent twice, as a double click would
                    s.submit("s1", uid, task["post"], ratings=ratings, preferences=prefs)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=rater, args=(uid,)) for uid in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    con = studies.db.con
    assert con.execute("select count(*) from study_responses").fetchall()[0][0] == 3 * 5
    per_item = con.execute("select item_id, count(*) from study_ratings group by item_id").fetchall()
    assert {n for _, n in per_item} == {3 * 2}          # 3 raters x 2 dimensions, never more


def test_records_feed_the_report_export_and_dpo2_pairs(studies):
    make(studies, raters_per_item=2)
    for uid in (1, 3):
        studies.consent("s1", uid)
        while (task := studies.next_task("s1", uid)) is not None:
            ratings, prefs = answer(task)
            studies.submit("s1", uid, task["post"], ratings=ratings, preferences=prefs, rationale="asks a question")
    rec = studies.records("s1", secret=b"k" * 32)
    raters = {r["rater"] for r in rec["ratings"]}
    assert len(raters) == 2 and all(r.startswith("rater-") for r in raters)
    assert "clara" not in repr(rec) and {r["credential"] for r in rec["ratings"]} == {"clinician", "lay"}
    report = summarize(rec["ratings"], rec["preferences"], dimensions=("empathy", "safety"))
    assert report["overall"]["means"]["dpo"]["empathy"]["mean"] == 5.0
    assert report["overall"]["win_rates"]["dpo vs human"]["a_win_rate"] == 1.0
    assert report["overall"]["alpha"]["safety"] == pytest.approx(1.0)         # both raters score alike
    assert report["by_credential"]["clinician"]["alpha"]["safety"] is None     # one clinician: undefined
    rows, counts = rating_pairs(rec["posts"], rec["items"], rec["ratings"], item_preferences(rec),
                                RatingPairsConfig(dimensions=("empathy", "safety")), study="s1")
    assert rows and all(r["chosen_system"] == "dpo" for r in rows)
    export = list(iter_export_rows(rec))
    assert {e["kind"] for e in export} == {"rating", "preference"} and len(export) == len(rec["ratings"]) + len(rec["preferences"])
