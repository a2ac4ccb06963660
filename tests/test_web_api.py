"""The OpenAI-compatible API and the safety endpoints, against a live server (uvicorn on a loopback
port) with a real tiny model, through the official ``openai`` client where a client would use it."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import openai
import pytest
from fastapi.routing import APIRoute

from tests.webtools import CRISIS_POST, ORDINARY_POST, live

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = live(tmp_path_factory, generations_per_minute=0, requests_per_minute=0)
    yield s
    s.stop()


@pytest.fixture
def client(srv):
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=srv.supporter_key, max_retries=0)


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def test_models_are_listed_for_the_openai_client(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["llumi-gm", "llumi-im"]


def test_non_streaming_draft_is_the_guarded_text(client, srv):
    before = len(srv.db.audit_rows(event="guard", limit=1000))
    r = client.chat.completions.create(model="llumi-gm", messages=[{"role": "user", "content": ORDINARY_POST}],
                                       max_tokens=16)
    safety = r.model_extra["llumi_safety"]
    assert r.object == "chat.completion" and r.model == "llumi-gm"
    assert safety["tier"] == "none" and safety["withheld"] is False
    assert safety["action"] in ("allow", "rewrite", "block")
    assert r.choices[0].message.content == safety["text"]
    assert r.choices[0].finish_reason == ("stop" if safety["text"] is not None else "content_filter")
    assert safety["model_version"].startswith("transformers:")
    assert "model_text" not in safety  # the unguarded text never leaves the server
    assert len(srv.db.audit_rows(event="guard", limit=1000)) == before + 1


def test_streaming_draft_arrives_in_chunks_and_ends_with_the_verdict(client):
    stream = client.chat.completions.create(model="llumi-gm", stream=True, max_tokens=24,
                                            messages=[{"role": "user", "content": ORDINARY_POST}])
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    final = chunks[-1]
    safety = final.model_extra["llumi_safety"]
    assert final.choices[0].finish_reason in ("stop", "content_filter")
    assert safety["withheld"] is False
    if not safety["replace"]:
        assert text == safety["text"]  # what the client assembled is exactly what the guard allowed
    # the same request without streaming gives the same guarded text (greedy decoding)
    again = client.chat.completions.create(model="llumi-gm", max_tokens=24, temperature=0,
                                           messages=[{"role": "user", "content": ORDINARY_POST}])
    assert again.model_extra["llumi_safety"]["text"] == safety["text"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_crisis_post_gets_no_generated_text_only_the_escalation_card(client, srv, stream):
    before = len(srv.db.audit_rows(event="escalation", limit=1000))
    kw = dict(model="llumi-gm", messages=[{"role": "user", "content": CRISIS_POST}])
    if stream:
        chunks = list(client.chat.completions.create(stream=True, **kw))
        content = "".join(c.choices[0].delta.content or "" for c in chunks)
        safety, finish = chunks[-1].model_extra["llumi_safety"], chunks[-1].choices[0].finish_reason
    else:
        r = client.chat.completions.create(**kw)
        content, safety, finish = r.choices[0].message.content, r.model_extra["llumi_safety"], r.choices[0].finish_reason
    assert safety["withheld"] is True and safety["tier"] in ("high", "imminent") and safety["text"] is None
    assert finish == "content_filter"
    assert content.startswith("[LLUMI] No draft") and "988" in content and "911" in content
    assert safety["guidance"]["emergency"] == "911" and safety["guidance"]["questions"]
    assert len(srv.db.audit_rows(event="escalation", limit=1000)) == before + 1


def test_improve_takes_the_draft_either_way(client):
    draft = "That sounds so hard. Your parents will understand."
    a = client.chat.completions.create(model="llumi-im", max_tokens=12, temperature=0, messages=[
        {"role": "user", "content": ORDINARY_POST}, {"role": "assistant", "content": draft}])
    b = client.chat.completions.create(model="llumi-im", max_tokens=12, temperature=0, messages=[
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": f"Post:\n{ORDINARY_POST}\n\nDraft reply:\n{draft}"}])
    sa, sb = a.model_extra["llumi_safety"], b.model_extra["llumi_safety"]
    assert sa["text"] == sb["text"] and "changed" in sa


def test_bad_requests_are_openai_errors(client):
    with pytest.raises(openai.BadRequestError, match="draft"):
        client.chat.completions.create(model="llumi-im", messages=[{"role": "user", "content": ORDINARY_POST}])
    with pytest.raises(openai.NotFoundError, match="unknown model"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="user message"):
        client.chat.completions.create(model="llumi-gm", messages=[{"role": "system", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="llumi-gm", n=2, messages=[{"role": "user", "content": "hi"}])


def test_triage_endpoint(srv):
    r = httpx.post(srv.url + "/v1/safety/triage", json={"text": CRISIS_POST}, headers=auth(srv.supporter_key))
    d = r.json()
    assert r.status_code == 200 and d["tier"] == "high" and d["withhold_draft"] is True
    assert "plan.timing" in d["rules"] and d["guidance"]["emergency"] == "911"
    assert any(s["evidence"] for s in d["signals"])
    r = httpx.post(srv.url + "/v1/safety/triage", json={"text": "this exam is killing me lol", "locale": "GB"},
                   headers=auth(srv.supporter_key))
    assert r.json()["tier"] == "none" and r.json()["withhold_draft"] is False


def test_guard_endpoint(srv):
    h = auth(srv.supporter_key)
    r = httpx.post(srv.url + "/v1/safety/guard", headers=h,
                   json={"reply": "My uncle committed suicide. Call 555-123-4567.", "tier": "low"}).json()
    assert r["action"] == "rewrite" and "died by suicide" in r["text"] and "555" not in r["text"]
    r = httpx.post(srv.url + "/v1/safety/guard", headers=h,
                   json={"reply": "Maybe it would be peaceful to end it.", "post": "I want to die"}).json()
    assert r["action"] == "block" and r["text"] is None and r["rules"]
    r = httpx.post(srv.url + "/v1/safety/guard", headers=h, json={"reply": "hello"})
    assert r.status_code == 400 and "tier" in r.json()["error"]["message"]


def test_healthz_needs_no_auth_and_tells_nothing_private(srv):
    r = httpx.get(srv.url + "/healthz")
    assert r.status_code == 200 and r.json()["models"] == ["llumi-gm", "llumi-im"]
    assert str(srv.ws.root) not in r.text


def _check(schema: dict, value, doc: dict, where: str) -> None:
    """A small validator for the parts of JSON Schema that FastAPI emits (enough to catch drift)."""
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return _check(option, value, doc, where)
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(f"{where}: matches no option: {errors}")
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool, "null": type(None),
             "number": (int, float)}
    if kind:
        assert isinstance(value, types[kind]), f"{where}: {value!r} is not {kind}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "const" in schema:
        assert value == schema["const"], f"{where}: {value!r} != {schema['const']}"
    if kind == "object" and "properties" in schema:
        for req in schema.get("required", []):
            assert req in value, f"{where}: missing required {req}"
        extra = set(value) - set(schema["properties"])
        assert not extra or schema.get("additionalProperties") is True, f"{where}: undocumented {extra}"
        for k, v in value.items():
            if k in schema["properties"]:
                _check(schema["properties"][k], v, doc, f"{where}.{k}")
    if kind == "array" and "items" in schema:
        for i, v in enumerate(value):
            _check(schema["items"], v, doc, f"{where}[{i}]")


def test_openapi_document_matches_the_routes_and_the_responses(srv):
    doc = httpx.get(srv.url + "/openapi.json").json()
    routes = {(r.path, m.lower()) for r in srv.app.routes if isinstance(r, APIRoute) and r.include_in_schema
              for m in r.methods}
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented == {("/healthz", "get"), ("/v1/models", "get"), ("/v1/chat/completions", "post"),
                                    ("/v1/safety/triage", "post"), ("/v1/safety/guard", "post")}
    h = auth(srv.supporter_key)
    calls = [
        ("get", "/healthz", None, 200), ("get", "/v1/models", None, 200),
        ("post", "/v1/safety/triage", {"text": CRISIS_POST}, 200),
        ("post", "/v1/safety/guard", {"reply": "hi there", "tier": "none"}, 200),
        ("post", "/v1/chat/completions", {"model": "llumi-gm", "max_tokens": 8,
                                          "messages": [{"role": "user", "content": ORDINARY_POST}]}, 200),
        ("post", "/v1/chat/completions", {"model": "llumi-im", "messages": [{"role": "user", "content": "x"}]}, 400),
        ("get", "/v1/models", None, 401),
    ]
    for method, path, body, status in calls:
        r = httpx.request(method, srv.url + path, json=body, headers=h if status != 401 else {})
        assert r.status_code == status, (path, r.text)
        op = doc["paths"][path][method]
        assert str(status) in op["responses"], f"{path} {status} is not documented"
        schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
        _check(schema, r.json(), doc, f"{method} {path} {status}")
    # the request schema says which models exist and that streaming is a documented content type
    chat = doc["paths"]["/v1/chat/completions"]["post"]
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    assert "llumi_safety" in doc["components"]["schemas"]["ChatCompletion"]["properties"]


def test_a_slow_generation_never_stalls_safety_requests(srv):
    """Two long generations hold the generation pool; triage answers in milliseconds meanwhile."""
    h = auth(srv.admin_key)
    body = {"model": "llumi-gm", "max_tokens": 400, "temperature": 0.0, "stream": True,
            "messages": [{"role": "user", "content": ORDINARY_POST + " Please write a long reply."}]}
    done = []

    def generate():
        with httpx.stream("POST", srv.url + "/v1/chat/completions", json=body, headers=h, timeout=120) as r:
            for _ in r.iter_lines():
                pass
        done.append(time.perf_counter())

    threads = [threading.Thread(target=generate) for _ in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(0.3)
    latencies = []
    with httpx.Client(headers=h) as c:
        while not done and time.perf_counter() - started < 60:
            t0 = time.perf_counter()
            assert c.post(srv.url + "/v1/safety/triage", json={"text": ORDINARY_POST}).status_code == 200
            latencies.append(time.perf_counter() - t0)
    for t in threads:
        t.join()
    assert len(latencies) >= 5, "generation ended before safety requests could be measured"
    assert max(latencies) < 0.5, f"a safety request waited {max(latencies):.2f}s behind generation"


def test_no_outbound_connection_during_a_full_request_cycle(srv, monkeypatch):
    """Everything a request touches (auth, triage, model, guard, audit) stays on this machine."""
    attempts = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError(f"test: outbound connection to {address} refused")
        return real_connect(self, address)

    def getaddrinfo(host, *a, **kw):
        if host not in ("127.0.0.1", "::1", "localhost", None):
            attempts.append(host)
            raise socket.gaierror(f"test: no name lookups ({host})")
        return real_getaddrinfo(host, *a, **kw)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=srv.supporter_key, max_retries=0)
    client.models.list()
    r = client.chat.completions.create(model="llumi-gm", max_tokens=8, messages=[{"role": "user", "content": ORDINARY_POST}])
    list(client.chat.completions.create(model="llumi-im", max_tokens=8, stream=True, messages=[
        {"role": "user", "content": ORDINARY_POST}, {"role": "assistant", "content": "Hang in there."}]))
    httpx.post(srv.url + "/v1/safety/triage", json={"text": CRISIS_POST}, headers=auth(srv.supporter_key))
    assert r.model_extra["llumi_safety"]
    assert attempts == []


def test_the_audit_log_keeps_decisions_but_no_text(srv):
    marker = "Zanzibar-marmalade-7731"
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=srv.supporter_key, max_retries=0)
    client.chat.completions.create(model="llumi-gm", max_tokens=8, messages=[
        {"role": "user", "content": f"{ORDINARY_POST} {marker}"}])
    httpx.post(srv.url + "/v1/safety/guard", headers=auth(srv.supporter_key),
               json={"reply": f"reply {marker}", "post": f"post {marker}"})
    rows = srv.db.audit_rows(limit=10)
    guard_row = next(r for r in rows if r["event"] == "guard" and r["details"]["route"] == "llumi-gm")
    assert guard_row["username"] == "ana" and guard_row["details"]["model_version"].startswith("transformers:")
    assert "action" in guard_row["details"] and "rules" in guard_row["details"]
    srv.db.con.execute("pragma wal_checkpoint(full)")
    for f in srv.ws.root.glob("web.db*"):
        assert marker.encode() not in f.read_bytes(), f"post text found in {f.name}"
    assert srv.db.verify_audit()["ok"]
