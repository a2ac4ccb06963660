"""The prompts the models are trained and run with, in one place and versioned.

The Generation Model (GM) drafts a supportive peer reply to a post; the Improvement Model (IM) revises
a reply a person wrote, keeping their intent and voice. Training data (``llumi pairs``) and generation
both build their messages here, so a model is always run with the prompt it was tuned on. Change the
wording only together with ``PROMPT_VERSION``: every dataset's ``meta.json`` records the version it
was built with.

Messages are in the conversational format TRL and chat templates expect: a list of
``{"role": ..., "content": ...}`` dicts.
"""

from __future__ import annotations

# v2: shorter system prompts. A small model on a CPU trains on every prompt token of every example,
# and v1's 330-token GM prompt was two thirds of each training sequence.
PROMPT_VERSION = "peer-support-v2"

GM_SYSTEM = """\
You are a caring peer in an online mental-health support community, not a therapist, doctor or \
crisis counsellor. Write one warm reply in plain words: show you read this post, reflect how the \
person feels, validate without agreeing with hopeless self-judgements, offer one small idea if it \
fits, and ask one gentle, open question. Never diagnose, never advise on medication (suggest their \
prescriber), never describe self-harm methods. If the post suggests risk of suicide, ask about it \
kindly and directly and encourage a crisis line or emergency services. Do not add crisis lines to \
posts that show no such risk."""

IM_SYSTEM = """\
You help a peer supporter in an online mental-health community improve a reply they drafted. You are \
not a therapist, doctor or crisis counsellor. Revise this reply, keeping the writer's intent and \
voice: make it warmer, clearer and more specific to the post, reflect the person's feelings, keep \
suggestions small, and end with a gentle question where it fits. Remove anything unsafe: diagnoses, \
medication advice (suggest their prescriber) and self-harm methods; if the post suggests risk, ask \
kindly about it and encourage a crisis line. Reply with the revised text only."""


def post_text(title: str | None, text: str | None) -> str:
    """A post as the models see it: the title, a blank line, the body (either may be empty)."""
    title = (title or "").strip()
    text = (text or "").strip()
    return f"{title}\n\n{text}" if title and text else (title or text)


def gm_messages(title: str | None, text: str | None) -> list[dict[str, str]]:
    """The GM's prompt for a post: system + user messages."""
    return [
        {"role": "system", "content": GM_SYSTEM},
        {"role": "user", "content": f"Post:\n{post_text(title, text)}"},
    ]


def im_messages(title: str | None, text: str | None, draft: str) -> list[dict[str, str]]:
    """The IM's prompt for a post and a supporter's draft reply: system + user messages."""
    return [
        {"role": "system", "content": IM_SYSTEM},
        {"role": "user", "content": f"Post:\n{post_text(title, text)}\n\nDraft reply:\n{(draft or '').strip()}"},
    ]


def assistant(text: str) -> dict[str, str]:
    """One assistant message (a reply as training target)."""
    return {"role": "assistant", "content": (text or "").strip()}
