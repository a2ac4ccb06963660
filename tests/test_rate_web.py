"""A rating study end to end in headless Chromium: an admin creates it, two raters with different
credentials rate blind (one closes the browser mid-item and resumes), the report shows agreement and the
split by credential, and the DPO2 pairs follow the raters. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tiny_model import make_tiny_model
from tests.webtools import ADMIN_PW, CHROMIUM, NO_CHROMIUM, build, launch_browser, serve, shot

PASSWORD = "rater-password-1"
pytestmark = [pytest.mark.timeout(300), pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=NO_CHROMIUM)]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    import llumi
    from llumi.assist.generate import split_inputs
    from llumi.data.ingest import ingest
    from llumi.data.pairs import PairsConfig, build_pairs
    from llumi.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("ws") / "work").ensure()
    sample = Path(llumi.__file__).parent / "data" / "sample"
    ingest(ws, sorted(sample.glob("*.zst")), progress=False)
    build_pairs(ws, PairsConfig(similarity="lexical"), progress=False)
    posts = split_inputs(ws, "generate", "test")[:3]
    for system, reply in (("asks", "That sounds really hard. What has helped you get through days like this?"),
                          ("tells", "Just stop worrying so much and get over it.")):
        out = ws.root / "outputs" / f"generate-{system}"
        out.mkdir(parents=True)
        (out / "generate.jsonl").write_text("".join(json.dumps({"id": p["id"], "text": f"{reply} ({i})"}) + "\n"
                                                    for i, p in enumerate(posts)))
    app, db, _, _ = build(ws, make_tiny_model(tmp_path_factory.mktemp("tiny") / "model"),
                          requests_per_minute=0, generations_per_minute=0)
    for name in ("pia", "lou"):
        db.add_user(name, PASSWORD, "supporter")
    server, thread, url = serve(app)
    yield url, ws, db, app
    server.should_exit = True
    thread.join(timeout=10)
    app.state.assistant.close()


@pytest.fixture(scope="module")
def browser():
    with launch_browser() as b:
        yield b


def session(browser, url, user, password):
    ctx = browser.new_context()
    pg = ctx.new_page()
    pg.goto(url + "/signin")
    pg.fill("#username", user)
    pg.fill("#password", password)
    pg.click("#signin-button")
    pg.wait_for_url(url + "/")
    return ctx, pg


def declare(pg, url, credential):
    pg.goto(url + "/rate")
    pg.check(f"#credential-form input[value={credential}]")
    pg.click("#declare")
    pg.wait_for_selector("#my-credential")


def fill_task(pg):
    """Score replies that ask a question 5, others 2; prefer the asking reply in every pair."""
    good = {}
    for reply in pg.locator("section.reply").all():
        label = reply.get_attribute("data-label")
        good[label] = "?" in reply.locator(".reply-text").inner_text()
        for fs in reply.locator("fieldset.dimension").all():
            fs.locator(f"input[value='{5 if good[label] else 2}']").check()
    for fs in pg.locator("fieldset.pair").all():
        a, b = fs.get_attribute("data-a"), fs.get_attribute("data-b")
        fs.locator(f"input[value='{'a' if good[a] and not good[b] else 'b' if good[b] and not good[a] else 'tie'}']").check()
    return good


def test_a_study_from_creation_to_dpo2_pairs(browser, srv):
    url, ws, db, _ = srv
    # the admin creates the study in the browser
    ctx, pg = session(browser, url, "admin", ADMIN_PW)
    declare(pg, url, "clinician")
    pg.goto(url + "/rate/new")
    pg.fill("#study-name", "pilot")
    for box in pg.locator("input.system").all():
        box.check()
    pg.fill("input[name=limit]", "3")
    pg.click("#create-study")
    pg.wait_for_selector("text=Created study pilot")
    shot(pg, "rate-01-created")
    ctx.close()

    # rater 1 (peer): consents, rates one post, starts the next and closes the browser before saving
    ctx, pg = session(browser, url, "pia", PASSWORD)
    declare(pg, url, "peer")
    pg.click("a.open-study")
    pg.click("#consent")
    pg.wait_for_selector("#rating-form")
    assert "asks" not in pg.content() and "tells" not in pg.content()    # blind: no system names
    fill_task(pg)
    shot(pg, "rate-02-rating")
    pg.click("#save")
    pg.wait_for_selector("#progress")
    assert "1 answered" in pg.inner_text("#progress")
    first_post = pg.input_value("input[name=post]")
    fill_task(pg)   # ... and gone without saving
    ctx.close()
    ctx, pg = session(browser, url, "pia", PASSWORD)
    pg.goto(url + "/rate/s/pilot")
    assert "1 answered" in pg.inner_text("#progress") and pg.input_value("input[name=post]") == first_post
    while pg.locator("#rating-form").count():
        fill_task(pg)
        pg.click("#save")
        pg.wait_for_load_state()
    assert pg.locator("#all-done").count() == 1
    ctx.close()

    # rater 2 (lay) rates everything; saving twice the same post is harmless
    ctx, pg = session(browser, url, "lou", PASSWORD)
    declare(pg, url, "lay")
    pg.goto(url + "/rate/s/pilot")
    pg.click("#consent")
    while pg.locator("#rating-form").count():
        fill_task(pg)
        pg.click("#save")
        pg.wait_for_load_state()
    ctx.close()

    # the admin reads the report: agreement and the split by credential
    ctx, pg = session(browser, url, "admin", ADMIN_PW)
    pg.goto(url + "/rate/s/pilot/report")
    pg.wait_for_selector("#agreement")
    text = pg.inner_text("main")
    assert "peer raters (1)" in text and "lay raters (1)" in text
    agreement = pg.inner_text("#agreement")
    assert "all" in agreement and "1.00" in agreement      # both raters scored alike
    shot(pg, "rate-03-report")
    ctx.close()

    from llumi.rate.pairs import RatingPairsConfig, write_rating_pairs
    from llumi.rate.study import Studies

    # no clinician rated, so with the default rules nobody may decide safety: relax it for this check
    s = write_rating_pairs(ws, Studies(db), "pilot", RatingPairsConfig(credentials={}))
    rows = [json.loads(l) for f in Path(s["folder"]).glob("*.jsonl") for l in f.read_text().splitlines()]
    assert rows and all(r["chosen_system"] == "asks" for r in rows if "asks" in (r["chosen_system"], r["rejected_system"]))
    studies = Studies(db)
    rec = studies.records("pilot", ws.secret_key())
    assert len(rec["responses"]) == 6 and len({(r["post"], r["rater"]) for r in rec["responses"]}) == 6
