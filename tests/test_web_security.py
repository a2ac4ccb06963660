"""Security of the web app: authentication, roles, CSRF, size and rate limits, headers, escaping,
and the bind-address rule."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from llumi.errors import ConfigError
from llumi.web.app import ServeSettings, create_app
from llumi.web.security import check_bind, is_loopback
from llumi.workspace import Workspace
from tests.tiny_model import make_tiny_model
from tests.webtools import ADMIN_PW, ORDINARY_POST, SUPPORTER_PW, build


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    model = make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    ws = Workspace(tmp_path_factory.mktemp("ws") / "work").ensure()
    app, db, admin_key, supporter_key = build(ws, model)
    yield app, db, admin_key, supporter_key
    app.state.assistant.close()


def client_for(base, **settings):
    app, db, *_ = base
    return TestClient(create_app(db, app.state.assistant, ServeSettings(**settings)))


@pytest.fixture
def client(base):
    return client_for(base)


def signin(c: TestClient, user: str = "ana", password: str = SUPPORTER_PW):
    page = c.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/signin", data={"username": user, "password": password, "csrf_token": token}, follow_redirects=False)
    return r


def csrf_of(c: TestClient) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', c.get("/").text).group(1)


def test_nothing_without_authentication(client):
    for method, path in [("get", "/v1/models"), ("post", "/v1/safety/triage"), ("post", "/v1/safety/guard"),
                         ("post", "/v1/chat/completions")]:
        r = client.request(method, path, json={"text": "x"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated", path
    r = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/signin"
    r = client.get("/v1/models", headers={"Authorization": "Bearer llumi_not-a-real-key"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_a_revoked_key_and_a_disabled_user_are_locked_out(base, client):
    _, db, *_ = base
    key, row = db.create_key("ana", "temp")
    h = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/models", headers=h).status_code == 200
    db.revoke_key(row["id"])
    assert client.get("/v1/models", headers=h).status_code == 401
    db.add_user("leaver", "leaver-password-1")
    key, _ = db.create_key("leaver")
    c2 = client_for(base)
    assert signin(c2, "leaver", "leaver-password-1").status_code == 303
    db.set_disabled("leaver", True)
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert c2.get("/", follow_redirects=False).status_code == 303  # the session ended


def test_keys_and_passwords_are_stored_hashed(base):
    app, db, admin_key, _ = base
    raw = db.path.read_bytes() + b"".join(p.read_bytes() for p in db.path.parent.glob("web.db-wal"))
    assert admin_key.encode() not in raw and ADMIN_PW.encode() not in raw
    assert db.con.execute("select password_hash from users where username='admin'").fetchone()[0].startswith("$argon2")


def test_sign_in_wrong_password_and_audit(base, client):
    _, db, *_ = base
    r = signin(client, "ana", "wrong-password-123")
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    assert db.audit_rows(event="signin", limit=1)[0]["details"] == {"ok": False}
    r = signin(client)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert db.audit_rows(event="signin", limit=1)[0]["details"] == {"ok": True}


def test_sign_in_attempts_are_limited(base, client):
    codes = [signin(client, "ana", f"wrong-password-{i}").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    assert signin(client, "admin", ADMIN_PW).status_code == 303  # another user name is not locked out


def test_csrf_is_required_for_every_post_from_a_session(base, client):
    assert signin(client).status_code == 303
    r = client.post("/v1/safety/triage", json={"text": ORDINARY_POST})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = client.post("/v1/safety/triage", json={"text": ORDINARY_POST}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = client.post("/v1/safety/triage", json={"text": ORDINARY_POST}, headers={"X-CSRF-Token": csrf_of(client)})
    assert r.status_code == 200
    assert client.post("/signout", follow_redirects=False).status_code == 403  # no token: still signed in
    assert client.get("/", follow_redirects=False).status_code == 200


def test_sign_in_itself_needs_the_form_token(client):
    client.get("/signin")
    r = client.post("/signin", data={"username": "ana", "password": SUPPORTER_PW, "csrf_token": "guess"})
    assert r.status_code == 403


def test_admin_pages_need_an_admin_and_a_token(base, client):
    _, db, *_ = base
    assert signin(client).status_code == 303
    assert client.get("/admin").status_code == 403
    admin = client_for(base)
    assert signin(admin, "admin", ADMIN_PW).status_code == 303
    page = admin.get("/admin")
    assert page.status_code == 200 and "llumi-gm" in page.text and "Audit log" in page.text
    assert admin.post("/admin/users", data={"username": "mallory", "role": "admin"}).status_code == 403
    assert db.user_by_name("mallory") is None
    r = admin.post("/admin/users", data={"username": "newbie", "role": "supporter", "csrf_token": csrf_of(admin)})
    assert r.status_code == 200 and "Password for newbie (shown once)" in r.text
    assert db.user_by_name("newbie")["role"] == "supporter"
    r = admin.post("/admin/users", data={"username": "shorty", "password": "short", "csrf_token": csrf_of(admin)})
    assert r.status_code == 200 and "Not added: a password needs at least 10 characters" in r.text
    r = admin.post("/admin/keys", data={"username": "nobody", "csrf_token": csrf_of(admin)})
    assert "No key made: no user &#39;nobody&#39;" in r.text


def test_oversize_requests_get_413(base):
    c = client_for(base, max_body_bytes=2048)
    _, _, key, _ = base
    h = {"Authorization": f"Bearer {key}"}
    r = c.post("/v1/safety/triage", json={"text": "x" * 5000}, headers=h)
    assert r.status_code == 413 and "limit of 2048" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b'{"text": "' + b"y" * 500

    r = c.post("/v1/safety/triage", content=chunks(), headers={**h, "content-type": "application/json"})
    assert r.status_code == 413
    assert c.post("/v1/safety/triage", json={"text": "fine"}, headers=h).status_code == 200


def test_rate_limits_per_key(base):
    app, db, admin_key, supporter_key = base
    c = client_for(base, requests_per_minute=60)  # burst of 10
    codes = [c.get("/v1/models", headers={"Authorization": f"Bearer {admin_key}"}).status_code for _ in range(12)]
    assert codes[:10] == [200] * 10 and codes[-1] == 429
    r = c.get("/v1/models", headers={"Authorization": f"Bearer {admin_key}"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert c.get("/v1/models", headers={"Authorization": f"Bearer {supporter_key}"}).status_code == 200


def test_generation_rate_limit(base):
    _, _, admin_key, _ = base
    c = client_for(base, generations_per_minute=6)  # burst of 1
    body = {"model": "llumi-gm", "max_tokens": 2, "messages": [{"role": "user", "content": ORDINARY_POST}]}
    h = {"Authorization": f"Bearer {admin_key}"}
    assert c.post("/v1/chat/completions", json=body, headers=h).status_code == 200
    r = c.post("/v1/chat/completions", json=body, headers=h)
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    assert c.post("/v1/safety/triage", json={"text": "x"}, headers=h).status_code == 200  # safety still answers


def test_security_headers_and_no_inline_script(client):
    for path in ("/signin", "/static/app.js", "/healthz"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    signin(client)
    for page in (client.get("/signin").text, client.get("/").text):
        for tag in re.findall(r"<script[^>]*>", page):
            assert 'src="/static/' in tag
        assert not re.search(r"<script[^>]*>\s*[^<\s]", page), "inline script"
        assert not re.search(r"\son[a-z]+=", page), "inline event handler"
        assert not re.search(r"(src|href)=\"(https?:)?//", page), "external asset"


def test_html_in_user_data_renders_inert(base):
    _, db, *_ = base
    db.add_user("<script>alert(1)</script>", "whatever-password-1")
    admin = client_for(base)
    signin(admin, "admin", ADMIN_PW)
    page = admin.get("/admin").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bind_address_rule(tmp_path, run_cli):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_bind("127.0.0.1", users=0)
    with pytest.raises(ConfigError, match="refusing to listen on 0.0.0.0"):
        check_bind("0.0.0.0", users=0)
    check_bind("0.0.0.0", users=1)
    check_bind("0.0.0.0", users=0, allow_remote=True)
    # the command refuses before creating any user or loading any model
    from llumi.cli import main

    import llumi.web.db as webdb

    with pytest.raises(SystemExit) as e:
        main(["--workspace", str(tmp_path / "w"), "serve", "--host", "0.0.0.0", "--model", "nonexistent"])
    assert e.value.code == 1
    assert webdb.Database(tmp_path / "w" / "web.db").users() == []
