"""Shared fixtures. Tests are hermetic: each gets its own workspace in a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llumi.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data {path} is not here (../shared/data is only beside the project's own checkouts)")
    return path


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "work").ensure()


@pytest.fixture
def run_cli(ws):
    """Run `llumi --workspace WS ARGS...`; returns (exit_code, stdout, stderr)."""
    from llumi.cli import cli

    def run(*args: str, input: str | None = None):
        runner = CliRunner()
        result = runner.invoke(cli, ["--workspace", str(ws.root), *args], input=input, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
