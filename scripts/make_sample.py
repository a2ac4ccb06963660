#!/usr/bin/env python3
"""Generate LLUMI's bundled sample community, r/PeerSupportSample (entirely invented).

Writes, in the real Pushshift / Arctic Shift per-subreddit form (NDJSON, UTF-8, zstd):

    PeerSupportSample_submissions.zst   level 19, small window (like community re-filtered files)
    PeerSupportSample_comments.zst      level 19, 2 GiB window (window_log=31, like the official dumps)

Deterministic: a fixed seed, the standard library and `zstandard` only, so re-running it gives
byte-identical files (for a given zstandard/libzstd version).

    python scripts/make_sample.py                 # writes src/llumi/data/sample/
    python scripts/make_sample.py --out DIR       # writes DIR/
    python scripts/make_sample.py --stats         # also prints the counts the README quotes

The text comes from hand-written fragments in scripts/_sample_text.py; no sentence is taken from
a real post or person. The files deliberately carry the mess of a real dump (see README.md).
"""

from __future__ import annotations

import argparse
import calendar
import io
import json
import math
import random
import re
import string
import sys
import time
from collections import Counter
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _sample_text as T  # noqa: E402

SEED = 20260530
SUB = "PeerSupportSample"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "llumi" / "data" / "sample"

N_POSTS = 450          # ordinary posts (before crisis posts, sticky, link posts, lost posts)
REALTIME_MONTH = (2015, 6)   # a month captured in near real time: every score 1, lag of minutes

DAY = 86400
HOUR = 3600


def ts(y, m, d=1):
    return calendar.timegm((y, m, d, 0, 0, 0))


T_2013 = ts(2013, 1)
T_2018 = ts(2018, 1)
T_2023_04 = ts(2023, 4)
T_2023_11 = ts(2023, 11)


def b36(n: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = chars[r] + out
    return out or "0"


# --------------------------------------------------------------------------- usernames
ADJ = ["quiet", "tired", "little", "sleepy", "brave", "soft", "grey", "blue", "lost", "slow", "gentle",
       "small", "wandering", "rainy", "stubborn", "hopeful", "anxious", "midnight", "paper", "northern",
       "cosy", "salty", "late", "lucky", "odd", "patient", "kind", "wobbly", "fuzzy", "silver"]
NOUN = ["harbor", "moth", "teacup", "otter", "lantern", "pebble", "fern", "kettle", "sparrow", "toast",
        "cloud", "owl", "river", "biscuit", "badger", "comet", "willow", "penguin", "radio", "mitten",
        "pigeon", "notebook", "candle", "hedgehog", "orbit", "puddle", "cactus", "lighthouse", "walrus", "scarf"]
STYLES = ["{a}_{n}_{d}", "{A}{N}{d}", "{a}{n}", "{A}_{N}", "throwaway_{a}{d}", "{n}_and_{n2}", "{A}{N}",
          "the_{a}_{n}", "{n}{d}{d2}", "{a}-{n}", "xX{N}Xx", "{A}{n}{d}"]


def make_usernames(rng: random.Random, n: int) -> list[str]:
    out, seen = [], set()
    while len(out) < n:
        a, n1, n2 = rng.choice(ADJ), rng.choice(NOUN), rng.choice(NOUN)
        name = rng.choice(STYLES).format(a=a, n=n1, n2=n2, A=a.capitalize(), N=n1.capitalize(),
                                         d=rng.randint(1, 99), d2=rng.randint(0, 9))
        if name not in seen and "bot" not in name.lower() and len(name) <= 20:
            seen.add(name)
            out.append(name)
    return out


# --------------------------------------------------------------------------- text
def norm(text: str) -> str:
    """Texts equal under this are duplicates (lower case, letters and digits only)."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


class _Slots(dict):
    """Placeholders starting with "_" are markers: they print nothing but record what a post said."""

    def __missing__(self, key):
        if key.startswith("_"):
            return ""
        raise KeyError(key)


def fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


class Writer:
    """Composes post and reply text from fragments; guarantees no accidental exact duplicates."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()
        self.ultra = list(T.ULTRA_SHORT)
        rng.shuffle(self.ultra)

    def unique(self, gen) -> str:
        for _ in range(400):
            text = gen()
            key = norm(text)
            if key not in self.used:
                self.used.add(key)
                return text
        raise RuntimeError("fragment bank too small: could not make a unique text")

    @staticmethod
    def fmt(text: str, s: dict) -> str:
        return text.format_map(_Slots(s))

    def choose(self, bank: list[str], s: dict) -> str:
        """A fragment whose placeholders the post itself used, so a reply only refers to what the post said."""
        ok = [t for t in bank if fields(t) <= s["_used"]]
        return self.rng.choice(ok)

    @staticmethod
    def join(parts, rng, para_p=0.35) -> str:
        out = ""
        for p in parts:
            if not p:
                continue
            if not out:
                out = p
            else:
                out += ("\n\n" if rng.random() < para_p else " ") + p
        return out

    # posts ----------------------------------------------------------------
    def post(self, topic: str, s: dict) -> tuple[str, str, bool]:
        """Fills s["_used"] (the placeholders the post used) and s["feel_q"] (a line replies may quote)."""
        rng, tp = self.rng, T.TOPICS[topic]
        banned = set()
        if topic == "grief":     # a post is about a person or about a pet, never both
            banned = {"rel", "_person"} if rng.random() < 0.2 else {"pet"}

        def allowed(bank):
            return [t for t in bank if not (fields(t) & banned)]
        title_t = rng.choice(allowed(tp["titles"]))
        picked = {}

        def gen():
            sit = rng.choice(allowed(tp["situations"]))
            dets = rng.sample(allowed(tp["details"]), k=rng.choice([1, 1, 2, 2, 3]))
            feel = rng.choice(tp["feelings"])
            ask = rng.choice(T.POST_ASKS)
            picked.update(parts=[title_t, sit, feel], feel=feel)
            if rng.random() < 0.12:                       # a short post
                return self.fmt(sit, s) + " " + self.fmt(feel, s)
            opener = rng.choice(T.POST_OPENERS)
            picked["parts"] += dets + [opener]
            body = self.join([self.fmt(opener, s), self.fmt(sit, s)] + [self.fmt(d, s) for d in dets], rng, 0.25)
            body += "\n\n" + self.fmt(feel, s) + " " + ask
            body += rng.choice(T.POST_TAILS).format(tldr=rng.choice(tp["tldr"]))
            return body
        body = self.unique(gen)
        used = set().union(*(fields(t) for t in picked["parts"]))
        if "pet" in used:
            used.add("_pet")
        s["feel_q"] = self.fmt(picked["feel"], s).rstrip(".")
        used.add("feel_q")
        s["_used"] = used
        return self.fmt(title_t, s), body, "EDIT" in body or "Edit:" in body

    # replies --------------------------------------------------------------
    def suggestion_ids(self, topic: str, s: dict) -> list[int]:
        sug = T.TOPICS[topic]["suggestions"]
        return [i for i, (a, b) in enumerate(sug) if (fields(a) | fields(b)) <= s["_used"]]

    def good(self, topic: str, s: dict, sugg: int | None = None) -> str:
        rng, tp = self.rng, T.TOPICS[topic]

        def gen():
            i = sugg if sugg is not None else rng.choice(self.suggestion_ids(topic, s))
            refl = (self.choose(T.ECHO_REFLECTIONS, s) if "feel_q" in s["_used"] and rng.random() < 0.25 else self.choose(tp["reflections"], s))
            parts = [self.fmt(rng.choice(T.REPLY_OPENERS), s), self.fmt(refl, s)]
            if rng.random() < 0.5:
                parts.append(rng.choice(T.VALIDATIONS))
            q = self.fmt(self.choose(tp["questions"], s), s)
            sug = self.fmt(tp["suggestions"][i][1], s)
            parts += [q, sug] if rng.random() < 0.4 else [sug, q]
            parts.append(rng.choice(T.CLOSINGS))
            return self.join(parts, rng)
        return self.unique(gen)

    def medium(self, topic: str, s: dict) -> str:
        rng, tp = self.rng, T.TOPICS[topic]

        def gen():
            i = rng.choice(self.suggestion_ids(topic, s))
            parts = [rng.choice(T.SHORT_VALIDATIONS + T.VALIDATIONS[:4]),
                     self.fmt(tp["suggestions"][i][1], s)]
            if rng.random() < 0.3:
                parts.append(rng.choice(T.CLOSINGS))
            return self.join(parts, rng, 0.15)
        return self.unique(gen)

    def draft(self, topic: str, s: dict, sugg: int) -> str:
        """The weaker version of a suggestion: same idea, short and flat."""
        rng, tp = self.rng, T.TOPICS[topic]

        def gen():
            short = self.fmt(tp["suggestions"][sugg][0], s)
            if rng.random() < 0.6:     # the gist of the fuller reply's advice, without its warmth or its reasons
                first = re.split(r"(?<=[.?!])\s", self.fmt(tp["suggestions"][sugg][1], s))[0]
                short = first
            pre = rng.choice(["", ""] + T.SHORT_VALIDATIONS)
            post = rng.choice(["", "", "", " Good luck.", " Hope it helps.", " Worked for me.",
                               " That's what I did.", " Just a thought."])
            return (pre + " " + short).strip() + post
        return self.unique(gen)

    def poor(self, topic: str, s: dict) -> str:
        rng, tp = self.rng, T.TOPICS[topic]
        if self.ultra and rng.random() < 0.06:
            text = self.ultra.pop()
            self.used.add(norm(text))
            return text

        def gen():
            core = self.fmt(self.choose(tp["poor"], s), s)
            op = rng.choice(T.POOR_OPENERS)
            if op and op.rstrip()[-1] not in ".?!" and not core.startswith("I "):
                core = core[0].lower() + core[1:]
            return (op + core).strip() + rng.choice(T.POOR_TAILS)
        return self.unique(gen)

    def op_reply(self, s: dict) -> str:
        rng = self.rng
        return self.unique(lambda: self.join(
            [rng.choice(T.OP_THANKS), self.fmt(rng.choice(T.OP_MIDDLES), s), rng.choice(T.OP_CLOSES)], rng, 0.0))

    def pick_unique(self, bank: list[str], extra: list[str],
                    suffixes=("", "", " 💛", " Really.", " Seriously.", " Take care.", " :)")) -> str:
        rng = self.rng
        return self.unique(lambda: (rng.choice(bank) + " " + rng.choice(extra)).strip() + rng.choice(suffixes))

    def crisis_reply(self, level: str) -> str:
        rng, C = self.rng, T.CRISIS_REPLIES

        def gen():
            parts = [rng.choice(C["open"]), rng.choice(C["ask"])]
            parts.append(rng.choice(C["plan"]) if level == "plan" else rng.choice(C["resource"]))
            if level == "plan" and rng.random() < 0.5:
                parts.append(rng.choice(C["resource"]))
            parts.append(rng.choice(C["close"]))
            return self.join(parts, rng, 0.5)
        return self.unique(gen)


# --------------------------------------------------------------------------- model
class Comment:
    __slots__ = ("key", "post", "parent", "author", "body", "score", "t", "kind", "edited",
                 "distinguished", "stickied", "controversiality", "mess", "id", "is_op")

    def __init__(self, post, parent, author, body, score, t, kind):
        self.post, self.parent, self.author, self.body = post, parent, author, body
        self.score, self.t, self.kind = score, t, kind
        self.edited = False
        self.distinguished = None
        self.stickied = False
        self.controversiality = 0
        self.mess: set[str] = set()
        self.id = None
        self.is_op = False


class Post:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.comments: list[Comment] = []


def lognorm(rng, mu, sigma):
    return math.exp(rng.gauss(mu, sigma))


def post_times(rng, n):
    years = list(range(2012, 2024))
    weights = [1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
    out = []
    for _ in range(n):
        y = rng.choices(years, weights)[0]
        lo, hi = ts(y, 1), ts(y + 1, 1) if y < 2023 else ts(2023, 12, 20)
        out.append(rng.randrange(lo, hi))
    # make sure the near-real-time month has some posts
    lo, hi = ts(*REALTIME_MONTH), ts(REALTIME_MONTH[0], REALTIME_MONTH[1] + 1)
    for i in range(8):
        out[i] = rng.randrange(lo, hi)
    # and the Arctic Shift era (2023-11 on) too
    for i in range(8, 20):
        out[i] = rng.randrange(T_2023_11, ts(2023, 12, 20))
    return sorted(out)


def realtime(t: int) -> bool:
    return ts(*REALTIME_MONTH) <= t < ts(REALTIME_MONTH[0], REALTIME_MONTH[1] + 1)


def build(seed: int = SEED):
    rng = random.Random(seed)
    W = Writer(rng)
    users = make_usernames(rng, 1500)
    regulars = users[:40]
    mod = "ModTeam_Wren"

    def replier():
        return rng.choice(regulars) if "feel_q" in s["_used"] and rng.random() < 0.25 else rng.choice(users[40:])

    topics = list(T.TOPICS)
    posts: list[Post] = []
    times = post_times(rng, N_POSTS)

    def slots():
        s = {k: rng.choice(v) for k, v in T.SLOTS.items()}
        s["fam_cap"] = s["fam"][0].upper() + s["fam"][1:]
        return s

    for i, t in enumerate(times):
        topic = topics[i % len(topics)] if i < len(topics) * 2 else rng.choice(topics)
        s = slots()
        title, body, edited = W.post(topic, s)
        posts.append(Post(kind="normal", topic=topic, s=s, title=title, selftext=body, t=t,
                          author=rng.choice(users[40:]), edited=edited, crisis=None))

    # crisis posts, spread over the years
    for j, cp in enumerate(T.CRISIS_POSTS):
        s = slots()
        t = rng.randrange(ts(2014 + 2 * j, 1), ts(2014 + 2 * j, 12))
        posts.append(Post(kind="crisis", topic="depression", s=s, title=cp["title"],
                          selftext=cp["selftext"].format_map(s), t=t, author=rng.choice(users[40:]),
                          edited=False, crisis=cp["level"], crisis_idx=j))

    # link posts (not self posts)
    link_titles = [
        ("Found this article on sleep and anxiety really helpful", "sleep-and-anxiety", "insomnia"),
        ("A short piece about grief that made me feel less alone", "grief-is-not-linear", "grief"),
        ("Free printable mood tracker (made it myself)", "mood-tracker", "depression"),
        ("Thought this explained panic attacks better than anything I've read", "what-panic-is", "panic"),
        ("Article about loneliness in your thirties", "lonely-thirties", "loneliness"),
    ]
    for title, slug, topic in link_titles:
        s = slots()
        s["_used"] = set()     # a link post says nothing the replies could refer to
        posts.append(Post(kind="link", topic=topic, s=s, title=title, selftext="",
                          t=rng.randrange(ts(2016, 1), ts(2023, 6)), author=rng.choice(users[40:]),
                          edited=False, crisis=None, url=f"https://www.example.com/articles/{slug}"))

    # the moderator sticky
    sticky = Post(kind="sticky", topic=None, s=slots(), t=ts(2017, 3, 2) + 53000, author=mod, edited=ts(2021, 5, 9),
                  crisis=None,
                  title="Welcome to r/PeerSupportSample: please read before posting (crisis resources inside)",
                  selftext=("This is a peer support community. We are not therapists or doctors, and nothing "
                            "here replaces professional help.\n\n**Rules**\n\n1. Be kind. No dismissive or "
                            "mocking replies.\n2. No medical advice, no diagnosing other users.\n3. No "
                            "self-promotion or DMs offering paid services.\n4. If someone is in danger, "
                            "report the post so a moderator sees it quickly.\n\n**If you are in crisis**: in "
                            "the US call or text 988. Elsewhere, https://findahelpline.com lists free "
                            "helplines by country. If you are in immediate danger, call your local emergency "
                            "number.\n\nThank you for being here. - the mod team"))
    posts.append(sticky)
    posts.sort(key=lambda p: p.t)

    # --- replies ---------------------------------------------------------
    def add(post, parent, author, body, score, t, kind):
        c = Comment(post, parent, author, body, score, t, kind)
        post.comments.append(c)
        return c

    Q = {"good": 5.0, "revision": 5.5, "medium": 2.2, "draft": 1.1, "poor": 0.7}

    for p in posts:
        p.pop = lognorm(rng, 0.9, 0.85)
        if rng.random() < 0.015:
            p.pop *= 8           # a thread that took off
        rt = realtime(p.t)
        if p.kind == "sticky":
            for k, body in enumerate(T.STICKY_COMMENTS):
                c = add(p, None, replier(), body, rng.randint(2, 40), p.t + (k + 1) * rng.randint(2000, 90000), "sticky-reply")
                if k == 1:
                    add(p, c, mod, "Good idea, we'll add a few. Thank you!", rng.randint(5, 20), c.t + 4000, "mod-reply").distinguished = "moderator"
            continue
        if p.kind == "crisis":
            auto = add(p, None, "AutoModerator", T.AUTOMOD_BODIES[1 if p.crisis != "passive" else 0], 1, p.t + 2, "automod")
            auto.distinguished, auto.stickied = "moderator", True
            tcur = p.t
            for k in range(rng.randint(4, 6)):
                tcur += int(lognorm(rng, 7.3, 0.8))
                c = add(p, None, replier(), W.crisis_reply(p.crisis), max(1, int(p.pop * 3 * lognorm(rng, 0, 0.5))), tcur, "crisis")
                if k == 0:
                    op = add(p, c, p.author, T.CRISIS_OP_REPLIES[p.crisis_idx], rng.randint(3, 12), c.t + 1800, "op")
                    op.is_op = True
            if p.crisis == "plan":
                m = add(p, None, mod, T.MOD_STICKY_COMMENT[2], 1, p.t + 1500, "mod")
                m.distinguished, m.stickied = "moderator", True
            continue

        # how many top-level replies
        r = rng.random()
        n_top = 0 if r < 0.05 else 1 if r < 0.12 else rng.randint(2, 5) if r < 0.55 else rng.randint(4, 12)
        if p.kind == "link":
            n_top = rng.randint(1, 4)
        kinds = [rng.choices(["good", "medium", "poor"], [0.36, 0.28, 0.36])[0] for _ in range(n_top)]
        # a draft and its better revision (same suggestion, different quality) in ~45% of threads
        sugg_pair = None
        if n_top >= 2 and p.kind == "normal" and rng.random() < 0.5:
            a, b = sorted(rng.sample(range(n_top), 2))
            if rng.random() < 0.8:
                kinds[a], kinds[b] = "draft", "revision"     # the better one came later
            else:
                kinds[a], kinds[b] = "revision", "draft"
            sugg_pair = rng.choice(W.suggestion_ids(p.topic, p.s))
        delays = sorted(int(lognorm(rng, 8.6, 1.3)) + 60 for _ in range(n_top))
        for k, (kind, d) in enumerate(zip(kinds, delays)):
            topic, s = p.topic, p.s
            if kind == "good":
                body = W.good(topic, s)
            elif kind == "revision":
                body = W.good(topic, s, sugg_pair)
            elif kind == "draft":
                body = W.draft(topic, s, sugg_pair)
            elif kind == "medium":
                body = W.medium(topic, s)
            else:
                body = W.poor(topic, s)
            vis = (1 + d / (3 * HOUR)) ** -0.5
            raw = p.pop * Q[kind] * vis * lognorm(rng, 0, 0.45)
            score = int(round(raw))
            contro = 0
            if kind == "poor" and rng.random() < 0.3:
                score = -rng.randint(0, 8) if rng.random() < 0.6 else 0
                contro = 1 if rng.random() < 0.5 else 0
            elif score < 1:
                score = 1
            elif score > 300:
                score = 240 + rng.randint(0, 60)
            if rt:
                score = 1
            c = add(p, None, replier(), body, score, p.t + d, kind)
            c.controversiality = contro
            if rng.random() < 0.07:
                c.edited = c.t + rng.randint(60, 2 * DAY)

            # nested replies
            roll = rng.random()
            if kind in ("good", "revision", "medium") and roll < (0.45 if kind != "medium" else 0.18):
                op = add(p, c, p.author, W.op_reply(p.s), max(1, int(p.pop * lognorm(rng, -0.3, 0.5))),
                         c.t + int(lognorm(rng, 8.0, 1.0)), "op")
                op.is_op = True
                if rng.random() < 0.45:
                    f = add(p, op, c.author, W.pick_unique(T.REPLIER_FOLLOWUPS, T.FOLLOWUP_EXTRA), max(1, int(p.pop * lognorm(rng, -0.6, 0.5))),
                            op.t + int(lognorm(rng, 7.5, 1.0)), "followup")
                    if rng.random() < 0.4:
                        last = add(p, f, p.author, W.pick_unique(T.OP_LAST, T.OP_LAST_EXTRA), rng.randint(1, 4),
                                   f.t + int(lognorm(rng, 7.5, 1.0)), "op")
                        last.is_op = True
            if kind in ("good", "revision") and rng.random() < 0.15:
                add(p, c, replier(), W.pick_unique(T.THIRD_AGREE, T.AGREE_EXTRA), max(1, int(p.pop * lognorm(rng, 0, 0.6))),
                    c.t + int(lognorm(rng, 8.5, 1.0)), "agree")
            if kind == "poor" and rng.random() < 0.3:
                if rng.random() < 0.5:
                    op = add(p, c, p.author, W.pick_unique(T.OP_PUSHBACK, T.OP_PUSHBACK_EXTRA), rng.randint(1, 6),
                             c.t + int(lognorm(rng, 7.5, 1.0)), "op")
                    op.is_op = True
                else:
                    add(p, c, replier(), W.pick_unique(T.THIRD_PUSHBACK, T.PUSHBACK_EXTRA), max(1, int(p.pop * 2 * lognorm(rng, 0, 0.6))),
                        c.t + int(lognorm(rng, 7.5, 1.0)), "pushback")
        if rt:
            for c in p.comments:
                c.score = 1

    normal = [p for p in posts if p.kind == "normal"]
    all_comments = [c for p in posts for c in p.comments]
    tops = [c for c in all_comments if c.parent is None and c.kind in ("good", "medium", "poor")]

    # --- mess on comments ------------------------------------------------
    def take(pool, n, tag):
        out = []
        for c in rng.sample(pool, len(pool)):
            if len(out) == n:
                break
            if not c.mess and c.kind not in ("automod", "mod", "crisis", "draft", "revision"):
                c.mess.add(tag)
                out.append(c)
        return out

    for c in take(all_comments, 85, "deleted"):
        c.author, c.body = "[deleted]", "[deleted]"
    for c in take(all_comments, 40, "removed"):
        c.author, c.body = "[deleted]", "[removed]"
    for c in take(all_comments, 25, "author_deleted"):
        c.author = "[deleted]"
    for c, body in zip(take(tops, 5, "empty"), ["", " ", "", "\n", " "]):
        c.body = body

    # PII in bodies
    for c in take(tops, 30, "pii"):
        line = rng.choice(T.PII_LINES).format(handle=rng.choice(["sam.r", "jo_w", "listener42", "k.miles", "peer.anna"]),
                                              mention=rng.choice(regulars),
                                              slug=rng.choice(["what-helped", "small-steps", "sleep-notes", "coping-list"]))
        c.body = c.body + ("\n\n" if rng.random() < 0.6 else " ") + line
        W.used.add(norm(c.body))
    # a couple of Reddit-escaped quotes of the post
    for c in take([x for x in tops if x.kind == "good"], 12, "quote"):
        c.body = "&gt; " + c.post.title + "\n\n" + c.body

    # AutoModerator on ordinary posts, moderator stickies, other bots
    for p in rng.sample(normal, 30):
        a = add(p, None, "AutoModerator", T.AUTOMOD_BODIES[rng.choice([0, 0, 2])], 1, p.t + rng.randint(1, 5), "automod")
        a.distinguished, a.stickied = "moderator", rng.random() < 0.8
    for k, p in enumerate(rng.sample(normal, 4)):
        m = add(p, None, mod, T.MOD_STICKY_COMMENT[k % 2], rng.randint(1, 30), p.t + rng.randint(3600, 40000), "mod")
        m.distinguished, m.stickied = "moderator", True
    for p in rng.sample(normal, 21):
        bot = rng.choice(list(T.BOT_COMMENTS))
        when = p.t + rng.randint(30, 4000)
        date = "{:04d}-{:02d}-{:02d} 12:00:00 UTC".format(*time.gmtime(when + 3 * DAY)[:3])
        body = T.BOT_COMMENTS[bot][0].format(topic=p.topic, slug=p.topic, date=date)
        add(p, None, bot, body, rng.choice([1, 1, 0, -1, 2]), when, "bot")

    # double posts: the same text posted twice by the same person seconds apart
    doubles = []
    for c in take([x for x in tops if x.kind in ("good", "medium")], 6, "double"):
        d = add(c.post, None, c.author, c.body, 1, c.t + rng.randint(4, 40), "double")
        d.mess.add("double")
        doubles.append(d)

    # --- lost posts: comments whose submission is absent -----------------
    lost = rng.sample([p for p in normal if len(p.comments) >= 4 and not realtime(p.t)], 3)
    for p in lost:
        p.kind = "lost"

    # --- ids --------------------------------------------------------------
    # file order is by created_utc, ties broken by generation order (deterministic)
    all_comments = [c for p in posts for c in p.comments]
    order = {id(c): i for i, c in enumerate(all_comments)}
    all_comments.sort(key=lambda c: (c.t, order[id(c)]))

    def id_for(t, lo, hi, last):
        frac = (t - ts(2012, 1)) / (ts(2024, 1) - ts(2012, 1))
        n = int(math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo))))
        return max(n, last + rng.randint(1, 40))

    last = 0
    for c in all_comments:
        last = id_for(c.t, 2.5e8, 4.4e10, last)
        c.id = b36(last)
    last = 0
    for p in posts:
        last = id_for(p.t, 3.0e7, 2.4e9, last)
        p.id = b36(last)
        p.slug = "_".join("".join(ch for ch in w.lower() if ch.isalnum()) for w in p.title.split()[:7]).strip("_")[:50]

    return posts, all_comments, doubles, lost, users


# --------------------------------------------------------------------------- serialise
def dump(obj: dict, t: int) -> str:
    if t >= T_2023_04:
        obj = dict(sorted(obj.items()))
    return json.dumps(obj, ensure_ascii=t < T_2018, separators=(",", ":"))


def retrieved(rng, p, t):
    if realtime(t):
        return t + rng.randint(20, 300)
    if t >= T_2023_11:
        return t + 36 * HOUR + rng.randint(-1800, 1800)
    return max(t + 60, p.retrieved + rng.randint(0, 3 * HOUR))


def fullname(rng_names: dict, author: str):
    return rng_names.setdefault(author, "t2_" + b36(random.Random(author).randrange(36 ** 6, 36 ** 8)))


def serialise(posts, comments, seed=SEED):
    rng = random.Random(seed + 1)
    fullnames: dict = {}
    for p in posts:
        p.retrieved = p.t + rng.randint(30 * DAY, 200 * DAY)

    # ----- submissions
    sub_lines: list[str] = []
    removed_cats = Counter()
    normal_idx = [i for i, p in enumerate(posts) if p.kind == "normal" and p.comments]
    rm_deleted = set(rng.sample(normal_idx, 12))
    rm_mod = set(rng.sample([i for i in normal_idx if i not in rm_deleted], 10))
    rm_auto = set(rng.sample([i for i, p in enumerate(posts) if p.kind == "normal" and i not in rm_deleted | rm_mod], 6))
    malformed_sub = rng.choice([i for i in normal_idx if i not in rm_deleted | rm_mod | rm_auto])
    dup_sub = rng.choice([i for i in normal_idx if i not in rm_deleted | rm_mod | rm_auto | {malformed_sub}])
    stats = Counter()
    for i, p in enumerate(posts):
        if p.kind == "lost":
            stats["lost_posts"] += 1
            continue
        n_com = len(p.comments)
        score = 1 if realtime(p.t) else max(0, int(p.pop * 4 * lognorm(rng, 0, 0.6)))
        if p.kind == "sticky":
            score = 142
        author, selftext, cat = p.author, p.selftext, None
        if i in rm_deleted:
            author, selftext, cat = "[deleted]", "[deleted]", "deleted"
        elif i in rm_mod:
            selftext, cat = "[removed]", "moderator"
        elif i in rm_auto:
            selftext, cat = "[removed]", "automod_filtered"
        if cat:
            removed_cats[cat] += 1
        obj = {
            "id": p.id, "subreddit": SUB, "author": author, "title": p.title, "selftext": selftext,
            "is_self": p.kind != "link",
            "url": getattr(p, "url", None) or f"https://www.reddit.com/r/{SUB}/comments/{p.id}/{p.slug}/",
            "score": score,
            "upvote_ratio": round(min(1.0, 0.62 + 0.38 * rng.random() ** 0.5), 2),
            "num_comments": n_com + (rng.randint(-1, 2) if rng.random() < 0.2 and n_com else 0),
            "created_utc": str(p.t) if p.t < T_2013 else p.t,
            "retrieved_on": p.t + 36 * HOUR if p.t >= T_2023_11 else (p.t + rng.randint(20, 300) if realtime(p.t) else p.retrieved),
            "over_18": False,
            "stickied": p.kind == "sticky",
            "removed_by_category": cat,
            "permalink": f"/r/{SUB}/comments/{p.id}/{p.slug}/",
            "link_flair_text": ("Announcement" if p.kind == "sticky" else
                                T.TOPICS[p.topic]["flair"] if p.topic and rng.random() < 0.7 else None),
        }
        if p.t < ts(2016, 1):
            del obj["upvote_ratio"]          # keys come and go between years
        if p.edited and p.kind != "sticky":
            obj["edited"] = p.t + rng.randint(3600, 3 * DAY)
        line = dump(obj, p.t)
        if i == malformed_sub:
            sub_lines.append(line[: len(line) * 3 // 5])     # truncated mid-object
            stats["sub_malformed"] += 1
            p.kind = "malformed"
            continue
        sub_lines.append(line)
        if i == dup_sub:
            sub_lines.append(line)
            stats["sub_duplicate_lines"] += 1
    stats["removed_by_category"] = dict(removed_cats)

    # ----- comments
    com_lines: list[str] = []
    pick = [c for c in comments if not c.mess and c.kind in ("good", "medium", "poor", "op", "followup")
            and not realtime(c.t) and c.t >= T_2013]
    picks = rng.sample(pick, 8)
    wrong_score, wrong_time, no_body, no_score, trunc, badesc, dupline1, dupline2 = picks
    for c in (wrong_score, wrong_time, no_body, no_score, trunc, badesc, dupline1, dupline2):
        c.mess.add("special")
    html_after = rng.choice(pick)
    for c in comments:
        p = c.post
        parent = f"t3_{p.id}" if c.parent is None else f"t1_{c.parent.id}"
        obj = {
            "id": c.id, "parent_id": parent, "link_id": f"t3_{p.id}", "subreddit": SUB,
            "author": c.author, "body": c.body, "score": c.score,
            "created_utc": str(c.t) if c.t < T_2013 else c.t,
            "retrieved_on": retrieved(rng, p, c.t),
            "edited": c.edited, "distinguished": c.distinguished, "stickied": c.stickied,
            "controversiality": c.controversiality,
        }
        if c.t >= T_2018:
            if c.author != "[deleted]":
                obj["author_fullname"] = fullname(fullnames, c.author)
            obj["is_submitter"] = c.author == p.author and c.author != "[deleted]"
            obj["permalink"] = f"/r/{SUB}/comments/{p.id}/{p.slug}/{c.id}/"
        if c.t >= T_2023_11:
            obj["_meta"] = {"removal_type": ("deleted" if c.body == "[deleted]" else "removed" if c.body == "[removed]" else None),
                            "was_deleted_later": c.body in ("[deleted]", "[removed]") or rng.random() < 0.03}
        if c is wrong_score:
            obj["score"] = "12"
            stats["wrong_type_score_string"] += 1
        if c is wrong_time:
            obj["created_utc"] = str(c.t)
            stats["wrong_type_created_utc_string_outside_2012"] += 1
        if c is no_body:
            del obj["body"]
            stats["missing_body"] += 1
        if c is no_score:
            del obj["score"]
            stats["missing_score"] += 1
        line = dump(obj, c.t)
        if c is trunc:
            line = line[: len(line) // 2]
            stats["malformed_truncated"] += 1
        if c is badesc:
            line = line.replace('"body":"', '"body":"\\q', 1) if '"body":"' in line else line[:-1]
            stats["malformed_bad_escape"] += 1
        com_lines.append(line)
        if c is dupline1 or c is dupline2:
            com_lines.append(line)
            stats["duplicate_lines_same_id"] += 1
        if c is html_after:
            com_lines.append("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>")
            stats["malformed_non_json"] += 1
    return sub_lines, com_lines, stats


# --------------------------------------------------------------------------- compression
def compress_small_window(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=19, write_content_size=False).compress(data)


def compress_long_window(data: bytes) -> bytes:
    params = zstandard.ZstdCompressionParameters.from_level(19, window_log=31, write_content_size=0)
    buf = io.BytesIO()
    cctx = zstandard.ZstdCompressor(compression_params=params)
    with cctx.stream_writer(buf, closefd=False) as w:      # size unknown: the 2 GiB window stays in the header
        for i in range(0, len(data), 1 << 16):
            w.write(data[i:i + (1 << 16)])
    return buf.getvalue()


def summary(posts, comments, stats, sub_lines, com_lines, doubles, lost) -> dict:
    kinds = Counter(c.kind for c in comments)
    mess = Counter(m for c in comments for m in c.mess if m != "special")
    present = [p for p in posts if p.kind not in ("lost", "malformed")]
    out = {
        "submission_lines": len(sub_lines),
        "comment_lines": len(com_lines),
        "posts_written": len(present),
        "posts_with_no_replies": sum(1 for p in present if not p.comments),
        "crisis_posts": dict(Counter(p.crisis for p in present if p.crisis)),
        "link_posts": sum(1 for p in present if p.kind == "link"),
        "comments_generated": len(comments),
        "top_level": sum(1 for c in comments if c.parent is None),
        "nested": sum(1 for c in comments if c.parent is not None),
        "max_depth": max(depth(c) for c in comments),
        "draft_revision_pairs": sum(1 for c in comments if c.kind == "draft"),
        "comment_kinds": dict(kinds),
        "comment_mess": dict(mess),
        "automoderator": sum(1 for c in comments if c.author == "AutoModerator"),
        "moderator_distinguished": sum(1 for c in comments if c.distinguished == "moderator"),
        "other_bots": dict(Counter(c.author for c in comments if c.kind == "bot")),
        "orphan_comments_lost_posts": sum(len(p.comments) for p in lost),
        "orphan_comments_malformed_post": sum(len(p.comments) for p in posts if p.kind == "malformed"),
        "created_utc_string_2012_lines": sum(1 for c in comments if c.t < T_2013) + sum(1 for p in present if p.t < T_2013),
        "realtime_month_comments": sum(1 for c in comments if realtime(c.t)),
        **stats,
    }
    return out


def depth(c):
    d = 1
    while c.parent is not None:
        c, d = c.parent, d + 1
    return d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: src/llumi/data/sample)")
    ap.add_argument("--stats", action="store_true", help="print counts as JSON")
    args = ap.parse_args(argv)
    posts, comments, doubles, lost, _ = build(SEED)
    sub_lines, com_lines, stats = serialise(posts, comments)
    args.out.mkdir(parents=True, exist_ok=True)
    sub_raw = ("\n".join(sub_lines) + "\n").encode("utf-8")
    com_raw = ("\n".join(com_lines) + "\n").encode("utf-8")
    (args.out / f"{SUB}_submissions.zst").write_bytes(compress_small_window(sub_raw))
    (args.out / f"{SUB}_comments.zst").write_bytes(compress_long_window(com_raw))
    if args.stats:
        print(json.dumps(summary(posts, comments, stats, sub_lines, com_lines, doubles, lost), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
