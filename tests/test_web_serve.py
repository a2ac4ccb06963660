"""`llumi serve` finds the models to serve in the workspace's training runs."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from llumi.errors import WorkspaceError
from llumi.web.cli import build_app
from tests.tiny_model import make_tiny_model


def test_serves_the_latest_gm_run_and_says_what_it_serves(ws, tmp_path):
    run = ws.runs / "gm-sft-20261126T010203Z"
    shutil.copytree(make_tiny_model(tmp_path / "tiny"), run / "merged")
    (run / "meta.json").write_text(json.dumps({"stage": "sft"}))
    (ws.runs / "latest-gm.json").write_text(json.dumps({"run": run.name}))
    lines = []
    app = build_app(ws, backend="transformers", echo=lines.append, overrides={"max_new_tokens": 4})
    try:
        assert "Serving llumi-gm: transformers:gm-sft-20261126T010203Z" in lines
        assert any("admin-password.txt" in line for line in lines)  # the first serve made an admin
        key, _ = app.state.db.create_key("admin")
        c = TestClient(app)
        h = {"Authorization": f"Bearer {key}"}
        assert [m["id"] for m in c.get("/v1/models", headers=h).json()["data"]] == ["llumi-gm"]
        r = c.post("/v1/chat/completions", headers=h, json={
            "model": "llumi-im", "messages": [{"role": "user", "content": "a post"}, {"role": "assistant", "content": "a reply"}]})
        assert r.status_code == 404 and "not loaded" in r.json()["error"]["message"]
        r = c.post("/v1/chat/completions", headers=h, json={"model": "llumi-gm", "messages": [{"role": "user", "content": "a post"}]})
        assert r.json()["llumi_safety"]["model_version"] == "transformers:gm-sft-20261126T010203Z"
    finally:
        app.state.assistant.close()


def test_no_trained_model_is_a_clear_error_and_makes_no_user(ws):
    with pytest.raises(WorkspaceError, match="no trained GM or IM"):
        build_app(ws, backend="transformers", echo=lambda *a: None)
    from llumi.web.db import open_db

    assert open_db(ws).users() == [] and not (ws.root / "admin-password.txt").exists()
