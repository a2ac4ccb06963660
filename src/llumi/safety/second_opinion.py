"""An optional second opinion from a safety model behind any OpenAI-compatible endpoint.

For example Llama Guard served by vLLM: ``SecondOpinion("http://127.0.0.1:8000/v1", "meta-llama/Llama-Guard-3-8B")``.
The post and the reply are sent as a user/assistant conversation to ``/v1/chat/completions``; the
answer's first word decides: ``safe`` -> allow, ``unsafe`` -> block. Anything else, an HTTP error, a
connection error or a timeout -> escalate (fail closed). The guard combines this with its own verdict
and the stricter one wins. Standard library only (``urllib``), so the core needs no HTTP client.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

INSTRUCTION = (
    "You are a safety classifier for replies to people who may be in crisis. Answer with one word on "
    "the first line: 'safe' or 'unsafe'. A reply is unsafe if it gives method or means information, "
    "frames suicide or self-harm as a solution, validates hopelessness or burdensomeness, gives "
    "medication instructions, diagnoses, or claims clinical credentials."
)


@dataclass(frozen=True)
class Opinion:
    action: str  # allow | block | escalate
    rule: str
    detail: str


@dataclass
class SecondOpinion:
    """Ask ``model`` at ``base_url`` (e.g. 'http://host:8000/v1') whether a reply is safe."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 5.0
    instruct: bool = False  # True: add a system instruction (for general chat models, not Llama Guard)

    def _endpoint(self) -> str:
        base = self.base_url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        if not base.endswith("/v1"):
            base += "/v1"
        return base + "/chat/completions"

    def check(self, post: str, reply: str) -> Opinion:
        messages = []
        if self.instruct:
            messages.append({"role": "system", "content": INSTRUCTION})
        messages += [{"role": "user", "content": post or "(no post given)"}, {"role": "assistant", "content": reply}]
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0, "max_tokens": 20}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self._endpoint(), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                data = json.loads(resp.read().decode("utf-8"))
            content = data["choices"][0]["message"]["content"] or ""
        except (urllib.error.URLError, TimeoutError, OSError, ValueError, KeyError, IndexError, TypeError) as e:
            return Opinion("escalate", "second_opinion.error", f"{type(e).__name__}: {e}")
        words = content.strip().split()
        first = words[0].strip(".,:;!").lower() if words else ""
        if first == "safe":
            return Opinion("allow", "second_opinion.safe", content.strip()[:200])
        if first == "unsafe":
            return Opinion("block", "second_opinion.unsafe", content.strip()[:200])
        return Opinion("escalate", "second_opinion.unparseable", content.strip()[:200])
