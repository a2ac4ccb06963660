"""Turning decompressed JSON-lines chunks (and Reddit thread files) into Arrow tables of raw records.

The fast path hands a whole chunk to a JSON reader with the fields we keep: DuckDB's (``read_json`` on
an in-memory file, ``memfd``, one connection per worker thread) where the platform has ``memfd_create``
(Linux), otherwise Arrow's (``LLUMI_JSON_ENGINE=arrow`` chooses it anywhere). DuckDB's reader is
about 1.5x faster here and reads ``edited`` (false, or the epoch of the edit) and integers that arrive
as text (``created_utc`` as a string in 2012) as they are; Arrow needs ``edited`` rewritten first and
learns per source which integer fields are text. Integer fields are checked to be whole numbers (see
``finish_types``). DuckDB converts a number or an object where text is expected to its JSON text
(Arrow would reject the chunk); neither occurs in real dumps. When a chunk does not parse (a malformed
line, a value that is no number where one is expected) that chunk alone is parsed line by line with
orjson, so every bad line is quarantined with its line number and the good ones are kept.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from llumi.data.readers import HAVE_MEMFD, count_newlines
from llumi.errors import ConfigError

# The raw fields we read from Reddit objects (comments and submissions share one schema; every other
# key is ignored). Integer fields may arrive as text in some years; see ``Parser.adapt``.
META_TYPE = pa.struct([("removal_type", pa.string()), ("was_deleted_later", pa.bool_())])
RAW = pa.schema([
    ("id", pa.string()),
    ("name", pa.string()),
    ("link_id", pa.string()),
    ("parent_id", pa.string()),
    ("subreddit", pa.string()),
    ("author", pa.string()),
    ("body", pa.string()),
    ("title", pa.string()),
    ("selftext", pa.string()),
    ("is_self", pa.bool_()),
    ("score", pa.int64()),
    ("created_utc", pa.int64()),
    ("retrieved_on", pa.int64()),
    ("retrieved_utc", pa.int64()),
    ("edited", pa.bool_()),  # false, or the epoch of the edit: epochs are rewritten to true before parsing
    ("distinguished", pa.string()),
    ("stickied", pa.bool_()),
    ("removed_by_category", pa.string()),
    ("num_comments", pa.int64()),
    ("is_submitter", pa.bool_()),
    ("_meta", META_TYPE),
])
INT_FIELDS = {f.name for f in RAW if pa.types.is_integer(f.type)}
BOOL_FIELDS = {f.name for f in RAW if pa.types.is_boolean(f.type)}
STR_FIELDS = {f.name for f in RAW if pa.types.is_string(f.type)}
ENGINES = ("duckdb", "arrow")


def default_engine() -> str:
    """``LLUMI_JSON_ENGINE`` if set, else DuckDB where an in-memory file can be handed to it."""
    chosen = os.environ.get("LLUMI_JSON_ENGINE", "").strip().lower()
    if chosen:
        if chosen not in ENGINES:
            raise ConfigError(f"LLUMI_JSON_ENGINE must be one of {', '.join(ENGINES)} (or unset), got {chosen!r}")
        return chosen
    return "duckdb" if HAVE_MEMFD else "arrow"


_duck = threading.local()  # one DuckDB connection per thread (opening one costs ~30 ms)


def duckdb_connection():
    """This thread's single-threaded DuckDB connection (ingest's workers each have their own)."""
    con = getattr(_duck, "con", None)
    if con is None:
        import duckdb

        # the chunk files are rewritten in place: never serve one from a cache
        con = _duck.con = duckdb.connect(config={"threads": 1, "enable_external_file_cache": False})
    return con


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_integer(t):
        return "DOUBLE"  # checked to be whole in finish_types (DuckDB would round 1.5 to 2)
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "STRUCT(" + ", ".join(f"{f.name} {_duck_type(f.type)}" for f in t) + ")"


_DUCK_NAMES = ", ".join(f'"{f.name}"' for f in RAW)
_DUCK_COLUMNS = "{" + ", ".join(f"'{f.name}': '{'VARCHAR' if f.name == 'edited' else _duck_type(f.type)}'"
                                for f in RAW) + "}"
DUCK_RAW = pa.schema([pa.field(f.name, pa.float64()) if f.name in INT_FIELDS else f for f in RAW])


def _edited_from_text(col: pa.ChunkedArray) -> pa.Array:
    """``edited`` as DuckDB reads it, text: "false", or the time of the edit (a number, sometimes as
    text): true when a positive time; "true"/"false" as they are; anything else unknown (null). Done
    here, not in DuckDB's query, where it cost ~0.4 CPU-s/GB."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(col.combine_chunks()))
    number = pc.if_else(pc.match_substring_regex(text, r"^[-+]?(\d+\.?\d*|\.\d+)([e][-+]?\d+)?$"), text,
                        pa.scalar(None, pa.string()))
    positive = pc.greater(pc.cast(number, pa.float64()), 0.0)
    return pc.if_else(pc.equal(text, "true"), True, pc.if_else(pc.equal(text, "false"), False, positive))


class Unreadable(Exception):
    """DuckDB cannot open the chunk's in-memory file; the parser falls back to Arrow's reader."""


class _MemFile:
    """An in-memory file, closed (its memory freed) when the object goes, e.g. with its thread."""

    def __init__(self) -> None:
        self.fd = os.memfd_create("llumi-chunk", os.MFD_CLOEXEC)

    def __del__(self) -> None:
        os.close(self.fd)


def _chunk_file() -> int:
    """This thread's in-memory file for chunks that have none of their own (``readers.Chunk.file``).
    Reused: its pages stay allocated from chunk to chunk (a new file for every chunk costs the kernel
    zeroing 32 MiB of fresh pages each time)."""
    f = getattr(_duck, "file", None)
    if f is None:
        f = _duck.file = _MemFile()
    return f.fd


def _duck_read(buf, expected_rows: int, max_line_bytes: int, file: str | None = None) -> pa.Table | None:
    """DuckDB's JSON reader over ``buf``, read from ``file`` (``buf`` followed only by newlines) or from a
    copy in an in-memory file; None when it does not parse or a line was skipped (blank), so the caller
    takes the careful path."""
    import duckdb

    if file is None:
        fd = _chunk_file()
        view = memoryview(buf)
        os.ftruncate(fd, len(view))
        done = 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], done)
        file = f"/proc/self/fd/{fd}"
    try:
        rel = duckdb_connection().sql(
            f"select {_DUCK_NAMES} from read_json('{file}', format='newline_delimited', auto_detect=false, "
            f"columns={_DUCK_COLUMNS}, maximum_object_size={max(1 << 24, 2 * max_line_bytes)})")
        t = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    except duckdb.IOException as e:  # the file itself cannot be read (a sandbox hiding /proc, say)
        raise Unreadable(str(e)) from None
    except duckdb.Error:
        return None
    if t.num_rows != expected_rows:
        return None
    t = t.set_column(t.schema.get_field_index("edited"), "edited", _edited_from_text(t["edited"]))
    return t.cast(DUCK_RAW)


LINE = "_line"  # 1-based line number in the decompressed source
DEPTH = "_depth"  # known nesting depth (Reddit thread files only)

_CHANGED = re.compile(r"Column\(/([A-Za-z_]+)\) changed from (\w+) to (\w+)")
_CONVERT = re.compile(r"Failed to convert JSON to (\w+)")
# ``edited`` is false or an epoch number: the (rarer) numbers become true, so the column parses as a
# boolean. A key cannot occur unescaped inside a JSON string, so this never touches text.
_EDITED_NUMBER = re.compile(rb'"edited":\s*(-?\d[\d.eE+\-]*)')


def _edited_as_bool(data: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """``data`` with every ``"edited":<number>`` rewritten to ``"edited":true``. A writable buffer is
    rewritten in place, ``true`` padded with spaces (JSON whitespace) to the number's length, so the
    chunk is not copied; a read-only one, or a number shorter than ``true``, gives a copy. ``data``
    itself comes back when there is nothing to rewrite."""
    spans = [m.span(1) for m in _EDITED_NUMBER.finditer(data)]
    if not spans:
        return data
    if not memoryview(data).readonly and all(end - start >= 4 for start, end in spans):
        for start, end in spans:
            data[start:end] = b"true" + b" " * (end - start - 4)
        return data
    parts: list = []
    pos = 0
    for start, end in spans:
        parts += (data[pos:start], b"true")
        pos = end
    parts.append(data[pos:])
    return b"".join(parts)


@dataclass
class Quarantined:
    line: int
    reason: str
    detail: str
    raw: bytes | str | None = None


@dataclass
class Parsed:
    table: pa.Table  # RAW columns (integer fields possibly as text; see ``finish_types``) + LINE
    quarantined: list[Quarantined] = field(default_factory=list)
    blank: int = 0  # blank lines (dropped, not quarantined)
    fast: bool = True


class Parser:
    """Parses chunks of one source; remembers which fields of that source arrive as text."""

    def __init__(self, max_line_bytes: int = 1_000_000, use_threads: bool = True, engine: str | None = None):
        self.max_line_bytes = max_line_bytes
        self.use_threads = use_threads  # off when chunks are already parsed on several threads (Arrow)
        self.engine = engine or default_engine()
        if self.engine not in ENGINES:
            raise ConfigError(f"JSON engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        self.text_fields: set[str] = set()  # integer fields this source sends as text (Arrow)

    def schema(self) -> pa.Schema:
        return pa.schema([
            pa.field(f.name, pa.string()) if f.name in self.text_fields else f for f in RAW
        ])

    def parse_chunk(self, data: bytes | bytearray | memoryview, first_line: int, final: bool = False,
                    truncated: bool = False, lines: int | None = None, file: str | None = None) -> Parsed:
        """Parse one line-aligned chunk (with Arrow, a writable buffer may be changed: see
        ``_edited_as_bool``; the result holds no reference to it). ``truncated``: the stream ended
        mid-frame, so a last line without a newline is a partial record. ``lines``: its newline count,
        where the reader has it. ``file``: a path holding ``data`` followed only by newlines
        (``readers.Chunk.file``), which DuckDB reads without another copy."""
        if len(data) and data[-1] == 10:  # ends with a newline
            # The common case, without indexing every line: one row per line (no blank lines) and no
            # text near the line-length limit. Anything else takes the careful path below.
            n = count_newlines(data) if lines is None else lines
            table = self._fast(data, n, file)
            if table is not None and _longest_text(table) <= self.max_line_bytes // 2:
                return Parsed(table.append_column(LINE, pa.array(np.arange(first_line, first_line + n), pa.int64())))
        return self._careful(data, first_line, truncated)

    def _careful(self, data: bytes | bytearray | memoryview, first_line: int, truncated: bool) -> Parsed:
        data = bytes(data)  # the rare path: quarantined lines keep slices of it
        arr = np.frombuffer(data, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
        if len(data) and (len(nl) == 0 or nl[-1] != len(data) - 1):
            nl = np.append(nl, len(data))  # last line without a trailing newline
        starts = np.concatenate(([0], nl[:-1] + 1)) if len(nl) else np.array([], dtype=np.int64)
        lengths = nl - starts
        quarantined: list[Quarantined] = []
        bad = lengths > self.max_line_bytes
        partial_last = truncated and len(data) and data[-1:] != b"\n"
        # Blank (or whitespace-only) lines: Arrow skips them silently, so keep them out of the buffer.
        blank = lengths == 0
        for i in np.flatnonzero((lengths > 0) & (lengths <= 64)):
            if not data[starts[i]: nl[i]].strip():
                blank[i] = True
        for i in np.flatnonzero(bad):
            quarantined.append(Quarantined(
                first_line + int(i), "line_too_long",
                f"{int(lengths[i]):,} bytes (limit {self.max_line_bytes:,})",
                data[starts[i]: starts[i] + 4096],
            ))
        if partial_last:
            i = len(starts) - 1
            if not bad[i] and not blank[i]:
                quarantined.append(Quarantined(
                    first_line + i, "truncated_line", "the source ends inside this line", data[starts[i]: nl[i]]
                ))
            bad[i] = True
        skip = bad | blank
        line_numbers = first_line + np.flatnonzero(~skip)
        if skip.any():
            keep = np.flatnonzero(~skip)
            buf = b"\n".join(data[starts[i]: nl[i]] for i in keep) + b"\n" if len(keep) else b""
        else:
            buf = data
        n_blank = int(blank.sum()) - int((blank & bad).sum())
        if not buf:
            return Parsed(_empty_table(self.schema()), quarantined, n_blank)
        table = self._fast(buf, len(line_numbers))
        if table is not None:
            table = table.append_column(LINE, pa.array(line_numbers, pa.int64()))
            return Parsed(table, quarantined, n_blank)
        lines = buf.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        parsed = self._slow(lines, line_numbers)
        parsed.quarantined[:0] = quarantined
        parsed.blank = n_blank
        return parsed

    def _fast(self, buf, expected_rows: int, file: str | None = None) -> pa.Table | None:
        """The whole buffer at once (RAW columns, integers possibly as text or float: ``finish_types``),
        or None when it does not parse as ``expected_rows`` records."""
        if self.engine == "duckdb":
            try:
                return _duck_read(buf, expected_rows, self.max_line_bytes, file)
            except Unreadable as e:
                print(f"warning: DuckDB cannot read the chunks' in-memory files ({e}); parsing with Arrow's "
                      "JSON reader instead (about 1.5x slower; LLUMI_JSON_ENGINE=arrow says so up front)",
                      file=sys.stderr)
                self.engine = "arrow"
        buf = _edited_as_bool(buf)
        for _ in range(len(INT_FIELDS) + 1):
            try:
                t = pj.read_json(
                    pa.py_buffer(buf),
                    read_options=pj.ReadOptions(block_size=1 << 22, use_threads=self.use_threads),
                    parse_options=pj.ParseOptions(explicit_schema=self.schema(), unexpected_field_behavior="ignore"),
                )
            except pa.ArrowInvalid as e:
                if not self.adapt(str(e)):
                    return None
                continue
            if t.num_rows != expected_rows:  # should not happen; be safe and go line by line
                return None
            return t
        return None

    def adapt(self, message: str) -> bool:
        """Learn from Arrow's error that an integer field of this source arrives as text."""
        m = _CHANGED.search(message)
        if m and m.group(1) in INT_FIELDS and m.group(1) not in self.text_fields and "string" in (m.group(2), m.group(3)):
            self.text_fields.add(m.group(1))
            return True
        return False

    def _slow(self, lines: list[bytes], line_numbers: np.ndarray) -> Parsed:
        rows: list[dict[str, Any]] = []
        quarantined: list[Quarantined] = []
        for raw, ln in zip(lines, line_numbers.tolist()):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                quarantined.append(Quarantined(ln, "malformed_json", str(e), raw[:4096]))
                continue
            if not isinstance(obj, dict):
                quarantined.append(Quarantined(ln, "not_an_object", f"a JSON {type(obj).__name__}, not an object", raw[:4096]))
                continue
            row, problem = coerce_record(obj)
            if problem:
                quarantined.append(Quarantined(ln, "wrong_type", problem, raw[:4096]))
                continue
            row[LINE] = ln
            rows.append(row)
        schema = RAW.append(pa.field(LINE, pa.int64()))
        return Parsed(pa.Table.from_pylist(rows, schema=schema), quarantined, fast=False)


def coerce_record(obj: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Pick and type the RAW fields of one decoded object; returns (row, problem or None)."""
    row: dict[str, Any] = {}
    for name in STR_FIELDS:
        v = obj.get(name)
        if v is None or isinstance(v, str):
            row[name] = v
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and name in ("id", "link_id", "parent_id"):
            row[name] = str(v)
        elif name in ("distinguished", "removed_by_category", "author"):
            row[name] = None if not isinstance(v, str) else v
        else:
            return row, f"field {name!r} should be text, got {type(v).__name__}"
    for name in INT_FIELDS:
        v = obj.get(name)
        if v is None:
            row[name] = None
        elif isinstance(v, bool):
            return row, f"field {name!r} should be a number, got {v!r}"
        elif isinstance(v, int):
            row[name] = v
        elif isinstance(v, float) and v.is_integer():
            row[name] = int(v)
        elif isinstance(v, str) and _INT_TEXT.match(v.strip()):
            row[name] = int(float(v.strip()))
        else:
            return row, f"field {name!r} should be a number, got {v!r:.60}"
    for name in BOOL_FIELDS:
        v = obj.get(name)
        row[name] = v if isinstance(v, bool) else (None if v is None else bool(v))
    e = obj.get("edited")
    if e is None or isinstance(e, bool):
        row["edited"] = e
    elif isinstance(e, (int, float)) or (isinstance(e, str) and _INT_TEXT.match(e.strip())):
        row["edited"] = float(e) > 0
    else:
        return row, f"field 'edited' should be false or a time, got {e!r:.60}"
    m = obj.get("_meta")
    if isinstance(m, dict):
        rt = m.get("removal_type")
        row["_meta"] = {"removal_type": rt if isinstance(rt, str) else None,
                        "was_deleted_later": bool(m.get("was_deleted_later")) if m.get("was_deleted_later") is not None else None}
    else:
        row["_meta"] = None
    return row, None


_INT_TEXT = re.compile(r"^-?\d+(\.0*)?$")


def finish_types(table: pa.Table) -> tuple[pa.Table, list[Quarantined]]:
    """Cast integer fields that arrived as text or as floats; rows with a value that is not a whole
    number are taken out and returned as quarantined (reason ``wrong_type``, with the field and value)."""
    bad = np.zeros(table.num_rows, dtype=bool)
    details = [""] * table.num_rows
    for name in INT_FIELDS:
        col = table[name]
        if pa.types.is_floating(col.type):
            whole = pc.and_(pc.equal(col, pc.floor(col)), pc.less_equal(pc.abs(col), 2.0**62))
            invalid = np.asarray(pc.fill_null(pc.invert(whole), False).to_numpy(zero_copy_only=False), dtype=bool)
            for i in np.flatnonzero(invalid & ~bad):
                details[i] = f"field {name!r} should be a whole number, got {col[int(i)].as_py()!r:.60}"
            bad |= invalid
            ints = pc.cast(pc.if_else(whole, col, pa.scalar(None, col.type)), pa.int64())
            table = table.set_column(table.schema.get_field_index(name), name, ints)
            continue
        if not pa.types.is_string(col.type):
            continue
        stripped = pc.utf8_trim_whitespace(col)
        ok = pc.match_substring_regex(stripped, r"^-?\d+(\.0*)?$")
        invalid = np.asarray(pc.fill_null(pc.and_(pc.is_valid(stripped), pc.invert(ok)), False)
                             .to_numpy(zero_copy_only=False), dtype=bool)
        for i in np.flatnonzero(invalid & ~bad):
            details[i] = f"field {name!r} should be a number, got {col[int(i)].as_py()!r:.60}"
        bad |= invalid
        cleaned = pc.if_else(ok, stripped, pa.scalar(None, pa.string()))
        ints = pc.cast(pc.cast(cleaned, pa.float64()), pa.int64())
        table = table.set_column(table.schema.get_field_index(name), name, ints)
    if not bad.any():
        return table, []
    lines = table[LINE].to_numpy()
    quarantined = [Quarantined(int(lines[i]), "wrong_type", details[i]) for i in np.flatnonzero(bad)]
    return table.filter(pa.array(~bad)), quarantined


def _longest_text(table: pa.Table) -> int:
    """Bytes of the longest text field: a line near the length limit must hold one."""
    longest = 0
    for name in ("body", "selftext", "title"):
        m = pc.max(pc.binary_length(table[name])).as_py()
        longest = max(longest, m or 0)
    return longest


def _empty_table(schema: pa.Schema) -> pa.Table:
    return schema.append(pa.field(LINE, pa.int64())).empty_table()


def reddit_thread_records(obj: Any) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    """Flatten a thread saved from Reddit's JSON view (``[submission listing, comment listing]``, replies
    nested under ``replies``) into raw rows. ``_line`` is the item's position in document order, and
    the nesting depth is kept (1 = top-level reply)."""
    rows: list[dict[str, Any]] = []
    quarantined: list[Quarantined] = []
    if not (isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj)):
        raise ValueError("expected a JSON array of listings, as saved from a Reddit thread's .json view")
    counter = 0

    def visit(thing: Any, depth: int) -> None:
        nonlocal counter
        if not isinstance(thing, dict):
            return
        kind, data = thing.get("kind"), thing.get("data")
        if kind == "Listing" and isinstance(data, dict):
            for child in data.get("children") or []:
                visit(child, depth)
            return
        if kind == "more" or not isinstance(data, dict):
            return
        counter += 1
        if kind not in ("t1", "t3"):
            quarantined.append(Quarantined(counter, "unknown_kind", f"item kind {kind!r}", orjson.dumps(thing)[:4096]))
            return
        row, problem = coerce_record(data)
        if problem:
            quarantined.append(Quarantined(counter, "wrong_type", problem, orjson.dumps(data)[:4096]))
        else:
            row[LINE] = counter
            row[DEPTH] = depth if kind == "t1" else None
            rows.append(row)
        replies = data.get("replies")
        if isinstance(replies, dict):
            visit(replies, depth + 1)

    for listing in obj:
        visit(listing, 1)
    return rows, quarantined


RAW_WITH_DEPTH = RAW.append(pa.field(LINE, pa.int64())).append(pa.field(DEPTH, pa.int32()))
