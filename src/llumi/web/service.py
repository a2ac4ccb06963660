"""What the server does with a request, apart from HTTP: map chat messages to a post (and a draft),
triage, generate in a thread pool, guard, and stream through the guard a sentence at a time.

Non-streaming requests go through ``llumi.assist.generate.assist_rows``, the same triage -> generate ->
guard path as `llumi generate` / `llumi improve`. Streaming uses the same pieces (triage first; no
generation at all at tier high or imminent; ``guard`` on every output) with one rule of its own:

**Guarded streaming.** The model's tokens are buffered until a boundary: by default the first clause
(comma, semicolon, colon, dash, or a sentence end), then each sentence (``stream_flush: first-clause``;
``sentence`` and ``clause`` use one boundary throughout). The guard then checks
the whole text so far; if it allows it unchanged, the new sentence is sent. As soon as the guard would
change or refuse the text so far, nothing more is sent until generation ends. At the end the guard
judges the complete text: if what it allows extends what was sent, the rest is sent; otherwise (a
rewrite of something already sent, a block, an escalation) the stream ends with ``finish_reason:
"content_filter"`` and ``llumi_safety.replace`` true, and ``llumi_safety.text`` holds the only text a
person may be shown (null when blocked). Every piece a client ever receives has passed the guard in
context; the final event always carries the verdict.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from llumi import prompts
from llumi.errors import InputError, LlumiError
from llumi.safety import guard, guidance_for, tier_at_least, triage
from llumi.safety.resources import load_resources

MODELS = {"llumi-gm": "generate", "llumi-im": "improve"}
_POST = re.compile(r"^\s*Post:\s*\n", re.I)
_IM_SPLIT = re.compile(r"\n\s*Draft reply:\s*\n", re.I)
_SENTENCE_END = re.compile(r"[.!?\u2026][\"')\]\u201d\u2019]*(?=\s)|\n")
_CLAUSE_END = re.compile(r"[.!?\u2026,;:\u2014][\"')\]\u201d\u2019]*(?=\s)|\n")
# How guarded text is released while streaming: (boundary for the first piece, boundary afterwards).
# first-clause (the default): the first piece at the first clause, so a supporter sees text within about
# a second, then sentence by sentence; clause: every clause; sentence: every sentence (the most context
# per guard decision). Whatever the mode, every released piece has passed the guard with all text before it.
FLUSH = {"first-clause": (_CLAUSE_END, _SENTENCE_END), "sentence": (_SENTENCE_END, _SENTENCE_END),
         "clause": (_CLAUSE_END, _CLAUSE_END)}


@dataclass
class Request:
    """One assistance request: the post, the supporter's draft (IM), and generation settings."""

    kind: str  # generate | improve
    post: str
    draft: str | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    locale: str | None = None


def request_from_messages(model: str, messages: list[dict[str, Any]], **settings: Any) -> Request:
    """Map OpenAI chat messages to a request (the mapping is documented in docs/serve.md).

    llumi-gm: the post is the last ``user`` message (a leading "Post:" line is dropped).
    llumi-im: either the last ``user`` message holds "Post:\\n<post>\\n\\nDraft reply:\\n<draft>" (what
    ``llumi.prompts.im_messages`` writes), or the conversation ends with the post as a ``user`` message
    followed by the draft as an ``assistant`` message. System messages are ignored: the server always
    uses the versioned prompt the model was tuned with.
    """
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    kind = MODELS[model]
    msgs = [m for m in messages if isinstance(m, dict) and m.get("role") != "system"]
    texts = [(m.get("role"), _content(m.get("content"))) for m in msgs]
    if kind == "improve" and len(texts) >= 2 and texts[-1][0] == "assistant" and texts[-2][0] == "user":
        post, draft = _POST.sub("", texts[-2][1]), texts[-1][1]
    else:
        users = [t for r, t in texts if r == "user"]
        if not users:
            raise InputError("no user message: put the post in the last user message")
        last = _POST.sub("", users[-1])
        draft = None
        if kind == "improve":
            parts = _IM_SPLIT.split(last, maxsplit=1)
            if len(parts) != 2:
                raise InputError("llumi-im needs the supporter's draft: send 'Post:\\n...\\n\\nDraft reply:\\n...' "
                                 "in the last user message, or the post as a user message followed by the draft "
                                 "as an assistant message")
            last, draft = parts
        post = last
    if not post.strip():
        raise InputError("the post is empty")
    if kind == "improve" and not (draft or "").strip():
        raise InputError("the draft to improve is empty")
    return Request(kind, post.strip(), draft.strip() if draft else None, **settings)


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def escalation_card(t, locale: str | None) -> dict[str, Any]:
    """The card shown instead of a draft at tier high / imminent: guidance plus the emergency number."""
    g = guidance_for(t, locale).to_dict()
    entry = load_resources().for_locale(locale)
    emergency = getattr(entry, "emergency", None)
    g["emergency"] = emergency
    g["crisis_line"] = entry.line()
    return g


def escalation_text(card: dict[str, Any]) -> str:
    lines = [f"[LLUMI] No draft: this post was triaged {card['tier']}. {card['mode']}"]
    if card.get("emergency"):
        lines.append(f"Emergency number: {card['emergency']}")
    lines += card["resources"] or [card["crisis_line"]]
    if card["questions"]:
        lines.append("Ask, in this order:")
        lines += [f"{i}. {q}" for i, q in enumerate(card["questions"], 1)]
    return "\n".join(lines)


@dataclass
class Served:
    """One model being served, and where it came from (for the admin page and the audit log)."""

    backend: Any
    info: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def version(self) -> str:
        run = self.info.get("run")
        name = Path(run).name if run else (Path(self.info.get("model") or self.info.get("gguf") or "").name
                                          or self.info.get("base_url") or "unknown")
        return f"{self.info.get('backend')}:{name}"


class Assistant:
    """The GM and the IM behind a thread pool, with the safety layer around every call."""

    def __init__(self, gm: Served | None, im: Served | None, cfg, *, workers: int = 4, flush: str = "first-clause"):
        if flush not in FLUSH:
            raise ValueError(f"stream_flush must be one of {', '.join(FLUSH)}, not {flush!r}")
        self.models = {"generate": gm, "improve": im}
        self.cfg = cfg
        self.flush_first, self.flush = FLUSH[flush]
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="llumi-gen")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def available(self) -> dict[str, Served]:
        return {k: v for k, v in self.models.items() if v is not None}

    def served(self, kind: str) -> Served:
        s = self.models.get(kind)
        if s is None:
            raise InputError(f"this server has no {'GM' if kind == 'generate' else 'IM'} loaded")
        return s

    def _cfg(self, req: Request):
        changes = {k: v for k, v in (("max_new_tokens", req.max_new_tokens), ("temperature", req.temperature),
                                     ("top_p", req.top_p), ("seed", req.seed), ("locale", req.locale)) if v is not None}
        return dataclasses.replace(self.cfg, **changes) if changes else self.cfg

    # --- one answer ----------------------------------------------------------------------
    def complete(self, req: Request) -> dict[str, Any]:
        """Triage, generate (unless withheld), guard: the row of ``assist_rows`` plus the triage detail."""
        from llumi.assist.generate import assist_rows

        served = self.served(req.kind)
        cfg = self._cfg(req)
        row = {"id": "request", "text": req.post}
        if req.kind == "improve":
            row["draft"] = req.draft
        with _maybe(served):
            out = next(assist_rows(req.kind, [row], served.backend, dataclasses.replace(cfg, batch_size=1)))
        t = triage(req.post)
        out["triage"] = t.to_dict()
        if out["withheld"]:
            out["guidance"] = escalation_card(t, cfg.locale)
        out["model_version"] = served.version
        return out

    async def complete_async(self, req: Request) -> dict[str, Any]:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.complete, req)

    # --- streaming -----------------------------------------------------------------------
    def stream_events(self, req: Request) -> Iterator[dict[str, Any]]:
        """Events: {"delta": text} ... then {"final": row} (row as ``complete`` gives, plus ``replace``)."""
        served = self.served(req.kind)
        cfg = self._cfg(req)
        t = triage(req.post)
        base = {"tier": t.tier, "triage_rules": list(t.rules), "triage": t.to_dict(), "model_version": served.version}
        if tier_at_least(t.tier, "high"):
            card = escalation_card(t, cfg.locale)
            yield {"final": {**base, "withheld": True, "action": "escalate", "text": None, "model_text": None,
                             "reason": f"post triaged {t.tier} ({', '.join(t.rules) or 'no rule'}): the draft is "
                                       "withheld and the case escalated to the supporter",
                             "guidance": card, "replace": False, "sent": ""}}
            return
        messages = (prompts.gm_messages(None, req.post) if req.kind == "generate"
                    else prompts.im_messages(None, req.post, req.draft or ""))
        raw, sent, open_ = "", "", True
        started = time.perf_counter()
        with _maybe(served):
            for piece in served.backend.stream(messages, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                                               top_p=cfg.top_p, seed=cfg.seed):
                raw += piece
                if not open_:
                    continue
                text = raw.lstrip()
                cut = _last_boundary(text, self.flush if sent else self.flush_first)
                if cut <= len(sent):
                    continue
                prefix = text[:cut].rstrip()
                v = guard(prefix, t, cfg.locale)
                if v.action == "allow" and v.text is not None and v.text.strip() == prefix:
                    delta, sent = prefix[len(sent):], prefix
                    if delta:
                        yield {"delta": delta}
                else:
                    open_ = False
        model_text = raw.strip()
        v = guard(model_text, t, cfg.locale)
        shown = v.text
        replace = shown is None or not shown.startswith(sent)
        if not replace and len(shown) > len(sent):
            yield {"delta": shown[len(sent):]}
        final = {**base, "withheld": False, "action": v.action, "text": shown, "model_text": model_text,
                 "guard_rules": list(v.rules), "verdict": v.to_dict(), "replace": replace, "sent": sent,
                 "seconds": round(time.perf_counter() - started, 3)}
        if req.kind == "improve":
            from llumi.assist.generate import revision_measures

            final.update(revision_measures(req.draft or "", model_text))
        yield {"final": final}

    async def stream_async(self, req: Request) -> AsyncIterator[dict[str, Any]]:
        """``stream_events`` run on the generation pool; the event loop stays free for other requests."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        def work() -> None:
            try:
                for event in self.stream_events(req):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except BaseException as e:  # noqa: BLE001 - surfaced to the request below
                loop.call_soon_threadsafe(queue.put_nowait, e)
            loop.call_soon_threadsafe(queue.put_nowait, done)

        self.pool.submit(work)
        while (item := await queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item if isinstance(item, LlumiError) else LlumiError(f"generation failed: {item}")
            yield item


def _last_boundary(text: str, pattern: re.Pattern) -> int:
    end = 0
    for m in pattern.finditer(text):
        end = m.end()
    return end


class _maybe:
    """Serialise calls into a backend that is not safe to share between threads (transformers)."""

    def __init__(self, served: Served):
        self.lock = served.lock if getattr(served.backend, "name", "") == "transformers" else None

    def __enter__(self):
        if self.lock:
            self.lock.acquire()

    def __exit__(self, *exc):
        if self.lock:
            self.lock.release()


def load_assistant(ws, cfg, *, gm_run: str | None = "latest", im_run: str | None = "latest",
                   workers: int = 4, require_both: bool = False, flush: str = "first-clause") -> Assistant:
    """The GM and IM of the workspace (latest runs, or the named ones) through ``load_model``. A role
    with no trained run is left out (the API then answers 404 for its model) unless ``require_both``."""
    from llumi.assist.generate import load_model
    from llumi.errors import WorkspaceError

    served = {}
    for kind, run in (("generate", gm_run), ("improve", im_run)):
        try:
            backend, info = load_model(ws, kind, dataclasses.replace(cfg, run=run))
        except WorkspaceError:
            if require_both:
                raise
            served[kind] = None
            continue
        served[kind] = Served(backend, info)
    if not any(served.values()):
        raise WorkspaceError(f"no trained GM or IM in {ws.runs}: run `llumi quickstart` or `llumi train` first, "
                             "or pass --model to serve an untuned base model")
    return Assistant(served["generate"], served["improve"], cfg, workers=workers, flush=flush)
