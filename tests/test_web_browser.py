"""End to end in headless Chromium (Debian's, never a downloaded one): sign in, triage, a streamed
draft, a withheld draft with the escalation card, an improvement accepted in part. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.webtools import (ADMIN_PW, CHROMIUM, CRISIS_POST, NO_CHROMIUM, ORDINARY_POST, SUPPORTER_PW,
                            launch_browser, live, shot)

pytestmark = [pytest.mark.timeout(300), pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=NO_CHROMIUM)]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = live(tmp_path_factory, generations_per_minute=0, requests_per_minute=0, signin_per_minute=0)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    with launch_browser() as b:
        yield b


@pytest.fixture
def page(browser, srv):
    ctx = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    pg = ctx.new_page()
    external = []
    pg.on("request", lambda r: external.append(r.url) if not r.url.startswith(srv.url) else None)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    ctx.close()
    assert external == [], f"the page loaded something from outside: {external}"
    assert errors == [], f"errors in the page: {errors}"


def sign_in(pg, url: str, user: str = "ana", password: str = SUPPORTER_PW) -> None:
    pg.goto(url + "/")
    assert pg.url.endswith("/signin")
    pg.fill("#username", user)
    pg.fill("#password", password)
    pg.click("#signin-button")
    pg.wait_for_url(url + "/")


def paste(pg, text: str) -> None:
    pg.fill("#post", text)
    pg.wait_for_selector("#triage:not([hidden])")


def test_sign_in_and_draft_a_reply_for_an_ordinary_post(page, srv):
    sign_in(page, srv.url)
    paste(page, ORDINARY_POST)
    expect(page.locator("#tier")).to_have_text("none", timeout=20_000)   # no wait_for_function: the CSP forbids eval
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")) as resp:
        page.click("#draft")
    page.wait_for_selector("#verdict:not([hidden])")
    assert resp.value.headers["content-type"].startswith("text/event-stream")
    assert "Safety guard:" in page.inner_text("#verdict")
    assert page.is_hidden("#escalation")
    status = page.inner_text("#status")
    assert status.startswith("Draft ready") or status == "No draft."
    if status.startswith("Draft ready"):
        assert page.input_value("#reply") != ""
    shot(page, "01-draft")
    page.fill("#reply", "My own words, edited.")
    page.click("#copy")
    expect(page.locator("#status")).to_have_text(re.compile(r"^Copied"), timeout=20_000)
    assert page.evaluate("navigator.clipboard.readText()") == "My own words, edited."


def test_a_crisis_post_withholds_the_draft_and_shows_the_escalation_card(page, srv):
    sign_in(page, srv.url)
    paste(page, CRISIS_POST)
    expect(page.locator("#tier")).to_have_text("high", timeout=20_000)
    assert "988" in page.inner_text("#guidance")
    page.click("#draft")
    page.wait_for_selector("#escalation:not([hidden])")
    card = page.inner_text("#escalation")
    assert "No draft" in card and "Emergency number: 911" in card and "988" in card
    assert page.input_value("#reply") == ""
    assert page.inner_text("#status") == "Draft withheld."
    shot(page, "02-escalation")


def test_improve_a_reply_and_accept_part_of_the_diff(page, srv):
    sign_in(page, srv.url)
    paste(page, ORDINARY_POST)
    draft = "That sounds so hard. Your parents love you and they will understand. Maybe tell them tonight?"
    page.fill("#reply", draft)
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")) as resp:
        page.click("#improve")
    page.wait_for_selector("#diff-panel:not([hidden])")
    revision = resp.value.json()["llumi_safety"]["text"]
    changes = page.locator("#diff .change")
    n = changes.count()
    assert n >= 1 and page.input_value("#reply") == draft  # nothing changes until accepted
    changes.nth(0).locator("button.accept").click()
    partial = page.input_value("#reply")
    assert partial != draft
    if n > 1:
        assert partial != revision  # only the first change was taken
        changes.nth(1).locator("button.reject").click()
        assert page.input_value("#reply") == partial
    shot(page, "03-improve-partial")
    page.click("#accept-all")
    assert page.input_value("#reply") == revision
    page.click("#reject-all")
    assert page.input_value("#reply") == draft


def test_per_change_accept_and_reject_compose_the_reply(page, srv):
    """The IM's answer is fixed at the network edge (a tiny random model shares no words with a
    draft), so each change's effect on the reply can be checked word for word."""
    import json

    draft = "I am sorry about the exam. You should just tell them. It will be fine."
    revision = "I am so sorry about the exam. You could tell them when you feel ready. It will be fine, and I am here."
    safety = {"tier": "none", "triage_rules": [], "withheld": False, "action": "allow", "guard_rules": [],
              "text": revision, "replace": False, "model_version": "transformers:model",
              "guidance": {"tier": "none", "mode": "Normal drafting.", "questions": [], "avoid": [], "resources": [],
                           "emergency_first": False}}
    body = {"id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": "llumi-im",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": revision}, "finish_reason": "stop"}],
            "llumi_safety": safety}
    page.route("**/v1/chat/completions", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(body)))
    sign_in(page, srv.url)
    paste(page, ORDINARY_POST)
    page.fill("#reply", draft)
    page.click("#improve")
    page.wait_for_selector("#diff-panel:not([hidden])")
    changes = page.locator("#diff .change")
    assert changes.count() == 4
    assert [changes.nth(i).locator("ins").text_content() for i in range(4)] == [
        "so ", "could ", "them when you feel ready. ", "fine, and I am here."]
    assert changes.nth(1).locator("del").text_content() == "should just "
    changes.nth(1).locator("button.accept").click()
    assert page.input_value("#reply") == "I am sorry about the exam. You could tell them. It will be fine."
    changes.nth(0).locator("button.accept").click()
    changes.nth(2).locator("button.accept").click()
    changes.nth(3).locator("button.reject").click()
    assert page.input_value("#reply") == "I am so sorry about the exam. You could tell them when you feel ready. It will be fine."
    shot(page, "05-improve-accept-part")
    page.click("#accept-all")
    assert page.input_value("#reply") == revision


def test_html_in_a_post_stays_text(page, srv):
    sign_in(page, srv.url)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    evil = "<script>alert('x')</script><img src=x onerror=alert('y')> I feel alone"
    paste(page, evil)
    page.fill("#reply", "<b>bold</b><img src=x onerror=alert('z')> hi there friend")
    page.click("#improve")
    page.wait_for_selector("#diff-panel:not([hidden]), #escalation:not([hidden])")
    page.wait_for_timeout(300)
    assert dialogs == [] and page.locator("main img, main b, main script").count() == 0


def test_admin_sees_users_keys_audit_and_models(page, srv):
    sign_in(page, srv.url, "admin", ADMIN_PW)
    page.goto(srv.url + "/admin")
    assert "llumi-gm" in page.inner_text("#served") and "transformers" in page.inner_text("#served")
    assert "ana" in page.inner_text("#users")
    page.fill("form[action='/admin/keys'] input[name=name]", "browser-key")
    page.click("form[action='/admin/keys'] button")
    assert "API key for admin (shown once): llumi_" in page.inner_text("#shown")
    page.goto(srv.url + "/admin?event=signin")
    rows = page.locator("#audit tr").all_inner_texts()[1:]
    assert rows and all("signin" in r for r in rows)
    shot(page, "04-admin")
