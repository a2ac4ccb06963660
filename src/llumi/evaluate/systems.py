"""Replies of a named system on the evaluation posts, generated with ``llumi.assist.generate.run`` (the
same code path as ``llumi generate``, so triage and the guard apply and ids line up with the split)."""

from __future__ import annotations

from pathlib import Path

from llumi.errors import ConfigError
from llumi.workspace import Workspace


def generate_system(ws: Workspace, sys_name: str, how: str, spec: str, *, name: str, kind: str = "generate",
                    split: str | None = "test", posts: str | None = None, limit: int | None = None,
                    backend: str = "transformers", seed: int = 0, progress: bool = False, **settings) -> Path:
    """Generate ``sys_name``'s replies into ``eval/<name>/outputs/<sys_name>/`` and return the JSONL path.

    ``how`` is "run" (``spec`` a training run folder or name), "model" (an untuned base model) or
    "endpoint" (``spec`` = ``URL@MODEL`` of an OpenAI-compatible server)."""
    from llumi.assist.generate import AssistConfig, run

    if how == "run":
        cfg = AssistConfig(backend=backend, run=spec, seed=seed, limit=limit, **settings)
    elif how == "model":
        cfg = AssistConfig(backend=backend, run=None, model=spec, seed=seed, limit=limit, **settings)
    elif how == "endpoint":
        if "@" not in spec:
            raise ConfigError(f"--endpoint {sys_name}={spec}: give URL@MODEL, e.g. http://127.0.0.1:8000/v1@gpt-4o")
        url, model = spec.rsplit("@", 1)
        cfg = AssistConfig(backend="openai", run=None, base_url=url, api_model=model, seed=seed, limit=limit, **settings)
    else:
        raise ConfigError(f"unknown way to generate {sys_name!r}: {how!r} (run, model or endpoint)")
    out_dir = ws.root / "eval" / name / "outputs" / sys_name
    summary = run(ws, kind, cfg, input_path=posts, split=None if posts else split, output=str(out_dir), progress=progress)
    return Path(summary["output"])
