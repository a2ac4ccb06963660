"""Generation backends behind one small interface, chosen by a config string.

- ``transformers``: any Hugging Face model folder (or a name ``resolve_model`` understands), with an
  optional PEFT adapter; batched generation with left padding.
- ``llamacpp``: a GGUF file run in-process by llama.cpp through the ``xllamacpp`` wheel (its server's
  chat-completions handler, with the model's own chat template): the fast path on a CPU.
- ``openai``: any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, a llama.cpp server).

All take conversations as lists of ``{"role", "content"}`` messages and return the assistant's text.
``temperature=0`` means greedy decoding everywhere.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Protocol

from llumi.errors import ConfigError, InputError, LlumiError

Messages = list[dict[str, str]]
BACKENDS = ("transformers", "llamacpp", "openai")


class Backend(Protocol):
    """What the assist layer needs from a model: chat in batches, or stream one reply."""

    name: str

    def chat(self, conversations: list[Messages], *, max_new_tokens: int = 256, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0) -> list[str]: ...

    def stream(self, messages: Messages, *, max_new_tokens: int = 256, temperature: float = 0.0,
               top_p: float = 1.0, seed: int = 0) -> Iterator[str]: ...

    def describe(self) -> dict[str, Any]: ...


def cpu_threads() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def load_backend(kind: str, **settings: Any) -> Backend:
    """The backend named ``kind`` ("transformers" | "llamacpp" | "openai"), built from ``settings``."""
    if kind == "transformers":
        return TransformersBackend(**settings)
    elif kind == "llamacpp":
        return LlamaCppBackend(**settings)
    elif kind == "openai":
        return OpenAIBackend(**settings)
    raise ConfigError(f"backend {kind!r} is not one of: {', '.join(BACKENDS)}")


# --- transformers -----------------------------------------------------------------------------

class TransformersBackend:
    """A Hugging Face causal LM (plus optional PEFT adapter) generating in left-padded batches."""

    name = "transformers"

    def __init__(self, model: str | os.PathLike = "smollm2-135m", adapter: str | os.PathLike | None = None,
                 *, batch_size: int = 8, threads: int | None = None, dtype: str = "float32",
                 repetition_penalty: float = 1.0):
        import torch

        self.repetition_penalty = repetition_penalty
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from llumi.models import resolve_model

        self.resolved = resolve_model(model)
        self.adapter = Path(adapter) if adapter else None
        self.batch_size = batch_size
        self.threads = threads or cpu_threads()
        torch.set_num_threads(self.threads)
        path = self.resolved.path
        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left", local_files_only=True)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if not self.tokenizer.chat_template:
            raise InputError(f"model {model!r} has no chat template; give one in its tokenizer_config.json")
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), local_files_only=True)
        if self.adapter is not None:
            if not (self.adapter / "adapter_config.json").exists():
                raise InputError(f"{self.adapter} is not a PEFT adapter folder (no adapter_config.json)")
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, self.adapter)
        self.model.eval()

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.resolved.describe(),
                "adapter": str(self.adapter) if self.adapter else None, "threads": self.threads}

    def _encode(self, conversations: list[Messages]):
        texts = [self.tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
                 for m in conversations]
        # The template already holds any special tokens (BOS included); do not add them twice.
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)

    def _gen_kwargs(self, max_new_tokens: int, temperature: float, top_p: float) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": self.tokenizer.pad_token_id}
        if temperature > 0:
            kw.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if self.repetition_penalty != 1.0:
            kw["repetition_penalty"] = self.repetition_penalty
        return kw

    def generate_ids(self, conversations: list[Messages], *, max_new_tokens: int = 256, temperature: float = 0.0,
                     top_p: float = 1.0, seed: int = 0) -> list[list[int]]:
        """The new token ids for each conversation (up to and including an end token)."""
        import torch

        out: list[list[int]] = []
        stop = self.model.generation_config.eos_token_id
        stop = set(stop if isinstance(stop, list) else [stop] if stop is not None else [])
        for start in range(0, len(conversations), self.batch_size):
            enc = self._encode(conversations[start:start + self.batch_size])
            torch.manual_seed(seed)
            with torch.inference_mode():
                gen = self.model.generate(**enc, **self._gen_kwargs(max_new_tokens, temperature, top_p))
            for row in gen[:, enc["input_ids"].shape[1]:].tolist():
                ids = []
                for t in row:
                    ids.append(t)
                    if t in stop:
                        break
                out.append(ids)
        return out

    def chat(self, conversations: list[Messages], *, max_new_tokens: int = 256, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0) -> list[str]:
        ids = self.generate_ids(conversations, max_new_tokens=max_new_tokens, temperature=temperature,
                                top_p=top_p, seed=seed)
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids]

    def stream(self, messages: Messages, *, max_new_tokens: int = 256, temperature: float = 0.0,
               top_p: float = 1.0, seed: int = 0) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        enc = self._encode([messages])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                torch.manual_seed(seed)
                with torch.inference_mode():
                    self.model.generate(**enc, streamer=streamer,
                                        **self._gen_kwargs(max_new_tokens, temperature, top_p))
            except BaseException as e:  # surfaced in the caller's thread below
                errors.append(e)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if errors:
            raise LlumiError(f"generation failed: {errors[0]}") from errors[0]


# --- llama.cpp --------------------------------------------------------------------------------

class LlamaCppBackend:
    """A GGUF model run in-process by llama.cpp (``xllamacpp``), through its chat-completions handler.

    ``parallel`` slots decode concurrently (continuous batching; worth it for several users at once
    on a bigger CPU; on 2 cores one slot was fastest); ``n_ctx`` is per slot. llama.cpp's prompt
    cache is on, so the system prompt that every GM or IM request shares is processed once per slot.
    ``threads`` defaults to all cores this process may use."""

    name = "llamacpp"

    def __init__(self, gguf: str | os.PathLike, *, threads: int | None = None, n_ctx: int = 2048,
                 parallel: int = 1, chat_template: str | None = None, verbose: bool = False,
                 repetition_penalty: float = 1.0):
        self.repetition_penalty = repetition_penalty
        try:
            import xllamacpp
        except ImportError:
            raise LlumiError("the llamacpp backend needs the xllamacpp package: pip install xllamacpp") from None
        self.gguf = Path(gguf)
        if not self.gguf.is_file():
            raise InputError(f"GGUF file {self.gguf} not found (export one with the GGUF export first)")
        self.threads = threads or cpu_threads()
        self.parallel = max(1, parallel)
        params = xllamacpp.CommonParams()
        params.model.path = str(self.gguf)
        params.n_parallel = self.parallel
        params.n_ctx = n_ctx * self.parallel
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.warmup = False
        params.verbosity = 3 if verbose else -1
        if chat_template:
            params.chat_template = chat_template
        try:
            self.server = xllamacpp.Server(params)
        except Exception as e:
            raise InputError(f"llama.cpp could not load {self.gguf}: {e}") from None
        # One token through the model: proves it runs, and waits until the server's loop is up (an
        # xllamacpp Server dropped before its loop has started hangs in its destructor).
        self._check(self.server.handle_completions({"prompt": "Hello", "max_tokens": 1, "cache_prompt": False}))

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "gguf": str(self.gguf), "threads": self.threads, "parallel": self.parallel}

    def _request(self, messages: Messages, max_new_tokens: int, temperature: float, top_p: float,
                 seed: int, **extra: Any) -> dict[str, Any]:
        req: dict[str, Any] = {"messages": messages, "max_tokens": max_new_tokens, "seed": seed,
                               "temperature": float(temperature), "cache_prompt": True, **extra}
        if temperature > 0:
            req["top_p"] = top_p
        else:
            req["top_k"] = 1
        if self.repetition_penalty != 1.0:
            req["repeat_penalty"] = self.repetition_penalty
        return req

    @staticmethod
    def _check(result: Any) -> dict[str, Any]:
        if not isinstance(result, dict) or "error" in result or "code" in result:
            err = result.get("error", result) if isinstance(result, dict) else result
            raise LlumiError(f"llama.cpp generation failed: {err}")
        return result

    def chat_completion(self, messages: Messages, *, max_new_tokens: int = 256, temperature: float = 0.0,
                        top_p: float = 1.0, seed: int = 0, **extra: Any) -> dict[str, Any]:
        """One raw OpenAI-style chat completion (``extra`` goes into the request, e.g. ``logprobs``)."""
        req = self._request(messages, max_new_tokens, temperature, top_p, seed, **extra)
        return self._check(self.server.handle_chat_completions(req))

    def _native(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to llama.cpp's own (non-OpenAI) endpoints, which xllamacpp serves on 127.0.0.1."""
        req = urllib.request.Request(self.server.listening_address + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=600) as resp:
            return self._check(json.loads(resp.read()))

    def greedy_token_ids(self, messages: Messages, max_new_tokens: int = 16) -> tuple[list[int], list[int]]:
        """(prompt ids, new ids) exactly as llama.cpp tokenises the chat and greedily decodes it; for
        checking an export against transformers (the OpenAI-style logprobs merge partial UTF-8 tokens)."""
        prompt = self._native("/apply-template", {"messages": messages})["prompt"]
        ids = self._native("/tokenize", {"content": prompt, "add_special": True, "parse_special": True})["tokens"]
        res = self._native("/completion", {"prompt": ids, "n_predict": max_new_tokens, "temperature": 0.0,
                                           "top_k": 1, "return_tokens": True, "cache_prompt": False})
        return ids, list(res["tokens"])

    def chat(self, conversations: list[Messages], *, max_new_tokens: int = 256, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0) -> list[str]:
        def one(messages: Messages) -> str:
            res = self.chat_completion(messages, max_new_tokens=max_new_tokens, temperature=temperature,
                                       top_p=top_p, seed=seed)
            return (res["choices"][0]["message"].get("content") or "").strip()

        if len(conversations) <= 1 or self.parallel == 1:
            return [one(m) for m in conversations]
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:  # the server batches the slots
            return list(pool.map(one, conversations))

    def stream(self, messages: Messages, *, max_new_tokens: int = 256, temperature: float = 0.0,
               top_p: float = 1.0, seed: int = 0) -> Iterator[str]:
        req = self._request(messages, max_new_tokens, temperature, top_p, seed, stream=True)
        chunks: queue.Queue = queue.Queue()
        done = object()

        def run() -> None:
            try:
                self.server.handle_chat_completions(req, chunks.put)
            except BaseException as e:
                chunks.put(e)
            chunks.put(done)

        threading.Thread(target=run, daemon=True).start()
        while (item := chunks.get()) is not done:
            if isinstance(item, BaseException):
                raise LlumiError(f"llama.cpp generation failed: {item}") from item
            self._check(item)
            for choice in item.get("choices", []):
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece


# --- any OpenAI-compatible server -------------------------------------------------------------

class OpenAIBackend:
    """An OpenAI-compatible chat-completions server, over the standard library's HTTP client.

    ``base_url`` is the API root as the OpenAI client takes it (``http://host:8000/v1``); a bare
    ``http://host:8000`` gets ``/v1`` added."""

    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 120.0,
                 concurrency: int = 4, repetition_penalty: float = 1.0):
        self.repetition_penalty = repetition_penalty  # sent as vLLM's / llama.cpp's extension field
        parsed = urllib.parse.urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"base_url {base_url!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1")
        root = base_url.rstrip("/")
        if parsed.path in ("", "/"):
            root += "/v1"
        self.url = root + "/chat/completions"
        self.model = model
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.concurrency = max(1, concurrency)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "url": self.url, "model": self.model}

    def _post(self, body: dict[str, Any]):
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")[:500]
            raise LlumiError(f"{self.url} answered HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise LlumiError(
                f"cannot reach the OpenAI-compatible server at {self.url}: {reason}; is it running, "
                "and is base_url right?"
            ) from None

    def _body(self, messages: Messages, max_new_tokens: int, temperature: float, top_p: float, seed: int,
              stream: bool = False) -> dict[str, Any]:
        body = {"model": self.model, "messages": messages, "max_tokens": max_new_tokens,
                "temperature": float(temperature), "seed": seed, "stream": stream}
        if temperature > 0:
            body["top_p"] = top_p
        if self.repetition_penalty != 1.0:
            body["repetition_penalty"] = self.repetition_penalty
        return body

    def chat(self, conversations: list[Messages], *, max_new_tokens: int = 256, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0) -> list[str]:
        def one(messages: Messages) -> str:
            with self._post(self._body(messages, max_new_tokens, temperature, top_p, seed)) as resp:
                raw = resp.read()
            try:
                data = json.loads(raw)
                return (data["choices"][0]["message"].get("content") or "").strip()
            except (ValueError, KeyError, IndexError, TypeError):
                raise LlumiError(f"{self.url} did not answer with a chat completion: {raw[:300]!r}") from None

        if len(conversations) <= 1:
            return [one(m) for m in conversations]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, conversations))

    def stream(self, messages: Messages, *, max_new_tokens: int = 256, temperature: float = 0.0,
               top_p: float = 1.0, seed: int = 0) -> Iterator[str]:
        with self._post(self._body(messages, max_new_tokens, temperature, top_p, seed, stream=True)) as resp:
            for raw in resp:  # server-sent events: "data: {...}" lines, ending with "data: [DONE]"
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                try:
                    event = json.loads(payload)
                except ValueError:
                    raise LlumiError(f"{self.url} sent a malformed stream event: {payload[:200]!r}") from None
                if "error" in event:
                    raise LlumiError(f"{self.url} reported an error: {event['error']}")
                for choice in event.get("choices", []):
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
