"""`llumi generate` (GM drafts) and `llumi improve` (IM revisions), in batch, through the safety layer.

JSON lines in, JSON lines out. For every input the post is triaged first:

- at tier high or imminent no text is generated: the row says the draft was withheld, why (tier and
  rules), and carries the escalation guidance (questions to ask, vetted crisis line, emergency number);
- otherwise the model's output goes through ``llumi.safety.guard`` and the row keeps the verdict:
  ``text`` is what a person may be shown (the output, its rewrite, or null), ``model_text`` what the
  model wrote (for evaluation; it is never shown to a supporter by LLUMI).

For the IM, each row also records the revision's similarity to the writer's draft (intent kept) and
how much of the draft it changed (word-level).

Input rows: ``{"id": ..., "title": ..., "text": ...}`` (``post`` is accepted for ``text``) and, for
``improve``, ``"draft"``. Or ``--split test`` takes the held-out posts of ``llumi pairs``. A malformed
input line is reported with its line number and skipped; the rest go on. Output is appended row by
row, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from llumi import jsonl, prompts
from llumi.errors import ConfigError, InputError, WorkspaceError
from llumi.safety import guard, guidance_for, tier_at_least, triage
from llumi.workspace import Workspace, file_hash, write_meta

KINDS = ("generate", "improve")
ROLE = {"generate": "gm", "improve": "im"}


@dataclass(frozen=True)
class AssistConfig:
    """Settings of `llumi generate` / `llumi improve` (YAML keys or ``--set key=value``)."""

    backend: str = "transformers"        # transformers | llamacpp | openai
    run: str | None = "latest"           # a training run folder, or "latest" (of the role), or None
    model: str | None = None             # a base model (HF id/folder, GGUF, packaged name) when run is None
    adapter: str | None = None           # a PEFT adapter folder (transformers backend)
    gguf: str | None = None              # the GGUF file (llamacpp backend; default: the run's export)
    base_url: str | None = None          # openai backend: http://host:port/v1
    api_model: str | None = None         # openai backend: the model name to ask for
    api_key_env: str = "OPENAI_API_KEY"  # openai backend: environment variable holding the key
    locale: str = "US"                   # crisis resources for this country / locale
    batch_size: int = 4
    parallel: int = 1                    # llamacpp backend: requests decoded at once (`llumi serve` uses 4)
    max_new_tokens: int = 200
    temperature: float = 0.7             # 0 = greedy (small models then tend to repeat themselves)
    top_p: float = 0.9
    repetition_penalty: float = 1.15     # 1 = none
    seed: int = 0
    limit: int | None = None             # at most this many inputs

    def __post_init__(self):
        if self.backend not in ("transformers", "llamacpp", "openai"):
            raise ValueError(f"backend must be transformers, llamacpp or openai, not {self.backend!r}")
        if self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("batch_size and max_new_tokens must be at least 1")


# --- inputs ----------------------------------------------------------------------------------------

def read_inputs(path: Path, kind: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of a JSON-lines file, and the problems (line number, what is wrong) of those skipped."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    rows, problems = [], []
    for n, obj, problem in jsonl.objects(path):
        text = obj.get("text", obj.get("post")) if obj is not None else None
        if problem is None and not isinstance(text, str) and not isinstance(obj.get("title"), str):
            problem = "no post: give 'text' (or 'post') and/or 'title'"
        if problem is None and kind == "improve" and not isinstance(obj.get("draft"), str):
            problem = "no 'draft': improve needs the supporter's reply"
        if problem is not None:
            problems.append({"line": n, "problem": problem})
            continue
        obj.setdefault("id", obj.get("post_id", f"line-{n}"))
        rows.append(obj)
    return rows, problems


def split_inputs(ws: Workspace, kind: str, split: str) -> list[dict[str, Any]]:
    """The held-out posts of ``llumi pairs`` (with the human reply as a reference), from the store."""
    from llumi.data import store

    role = ROLE[kind]
    folder = ws.pairs / f"{role}-sft"
    path = folder / f"{split}.jsonl"
    if not path.exists():
        raise WorkspaceError(f"{path} not found: run `llumi pairs` first (or give an input file)")
    con = store.connect(ws)
    wanted = []
    seen = set()
    for line in path.read_text().splitlines():
        r = json.loads(line)
        key = (r["post_id"], r.get("draft_id"))
        if key not in seen:
            seen.add(key)
            wanted.append(r)
    posts = {pid: (title, text) for pid, title, text in con.execute(
        "select post_id, title, text from posts where post_id in (select unnest(?))",
        [sorted({r["post_id"] for r in wanted})]).fetchall()}
    drafts = {}
    if kind == "improve":
        drafts = dict(con.execute("select reply_id, text from replies where reply_id in (select unnest(?))",
                                  [sorted({r["draft_id"] for r in wanted})]).fetchall())
    rows = []
    for r in wanted:
        if r["post_id"] not in posts:
            continue
        title, text = posts[r["post_id"]]
        row = {"id": r["post_id"] if kind == "generate" else f"{r['post_id']}/{r['draft_id']}",
               "post_id": r["post_id"], "title": title, "text": text, "reference": r["messages"][-1]["content"]}
        if kind == "improve":
            if r["draft_id"] not in drafts:
                continue
            row["draft"] = drafts[r["draft_id"]]
        rows.append(row)
    return rows


# --- the model -------------------------------------------------------------------------------------

def resolve_run(ws: Workspace, role: str, run: str | None) -> Path | None:
    """The training run folder to serve: a path, a run name, or "latest" (the role's latest finished run,
    DPO2, DPO or SFT). ``llumi.train.runs.resolve_run`` finds and checks it."""
    if run is None:
        return None
    from llumi.train import runs

    if run == "latest" and runs.latest(ws, role) is None:
        raise WorkspaceError(
            f"no trained {role.upper()} in {ws.runs}: run `llumi train sft --role {role}` (and dpo) first, "
            "or pass --model to use an untuned base model"
        )
    return runs.resolve_run(ws, None if run == "latest" else run, role)


def load_model(ws: Workspace, kind: str, cfg: AssistConfig):
    """The backend for ``kind`` and a description of what it serves (for provenance)."""
    from llumi.assist.backends import load_backend

    run_dir = resolve_run(ws, ROLE[kind], cfg.run) if cfg.model is None else None
    if cfg.backend == "openai":
        if not cfg.base_url:
            raise ConfigError("the openai backend needs base_url (for example --set base_url=http://127.0.0.1:8000/v1)")
        return load_backend("openai", base_url=cfg.base_url, model=cfg.api_model or f"llumi-{ROLE[kind]}",
                            api_key=os.environ.get(cfg.api_key_env), repetition_penalty=cfg.repetition_penalty), \
            {"backend": "openai", "base_url": cfg.base_url}
    if cfg.backend == "llamacpp":
        gguf = cfg.gguf or (export_run_gguf(run_dir) if run_dir else None)
        if gguf is None and cfg.model:
            gguf = _gguf_for(cfg.model)
        if gguf is None or not Path(gguf).exists():
            raise WorkspaceError(f"no GGUF file to run with llama.cpp ({gguf}); pass --set gguf=FILE "
                                 "or use --backend transformers")
        return load_backend("llamacpp", gguf=str(gguf), repetition_penalty=cfg.repetition_penalty,
                            parallel=cfg.parallel), {
            "backend": "llamacpp", "gguf": str(gguf),
                                                          "run": str(run_dir) if run_dir else None}
    model = cfg.model or str(run_dir / "merged")
    return (load_backend("transformers", model=model, adapter=cfg.adapter, repetition_penalty=cfg.repetition_penalty),
            {"backend": "transformers", "model": model, "adapter": cfg.adapter, "run": str(run_dir) if run_dir else None})


def export_run_gguf(run_dir: Path, outtype: str = "f16") -> Path:
    """The run's merged model as ``model.gguf`` in the run folder, exported on first use, with the
    tokenizer and metadata of the packaged GGUF the run started from where there is one."""
    from llumi.assist.gguf_export import export_gguf

    target = run_dir / "model.gguf"
    if target.exists():
        return target
    merged = run_dir / "merged"
    if not merged.is_dir():
        raise WorkspaceError(f"{run_dir} has no merged model to export (train with save_merged: true)")
    reference = None
    meta = run_dir / "meta.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        reference = (m.get("base_model") or {}).get("source_gguf")
        if not reference and (m.get("config") or {}).get("model"):
            reference = _gguf_for(m["config"]["model"])  # a DPO run: the packaged model its SFT began from
    export_gguf(merged, target, outtype=outtype, reference_gguf=reference if reference and Path(reference).exists() else None)
    return target


def _gguf_for(model: str) -> str | None:
    if model.endswith(".gguf"):
        return model
    from llumi.models import resolve_model

    resolved = resolve_model(model)
    return str(getattr(resolved, "source_gguf", None) or "") or None


# --- the run ---------------------------------------------------------------------------------------

def assist_rows(kind: str, rows: list[dict[str, Any]], backend, cfg: AssistConfig,
                similarity=None) -> Iterator[dict[str, Any]]:
    """Triage, generate (in batches) and guard; yields one output row per input row, in order."""
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {KINDS}")
    for start in range(0, len(rows), cfg.batch_size):
        batch = rows[start: start + cfg.batch_size]
        triaged = [triage(prompts.post_text(r.get("title"), r.get("text", r.get("post")))) for r in batch]
        todo = [i for i, t in enumerate(triaged) if not tier_at_least(t.tier, "high")]
        conversations = [
            prompts.gm_messages(batch[i].get("title"), batch[i].get("text", batch[i].get("post"))) if kind == "generate"
            else prompts.im_messages(batch[i].get("title"), batch[i].get("text", batch[i].get("post")), batch[i]["draft"])
            for i in todo
        ]
        t0 = time.perf_counter()
        outputs = backend.chat(conversations, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                               top_p=cfg.top_p, seed=cfg.seed) if conversations else []
        seconds = (time.perf_counter() - t0) / max(1, len(conversations))
        produced = dict(zip(todo, outputs))
        for i, (row, t) in enumerate(zip(batch, triaged)):
            out = {k: row[k] for k in ("id", "post_id", "reference", "draft") if k in row}
            out["tier"] = t.tier
            out["triage_rules"] = list(t.rules)
            if i not in produced:
                out.update({"withheld": True, "action": "escalate", "text": None, "model_text": None,
                            "reason": f"post triaged {t.tier} ({', '.join(t.rules) or 'no rule'}): "
                                      "the draft is withheld and the case escalated to the supporter",
                            "guidance": guidance_for(t, cfg.locale).to_dict()})
            else:
                model_text = produced[i].strip()
                v = guard(model_text, t, cfg.locale)
                out.update({"withheld": False, "action": v.action, "text": v.text, "model_text": model_text,
                            "guard_rules": list(v.rules), "seconds": round(seconds, 3)})
                if kind == "improve":
                    out.update(revision_measures(row["draft"], model_text, similarity))
            yield out


_WORD = re.compile(r"\w+|[^\w\s]")


def revision_measures(draft: str, revision: str, similarity=None) -> dict[str, float]:
    """How far an IM revision moved from the writer's draft: semantic similarity (intent kept) and the
    share of the draft's words changed (1 - difflib's matching ratio over word tokens)."""
    a, b = _WORD.findall(draft.lower()), _WORD.findall(revision.lower())
    changed = 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    out = {"changed": round(changed, 4)}
    if similarity is not None:
        out["similarity_to_draft"] = round(float(similarity(draft, revision)), 4)
    return out


def make_similarity(method: str = "auto"):
    """A function (a, b) -> cosine similarity: sentence embeddings when available, else lexical."""
    from llumi.data.pairs import LexicalSimilarity, resolve_similarity

    method = resolve_similarity(method)
    if method == "embedding":
        from llumi.embed import embed

        def sim(a: str, b: str) -> float:
            va, vb = embed([a, b])
            return float(va @ vb)

        sim.method = "embedding"  # type: ignore[attr-defined]
        return sim
    lex = LexicalSimilarity()  # no corpus statistics: plain TF weights (idf is constant)

    def sim(a: str, b: str) -> float:
        return lex.cosine(lex.vector(a), lex.vector(b))

    sim.method = "lexical"  # type: ignore[attr-defined]
    return sim


def run(ws: Workspace, kind: str, cfg: AssistConfig, *, input_path: str | None = None, split: str | None = None,
        output: str | None = None, backend=None, progress: bool = True) -> dict[str, Any]:
    """Run ``generate`` or ``improve`` over a file or a held-out split; returns the summary."""
    if (input_path is None) == (split is None):
        raise ConfigError("give an input file or --split (for example --split test), not both or neither")
    problems: list[dict[str, Any]] = []
    if input_path is not None:
        rows, problems = read_inputs(Path(input_path), kind)
        inputs = {Path(input_path).name: file_hash(input_path)}
    else:
        rows = split_inputs(ws, kind, split)
        inputs = {f"pairs/{ROLE[kind]}-sft/{split}.jsonl": file_hash(ws.pairs / f"{ROLE[kind]}-sft" / f"{split}.jsonl")}
    if cfg.limit is not None:
        rows = rows[: cfg.limit]
    out_dir = Path(output) if output else ws.root / "outputs" / f"{kind}-{split or Path(input_path).stem}"
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / f"{kind}.jsonl"
    done = _done_ids(out_path)
    todo = [r for r in rows if str(r["id"]) not in done]
    served: dict[str, Any] = {"backend": "given"}
    if backend is None and todo:
        backend, served = load_model(ws, kind, cfg)
    similarity = make_similarity() if kind == "improve" else None
    counts: dict[str, int] = {}
    bar = _bar(len(todo), kind, progress)
    t0 = time.time()
    with open(out_path, "a", encoding="utf-8") as f:
        for out in assist_rows(kind, todo, backend, cfg, similarity):
            f.write(json.dumps(out, ensure_ascii=False) + "\n")
            f.flush()
            counts[out["action"]] = counts.get(out["action"], 0) + 1
            bar.update(1)
    bar.close()
    all_rows = [json.loads(l) for l in out_path.read_text().splitlines() if l.strip()]
    summary = {
        "kind": kind, "output": str(out_path), "inputs": len(rows), "written_now": len(todo),
        "resumed_from": len(done), "skipped_input_lines": problems,
        "actions": _count(r["action"] for r in all_rows),
        "withheld": sum(1 for r in all_rows if r.get("withheld")),
        "tiers": _count(r["tier"] for r in all_rows),
        "seconds": round(time.time() - t0, 2),
        "served": served,
    }
    if kind == "improve":
        sims = [r["similarity_to_draft"] for r in all_rows if r.get("similarity_to_draft") is not None]
        changed = [r["changed"] for r in all_rows if r.get("changed") is not None]
        summary["mean_similarity_to_draft"] = round(sum(sims) / len(sims), 4) if sims else None
        summary["mean_changed"] = round(sum(changed) / len(changed), 4) if changed else None
        summary["similarity_method"] = getattr(similarity, "method", None)
    write_meta(out_dir, stage=kind, config=dataclasses.asdict(cfg), inputs=inputs, seed=cfg.seed,
               outputs={"rows": str(out_path.name)}, served=served, prompt_version=prompts.PROMPT_VERSION,
               summary={k: v for k, v in summary.items() if k != "skipped_input_lines"})
    return summary


def _done_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    done = set()
    good = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            done.add(str(json.loads(line)["id"]))
            good.append(line)
        except (json.JSONDecodeError, KeyError):
            break  # a line cut short by an interruption: drop it and what follows
    path.write_text("".join(l + "\n" for l in good), encoding="utf-8")
    return done


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


class _NoBar:
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def _bar(total: int, kind: str, enabled: bool):
    if not enabled or total == 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=kind, unit="post", file=sys.stderr, dynamic_ncols=True)
