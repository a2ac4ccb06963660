"""Training run folders in the workspace, and how to find them again. Does not import torch.

    <workspace>/runs/
      gm-sft-20261126T010203Z/     one run: adapter/, merged/, checkpoints/, eval.json, curves.png,
                                   run.json (written at the start), meta.json (written at the end)
      latest-gm-sft.json           the latest finished run of a role and stage (gm-dpo-r2 for DPO2)
      latest-gm.json               the latest finished run of a role, whichever stage

A run folder without ``meta.json`` is unfinished; a re-run whose fingerprint (resolved config and input
hashes) matches its ``run.json`` resumes it from its last checkpoint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from llumi.errors import WorkspaceError
from llumi.workspace import Workspace, write_json_atomic


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def new_run_dir(ws: Workspace, name: str) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = ws.runs / f"{name}-{stamp}"
    n = 1
    while path.exists():  # two runs in the same second
        n += 1
        path = ws.runs / f"{name}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def open_run(ws: Workspace, name: str, fp: str, resume: bool, device: str = "cpu") -> tuple[Path, str | None]:
    """(run folder, last checkpoint or None): the unfinished run of this fingerprint, or a new one.

    Under ``accelerate launch`` every process runs the recipe: the main process picks the folder and
    the others receive it, so all of them write into one run."""
    import os

    def pick() -> tuple[str, str | None]:
        run = find_unfinished(ws, name, fp) if resume else None
        checkpoint = None
        if run is not None:
            steps = [p for p in (run / "checkpoints").glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
            checkpoint = str(max(steps, key=lambda p: int(p.name.split("-")[-1]))) if steps else None
        return str(run or new_run_dir(ws, name)), checkpoint

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from accelerate import PartialState
        from accelerate.utils import broadcast_object_list

        state = PartialState(cpu=device == "cpu")  # several CPU processes (torchrun) talk over gloo
        chosen = [pick() if state.is_main_process else None]
        broadcast_object_list(chosen, from_process=0)
        run, checkpoint = chosen[0]
    else:
        run, checkpoint = pick()
    return Path(run), checkpoint


def find_unfinished(ws: Workspace, name: str, fp: str) -> Path | None:
    """The newest unfinished run of this kind with the same fingerprint, if any."""
    if not ws.runs.exists():
        return None
    for run in sorted(ws.runs.glob(f"{name}-2*"), reverse=True):
        info = run / "run.json"
        if run.is_dir() and info.exists() and not (run / "meta.json").exists():
            try:
                if json.loads(info.read_text()).get("fingerprint") == fp:
                    return run
            except json.JSONDecodeError:
                continue
    return None


def write_latest(ws: Workspace, name: str, role: str, pointer: dict[str, Any]) -> None:
    """Point latest-<name>.json and latest-<role>.json at a finished run (atomic writes)."""
    write_json_atomic(ws.runs / f"latest-{name}.json", pointer)
    write_json_atomic(ws.runs / f"latest-{role}.json", pointer)


def latest(ws: Workspace, name: str) -> dict[str, Any] | None:
    """The pointer of the latest finished run of ``name`` (gm-sft, im-dpo, gm-dpo-r2, or a role: gm, im)."""
    path = ws.runs / f"latest-{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def resolve_run(ws: Workspace, spec: str | None, wanted: str) -> Path:
    """A finished run folder from a path, a run name under runs/, or (spec None) the latest ``wanted`` run."""
    if spec is None:
        pointer = latest(ws, wanted)
        if pointer is None:
            stage = wanted.split("-", 1)[1]
            raise WorkspaceError(
                f"no finished {wanted} run in {ws.runs}; run `llumi train {stage.split('-')[0]} --role "
                f"{wanted.split('-')[0]}` first, or pass --start-from RUN_FOLDER")
        run = ws.runs / pointer["run"]
    else:
        run = Path(spec).expanduser()
        if not run.exists() and (ws.runs / spec).exists():
            run = ws.runs / spec
    if not run.is_dir():
        raise WorkspaceError(f"run {spec or run} not found (looked for a folder, and under {ws.runs})")
    if not (run / "meta.json").exists() or not (run / "merged").is_dir():
        raise WorkspaceError(f"run {run} is unfinished or has no merged model; finish it (re-run its command) "
                             "or start from another run")
    return run.resolve()
