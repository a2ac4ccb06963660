"""The workspace: one folder where every stage finds its inputs and writes its outputs.

Layout (each output folder has a ``meta.json`` saying how it was made)::

    llumi-work/
      secret.key               pseudonymisation key (mode 0600; never copied into an output)
      store/                   ingested communities (Parquet, queried with DuckDB)
        posts/*.parquet        one file per source chunk
        replies/*.parquet
        quarantine/*.jsonl     malformed or unusable lines, with source file and line number
        manifest/*.json        per-source progress, so an interrupted ingest resumes
        excluded.parquet       replies/posts excluded after the fact (duplicates, depth)
        meta.json
      pairs/                   training data built from votes (TRL formats)
      stats/                   counts and plots
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

from llumi import __version__

DEFAULT_WORKSPACE = "llumi-work"
ENV_VAR = "LLUMI_HOME"


class Workspace:
    """Paths of one workspace. Creating the object does not touch the disk."""

    def __init__(self, root: str | os.PathLike | None = None):
        root = root or os.environ.get(ENV_VAR) or DEFAULT_WORKSPACE
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # --- folders -------------------------------------------------------------------------
    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def pairs(self) -> Path:
        return self.root / "pairs"

    @property
    def stats(self) -> Path:
        return self.root / "stats"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def ensure(self) -> "Workspace":
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    # --- the pseudonymisation key --------------------------------------------------------
    @property
    def key_path(self) -> Path:
        return self.root / "secret.key"

    def secret_key(self) -> bytes:
        """The workspace's pseudonymisation key, created on first use (32 random bytes, mode 0600)."""
        path = self.key_path
        if not path.exists():
            self.ensure()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        return bytes.fromhex(path.read_text().strip())


# --- provenance ---------------------------------------------------------------------------

def file_hash(path: str | os.PathLike, algo: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a whole file, read in chunks (constant memory)."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return f"{algo}:{h.hexdigest()}"


def git_commit() -> str | None:
    """The commit of the LLUMI checkout this code runs from, if it runs from one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=5,
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def package_versions(names: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of llumi's own dependencies plus any extra names asked for."""
    wanted = ["llumi", "pyarrow", "duckdb", "zstandard", "orjson", "numpy", *names]
    versions = {"python": sys.version.split()[0]}
    for name in wanted:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if name == "llumi":
                versions[name] = __version__
    return versions


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
    return path


def write_meta(
    folder: str | os.PathLike,
    *,
    stage: str,
    config: dict[str, Any],
    inputs: dict[str, str] | None = None,
    outputs: dict[str, Any] | None = None,
    seed: int | None = None,
    extra_packages: Iterable[str] = (),
    **fields: Any,
) -> Path:
    """Write ``meta.json`` into ``folder``: what made it, from which inputs (by hash), with which
    settings, package versions, git commit and seed. Returns the path written."""
    meta = {
        "stage": stage,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "inputs": inputs or {},
        "outputs": outputs or {},
        "seed": seed,
        "versions": package_versions(extra_packages),
        "git_commit": git_commit(),
        **fields,
    }
    return write_json_atomic(Path(folder) / "meta.json", meta)


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    return json.loads((Path(folder) / "meta.json").read_text())
