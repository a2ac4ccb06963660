import os
import subprocess
import sys

import pytest

from llumi import config
from llumi.errors import ConfigError
from llumi.workspace import Workspace, file_hash, write_meta, read_meta


def test_every_verb_has_help():
    from llumi.cli import cli

    assert cli.commands, "the CLI has no verbs"
    for name, cmd in cli.commands.items():
        assert cmd.help, f"`llumi {name}` has no help text"
        for sub in getattr(cmd, "commands", {}).values():
            assert sub.help, f"`llumi {name} {sub.name}` has no help text"


def test_workspace_defaults_and_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLUMI_HOME", raising=False)
    assert Workspace().root == tmp_path / "llumi-work"
    monkeypatch.setenv("LLUMI_HOME", str(tmp_path / "elsewhere"))
    assert Workspace().root == tmp_path / "elsewhere"
    assert Workspace(tmp_path / "given").root == tmp_path / "given"


def test_secret_key_is_private_and_stable(ws):
    key = ws.secret_key()
    assert len(key) == 32
    assert ws.secret_key() == key
    assert os.stat(ws.key_path).st_mode & 0o077 == 0


def test_meta_records_provenance(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("hello")
    write_meta(tmp_path / "out", stage="test", config={"a": 1}, inputs={"in.txt": file_hash(src)}, seed=7)
    meta = read_meta(tmp_path / "out")
    assert meta["inputs"]["in.txt"].startswith("sha256:2cf24dba")
    assert meta["config"] == {"a": 1} and meta["seed"] == 7
    assert meta["versions"]["python"] and "llumi" in meta["versions"]
    assert "git_commit" in meta


def test_config_rejects_unknown_and_mistyped(tmp_path):
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class C:
        min_score: int = 1
        ratio: float = 2.0
        names: tuple[str, ...] = ()
        flag: bool = False

    c = config.load(C, overrides=config.parse_overrides(["min_score=3", "names=a,b", "flag=true"]))
    assert c == C(min_score=3, names=("a", "b"), flag=True)
    with pytest.raises(ConfigError, match="unknown setting.*min_scor.*valid settings are: flag, min_score"):
        config.load(C, overrides={"min_scor": 1})
    with pytest.raises(ConfigError, match="min_score: expected an integer"):
        config.load(C, overrides={"min_score": "lots"})
    y = tmp_path / "c.yaml"
    y.write_text("ratio: 3\n")
    assert config.load(C, y).ratio == 3.0
    with pytest.raises(ConfigError, match="not found"):
        config.load(C, tmp_path / "missing.yaml")


def test_library_errors_become_messages_not_tracebacks(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "llumi.cli", "--workspace", str(tmp_path / "empty"), "stats"],
        capture_output=True, text=True,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "run `llumi ingest" in out.stderr
