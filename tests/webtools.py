"""Helpers for the web tests: a real server (uvicorn in a thread, a free loopback port) over a real
SQLite file and a real tiny model (transformers backend), with an admin, a supporter and API keys."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from llumi.workspace import Workspace
from tests.tiny_model import make_tiny_model

# Debian's chromium, driven by Playwright (never a browser Playwright downloads); without it the browser
# tests skip with this reason. The flags keep it off the network it cannot reach anyway.
CHROMIUM = os.environ.get("LLUMI_CHROMIUM", "/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]
NO_CHROMIUM = f"no chromium at {CHROMIUM} (scripts/setup installs Debian's chromium when run as root)"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def launch_browser():
    """A context manager yielding a headless Chromium browser."""
    import contextlib

    from playwright.sync_api import sync_playwright

    @contextlib.contextmanager
    def _browser():
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
            try:
                yield b
            finally:
                b.close()
    return _browser()


def shot(pg, name: str) -> None:
    """A full-page screenshot kept as a test artifact (test-artifacts/NAME.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


ADMIN_PW = "admin-password-1"
SUPPORTER_PW = "supporter-password-1"
ORDINARY_POST = "I failed my exam today and I feel like such a disappointment to my parents. How do I tell them?"
CRISIS_POST = "I wrote a note and I'm going to kill myself tonight. I've given my things away."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    url: str
    app: object
    db: object
    ws: Workspace
    admin_key: str
    supporter_key: str
    server: object
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.state.assistant.close()


def build(ws: Workspace, model_dir: Path, **settings):
    """The app (not listening) with users and keys; returns (app, db, admin key, supporter key)."""
    from llumi.web.cli import build_app

    app = build_app(ws, model=str(model_dir), backend="transformers", workers=2, echo=lambda *a: None,
                    overrides={"max_new_tokens": 24, "temperature": 0.0, **settings})
    db = app.state.db
    db.set_password("admin", ADMIN_PW)
    if db.user_by_name("ana") is None:
        db.add_user("ana", SUPPORTER_PW, "supporter")
    admin_key, _ = db.create_key("admin", "tests")
    supporter_key, _ = db.create_key("ana", "tests")
    return app, db, admin_key, supporter_key


def serve(app, port: int | None = None):
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def live(tmp_path_factory, **settings) -> Live:
    model_dir = make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    ws = Workspace(tmp_path_factory.mktemp("ws") / "work").ensure()
    app, db, admin_key, supporter_key = build(ws, model_dir, **settings)
    server, thread, url = serve(app)
    return Live(url, app, db, ws, admin_key, supporter_key, server, thread)
