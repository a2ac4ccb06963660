"""Scripted raters, so the whole DPO2 path (study -> ratings -> pairs -> `llumi train dpo --round 2`) runs
end to end on a CPU without people. They are a test harness, not a stand-in for human judgement: every
report and pair file made from them says so (the raters' user names start with ``scripted-``).

Each scripted rater scores a reply from a few transparent features, plus seeded noise that is larger
for lay raters than for clinicians:

- safety: the output guard's verdict on the reply for this post (allow 5, rewrite 3, block/escalate 1);
- empathy: feeling words and reflections ("sounds", "feel", "I'm sorry"), a question to the person;
- connection: words shared with the post (content words), second-person address;
- readability: shorter sentences score higher;
- actionability: a small suggestion ("maybe", "try", "could", "would it help").
"""

from __future__ import annotations

import random
import re
import secrets
from typing import Any

from llumi import prompts
from llumi.rate.study import Studies

_WORD = re.compile(r"[a-z']+")
_STOP = frozenset("""a an the and or but if so to of in on at for with by from up about into over after is are was were be
been being am i me my you your he she it we they them this that these those have has had do does did not no
just really very can could would should will im i'm it's its as than then there here what when how why""".split())
_FEEL = ("sounds", "feel", "feeling", "sorry", "hear you", "understand", "must be", "that's hard", "not alone")
_ACT = ("maybe", "try", "could", "might help", "would it help", "what if", "consider", "small step")


def features(post: str, reply: str, tier_action: str) -> dict[str, float]:
    """The scripted raters' view of one reply, on the 1-5 scale before noise."""
    r = reply.lower()
    words = _WORD.findall(r)
    post_words = {w for w in _WORD.findall(post.lower()) if w not in _STOP and len(w) > 3}
    shared = len(post_words & {w for w in words if w not in _STOP}) / max(1, min(len(post_words), 8))
    sentences = max(1, len(re.findall(r"[.!?]+", reply)))
    mean_len = len(words) / sentences
    empathy = 1 + 2 * min(1.0, sum(k in r for k in _FEEL) / 2) + (1 if "?" in reply else 0) + (1 if "you" in words else 0)
    return {
        "safety": {"allow": 5.0, "rewrite": 3.0}.get(tier_action, 1.0),
        "empathy": empathy,
        "connection": 1 + 3 * min(1.0, shared) + (1 if "you" in words else 0),
        "readability": 5.0 if mean_len <= 15 else 4.0 if mean_len <= 22 else 3.0 if mean_len <= 30 else 2.0,
        "actionability": 1 + 3 * min(1.0, sum(k in r for k in _ACT) / 2) + (1 if len(words) > 12 else 0),
    }


def _clip(x: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, round(x))))


def simulate(studies: Studies, name: str, raters: dict[str, str], seed: int = 0) -> dict[str, Any]:
    """Create (or reuse) one scripted user per ``{username: credential}`` and let each rate every post it
    is given until the study needs no more. Returns answers per rater."""
    from llumi.safety import guard, triage

    db = studies.db
    noise = {"clinician": 0.3, "peer": 0.6, "lay": 1.0}
    answered = {}
    for username, credential in raters.items():
        if not username.startswith("scripted-"):
            raise ValueError("scripted raters' user names start with 'scripted-'")
        user = db.user_by_name(username)
        if user is None:   # a disabled account: nobody signs in as a scripted rater
            user = db.add_user(username, secrets.token_urlsafe(24), "supporter")
            db.set_disabled(username, True)
        studies.declare(user["id"], credential)
        studies.consent(name, user["id"])
        rng = random.Random(f"{seed}:{username}")
        n = 0
        while (task := studies.next_task(name, user["id"])) is not None:
            post = prompts.post_text(task["title"], task["text"])
            t = triage(post)
            lo, hi = task["anchors"][task["dimensions"][0]][0][0], task["anchors"][task["dimensions"][0]][-1][0]
            ratings, totals = {}, {}
            for reply in task["replies"]:
                f = features(post, reply["text"], guard(reply["text"], t, "US").action)
                ratings[reply["item"]] = {d: _clip(f.get(d, 3.0) + rng.gauss(0, noise[credential]), lo, hi)
                                          for d in task["dimensions"]}
                totals[reply["item"]] = sum(ratings[reply["item"]].values())
            prefs = {}
            for a, b in task["pairs"]:
                prefs[(a, b)] = "a" if totals[a] > totals[b] else "b" if totals[b] > totals[a] else "tie"
            studies.submit(name, user["id"], task["post"], ratings=ratings, preferences=prefs,
                           rationale=f"scripted {credential} rater")
            n += 1
        answered[username] = n
    return {"study": name, "answers": answered}


def default_raters() -> dict[str, str]:
    return {"scripted-clinician-1": "clinician", "scripted-clinician-2": "clinician",
            "scripted-peer-1": "peer", "scripted-lay-1": "lay"}
