"""The optional second opinion, against a local fake OpenAI-compatible server."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llumi.safety import guard
from llumi.safety.second_opinion import SecondOpinion


@pytest.fixture
def fake_server():
    state = {"answer": "safe", "status": 200, "delay": 0.0, "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append((self.path, body))
            time.sleep(state["delay"])
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": state["answer"]}}]}).encode()
            try:
                self.send_response(state["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left, as the timeout test intends

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()


def test_safe_answer_keeps_the_rules_verdict(fake_server):
    so = SecondOpinion(fake_server["url"], "llama-guard")
    v = guard("You are not a burden.", "low", "US", second_opinion=so, post="I feel like a burden")
    assert v.action == "allow" and v.text == "You are not a burden."
    path, body = fake_server["requests"][0]
    assert path == "/v1/chat/completions" and body["model"] == "llama-guard"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]


def test_unsafe_answer_is_stricter_and_wins(fake_server):
    fake_server["answer"] = "unsafe\nS11"
    v = guard("You are not a burden.", "low", "US", second_opinion=SecondOpinion(fake_server["url"], "m"))
    assert (v.action, v.text) == ("block", None)
    assert "second_opinion.unsafe" in v.rules


def test_rules_block_stays_block_when_the_model_says_safe(fake_server):
    v = guard("You're right, you are a burden.", "low", "US", second_opinion=SecondOpinion(fake_server["url"], "m"))
    assert v.action == "block"


@pytest.mark.parametrize("how", ["http_error", "timeout", "garbage", "connection"])
def test_failures_escalate(fake_server, how):
    url = fake_server["url"]
    if how == "http_error":
        fake_server["status"] = 500
    elif how == "timeout":
        fake_server["delay"] = 1.0
    elif how == "garbage":
        fake_server["answer"] = "I am not sure what you mean"
    elif how == "connection":
        url = "http://127.0.0.1:9/v1"
    v = guard("You are not a burden.", "low", "US", second_opinion=SecondOpinion(url, "m", timeout_s=0.3))
    assert (v.action, v.text) == ("escalate", None), v.to_dict()
