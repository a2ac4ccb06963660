"""Benchmark of ``llumi ingest`` on a realistic Pushshift monthly comment dump (issue 2, section 6).

Run it from the repository root::

    .venv/bin/python benchmarks/ingest.py                 # 1 GB decompressed (the default)
    .venv/bin/python benchmarks/ingest.py --size-gb 2 --regenerate --keep

What it does, in one run:

1. Generates (once, cached under ``benchmarks/out/``, which git ignores) an invented monthly comment
   dump ``RC_bench-<size>.zst`` in the real Pushshift 2019-2021 RC form: NDJSON, one comment object a
   line with the 47 keys of those files in their (alphabetical) order, zstd-compressed with a 2 GiB
   window (``window_log=31``, like ``zstd --long=31``), so a default decoder refuses it. The mix is
   realistic: a few thousand subreddits (Zipf), about 30% nested replies (``t1_`` parents), about 5%
   ``[deleted]`` / ``[removed]``, AutoModerator and other bots, a few moderator-distinguished and
   stickied comments, heavy-tailed body lengths (median ~130 characters, some thousands, a few over
   10,000), URLs, ``u/`` mentions, the odd e-mail address or phone number, HTML entities and unicode.
   Every text is invented from fragments in this file. ``--regenerate`` makes it again.
2. Times, each on the same file and each from the start of a fresh process to its end (wall clock):

   (a) ``llumi ingest FILE --json -q`` in a fresh temporary workspace, exactly as a user runs it;
   (b) the baseline: a straightforward line-by-line script in the style of the widely used community
       dump scripts (``zstandard`` ``stream_reader(max_window_size=2**31)`` + ``io.TextIOWrapper`` +
       ``json.loads`` per line) doing the same work as llumi's default ingest: drop deleted / removed /
       empty, moderator / stickied, bots, nested replies and too short / too long texts; scrub URLs,
       e-mails, phone numbers and mentions with Python ``re`` and the patterns of
       ``llumi.data.clean.SCRUB_PATTERNS``; pseudonymise authors with HMAC-SHA256; drop exact duplicate
       texts within a post with a set; write the kept rows (llumi's reply columns) to one Parquet file
       in batches of 100,000 rows with pyarrow. See ``run_baseline``;
   (c) decompression alone, the floor: stream-decompress and discard, in process with ``zstandard``
       (what ``zstd -dc --long=31 FILE > /dev/null`` does).

   It prints seconds and MB/s (decompressed megabytes, 10^6 bytes, per second) for each, the ratios
   (llumi vs the baseline, decompression vs llumi), whether the targets are met (llumi at least 3x the
   baseline, and within 4x of decompression alone), and the replies each kept (they should be close;
   llumi also drops near-duplicates). The same figures, with the machine (nproc, CPU model, load) and
   the versions of Python and the packages, go to ``benchmarks/out/ingest.json``.

   (a) and (c) run alternately ``--repeat`` times (default 3) and their medians are reported, with
   each adjacent pair's ratio: this machine's speed drifts by 20-30% from minute to minute, so a pair
   run side by side is the fair comparison; (b) runs once.

Options: ``--size-gb`` (default 1.0), ``--regenerate``, ``--keep`` (keep the workspace and the
baseline's Parquet file), ``--skip-baseline``, ``--repeat``. The machine's other load shows in the
figures: the load average before each step is recorded with them.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import zstandard

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
GENERATOR_VERSION = 1
MAX_WINDOW = 2**31
MB = 1e6

# ================================================================================================
# 1. The dump generator
# ================================================================================================

_OPENERS = [
    "Honestly,", "Okay so", "Not gonna lie,", "For what it's worth,", "Same here,", "Lol", "Man,",
    "I mean,", "Tbh", "Yeah,", "This is so true,", "Wait,", "Agreed,", "Hmm,", "Oh wow,", "Look,",
    "Funny enough,", "Unpopular opinion but", "Ngl", "Came here to say this,", "As someone who works in IT,",
    "As a nurse,", "As a parent,", "Speaking from experience,", "Edit: typo.", "Fair point, but",
    "Genuinely curious,", "Hot take:", "In my experience,", "Serious question:", "Plot twist:",
    "To be fair,", "Real talk,", "Counterpoint:", "Yep,", "Nah,", "Idk man,", "Welp,", "So basically",
    "Quick tip:",
]
_TAILS = [
    "lol", "tbh", "if that makes sense", "at least where I live", "but that's just me",
    "and honestly it shows", "every single time", "which is wild", "in my opinion", "for real",
    "no joke", "and nobody talks about it", "at least in my experience", "or so I've heard",
    "and it worked", "and I'm not even mad", "which surprised me", "to be honest", "if you ask me",
    "and that's fine", "and it still bugs me", "which nobody expected", "believe it or not",
    "and I regret nothing", "like clockwork", "and it's been great since", "and I'm still not over it",
    "which says a lot", "and I stand by it", "years later", "back in the day", "on a good day",
    "for the most part", "more or less", "apparently", "somehow", "if I'm being honest",
    "and it's not even close", "to this day", "which is kind of the point",
]
_SUBJ = [
    "my brother", "my landlord", "the whole team", "my cat", "our manager", "the ref", "my neighbour",
    "this game", "the new patch", "the dealership", "my therapist", "the school", "my doctor", "my dog",
    "the city council", "my roommate", "the director", "this sub", "the dev team", "my grandma",
    "the airline", "my professor", "the insurance company", "my boss", "the coach", "my kid", "my wife",
    "my husband", "the mods", "the author", "the bank", "my ex", "the restaurant", "the studio",
    "the other driver", "my old job", "the streamer", "my GP", "the union", "the OP",
]
_VERB = [
    "did exactly the same thing", "completely ignored it", "handled it better than expected",
    "made it ten times worse", "refused to budge", "figured it out eventually", "never mentioned it again",
    "charged me twice for it", "blamed the weather", "took three weeks to reply", "laughed it off",
    "somehow made it work", "called it a feature", "doubled down", "gave a full refund",
    "lost the paperwork", "pretended nothing happened", "fixed it in one afternoon", "overthought it",
    "finally apologised", "changed the rules halfway", "got absolutely roasted", "sent a follow-up email",
    "asked for a second opinion", "moved on pretty quickly", "said the exact same thing",
    "went completely silent", "messed up the order", "nailed the ending", "ruined the vibe",
]
_THING = [
    "the third season", "this build", "the update", "a used Corolla", "the recipe", "that trailer",
    "the last chapter", "the new policy", "my first apartment", "the side quest", "the playoffs",
    "a cast iron pan", "the sequel", "the interview", "the final boss", "this strategy", "the soundtrack",
    "the night shift", "the group chat", "the original post", "the comment section", "the match",
    "my sourdough starter", "the tax return", "the commute", "the lease", "this mod", "the keyboard",
    "the budget", "the wedding", "that episode", "the exam", "the hike", "the pitch", "the draft pick",
]
_ADJ = [
    "underrated", "overrated", "hilarious", "exhausting", "surprisingly good", "a total mess", "fine",
    "honestly incredible", "painfully slow", "way too expensive", "weirdly wholesome", "kind of sad",
    "pretty standard", "not worth it", "absolutely worth it", "cursed", "a masterpiece", "mid",
    "so satisfying", "confusing at first", "a nightmare", "the best part", "wildly inconsistent",
    "stressful", "peak", "a scam", "relatable", "beautiful", "frustrating", "low-key amazing",
]
_TEMPLATES = [
    "{s} {v} when I brought up {t}.", "I think {t} is {a}.", "{t} was {a} and {s} {v}.",
    "Can confirm, {s} {v}.", "Why does everyone act like {t} is {a}?", "I had the same issue with {t}.",
    "My experience with {t} was {a}, mostly because {s} {v}.", "The problem is {s} {v}.",
    "Did anyone else notice that {t} is {a}?", "Last year {s} {v} and I still think about it.",
    "{t} is {a}, change my mind.", "Every time I mention {t}, {s} {v}.",
    "I don't get why people say {t} is {a}.", "Imagine thinking {t} is {a}.",
    "Pretty sure {s} {v} because of {t}.", "That's exactly what happened when {s} {v}.",
    "If {s} {v}, then {t} is {a}.", "We tried {t} and it was {a}.", "Same, {s} {v} too.",
    "The worst part about {t}? {s} {v}.", "{s} {v}, which made {t} {a}.", "Tried {t} last week, {a}.",
    "Reading this while {s} {v} is {a}.", "Nobody told me {t} would be {a}.",
    "It's {a} how {s} {v}.", "Thanks for posting this, {t} is {a}.", "Not sure {t} is {a}, but {s} {v}.",
    "I used to think {t} was {a} until {s} {v}.", "Someone should tell {s} that {t} is {a}.",
    "Sounds like {s} {v}.",
]
_SHORT = [
    "This.", "lol", "Thank you!", "Same here.", "Hugs ❤️", "F", "Underrated comment.", "Nice.", "Yes!",
    "Agreed.", "I love this.", "Wow.", "Big mood.", "Thanks, I needed that.", "Username checks out.",
    "Came here to say this.", "This is the way.", "Happy cake day!", "Source?", "Take my upvote.",
    "Good bot.", "RIP", "ok boomer", "Oof.", "Following.", "Same 😂", "Bless you.", "Nope.", "🙏",
    "Seconded.", "Absolutely not.", "What a time to be alive.", "^ this", "Preach.", "lmao",
]
_UNICODE = [
    "Ça marche très bien, merci !", "Das ist wirklich schön.", "¡Qué bueno!", "これは面白い。",
    "Спасибо, очень полезно.", "naïve café résumé", "😂😂😂", "🔥🔥", "¯\\_(ツ)_/¯", "→ see above ←",
    "½ the price", "Zürich → München", "größer als gedacht", "dziękuję bardzo", "ελληνικά", "💯",
    "नमस्ते", "😭❤️", "“smart quotes” and ‘these’", "em — dash",
]
_DOMAINS = [
    "https://www.youtube.com/watch?v=", "https://en.wikipedia.org/wiki/", "https://i.imgur.com/",
    "https://www.reddit.com/r/", "https://twitter.com/", "http://www.amazon.com/dp/", "www.github.com/",
    "https://www.nytimes.com/2019/10/", "https://docs.google.com/document/d/", "https://streamable.com/",
]
_AUTOMOD = (
    "Hi, thanks for posting! Please read the rules in the sidebar before commenting.\n\n*I am a bot, and "
    "this action was performed automatically. Please [contact the moderators of this subreddit]"
    "(/message/compose/?to=/r/{sub}) if you have any questions or concerns.*"
)
_BOTS = ["RemindMeBot", "sneakpeekbot", "WikiTextBot", "RepostSleuthBot", "B0tRank", "SaveVideo", "timee_bot",
         "converter-bot", "haikusbot", "LinkifyBot", "CommonMisspellingBot", "nice-scores", "same_subreddit_bot"]
_REAL_SUBS = ["AskReddit", "funny", "gaming", "worldnews", "pics", "politics", "memes", "nba", "soccer",
              "nfl", "news", "movies", "todayilearned", "relationship_advice", "AmItheAsshole", "teenagers",
              "leagueoflegends", "PublicFreakout", "unpopularopinion", "depression", "SuicideWatch",
              "Anxiety", "mentalhealth", "personalfinance", "aww", "freefolk", "FortNiteBR", "dankmemes",
              "SquaredCircle", "hockey", "CFB", "wallstreetbets", "europe", "canada", "unitedkingdom",
              "AskWomen", "AskMen", "Showerthoughts", "explainlikeimfive", "science", "technology", "apple"]
_SYL = ["ka", "zo", "mi", "ter", "lo", "ra", "ven", "shi", "do", "pel", "qua", "nix", "bar", "tin", "gor",
        "ell", "um", "ray", "fox", "jo", "wen", "dal", "cro", "vy", "sa", "ne", "ko", "rum", "bo", "lee"]
_FLAIRS = ["Verified", "Team Red", "Moderator of nothing", "🇨🇦", "Lakers", "Arsenal", "10+ years", "PhD",
           "Helper", "Expert", "R.N.", "🌈", "Certified", "Hufflepuff", "[OC] maker"]
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"

# One comment line, keys in the order of Pushshift's 2019-2021 RC files (alphabetical).
_LINE = (
    '{"all_awardings":[],"associated_award":null,"author":%s,"author_created_utc":%s,'
    '"author_flair_background_color":%s,"author_flair_css_class":%s,"author_flair_richtext":[],'
    '"author_flair_template_id":%s,"author_flair_text":%s,"author_flair_text_color":%s,"author_flair_type":"text",'
    '"author_fullname":%s,"author_patreon_flair":false,"author_premium":%s,"awarders":[],"body":%s,'
    '"can_gild":true,"can_mod_post":false,"collapsed":%s,"collapsed_because_crowd_control":null,'
    '"collapsed_reason":%s,"controversiality":%d,"created_utc":%d,"distinguished":%s,"edited":%s,"gilded":%d,'
    '"gildings":%s,"id":"%s","is_submitter":%s,"link_id":"t3_%s","locked":false,"no_follow":%s,'
    '"parent_id":"%s","permalink":"/r/%s/comments/%s/%s/%s/","quarantined":false,"removal_reason":null,'
    '"retrieved_on":%d,"score":%d,"send_replies":true,"stickied":%s,"subreddit":"%s","subreddit_id":"t5_%s",'
    '"subreddit_name_prefixed":"r/%s","subreddit_type":"public","top_awarded_type":null,'
    '"total_awards_received":%d,"treatment_tags":[]}\n'
)
MONTH_START = 1569888000  # 2019-10-01 00:00 UTC
MONTH_SECONDS = 31 * 86400


def _b36(n: int) -> str:
    s = []
    while n:
        n, r = divmod(n, 36)
        s.append(_B36[r])
    return "".join(reversed(s)) or "0"


def _js(s: str | None) -> str:
    return "null" if s is None else json.dumps(s, ensure_ascii=False)


def _zipf_cum(n: int, s: float) -> list[float]:
    acc, out = 0.0, []
    for i in range(1, n + 1):
        acc += 1.0 / i**s
        out.append(acc)
    return out


class _Texts:
    """Comment bodies from fragments: heavy-tailed lengths, mostly unique, with the personal data
    (links, mentions, e-mail addresses, phone numbers), numbers, entities and unicode of real text."""

    def __init__(self, rng: random.Random):
        self.r = rng

    def sentence(self) -> str:
        r = self.r
        s = r.choice(_TEMPLATES).format(s=r.choice(_SUBJ), v=r.choice(_VERB), t=r.choice(_THING), a=r.choice(_ADJ))
        x = r.random()
        if x < 0.35:
            s = f"{r.choice(_OPENERS)} {s[0].lower()}{s[1:]}"
        elif x < 0.6:
            s = f"{s[:-1]}, {r.choice(_TAILS)}{s[-1]}"
        return s

    def body(self) -> str:
        r = self.r
        x = r.random()
        if x < 0.14:
            return r.choice(_SHORT)
        if x < 0.145:  # long-form: a few thousand characters, some over 10,000
            n = r.randint(25, 180)
        else:
            n = max(1, min(60, int(r.lognormvariate(0.8, 0.85))))
        parts = []
        for i in range(n):
            parts.append(self.sentence())
            if n > 3 and i % 4 == 3:
                parts.append("\n\n")
        text = " ".join(parts).replace(" \n\n ", "\n\n").strip()
        x = r.random()
        if x < 0.045:
            text += " " + r.choice(_DOMAINS) + "".join(r.choices(_B36, k=r.randint(6, 14)))
        elif x < 0.065:
            text = f"{r.choice(('u/', '/u/'))}{r.choice(self.names)} {text}"
        elif x < 0.068:
            text += f" Email me at {r.choice(self.names).lower()}@{r.choice(('gmail.com', 'yahoo.com', 'outlook.com', 'protonmail.ch'))}"
        elif x < 0.071:
            text += f" Call {r.randint(200, 989)}-{r.randint(200, 999)}-{r.randint(1000, 9999)} if you need to talk."
        elif x < 0.13:
            text += f" I paid ${r.randint(20, 2500)} for it in {r.randint(1995, 2019)}."
        elif x < 0.18:
            text += " " + r.choice(_UNICODE)
        elif x < 0.20:
            text = "&gt; " + text + " &amp; that's it."
        elif x < 0.215:
            text = f"**{text}**"
        return text


def generate_dump(path: str | os.PathLike, size_bytes: int, seed: int = 2019, *, threads: int = 2,
                  progress: bool = False) -> dict[str, Any]:
    """Write an invented monthly comment dump of at least ``size_bytes`` decompressed to ``path``
    (zstd level 3, 2 GiB window). Returns what was written (lines, bytes, seconds, mix)."""
    t0 = time.perf_counter()
    path = Path(path)
    rng = random.Random(seed)
    texts = _Texts(rng)
    syl = _SYL
    # subreddits: a few famous ones on top, then a long Zipf tail of invented ones
    subs = list(_REAL_SUBS) + ["".join(rng.choices(syl, k=rng.randint(2, 4))).capitalize() + rng.choice(("", "", "Fans", "Talk", "Memes", "_irl", "Help"))
                               for _ in range(4000)]
    subs = list(dict.fromkeys(subs))
    sub_ids = {s: _b36(rng.randrange(36**4, 36**6)) for s in subs}
    sub_cum = _zipf_cum(len(subs), 1.05)
    names = list(dict.fromkeys(
        "".join(rng.choices(syl, k=rng.randint(2, 3))) + rng.choice(("", "_", "-", "")) + rng.choice(("", str(rng.randint(1, 9999))))
        + rng.choice(("", "", "x", "Throwaway", "TheGreat"))
        for _ in range(260_000)))
    texts.names = names
    name_cum = _zipf_cum(len(names), 0.8)
    fullnames = {}
    created_author = {}
    window = 40_000
    posts: list[list] = []  # [post_id, sub, slug, op, last_comment_id]
    next_post = int("d8xr00", 36)
    next_comment = int("f0a0000", 36)
    lines = 0
    written = 0
    stats = {"nested": 0, "deleted": 0, "removed": 0, "automoderator": 0, "bots": 0, "moderator": 0}
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31, threads=threads)
    cctx = zstandard.ZstdCompressor(compression_params=params)
    tmp = path.with_name(path.name + ".tmp")
    buf: list[str] = []
    buf_len = 0
    r = rng.random
    choice = rng.choice
    with open(tmp, "wb") as fh, cctx.stream_writer(fh, closefd=False) as zw:
        while written + buf_len < size_bytes:
            # a batch of draws at once (cheaper than one call per comment)
            batch = 1000
            sub_draw = rng.choices(subs, cum_weights=sub_cum, k=batch)
            author_draw = rng.choices(names, cum_weights=name_cum, k=batch)
            for k in range(batch):
                if not posts or r() < 0.07:
                    sub = sub_draw[k]
                    slug = "_".join(choice(_THING).split()[1:] + [choice(_ADJ).split()[0]])[:40]
                    posts.append([_b36(next_post), sub, slug, choice(names), None])
                    next_post += rng.randint(1, 40)
                    if len(posts) > 2 * window:
                        del posts[:window]
                post = posts[len(posts) - 1 - int(min(len(posts), window) * r() ** 3)]
                pid, sub, slug, op, last = post
                cid = _b36(next_comment)
                next_comment += rng.randint(1, 30)
                nested = last is not None and r() < 0.33
                parent = ("t1_" + last) if nested else ("t3_" + pid)
                if nested:
                    stats["nested"] += 1
                post[4] = cid
                author = author_draw[k]
                distinguished = "null"
                stickied = "false"
                x = r()
                if x < 0.015:
                    author = "AutoModerator"
                    body = _AUTOMOD.format(sub=sub)
                    stats["automoderator"] += 1
                    if r() < 0.7:
                        distinguished, stickied = '"moderator"', "true"
                        parent = "t3_" + pid
                elif x < 0.022:
                    author = choice(_BOTS)
                    body = f"{texts.sentence()}\n\n^(I am a bot. Beep boop. [Opt out](https://www.reddit.com/message/compose/?to={author}))"
                    stats["bots"] += 1
                elif x < 0.052:
                    author, body = "[deleted]", "[deleted]"
                    stats["deleted"] += 1
                elif x < 0.072:
                    body = "[removed]"
                    if r() < 0.5:
                        author = "[deleted]"
                    stats["removed"] += 1
                else:
                    body = texts.body()
                    if x < 0.0755:
                        distinguished = '"moderator"'
                        stickied = "true" if r() < 0.3 else "false"
                        stats["moderator"] += 1
                is_sub = author == op or r() < 0.08
                deleted_author = author == "[deleted]"
                if deleted_author:
                    fullname = "null"
                    acreated = "null"
                else:
                    fullname = fullnames.get(author)
                    if fullname is None:
                        fullname = fullnames[author] = '"t2_' + _b36(rng.randrange(36**5, 36**8)) + '"'
                        created_author[author] = str(rng.randint(1136073600, 1569000000))
                    acreated = created_author[author]
                flair = r() < 0.08 and not deleted_author
                score = 1 if r() < 0.45 else int(rng.paretovariate(1.1)) - (3 if r() < 0.1 else 0)
                created = MONTH_START + min(MONTH_SECONDS - 1, int(written / size_bytes * MONTH_SECONDS)) + rng.randint(0, 60)
                edited = str(created + rng.randint(60, 86400)) if r() < 0.05 else "false"
                gilded = 1 if r() < 0.002 else 0
                line = _LINE % (
                    _js(author), acreated,
                    '""' if flair else "null", "null", '"' + _b36(rng.randrange(36**8)) + '"' if flair else "null",
                    _js(choice(_FLAIRS)) if flair else "null", '"dark"' if flair else "null",
                    fullname, "true" if r() < 0.03 else "false", _js(body),
                    "true" if score < -4 else "false", '"comment score below threshold"' if score < -4 else "null",
                    1 if r() < 0.02 else 0, created, distinguished, edited, gilded,
                    '{"gid_2":1}' if gilded else "{}", cid, "true" if is_sub else "false", pid,
                    "false" if score > 5 else "true", parent, sub, pid, slug, cid,
                    created + rng.randint(150, 200) * 86400 + rng.randint(0, 86399), score, stickied,
                    sub, sub_ids[sub], sub, gilded,
                )
                # an accidental double post: the same text again, under the same post
                if r() < 0.004 and body not in ("[deleted]", "[removed]"):
                    line += line.replace(f'"id":"{cid}"', f'"id":"{_b36(next_comment)}"', 1).replace(f"/{cid}/", f"/{_b36(next_comment)}/", 1)
                    next_comment += 1
                    lines += 1
                buf.append(line)
                lines += 1
                buf_len += len(line)
            if buf_len >= 8 << 20 or written + buf_len >= size_bytes:
                data = "".join(buf).encode("utf-8")
                zw.write(data)
                written += len(data)
                buf, buf_len = [], 0
                if progress:
                    print(f"\r  generating: {written / MB:,.0f} / {size_bytes / MB:,.0f} MB", end="", file=sys.stderr, flush=True)
        if buf:
            data = "".join(buf).encode("utf-8")
            zw.write(data)
            written += len(data)
    os.replace(tmp, path)
    if progress:
        print(file=sys.stderr)
    return {"path": str(path), "lines": lines, "decompressed_bytes": written, "compressed_bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - t0, 2), "seed": seed, "generator_version": GENERATOR_VERSION,
            "subreddits": len(subs), "mix": stats}


def check_window(path: str | os.PathLike) -> dict[str, Any]:
    """The frame header's window, and proof that a default decoder refuses the file."""
    with open(path, "rb") as f:
        head = f.read(18)
    fp = zstandard.get_frame_parameters(head)
    refused = None
    try:
        with open(path, "rb") as f:
            zstandard.ZstdDecompressor().stream_reader(f).read(1 << 16)
    except zstandard.ZstdError as e:
        refused = str(e)
    with open(path, "rb") as f:  # and the large limit decodes it
        zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW).stream_reader(f).read(1 << 16)
    return {"window_size": fp.window_size, "default_decoder_refuses": refused is not None, "default_decoder_error": refused}


def ensure_dump(size_gb: float, regenerate: bool) -> tuple[Path, dict[str, Any], bool]:
    """The cached dump for ``size_gb`` (made when missing, stale or asked for); (path, info, made_now)."""
    OUT.mkdir(parents=True, exist_ok=True)
    tag = f"{size_gb:g}gb".replace(".", "p")
    path = OUT / f"RC_bench-{tag}.zst"
    info_path = OUT / f"RC_bench-{tag}.json"
    size_bytes = int(size_gb * 1e9)
    info = None
    if path.exists() and info_path.exists() and not regenerate:
        info = json.loads(info_path.read_text())
        if info.get("generator_version") != GENERATOR_VERSION or info.get("compressed_bytes") != path.stat().st_size:
            info = None
    if info is not None:
        return path, info, False
    print(f"Generating {path.name} ({size_gb:g} GB decompressed; done once, then cached) ...", file=sys.stderr)
    info = generate_dump(path, size_bytes, progress=True)
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    return path, info, True


# ================================================================================================
# 2. The baseline: the same work, line by line, the way the community dump scripts do it
# ================================================================================================

def _python_patterns() -> list[tuple[str, re.Pattern]]:
    """llumi's RE2 scrub patterns for Python ``re``. They use no RE2-only syntax; RE2's ``\\d``, ``\\s``
    and ``\\b`` are ASCII-only, hence ``re.ASCII`` (``(?i)`` still folds ASCII letters)."""
    from llumi.data.clean import SCRUB_PATTERNS

    return [(kind, re.compile(pattern, re.ASCII)) for kind, pattern in SCRUB_PATTERNS]


def run_baseline(path: str | os.PathLike, out_path: str | os.PathLike, key: bytes = b"benchmark-key",
                 batch_rows: int = 100_000) -> dict[str, Any]:
    """Read a comment dump line by line and keep what llumi's default ingest keeps (see the module
    docstring); writes the kept replies to ``out_path`` (Parquet) and returns the counts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from llumi.data import schema
    from llumi.data.clean import DEFAULT_BOTS, CleanConfig

    cfg = CleanConfig()
    bots = set(DEFAULT_BOTS)
    bot_re = re.compile(cfg.bot_pattern)
    patterns = _python_patterns()
    placeholders = schema.PLACEHOLDERS
    source = Path(path).name
    seen: set[tuple[str, str]] = set()
    dropped: dict[str, int] = {}
    scrubbed = {kind: 0 for kind, _ in patterns}
    # llumi's reply columns, less the duplicate keys (the baseline only drops exact duplicates)
    out_schema = pa.schema([f for f in schema.REPLIES if f.name not in ("text_hash", "norm_hash", "text_chars")])
    names = out_schema.names
    cols: dict[str, list] = {n: [] for n in names}
    lines = kept = nbytes = 0

    def drop(reason: str) -> None:
        dropped[reason] = dropped.get(reason, 0) + 1

    writer = pq.ParquetWriter(out_path, out_schema, compression="zstd")

    def flush() -> None:
        nonlocal cols
        if cols["reply_id"]:
            writer.write_table(pa.Table.from_pydict(cols, schema=out_schema))
        cols = {n: [] for n in names}

    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
    with open(path, "rb") as fh, dctx.stream_reader(fh) as reader:
        for line in io.TextIOWrapper(reader, encoding="utf-8"):
            lines += 1
            nbytes += len(line)
            if not line.strip():
                drop("blank")
                continue
            obj = json.loads(line)
            body = obj.get("body")
            if body is None or "title" in obj:
                drop("not_a_comment")
                continue
            text = body.strip()
            author = obj.get("author")
            parent = obj.get("parent_id") or ""
            if text == "[deleted]":
                drop("deleted")
            elif text == "[removed]":
                drop("removed")
            elif not text:
                drop("empty")
            elif obj.get("distinguished") in ("moderator", "admin") or obj.get("stickied"):
                drop("moderator")
            elif author in bots or (author and bot_re.match(author)):
                drop("bot")
            elif parent.startswith("t1_"):
                drop("nested")
            elif len(text) < cfg.min_chars:
                drop("too_short")
            elif len(text) > cfg.max_chars:
                drop("too_long")
            else:
                for kind, pattern in patterns:
                    text, n = pattern.subn(placeholders[kind], text)
                    scrubbed[kind] += n
                link = obj.get("link_id") or parent
                post_id = link[3:] if link.startswith("t3_") else link
                if (post_id, text) in seen:
                    drop("duplicate")
                    continue
                seen.add((post_id, text))
                if author in (None, "", "[deleted]", "[removed]"):
                    pseudonym = None
                else:
                    pseudonym = "a_" + hmac.new(key, author.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
                created = int(obj["created_utc"]) if obj.get("created_utc") is not None else None
                retrieved = obj.get("retrieved_on", obj.get("retrieved_utc"))
                edited = obj.get("edited")
                cols["reply_id"].append(obj["id"])
                cols["post_id"].append(post_id)
                cols["parent_id"].append(parent or link)
                cols["depth"].append(1)
                cols["community"].append(obj["subreddit"].lower())
                cols["author"].append(pseudonym)
                cols["text"].append(text)
                cols["score"].append(obj.get("score"))
                cols["created_utc"].append(created)
                cols["retrieved_on"].append(retrieved)
                cols["score_lag"].append(retrieved - created if retrieved is not None and created is not None else None)
                cols["edited"].append(bool(edited))
                cols["is_submitter"].append(obj.get("is_submitter"))
                cols["source"].append(source)
                cols["source_line"].append(lines)
                kept += 1
                if len(cols["reply_id"]) >= batch_rows:
                    flush()
    flush()
    writer.close()
    return {"lines_read": lines, "kept_replies": kept, "dropped": dict(sorted(dropped.items())),
            "scrubbed": scrubbed, "decompressed_chars": nbytes}


# ================================================================================================
# 3. Decompression alone
# ================================================================================================

def decompress_only(path: str | os.PathLike, read_size: int = 1 << 20, chunk: int = 4 << 20) -> int:
    """Stream-decompress and discard (as ``zstd -dc --long=31 FILE > /dev/null``); returns the bytes."""
    total = 0
    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
    with open(path, "rb") as fh, dctx.stream_reader(fh, read_size=read_size) as reader:
        while True:
            b = reader.read(chunk)
            if not b:
                return total
            total += len(b)


# ================================================================================================
# The run
# ================================================================================================

def _run_timed(cmd: list[str], cwd: Path) -> tuple[float, dict[str, Any], dict[str, float]]:
    """Run ``cmd``; returns (wall seconds, its one JSON object on stdout, resources used)."""
    env = {k: v for k, v in os.environ.items() if k != "LLUMI_HOME"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-4000:]}")
    usage = {"cpu_user_s": round(ru.ru_utime, 2), "cpu_sys_s": round(ru.ru_stime, 2),
             "max_rss_mb": round(ru.ru_maxrss * 1024 / MB, 1)}
    return seconds, json.loads(stdout.strip().splitlines()[-1]), usage


def _llumi_command() -> list[str]:
    exe = Path(sys.executable).with_name("llumi")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "llumi.cli"]


def _machine() -> dict[str, Any]:
    model = None
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    from importlib import metadata

    for pkg in ("llumi", "zstandard", "pyarrow", "orjson", "duckdb", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cpu_count": os.cpu_count(), "cpu_model": model, "platform": platform.platform(),
            "python": platform.python_version(), "packages": versions, "zstd_lib": zstandard.ZSTD_VERSION}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median time (the lower middle one of an even count), with every run's seconds."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return {**ordered[(len(ordered) - 1) // 2], "runs_seconds": [r["seconds"] for r in runs]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Benchmark `llumi ingest` against a line-by-line baseline and decompression alone, on an "
                    "invented Pushshift-style monthly comment dump with a 2 GiB zstd window (cached in "
                    "benchmarks/out/). Writes benchmarks/out/ingest.json.",
        epilog="Example: .venv/bin/python benchmarks/ingest.py --size-gb 1")
    ap.add_argument("--size-gb", type=float, default=1.0, help="decompressed size of the dump in GB (10^9 bytes; default 1.0)")
    ap.add_argument("--regenerate", action="store_true", help="make the dump again even if a cached one exists")
    ap.add_argument("--keep", action="store_true", help="keep llumi's workspace and the baseline's Parquet file")
    ap.add_argument("--skip-baseline", action="store_true", help="time only llumi and decompression (the baseline is slow)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="llumi and decompression runs, alternating; medians are reported (default 3)")
    ap.add_argument("--run-baseline", nargs=2, metavar=("DUMP", "OUT_PARQUET"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.run_baseline:  # the baseline's own process (see _run_timed)
        print(json.dumps(run_baseline(*args.run_baseline)))
        return 0
    if args.size_gb <= 0:
        ap.error("--size-gb must be positive")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    dump, info, made_now = ensure_dump(args.size_gb, args.regenerate)
    window = check_window(dump)
    if window["window_size"] != MAX_WINDOW or not window["default_decoder_refuses"]:
        raise SystemExit(f"{dump}: expected a 2 GiB window that default decoders refuse, got {window}")
    size = info["decompressed_bytes"]
    print(f"Dump: {dump}  {size / MB:,.0f} MB decompressed, {info['compressed_bytes'] / MB:,.0f} MB compressed, "
          f"{info['lines']:,} lines; window {window['window_size']:,} bytes (default decoder: "
          f"\"{window['default_decoder_error']}\"); generated in {info['seconds']:.1f}s"
          + (" (now)" if made_now else " (cached)"), flush=True)

    results: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="run-", dir=OUT))
    try:
        # (c) decompression alone and (a) llumi ingest as a user runs it, alternately, ``--repeat`` times:
        # this machine's speed drifts by 20-30% from minute to minute (other tenants of the host), so
        # each llumi run is paired with a decompression run next to it and the medians are reported.
        dec_runs, llumi_runs = [], []
        for i in range(args.repeat):
            load = _load()
            c0, t0 = time.process_time(), time.perf_counter()
            n = decompress_only(dump)  # the first run also brings the file into the page cache
            sec, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert n == size, (n, size)
            dec_runs.append({"seconds": round(sec, 3), "load_before": load, "cpu_s": round(cpu, 2),
                             "command": "in process: zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader"})
            load = _load()
            cmd = _llumi_command() + ["--workspace", str(work / f"llumi-work-{i}"), "ingest", str(dump), "--json", "-q"]
            lsec, summary, usage = _run_timed(cmd, HERE.parent)
            shutil.rmtree(work / f"llumi-work-{i}", ignore_errors=True)
            llumi_runs.append({"seconds": round(lsec, 3), "load_before": load, "command": " ".join(cmd),
                               "kept_replies": summary["kept_replies"], "lines_read": summary["lines_read"],
                               "dropped": summary["dropped"], "scrubbed": summary["scrubbed"],
                               "internal_seconds": summary["seconds"], **usage,
                               "cpu_s": round(usage["cpu_user_s"] + usage["cpu_sys_s"], 2)})
            print(f"  run {i + 1}/{args.repeat}: decompress alone {sec:.2f}s, llumi ingest {lsec:.2f}s "
                  f"({lsec / sec:.2f}x)", flush=True)
        results["decompress"] = _median_run(dec_runs)
        results["llumi"] = _median_run(llumi_runs)

        # (b) the baseline
        if not args.skip_baseline:
            load = _load()
            cmd = [sys.executable, str(Path(__file__).resolve()), "--run-baseline", str(dump), str(work / "baseline.parquet")]
            sec, summary, usage = _run_timed(cmd, HERE.parent)
            results["baseline"] = {"seconds": round(sec, 3), "load_before": load, "kept_replies": summary["kept_replies"],
                                   "lines_read": summary["lines_read"], "dropped": summary["dropped"],
                                   "scrubbed": summary["scrubbed"], **usage,
                                   "cpu_s": round(usage["cpu_user_s"] + usage["cpu_sys_s"], 2)}
            print(f"  baseline:         {sec:.2f}s", flush=True)
    finally:
        if args.keep:
            print(f"Kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    for r in results.values():
        r["mb_per_s"] = round(size / MB / r["seconds"], 1)
    ll, dc, bl = results["llumi"], results["decompress"], results.get("baseline")
    ratios: dict[str, Any] = {"decompress_over_llumi": round(ll["seconds"] / dc["seconds"], 2),
                              "each_pair": [round(a / b, 2) for a, b in zip(ll["runs_seconds"], dc["runs_seconds"])]}
    targets: dict[str, Any] = {"within_4x_of_decompression": ratios["decompress_over_llumi"] <= 4.0}
    if bl:
        ratios["llumi_over_baseline"] = round(ll["mb_per_s"] / bl["mb_per_s"], 2)
        targets["at_least_3x_baseline"] = ratios["llumi_over_baseline"] >= 3.0

    print()
    print(f"{'':28s}{'seconds':>10s}{'MB/s':>10s}{'CPU s':>9s}{'max RSS MB':>12s}{'load':>7s}")
    rows = [("(a) llumi ingest", ll), ("(b) baseline (line by line)", bl), ("(c) decompression alone", dc)]
    for label, r in rows:
        if r is None:
            continue
        cpu = f"{r['cpu_s']:.1f}"
        rss = f"{r['max_rss_mb']:,.0f}" if "max_rss_mb" in r else "-"
        print(f"{label:28s}{r['seconds']:10.2f}{r['mb_per_s']:10.1f}{cpu:>9s}{rss:>12s}{r['load_before']:7.2f}")
    print()
    if bl:
        print(f"llumi / baseline (speed-up):      {ratios['llumi_over_baseline']:.2f}x   target >= 3x: "
              f"{'MET' if targets['at_least_3x_baseline'] else 'NOT MET'}")
    print(f"decompression / llumi (slowdown): {ratios['decompress_over_llumi']:.2f}x   target <= 4x: "
          f"{'MET' if targets['within_4x_of_decompression'] else 'NOT MET'}"
          + (f"   (medians of {args.repeat} runs; each pair: {', '.join(f'{x:.2f}x' for x in ratios['each_pair'])})"
             if args.repeat > 1 else ""))
    print(f"replies kept: llumi {ll['kept_replies']:,}" + (f", baseline {bl['kept_replies']:,}" if bl else ""))
    if bl:
        gap = abs(ll["kept_replies"] - bl["kept_replies"]) / max(1, bl["kept_replies"])
        results["kept_gap"] = round(gap, 4)
        print(f"  difference {gap:.2%} (llumi also drops near-duplicates and long duplicates across posts)")
        if gap > 0.05:
            print("  WARNING: more than 5% apart: the baseline is not doing the same work", file=sys.stderr)

    report = {
        "command": " ".join(["python", "benchmarks/ingest.py", *(argv if argv is not None else sys.argv[1:])]),
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(),
        "dump": {**{k: info[k] for k in ("path", "lines", "decompressed_bytes", "compressed_bytes", "seed", "mix")},
                 "generation_seconds": info["seconds"], "generated_this_run": made_now, **window},
        "results": results, "ratios": ratios, "targets": targets,
    }
    (OUT / "ingest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWritten: {OUT / 'ingest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
