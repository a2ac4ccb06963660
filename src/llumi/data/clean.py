"""Cleaning raw records into store rows: drop what cannot train a supportive reply, scrub personal
data from text, and replace authors by keyed pseudonyms. Vectorised over Arrow columns (RE2 regexes in
Arrow's compute kernels), so a multi-GB dump is cleaned at the speed it is read.

Drop reasons, in the order they are tested (a row gets the first that applies):

==================  ============================================================================
other_community     not one of the subreddits asked for (``subreddits``)
deleted / removed   ``[deleted]`` / ``[removed]`` text, ``removed_by_category`` or ``_meta.removal_type``
deleted_later       Arctic Shift's ``_meta.was_deleted_later``: the author deleted it after capture
empty               no text
moderator           ``distinguished`` moderator/admin, or ``stickied``
bot                 AutoModerator and other bots (``bots`` list, ``bot_pattern``)
link_post           a submission that is only a link, with no text
nested              a reply to a reply, deeper than ``max_depth``
too_short/too_long  shorter than ``min_chars`` / longer than ``max_chars`` (replies) or ``post_max_chars``
==================  ============================================================================
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llumi.data import schema
from llumi.data.parse import DEPTH, LINE, duckdb_connection

DEFAULT_BOTS = (
    "AutoModerator", "RemindMeBot", "sneakpeekbot", "WikiTextBot", "RepostSleuthBot",
    "SaveVideo", "B0tRank", "GoodBot_BadBot", "timee_bot", "converter-bot",
)

# Personal data in text -> typed placeholders. RE2 syntax (Arrow's regex engine): linear time, no
# backtracking blow-ups on adversarial text.
SCRUB_PATTERNS: tuple[tuple[str, str], ...] = (
    ("url", r"(?i)\b(?:https?://|www\.)[^\s<>()\[\]{}\"']+"),
    ("email", r"(?i)\b[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}\b"),
    ("phone", r"(?:\+\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)[ .\-]?|\b\d{2,4}[ .\-])\d{3,4}[ .\-]?\d{3,4}\b"
              r"|\b\d{3}[.\-]\d{4}\b"),
    ("mention", r"(?i)/?\bu/[a-z0-9_\-]{2,}"),
)


@dataclass(frozen=True)
class CleanConfig:
    """How records are cleaned. Part of ``IngestConfig``."""

    community: str | None = None          # store name for everything read (default: the subreddit)
    subreddits: tuple[str, ...] = ()      # keep only these (case-insensitive); empty keeps all
    min_chars: int = 10
    max_chars: int = 10_000
    post_max_chars: int = 40_000
    max_depth: int = 1                    # 1 = top-level replies only
    bots: tuple[str, ...] = DEFAULT_BOTS
    bot_pattern: str = r"(?i)^[a-z0-9_\-]*bot$"  # RE2; empty disables
    keep_moderator: bool = False
    keep_link_posts: bool = False

    def __post_init__(self):
        if self.min_chars < 0 or self.max_chars <= self.min_chars:
            raise ValueError(f"need 0 <= min_chars < max_chars, got {self.min_chars} and {self.max_chars}")
        if self.max_depth < 1:
            raise ValueError(f"max_depth must be at least 1 (top-level replies), got {self.max_depth}")


@dataclass
class Cleaned:
    posts: pa.Table
    replies: pa.Table
    dropped: dict[str, int] = field(default_factory=dict)
    quarantined: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, detail)
    scrubbed: dict[str, int] = field(default_factory=dict)


class Pseudonymiser:
    """Keyed pseudonyms: ``a_`` + 16 hex digits of keyed BLAKE2b(username) (a MAC). Stable within a
    workspace (same key), unlinkable without the key. ``[deleted]`` and missing authors stay null."""

    def __init__(self, key: bytes, cache_size: int = 500_000):
        self.key = key
        self.cache: dict[str, str] = {}
        self.cache_size = cache_size

    def one(self, name: str) -> str:
        return self.cache.get(name) or self._new(name)

    def _new(self, name: str) -> str:
        p = "a_" + hashlib.blake2b(name.encode("utf-8"), key=self.key, digest_size=8).hexdigest()
        if len(self.cache) >= self.cache_size:
            self.cache.clear()
        self.cache[name] = p
        return p

    def column(self, authors: pa.ChunkedArray | pa.Array) -> pa.Array:
        enc = pc.dictionary_encode(authors)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        names = enc.dictionary.to_pylist()
        get, new = self.cache.get, self._new  # this runs once per distinct author of every chunk
        mapped_names = [None if n is None or n in ("[deleted]", "[removed]", "") else (get(n) or new(n))
                        for n in names]
        mapped = pa.array(mapped_names, pa.string())
        return pc.take(mapped, enc.indices)


# Cheap test for "might hold personal data": one pass over the text finds the few rows that need the
# four replacements, which then run on those rows only.
_SCRUB_PREFILTER = r"(?i)https?://|www\.|@|u/|\d\d\d"


def scrub(text: pa.ChunkedArray | pa.Array, counts: dict[str, int]) -> pa.Array:
    """Replace personal data in a text column by placeholders, adding to ``counts`` per kind."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    mask = pc.fill_null(pc.match_substring_regex(text, _SCRUB_PREFILTER), False)
    subset = pc.filter(text, mask)
    if len(subset) == 0:
        for kind, _ in SCRUB_PATTERNS:
            counts.setdefault(kind, 0)
        return text
    for kind, pattern in SCRUB_PATTERNS:
        # Replace (and count) only in the rows this kind occurs in: most rows past the prefilter hold
        # one kind at most, so this scans each kind's rows once instead of rewriting them all.
        token = schema.PLACEHOLDERS[kind]
        hit = pc.fill_null(pc.match_substring_regex(subset, pattern), False)
        rows = pc.filter(subset, hit)
        counts.setdefault(kind, 0)
        if len(rows) == 0:
            continue
        before = pc.sum(pc.count_substring(rows, token)).as_py() or 0
        rows = pc.replace_substring_regex(rows, pattern, token)
        counts[kind] += (pc.sum(pc.count_substring(rows, token)).as_py() or 0) - before
        subset = pc.replace_with_mask(subset, hit, rows)
    return pc.replace_with_mask(text, mask, subset)


def duplicate_keys(text: pa.ChunkedArray | pa.Array) -> dict[str, pa.Array]:
    """What ``ingest.finalize`` compares to find duplicate replies, computed while the chunk is in memory
    rather than by reading every text back when ingest finishes: ``text_hash`` (equal texts),
    ``norm_hash`` (near-duplicates: equal once lower-cased and stripped of trailing spaces and ``. ! ?``)
    and ``text_chars``. The hashes are DuckDB's ``hash``, which may change between DuckDB versions:
    each source's manifest records ``near_duplicate_probe()``, and ``finalize`` recomputes every key
    from the texts when a source was hashed by another version."""
    norm = pc.utf8_rtrim(pc.utf8_lower(text), characters=" .!?")
    rel = duckdb_connection().from_arrow(pa.table({"t": text, "n": norm})).select("hash(t) as th, hash(n) as nh")
    out = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    return {"text_hash": out["th"].combine_chunks().cast(pa.uint64()),
            "norm_hash": out["nh"].combine_chunks().cast(pa.uint64()),
            "text_chars": pc.cast(pc.utf8_length(text), pa.int32())}


def near_duplicate_probe() -> int:
    """The hash this DuckDB gives a fixed text: equal probes mean comparable ``norm_hash`` values."""
    return int(duckdb_connection().execute("select hash('llumi near-duplicate probe')").fetchall()[0][0])


def _reasons(n: int, tests: list[tuple[str, pa.Array]]) -> np.ndarray:
    """First matching reason per row (object array; None = keep)."""
    out = np.full(n, None, dtype=object)
    free = np.ones(n, dtype=bool)
    for reason, cond in tests:
        if cond is None:
            continue
        m = np.asarray(pc.fill_null(cond, False).to_numpy(zero_copy_only=False), dtype=bool) & free
        out[m] = reason
        free &= ~m
    return out


def _is_bot(authors, cfg: CleanConfig):
    cond = pc.is_in(authors, pa.array(list(cfg.bots), pa.string()))
    if cfg.bot_pattern:
        cond = pc.or_(cond, pc.fill_null(pc.match_substring_regex(authors, cfg.bot_pattern), False))
    return cond


def _selector(take: pa.Array, n: int):
    """Rows ``take`` of an n-row table or array; the object itself when that is every row."""
    if len(take) == n:
        return lambda x: x
    return lambda x: x.take(take) if isinstance(x, pa.Table) else pc.take(x, take)


def _trimmed_len(text):
    return pc.utf8_length(pc.utf8_trim_whitespace(pc.fill_null(text, "")))


def _strip_prefix(ids, prefix: str):
    return pc.replace_substring_regex(ids, f"^{prefix}", "")


def clean(raw: pa.Table, cfg: CleanConfig, pseudo: Pseudonymiser, source: str) -> Cleaned:
    """Split raw rows into posts and replies, drop by reason, scrub and pseudonymise what is kept."""
    n = raw.num_rows
    dropped: dict[str, int] = {}
    quarantined: list[tuple[int, str, str]] = []
    scrubbed: dict[str, int] = {}
    if n == 0:
        return Cleaned(schema.POSTS.empty_table(), schema.REPLIES.empty_table())

    # ids: Reddit thread files carry "name" (t1_x) as well as "id"
    rid = pc.coalesce(raw["id"], _strip_prefix(raw["name"], "t[13]_"))
    is_comment = pc.or_(pc.is_valid(raw["link_id"]), pc.is_valid(raw["parent_id"]))
    is_comment = pc.or_(pc.fill_null(is_comment, False), pc.and_(pc.is_valid(raw["body"]), pc.is_null(raw["title"])))
    is_comment_np = np.asarray(is_comment.to_numpy(zero_copy_only=False), dtype=bool)
    is_post_np = ~is_comment_np & np.asarray(pc.is_valid(raw["title"]).to_numpy(zero_copy_only=False), dtype=bool)

    # Records we cannot place are quarantined, with the field that is missing.
    lines = raw[LINE].to_numpy()
    missing = np.full(n, None, dtype=object)
    rid_null = np.asarray(pc.is_null(rid).to_numpy(zero_copy_only=False), dtype=bool)
    missing[rid_null] = "id"
    post_ref = pc.coalesce(raw["link_id"], pc.if_else(pc.starts_with(pc.fill_null(raw["parent_id"], ""), "t3_"),
                                                      raw["parent_id"], pa.scalar(None, pa.string())))
    body_null = np.asarray(pc.is_null(raw["body"]).to_numpy(zero_copy_only=False), dtype=bool)
    ref_null = np.asarray(pc.is_null(post_ref).to_numpy(zero_copy_only=False), dtype=bool)
    sel = is_comment_np & (missing == None)  # noqa: E711 (numpy elementwise)
    missing[sel & body_null] = "body"
    missing[sel & ~body_null & ref_null] = "link_id"
    missing[~is_comment_np & ~is_post_np & (missing == None)] = "title or body"  # noqa: E711
    if cfg.community is None:
        sub_null = np.asarray(pc.is_null(raw["subreddit"]).to_numpy(zero_copy_only=False), dtype=bool)
        missing[sub_null & (missing == None)] = "subreddit (or pass --community)"  # noqa: E711
    for i in np.flatnonzero(missing != None):  # noqa: E711
        quarantined.append((int(lines[i]), "missing_field", f"no {missing[i]}"))
    usable = missing == None  # noqa: E711

    community = (pa.array(np.full(n, cfg.community.lower(), dtype=object), pa.string()) if cfg.community
                 else pc.utf8_lower(raw["subreddit"]))
    subs = pa.array([s.lower() for s in cfg.subreddits], pa.string())
    other = pc.invert(pc.is_in(pc.utf8_lower(pc.fill_null(raw["subreddit"], "")), subs)) if cfg.subreddits else None
    meta = raw["_meta"]
    meta_removed = pc.is_valid(pc.struct_field(meta, "removal_type"))
    meta_deleted = pc.struct_field(meta, "was_deleted_later")
    moderator = None
    if not cfg.keep_moderator:
        moderator = pc.or_(pc.is_in(raw["distinguished"], pa.array(["moderator", "admin"])), raw["stickied"])
    bot = _is_bot(raw["author"], cfg)
    score_lag = pc.subtract(pc.coalesce(raw["retrieved_on"], raw["retrieved_utc"]), raw["created_utc"])
    retrieved = pc.coalesce(raw["retrieved_on"], raw["retrieved_utc"])
    edited = pc.fill_null(raw["edited"], False)

    out_posts = schema.POSTS.empty_table()
    out_replies = schema.REPLIES.empty_table()

    # --- replies ------------------------------------------------------------------------------------
    sel_idx = np.flatnonzero(is_comment_np & usable)
    if len(sel_idx):
        take = pa.array(sel_idx)
        sub = _selector(take, n)
        c = sub(raw)  # (a comment dump's chunk is all comments: no copy then)
        body = c["body"]
        stripped = pc.utf8_trim_whitespace(body)
        parent = c["parent_id"]
        known_depth = c[DEPTH] if DEPTH in c.column_names else None
        if known_depth is not None:
            nested = pc.greater(pc.fill_null(known_depth, 1), cfg.max_depth)
        elif cfg.max_depth == 1:
            nested = pc.starts_with(pc.fill_null(parent, "t3_"), "t1_")
        else:
            nested = None  # resolved after ingest, once every reply is in (see ingest.finalize)
        length = pc.utf8_length(pc.fill_null(stripped, ""))
        reasons = _reasons(len(sel_idx), [
            ("other_community", sub(other) if other is not None else None),
            ("deleted", pc.equal(stripped, "[deleted]")),
            ("removed", pc.or_(pc.equal(stripped, "[removed]"), sub(meta_removed))),
            ("deleted_later", sub(meta_deleted)),
            ("empty", pc.equal(length, 0)),
            ("moderator", sub(moderator) if moderator is not None else None),
            ("bot", sub(bot)),
            ("nested", nested),
            ("too_short", pc.less(length, cfg.min_chars)),
            ("too_long", pc.greater(length, cfg.max_chars)),
        ])
        _count(dropped, reasons)
        keep = np.flatnonzero(reasons == None)  # noqa: E711
        if len(keep):
            k = pa.array(keep)
            c = c.take(k)
            gi = pa.array(sel_idx[keep])
            parent = c["parent_id"]
            link = pc.coalesce(c["link_id"], pc.if_else(pc.starts_with(pc.fill_null(parent, ""), "t3_"), parent,
                                                        pa.scalar(None, pa.string())))
            post_id = _strip_prefix(link, "t3_")
            parent_full = pc.coalesce(parent, link)
            if known_depth is not None:
                depth = pc.cast(c[DEPTH], pa.int32())
            else:
                depth = pc.if_else(pc.starts_with(parent_full, "t3_"), pa.scalar(1, pa.int32()),
                                   pa.scalar(None, pa.int32()))
            n_keep = len(keep)
            text = scrub(pc.take(stripped, k), scrubbed)
            out_replies = pa.table({
                "reply_id": _strip_prefix(pc.take(rid, gi), "t1_"),
                "post_id": post_id,
                "parent_id": parent_full,
                "depth": depth,
                "community": pc.take(community, gi),
                "author": pseudo.column(c["author"]),
                "text": text,
                "score": c["score"],
                "created_utc": c["created_utc"],
                "retrieved_on": pc.take(retrieved, gi),
                "score_lag": pc.take(score_lag, gi),
                "edited": pc.take(edited, gi),
                "is_submitter": c["is_submitter"],
                "source": pa.array(np.full(n_keep, source, dtype=object), pa.string()),
                "source_line": c[LINE],
                **duplicate_keys(text),
            }, schema=schema.REPLIES)

    # --- posts --------------------------------------------------------------------------------------
    sel_idx = np.flatnonzero(is_post_np & usable)
    if len(sel_idx):
        take = pa.array(sel_idx)
        sub = _selector(take, n)
        p = sub(raw)
        selftext = pc.fill_null(p["selftext"], "")
        st = pc.utf8_trim_whitespace(selftext)
        title = pc.utf8_trim_whitespace(pc.fill_null(p["title"], ""))
        length = pc.add(_trimmed_len(title), _trimmed_len(selftext))
        link_post = None
        if not cfg.keep_link_posts:
            link_post = pc.and_(pc.equal(pc.fill_null(p["is_self"], True), False), pc.equal(st, ""))
        reasons = _reasons(len(sel_idx), [
            ("other_community", sub(other) if other is not None else None),
            ("deleted", pc.or_(pc.equal(st, "[deleted]"), pc.equal(title, "[deleted by user]"))),
            ("removed", pc.or_(pc.or_(pc.equal(st, "[removed]"), pc.is_valid(p["removed_by_category"])),
                               sub(meta_removed))),
            ("deleted_later", sub(meta_deleted)),
            ("empty", pc.equal(length, 0)),
            ("moderator", sub(moderator) if moderator is not None else None),
            ("bot", sub(bot)),
            ("link_post", link_post),
            ("too_short", pc.less(length, cfg.min_chars)),
            ("too_long", pc.greater(_trimmed_len(selftext), cfg.post_max_chars)),
        ])
        _count(dropped, reasons)
        keep = np.flatnonzero(reasons == None)  # noqa: E711
        if len(keep):
            k = pa.array(keep)
            p = p.take(k)
            gi = pa.array(sel_idx[keep])
            n_keep = len(keep)
            out_posts = pa.table({
                "post_id": _strip_prefix(pc.take(rid, gi), "t3_"),
                "community": pc.take(community, gi),
                "author": pseudo.column(p["author"]),
                "title": scrub(pc.utf8_trim_whitespace(pc.fill_null(p["title"], "")), scrubbed),
                "text": scrub(pc.utf8_trim_whitespace(pc.fill_null(p["selftext"], "")), scrubbed),
                "score": p["score"],
                "created_utc": p["created_utc"],
                "retrieved_on": pc.take(retrieved, gi),
                "score_lag": pc.take(score_lag, gi),
                "edited": pc.take(edited, gi),
                "num_comments": p["num_comments"],
                "source": pa.array(np.full(n_keep, source, dtype=object), pa.string()),
                "source_line": p[LINE],
            }, schema=schema.POSTS)
    return Cleaned(out_posts, out_replies, dropped, quarantined, scrubbed)


def _count(counts: dict[str, int], reasons: np.ndarray) -> None:
    vals, n = np.unique(reasons[reasons != None].astype(str), return_counts=True)  # noqa: E711
    for v, c in zip(vals.tolist(), n.tolist()):
        counts[v] = counts.get(v, 0) + c
