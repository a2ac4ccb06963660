"""`llumi ingest`: read community sources into the workspace store, cleaned, scrubbed, pseudonymised.

Each source is read in decompressed chunks of ``chunk_mb``; each chunk becomes one Parquet part per
table (``store/posts/part-<source>-<chunk>.parquet``), one quarantine file, and one entry in the
source's manifest. Part names depend only on the source's content and the chunk size, so

- re-running an ingest of a finished source adds nothing (it is skipped), and
- an interrupted ingest, re-run, redoes at most the chunk it was in and ends in the same state as an
  uninterrupted run (every write is a temporary file and a rename).

After every run, ``finalize`` recomputes what is excluded across the whole store (the same reply twice,
duplicate and near-duplicate texts, replies deeper than ``max_depth``), so the store's views stay right
however the sources were split between runs.

Every line read is accounted for: ``lines_read = kept + sum(dropped) + sum(quarantined)``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson
import pyarrow as pa
import pyarrow.compute  # noqa: F401 (pa.compute)
import pyarrow.parquet as pq

from llumi import config as cfgmod
from llumi.data import readers, schema
from llumi.data.clean import CleanConfig, Cleaned, Pseudonymiser, clean, near_duplicate_probe
from llumi.data.parse import (LINE, RAW, RAW_WITH_DEPTH, Parser, Quarantined, default_engine, finish_types,
                              reddit_thread_records)
from llumi.errors import ConfigError, InputError
from llumi.workspace import Workspace, write_json_atomic, write_meta

MANIFEST_VERSION = 2  # 2: replies carry their duplicate keys (text_hash, norm_hash, text_chars)

# Column mappings for tables of posts and scored replies. Keys are LLUMI's names; values the table's.
TABLE_KEYS = ("post_id", "post_title", "post_text", "reply_text", "score", "reply_id", "author",
              "post_author", "created_utc", "post_created_utc")
TABLE_REQUIRED = ("post_id", "reply_text", "score")
PRESETS = {
    # CounselChat: questions answered by licensed therapists, answers carry upvotes.
    "counselchat": {"post_id": "questionID", "post_title": "questionTitle", "post_text": "questionText",
                    "reply_text": "answerText", "score": "upvotes"},
}


@dataclass(frozen=True)
class IngestConfig(CleanConfig):
    """Settings of one ingest (YAML keys or ``--set key=value``)."""

    chunk_mb: int = 32
    max_line_bytes: int = 1_000_000
    format: str = "auto"                  # auto, ndjson, reddit-thread, csv, parquet
    columns: dict = dataclasses.field(default_factory=dict)  # table column mapping (see TABLE_KEYS)
    preset: str | None = None             # a named column mapping, e.g. counselchat
    near_duplicate_min_chars: int = 50    # identical normalised texts this long are duplicates across posts
    workers: int = 2                      # chunks processed at once (each uses about 6x chunk_mb of memory)

    def __post_init__(self):
        super().__post_init__()
        if self.format not in ("auto", "ndjson", "reddit-thread", "csv", "parquet"):
            raise ValueError(f"format must be auto, ndjson, reddit-thread, csv or parquet, not {self.format!r}")
        if self.chunk_mb < 1:
            raise ValueError("chunk_mb must be at least 1")
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; presets are: {', '.join(PRESETS)}")
        unknown = set(self.columns) - set(TABLE_KEYS)
        if unknown:
            raise ValueError(f"unknown column mapping key(s) {', '.join(sorted(unknown))}; keys are: {', '.join(TABLE_KEYS)}")

    def mapping(self) -> dict[str, str]:
        m = dict(PRESETS[self.preset]) if self.preset else {}
        m.update(self.columns)
        return m


@dataclass
class SourceResult:
    path: str
    key: str
    format: str
    status: str = "done"                  # done, skipped (already ingested), truncated, error
    lines_read: int = 0
    kept_posts: int = 0
    kept_replies: int = 0
    dropped: Counter = dataclasses.field(default_factory=Counter)
    quarantined: Counter = dataclasses.field(default_factory=Counter)
    scrubbed: Counter = dataclasses.field(default_factory=Counter)
    decompressed_bytes: int = 0
    compressed_bytes: int = 0
    sha256: str | None = None
    message: str | None = None

    def as_manifest(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("dropped", "quarantined", "scrubbed"):
            d[k] = dict(getattr(self, k))
        return d


def ingest(
    ws: Workspace,
    sources: Iterable[str | os.PathLike],
    cfg: IngestConfig = IngestConfig(),
    *,
    progress: bool = True,
    on_chunk: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Ingest ``sources`` into ``ws``'s store; returns the run's summary (see the module docstring).
    ``on_chunk(source_key, chunk_index)`` is called after each chunk is safely on disk."""
    paths = [Path(s) for s in sources]
    if not paths:
        raise InputError("no sources given: pass one or more dump files (.zst, .jsonl, .gz, .json, .csv, .parquet)")
    for p in paths:
        if not p.exists():
            raise InputError(f"{p}: no such file")
        if p.is_dir():
            raise InputError(f"{p}: is a folder; pass the files in it (for example {p}/*.zst)")
    default_engine()  # a bad LLUMI_JSON_ENGINE is an error before anything is written
    ws.ensure()
    for sub in ("posts", "replies", "quarantine", "manifest"):
        (ws.store / sub).mkdir(parents=True, exist_ok=True)
    pseudo = Pseudonymiser(ws.secret_key())
    t0 = time.time()
    results = []
    for path in paths:
        results.append(_ingest_source(ws, path, cfg, pseudo, progress, on_chunk))
    excluded = finalize(ws, cfg)
    # Move rows that finalize excluded from this run's "kept" into "dropped".
    for r in results:
        for (table, reason), n in excluded.get(r.key, {}).items():
            if table == "posts":
                r.kept_posts -= n
            else:
                r.kept_replies -= n
            r.dropped[reason] += n
    summary = _summary(ws, results, time.time() - t0)
    _write_store_meta(ws, cfg, results, summary)
    return summary


def _ingest_source(ws, path: Path, cfg: IngestConfig, pseudo, progress: bool, on_chunk) -> SourceResult:
    fmt = readers.detect_format(path) if cfg.format == "auto" else cfg.format
    key = readers.source_key(path)
    manifest_path = ws.store / "manifest" / f"{key}.json"
    chunk_bytes = cfg.chunk_mb << 20
    settings = _settings_fingerprint(cfg)
    state: dict[str, Any] = {}
    if manifest_path.exists():
        state = orjson.loads(manifest_path.read_bytes())
        if state.get("settings") != settings or state.get("version") != MANIFEST_VERSION:
            _remove_parts(ws, key)  # ingested with other settings: start this source over
            state = {}
    if state.get("complete"):
        r = SourceResult(str(path), key, fmt, status="skipped",
                         message="already ingested with these settings; nothing added")
        r.sha256 = state.get("result", {}).get("sha256")
        return r
    probe = near_duplicate_probe()
    if state and state.get("near_duplicate_probe") != probe:
        _remove_parts(ws, key)  # its parts' keys came from another DuckDB version: start this source over
        state = {}
    chunks_done: dict[str, Any] = state.get("chunks", {})
    result = SourceResult(str(path), key, fmt)

    def save(complete: bool) -> None:
        write_json_atomic(manifest_path, {
            "version": MANIFEST_VERSION, "settings": settings, "source": str(path), "key": key,
            "format": fmt, "chunks": chunks_done, "complete": complete, "result": result.as_manifest(),
            "near_duplicate_probe": probe,
        })

    def write_chunk(index: int, cleaned: Cleaned, lines: int, quarantined: list[Quarantined], blank: int) -> dict:
        """Write one chunk's parts and quarantine file (safe to call from worker threads)."""
        name = f"part-{key}-{index:06d}.parquet"
        for table, folder in ((cleaned.posts, "posts"), (cleaned.replies, "replies")):
            target = ws.store / folder / name
            if table.num_rows:
                _write_parquet(table, target)
            elif target.exists():
                target.unlink()
        qpath = ws.store / "quarantine" / f"{key}-{index:06d}.jsonl"
        qrows = [q for q in quarantined] + [Quarantined(l, r, d) for l, r, d in cleaned.quarantined]
        if qrows:
            _write_quarantine(qpath, path.name, qrows)
        elif qpath.exists():
            qpath.unlink()
        return {
            "lines": lines,
            "kept_posts": cleaned.posts.num_rows,
            "kept_replies": cleaned.replies.num_rows,
            "dropped": dict(Counter(cleaned.dropped) + Counter({"blank": blank} if blank else {})),
            "quarantined": dict(Counter(q.reason for q in qrows)),
            "scrubbed": dict(cleaned.scrubbed),
        }

    def record(index: int, counts: dict) -> None:
        """Mark a chunk done in the manifest (in chunk order, from the main thread)."""
        chunks_done[str(index)] = counts
        save(False)
        if on_chunk:
            on_chunk(key, index)

    bar = _progress(path, progress)
    try:
        if fmt == "ndjson":
            _read_ndjson(path, cfg, pseudo, chunk_bytes, chunks_done, write_chunk, record, result, bar)
        elif fmt == "reddit-thread":
            if "0" not in chunks_done:
                _read_thread(path, cfg, pseudo, write_chunk, record, bar)
        elif fmt in ("csv", "parquet"):
            _read_table(path, fmt, cfg, pseudo, chunks_done, write_chunk, record, bar)
        else:
            raise InputError(f"{path}: unknown format {fmt!r}")
    finally:
        bar.close()
    for counts in chunks_done.values():
        result.lines_read += counts["lines"]
        result.kept_posts += counts["kept_posts"]
        result.kept_replies += counts["kept_replies"]
        result.dropped.update(counts["dropped"])
        result.quarantined.update(counts["quarantined"])
        result.scrubbed.update(counts["scrubbed"])
    if result.status == "done":
        save(True)
    else:
        save(False)
    return result


def _read_ndjson(path, cfg, pseudo, chunk_bytes, chunks_done, write_chunk, record, result, bar) -> None:
    """Chunks are parsed, cleaned and written by ``cfg.workers`` threads (Arrow releases the GIL), while a
    background thread decompresses; the manifest records chunks in order."""
    from concurrent.futures import ThreadPoolExecutor

    parser = Parser(cfg.max_line_bytes, use_threads=cfg.workers <= 1)
    src = readers.ByteSource(path, as_files=parser.engine == "duckdb")

    def work(chunk: readers.Chunk, truncated: bool) -> dict:
        try:
            lines = chunk.lines
            parsed = parser.parse_chunk(chunk.data, chunk.first_line, final=chunk.final, truncated=truncated,
                                        lines=lines, file=chunk.file)
            table, wrong = finish_types(parsed.table)
            quarantined = parsed.quarantined + wrong
            cleaned = clean(table, cfg, pseudo, path.name)
            return write_chunk(chunk.index, cleaned, lines, _with_raw(quarantined, chunk), parsed.blank)
        finally:
            chunk.release()  # its buffer takes a later chunk

    last = 0
    pending: list = []
    with ThreadPoolExecutor(max_workers=max(1, cfg.workers), thread_name_prefix="llumi-ingest") as pool:
        try:
            for chunk in src.chunks(chunk_bytes):
                bar.update(src.state.compressed_bytes - last)
                last = src.state.compressed_bytes
                truncated = chunk.final and (src.state.truncated or src.state.error is not None)
                if (str(chunk.index) in chunks_done and not chunk.final) or (not len(chunk.data) and chunk.final):
                    chunk.release()  # done in an earlier, interrupted run, or nothing left after the last newline
                    continue
                pending.append((chunk.index, pool.submit(work, chunk, truncated)))
                while len(pending) > cfg.workers or (pending and pending[0][1].done()):
                    index, fut = pending.pop(0)
                    record(index, fut.result())
            while pending:
                index, fut = pending.pop(0)
                record(index, fut.result())
        finally:
            for _, fut in pending:
                fut.cancel()
    bar.update(src.state.compressed_bytes - last)
    result.decompressed_bytes = src.state.decompressed_bytes
    result.compressed_bytes = src.state.compressed_bytes
    result.sha256 = src.state.sha256
    if src.state.truncated or src.state.error:
        result.status = "truncated"
        how = src.state.error or "the compressed stream ends in the middle of a frame"
        result.message = (f"{path.name} is truncated or damaged: {how}; read {src.state.compressed_bytes:,} "
                          f"compressed bytes into {src.state.decompressed_bytes:,} bytes of lines; everything "
                          "up to there was ingested. Re-run with the complete file to finish it.")


def _with_raw(quarantined: list[Quarantined], chunk: readers.Chunk) -> list[Quarantined]:
    """Fill in the raw line (first 4 KiB, copied out of the chunk's buffer) for quarantined records that
    lack it."""
    if all(q.raw is not None for q in quarantined):
        return quarantined
    starts = ends = None
    out = []
    for q in quarantined:
        if q.raw is None:
            if starts is None:
                import numpy as np

                nl = np.flatnonzero(np.frombuffer(chunk.data, dtype=np.uint8) == 10)
                starts = np.concatenate(([0], nl + 1))
                ends = np.append(nl, len(chunk.data))
            i = q.line - chunk.first_line
            if 0 <= i < len(starts):
                q = dataclasses.replace(q, raw=bytes(chunk.data[starts[i]: min(ends[i], starts[i] + 4096)]))
        out.append(q)
    return out


def _read_thread(path, cfg, pseudo, write_chunk, record, bar) -> None:
    data = path.read_bytes()
    bar.update(len(data))
    try:
        obj = orjson.loads(data)
        rows, quarantined = reddit_thread_records(obj)
    except (orjson.JSONDecodeError, ValueError) as e:
        raise InputError(f"{path}: not a Reddit thread saved from its .json view: {e}") from None
    table = pa.Table.from_pylist(rows, schema=RAW_WITH_DEPTH)
    cleaned = clean(table, cfg, pseudo, path.name)
    record(0, write_chunk(0, cleaned, len(rows) + len(quarantined), quarantined, 0))


def _read_table(path, fmt, cfg, pseudo, chunks_done, write_chunk, record, bar) -> None:
    mapping = cfg.mapping()
    columns = readers.table_columns(path, fmt)
    missing_keys = [k for k in TABLE_REQUIRED if k not in mapping]
    if missing_keys:
        raise ConfigError(
            f"{path.name}: a table needs a column mapping for {', '.join(missing_keys)} "
            f"(for example --map post_id=COLUMN, or --preset counselchat); its columns are: {', '.join(columns)}"
        )
    if "post_text" not in mapping and "post_title" not in mapping:
        raise ConfigError(f"{path.name}: map post_text or post_title to a column; its columns are: {', '.join(columns)}")
    absent = [f"{k}={v!r}" for k, v in mapping.items() if v not in columns]
    if absent:
        raise ConfigError(f"{path.name}: mapped column(s) not found: {', '.join(absent)}; its columns are: {', '.join(columns)}")
    if cfg.community is None:
        raise ConfigError(f"{path.name}: a table needs --community NAME (the community's name in the store)")
    batches = readers.read_csv_batches(path) if fmt == "csv" else readers.read_parquet_batches(path)
    row = 0
    for index, batch in enumerate(batches):
        n = batch.num_rows
        bar.update(0)
        first = row + 1
        row += n
        if str(index) in chunks_done:
            continue
        raw, quarantined = _table_to_raw(batch, mapping, cfg.community, first)
        # Each table row is one reply; its post is one more record (from the first row that carries it).
        posts_rows = raw.num_rows - int(pa.compute.sum(pa.compute.is_valid(raw["link_id"])).as_py() or 0)
        raw, wrong = finish_types(raw)
        quarantined += wrong
        cleaned = clean(raw, cfg, pseudo, path.name)
        record(index, write_chunk(index, cleaned, n + posts_rows, quarantined, 0))
        bar.set_postfix_str(f"{row:,} rows")


def _table_to_raw(batch: pa.RecordBatch, mapping: dict[str, str], community: str, first_row: int):
    """Rows of (post, scored reply) -> raw comment records, plus one submission record for each post
    first seen in this batch. ``_line`` is the 1-based data row (post records get the row of their
    first reply)."""
    import pyarrow.compute as pc

    cols = {k: batch.column(v) for k, v in mapping.items()}
    n = batch.num_rows
    lines = list(range(first_row, first_row + n))

    def text(k):
        if k not in cols:
            return [None] * n
        return pc.cast(cols[k], pa.string()).to_pylist()

    post_ids, titles, texts = text("post_id"), text("post_title"), text("post_text")
    bodies, scores = text("reply_text"), text("score")
    reply_ids, authors, post_authors = text("reply_id"), text("author"), text("post_author")
    created, post_created = text("created_utc"), text("post_created_utc")
    quarantined: list[Quarantined] = []
    rows, seen_posts = [], set()
    prefix = community.lower()
    for i in range(n):
        pid = post_ids[i]
        if pid is None or pid.strip() == "":
            quarantined.append(Quarantined(lines[i], "missing_field", f"no {mapping['post_id']} (post_id)"))
            continue
        gid = f"{prefix}:{pid}"
        if gid not in seen_posts:
            seen_posts.add(gid)
            rows.append({"id": gid, "subreddit": community, "title": titles[i] or "", "selftext": texts[i] or "",
                         "is_self": True, "author": post_authors[i], "created_utc": post_created[i],
                         LINE: lines[i]})
        rows.append({"id": reply_ids[i] and f"{prefix}:{reply_ids[i]}" or f"{gid}:r{lines[i]}",
                     "link_id": f"t3_{gid}", "parent_id": f"t3_{gid}", "subreddit": community,
                     "body": bodies[i], "score": scores[i], "author": authors[i], "created_utc": created[i],
                     LINE: lines[i]})
    text_ints = RAW
    for name in ("score", "created_utc"):
        text_ints = text_ints.set(text_ints.get_field_index(name), pa.field(name, pa.string()))
    return pa.Table.from_pylist(rows, schema=text_ints.append(pa.field(LINE, pa.int64()))), quarantined


# --- finalize: exclusions that need the whole store ---------------------------------------------------

def finalize(ws: Workspace, cfg: IngestConfig) -> dict[str, dict[tuple[str, str], int]]:
    """Recompute ``store/excluded.parquet``; returns counts per source key, table and reason."""
    import duckdb

    replies_glob = (ws.store / "replies").as_posix() + "/*.parquet"
    posts_glob = (ws.store / "posts").as_posix() + "/*.parquet"
    have_replies = any((ws.store / "replies").glob("*.parquet"))
    have_posts = any((ws.store / "posts").glob("*.parquet"))
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    parts = []
    if have_replies:
        con.execute(f"create view r as select * exclude (filename), parse_filename(filename) as part "
                    f"from read_parquet('{replies_glob}', filename=true, union_by_name=true)")
        # The same reply id more than once (overlapping dumps, Arctic Shift re-fetches): keep the latest snapshot.
        # Then duplicate text: within a post any length; across posts when long (copy-paste spam).
        # near-duplicate: the same words ignoring case, surrounding space and trailing punctuation
        # The keys stored with each reply (clean.duplicate_keys) where every part has them and they all
        # came from this DuckDB; otherwise every key is computed from the texts.
        th, norm, length = "text_hash", "norm_hash", "text_chars"
        columns = [d[0] for d in con.execute("select * from r limit 0").description]
        if (not {th, norm, length} <= set(columns) or _hashed_by_another_duckdb(ws) or con.execute(
                f"select count(*) from r where {th} is null or {norm} is null or {length} is null").fetchall()[0][0]):
            th, norm, length = "hash(text)", "hash(rtrim(lower(text), ' .!?'))", "length(text)"
        parts.append(f"""
            with keys as (  -- the texts reduced to hashes first, so nothing below carries them
                select reply_id, post_id, community, part, source_line, created_utc, retrieved_on,
                       {th} as th, {norm} as norm, {length} as len
                from r
            ),
            -- Each step ranks only the groups of two or more (found by a hash aggregate): a window over
            -- every reply would sort them all to find a few thousand duplicates.
            dup_ids as (select reply_id from keys group by reply_id having count(*) > 1),
            ranked as (
                select *, row_number() over (partition by reply_id
                                             order by retrieved_on desc nulls last, part desc, source_line desc) as id_rank
                from keys semi join dup_ids using (reply_id)
            ),
            unique_ids as (
                select * from keys anti join dup_ids using (reply_id)
                union all by name
                select * exclude (id_rank) from ranked where id_rank = 1
            ),
            post_groups as (select post_id, norm from unique_ids group by all having count(*) > 1),
            within_post as (
                select *, row_number() over (partition by post_id, norm order by created_utc nulls last, part, source_line) as rk,
                       first_value(th) over (partition by post_id, norm order by created_utc nulls last, part, source_line) as first_th
                from unique_ids semi join post_groups using (post_id, norm)
            ),
            long_firsts as (  -- the first of each text within its post, when long enough to count across posts
                select * from unique_ids anti join post_groups using (post_id, norm) where len >= {int(cfg.near_duplicate_min_chars)}
                union all by name
                select * exclude (rk, first_th) from within_post where rk = 1 and len >= {int(cfg.near_duplicate_min_chars)}
            ),
            community_groups as (select community, norm from long_firsts group by all having count(*) > 1),
            across as (
                select *, row_number() over (partition by community, norm order by created_utc nulls last, part, source_line) as rk2,
                       first_value(th) over (partition by community, norm order by created_utc nulls last, part, source_line) as first_th2
                from long_firsts semi join community_groups using (community, norm)
            )
            select 'replies' as "table", reply_id as id, part, source_line, 'duplicate_id' as reason
              from ranked where id_rank > 1
            union all
            select 'replies', reply_id, part, source_line,
                   case when th = first_th then 'duplicate' else 'near_duplicate' end
              from within_post where rk > 1
            union all
            select 'replies', reply_id, part, source_line,
                   case when th = first_th2 then 'duplicate' else 'near_duplicate' end
              from across where rk2 > 1
        """)
        if cfg.max_depth > 1:
            parts.append(_depth_sql(cfg.max_depth))
    if have_posts:
        con.execute(f"create view p as select * exclude (filename), parse_filename(filename) as part from read_parquet('{posts_glob}', filename=true)")
        parts.append("""
            select 'posts', post_id, part, source_line, 'duplicate_id' from (
                select *, row_number() over (partition by post_id
                    order by retrieved_on desc nulls last, part desc, source_line desc) as rk from p) where rk > 1
        """)
    target = ws.store / "excluded.parquet"
    if not parts:
        if target.exists():
            target.unlink()
        return {}
    rel = con.sql(" union all ".join(f"({q})" for q in parts))
    excluded = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    excluded = excluded.rename_columns(schema.EXCLUDED.names).cast(schema.EXCLUDED)
    _write_parquet(excluded, target)
    # Attribute exclusions to sources: a part's name carries its source key.
    counts: dict[str, dict[tuple[str, str], int]] = {}
    keyed = con.execute(f"""
        select "table", reason, regexp_extract(part, 'part-([0-9a-f]+)-', 1) as key, count(*) as n
        from read_parquet('{target.as_posix()}') group by all
    """).fetchall()
    for table, reason, key, n in keyed:
        counts.setdefault(key, {})[(table, reason)] = n
    return counts


def _hashed_by_another_duckdb(ws: Workspace) -> bool:
    """Whether any source's stored duplicate keys came from another DuckDB version (its manifest's probe)."""
    probe = near_duplicate_probe()
    return any(orjson.loads(m.read_bytes()).get("near_duplicate_probe") != probe
               for m in (ws.store / "manifest").glob("*.json"))


def _depth_sql(max_depth: int) -> str:
    """Replies deeper than ``max_depth`` (or whose chain of parents is not in the store)."""
    return f"""
        with recursive tree(reply_id, part, source_line, depth) as (
            select reply_id, part, source_line, 1 from r where parent_id like 't3_%'
            union all
            select c.reply_id, c.source, c.source_line, t.depth + 1
            from r c join tree t on c.parent_id = 't1_' || t.reply_id
            where t.depth < {max_depth}
        )
        select 'replies', reply_id, part, source_line, 'nested' from r
        where not exists (select 1 from tree t where t.reply_id = r.reply_id)
    """


# --- helpers ------------------------------------------------------------------------------------------

def _settings_fingerprint(cfg: IngestConfig) -> dict[str, Any]:
    return cfgmod.to_dict(cfg)


def _remove_parts(ws: Workspace, key: str) -> None:
    for folder in ("posts", "replies"):
        for p in (ws.store / folder).glob(f"part-{key}-*.parquet"):
            p.unlink()
    for p in (ws.store / "quarantine").glob(f"{key}-*.jsonl"):
        p.unlink()


_DICTIONARY_COLUMNS = ["post_id", "parent_id", "community", "author", "source", "table", "reason", "part"]


def _write_parquet(table: pa.Table, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd",
                   use_dictionary=[c for c in _DICTIONARY_COLUMNS if c in table.column_names])
    os.replace(tmp, target)


def _write_quarantine(target: Path, source_name: str, rows: list[Quarantined]) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        for q in sorted(rows, key=lambda q: q.line):
            raw = q.raw
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8", "replace")
            f.write(orjson.dumps({"source": source_name, "line": q.line, "reason": q.reason,
                                  "detail": q.detail, "raw": raw}) + b"\n")
    os.replace(tmp, target)


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix_str(self, s: str) -> None: ...
    def close(self) -> None: ...


def _progress(path: Path, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=path.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"ingest {path.name}", leave=False, dynamic_ncols=True)


def _summary(ws: Workspace, results: list[SourceResult], seconds: float) -> dict[str, Any]:
    dropped, quarantined, scrubbed = Counter(), Counter(), Counter()
    for r in results:
        dropped.update(r.dropped)
        quarantined.update(r.quarantined)
        scrubbed.update(r.scrubbed)
    kept = sum(r.kept_posts + r.kept_replies for r in results)
    lines = sum(r.lines_read for r in results)
    return {
        "workspace": str(ws.root),
        "store": str(ws.store),
        "quarantine": str(ws.store / "quarantine"),
        "lines_read": lines,
        "kept": kept,
        "kept_posts": sum(r.kept_posts for r in results),
        "kept_replies": sum(r.kept_replies for r in results),
        "dropped": dict(sorted(dropped.items())),
        "quarantined": dict(sorted(quarantined.items())),
        "scrubbed": dict(sorted(scrubbed.items())),
        "seconds": round(seconds, 3),
        "sources": [
            {"path": r.path, "format": r.format, "status": r.status, "lines_read": r.lines_read,
             "kept_posts": r.kept_posts, "kept_replies": r.kept_replies, "dropped": dict(r.dropped),
             "quarantined": dict(r.quarantined), "decompressed_bytes": r.decompressed_bytes,
             "sha256": r.sha256, "message": r.message}
            for r in results
        ],
    }


def _write_store_meta(ws: Workspace, cfg: IngestConfig, results: list[SourceResult], summary: dict) -> None:
    meta_path = ws.store / "meta.json"
    previous = orjson.loads(meta_path.read_bytes()) if meta_path.exists() else {}
    inputs = dict(previous.get("inputs", {}))
    for r in results:
        if r.sha256:
            inputs[Path(r.path).name] = r.sha256
    runs = list(previous.get("runs", []))[-49:]
    runs.append({k: summary[k] for k in ("lines_read", "kept", "dropped", "quarantined", "scrubbed", "seconds")}
                | {"sources": [s["path"] for s in summary["sources"]]})
    write_meta(ws.store, stage="ingest", config=cfgmod.to_dict(cfg), inputs=inputs,
               outputs={"posts": "posts/*.parquet", "replies": "replies/*.parquet",
                        "quarantine": "quarantine/*.jsonl", "excluded": "excluded.parquet"},
               runs=runs, schema={"posts": schema.POSTS.names, "replies": schema.REPLIES.names})
