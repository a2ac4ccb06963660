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
    meta = out_dir / "meta.json"
    if meta.exists():  # re-running the same report resumes its generation, but only for the same system
        import dataclasses
        import json

        before = json.loads(meta.read_text()).get("config", {})
        now = dataclasses.asdict(cfg)
        keys = ("backend", "run", "model", "base_url", "api_model", "gguf")
        if any(before.get(k) != now.get(k) for k in keys):
            raise ConfigError(f"{out_dir} holds replies generated with other settings "
                              f"({', '.join(f'{k}={before.get(k)}' for k in keys if before.get(k))}); "
                              "choose another --name or remove that folder")
    summary = run(ws, kind, cfg, input_path=posts, split=None if posts else split, output=str(out_dir), progress=progress)
    return Path(summary["output"])
