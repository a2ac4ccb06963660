"""Reading community sources as streams of decompressed byte chunks and Arrow tables of raw records.

Sources seen in the wild (see ``docs/reddit-dumps.md`` of the project brief):

- Pushshift / Arctic Shift NDJSON compressed with zstd, with a 2 GiB window (monthly files) or a small
  one (re-filtered per-subreddit files), possibly several frames;
- plain or gzip JSON lines;
- a thread saved from Reddit's JSON view (a two-element array of listings, replies nested);
- CSV or Parquet tables of posts and scored replies, with a column mapping.

Every byte source is read in fixed-size decompressed chunks in constant memory; a chunk always ends at
a line boundary (the remainder, which may hold half a UTF-8 character, is carried into the next chunk).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import mmap
import os
import queue
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator

import zstandard

from llumi.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
MAX_WINDOW = 2**31  # the official monthly dumps use a 2 GiB window


def detect_format(path: Path) -> str:
    """One of ``ndjson`` (any compression), ``reddit-thread``, ``csv``, ``parquet``."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(ZSTD_MAGIC) or head.startswith(GZIP_MAGIC):
        return "ndjson"
    if head.startswith(b"PAR1"):
        return "parquet"
    # Uncompressed: a JSON array (Reddit's thread view) or JSON lines.
    with open(path, "rb") as f:
        first = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first == b"[":
        return "reddit-thread"
    if first == b"{" or first == b"":
        return "ndjson"
    raise InputError(
        f"{path}: cannot tell the format (not zstd, gzip, JSON lines, a Reddit thread, CSV or Parquet);"
        " pass --format to say which"
    )


def source_key(path: Path) -> str:
    """A short identity for a source file from its size and first and last MiB (cheap, no full read)."""
    size = path.stat().st_size
    h = hashlib.blake2b(digest_size=8)
    h.update(path.name.encode())
    h.update(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(size - (1 << 20))
            h.update(f.read())
    return h.hexdigest()


class HashingFile(io.RawIOBase):
    """Wraps a binary file: every byte read updates a SHA-256 and a position counter."""

    def __init__(self, f: BinaryIO):
        self.f = f
        self.sha = hashlib.sha256()
        self.pos = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.sha.update(b)
        self.pos += len(b)
        return b

    def readinto(self, buf) -> int:
        b = self.read(len(buf))
        buf[: len(b)] = b
        return len(b)

    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


@dataclass
class StreamState:
    """What a byte stream has told us so far: compressed bytes consumed, and how it ended."""

    compressed_bytes: int = 0
    decompressed_bytes: int = 0
    truncated: bool = False
    error: str | None = None
    sha256: str | None = None


def _zstd_blocks(f: HashingFile, state: StreamState, read_size: int = 1 << 17) -> Iterator[bytes]:
    """Decompress a zstd stream of one or more frames. Unlike ``stream_reader``, notices a frame that
    stops in the middle (a truncated download) and records it in ``state``. Small reads keep each
    output block small enough for the allocator to reuse its memory."""
    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
    dobj = dctx.decompressobj()
    in_frame = False
    while True:
        data = f.read(read_size)
        state.compressed_bytes = f.pos
        if not data:
            break
        while data:
            try:
                out = dobj.decompress(data)
            except zstandard.ZstdError as e:
                state.error = f"zstd error after {f.pos:,} compressed bytes: {e}"
                return
            in_frame = True
            if out:
                yield out
            if dobj.eof:
                data = dobj.unused_data
                dobj = dctx.decompressobj()
                in_frame = bool(data)
            else:
                data = b""
    if in_frame and not dobj.eof:
        state.truncated = True


def _gzip_blocks(f: HashingFile, state: StreamState, read_size: int = 1 << 22) -> Iterator[bytes]:
    g = gzip.GzipFile(fileobj=f)
    try:
        while True:
            b = g.read(read_size)
            state.compressed_bytes = f.pos
            if not b:
                break
            yield b
    except EOFError:
        state.truncated = True
    except (OSError, gzip.BadGzipFile) as e:
        state.error = f"gzip error after {f.pos:,} compressed bytes: {e}"


def _plain_blocks(f: HashingFile, state: StreamState, read_size: int = 1 << 22) -> Iterator[bytes]:
    while True:
        b = f.read(read_size)
        state.compressed_bytes = f.pos
        if not b:
            break
        yield b


@dataclass
class Chunk:
    """Decompressed bytes ending at a line boundary, and the 1-based number of its first line.

    ``data`` is a view of a buffer that is reused for a later chunk once ``release()`` is called, so a
    consumer copies (``bytes(...)``) whatever it keeps and releases the chunk when it is done with it.
    ``file``, where set, is a path to an in-memory file holding ``data`` followed only by newlines, for
    a reader that wants a file (DuckDB's JSON reader) without another copy."""

    index: int
    data: memoryview
    first_line: int
    end_offset: int  # decompressed bytes up to the end of this chunk
    final: bool = False  # the last chunk; if the stream was truncated its last line may be partial
    lines: int = 0  # lines in ``data`` (a last line without a newline counts)
    file: str | None = None
    pool: "_Buffers | None" = field(default=None, repr=False)
    buffer: "_Buffer | None" = field(default=None, repr=False)

    def release(self) -> None:
        """Hand the buffer back for a later chunk (idempotent)."""
        if self.pool is not None and self.buffer is not None:
            self.pool.put(self.buffer)
        self.buffer = None
        self.file = None
        self.data = memoryview(b"")


HAVE_MEMFD = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")  # in-memory files readable by path


class _Buffer:
    """A chunk buffer: the memory map of an in-memory file where the platform has ``memfd_create``
    (Linux), so the chunk can also be read by path, else a bytearray."""

    def __init__(self, size: int, as_file: bool):
        self.path: str | None = None
        if as_file and HAVE_MEMFD:
            fd = os.memfd_create("llumi-chunk", os.MFD_CLOEXEC)
            os.ftruncate(fd, size)
            self.mem = mmap.mmap(fd, size)
            self.path = f"/proc/self/fd/{fd}"
            weakref.finalize(self, _close_file, self.mem, fd)
        else:
            self.mem = bytearray(size)

    def __len__(self) -> int:
        return len(self.mem)


def _close_file(mem: mmap.mmap, fd: int) -> None:
    try:
        mem.close()
    except BufferError:  # a view of it is still alive: the map goes when that view does
        pass
    os.close(fd)


class _Buffers:
    """Chunk buffers that go back to a free list when their chunk is released. A fresh 32 MiB allocation
    for every chunk costs more in page faults (the kernel zeroing new pages) than the copy into a reused
    buffer: about 1 CPU-second per decompressed GB on the 2-core build machine."""

    def __init__(self, as_files: bool = True) -> None:
        self.free: list[_Buffer] = []
        self.lock = threading.Lock()
        self.as_files = as_files

    def get(self, size: int) -> _Buffer:
        """The smallest free buffer of at least ``size`` bytes (one grown for a long line is not handed
        out for every chunk after it: its rest would be filled and read each time), or a new one."""
        with self.lock:
            fits = [i for i, b in enumerate(self.free) if len(b) >= size]
            if fits:
                return self.free.pop(min(fits, key=lambda i: len(self.free[i])))
        return _Buffer(size, self.as_files)

    def put(self, buf: _Buffer) -> None:
        with self.lock:
            self.free.append(buf)


def _grown(pool: _Buffers, buf: _Buffer, used: int, size: int) -> _Buffer:
    """A buffer of at least ``size`` bytes holding ``buf``'s first ``used`` bytes (``buf`` goes back)."""
    new = pool.get(max(size, 2 * len(buf)))
    new.mem[:used] = memoryview(buf.mem)[:used]
    pool.put(buf)
    return new


def count_newlines(data, end: int | None = None) -> int:
    """Newlines in ``data[:end]``, counted a MiB at a time (faster than ``bytes.count`` and works on any
    buffer, memory maps included, without a copy)."""
    import numpy as np

    arr = np.frombuffer(data, dtype=np.uint8, count=len(data) if end is None else end)
    step = 1 << 20
    return sum(int(np.count_nonzero(arr[i: i + step] == 10)) for i in range(0, len(arr), step))


def _sealed(pool: _Buffers, buf: _Buffer, end: int, **kw) -> Chunk:
    """The chunk of ``buf``'s first ``end`` bytes; a file-backed buffer's rest becomes blank lines, so the
    file holds the chunk and nothing a JSON-lines reader would count."""
    if buf.path is not None and end < len(buf):
        buf.mem[end:] = b"\n" * (len(buf) - end)
    return Chunk(data=memoryview(buf.mem)[:end], file=buf.path, pool=pool, buffer=buf, **kw)


@dataclass
class ByteSource:
    path: Path
    state: StreamState = field(default_factory=StreamState)
    as_files: bool = True  # chunks in in-memory files where the platform has them (see Chunk.file)

    def chunks(self, chunk_bytes: int, prefetch: int = 2) -> Iterator[Chunk]:
        """Line-aligned chunks of about ``chunk_bytes``; decompression runs in a background thread so it
        overlaps with parsing. Chunk boundaries depend only on the data and ``chunk_bytes``."""
        q: queue.Queue = queue.Queue(maxsize=prefetch)
        stop = threading.Event()

        def produce() -> None:
            try:
                for c in self._chunks(chunk_bytes):
                    while not stop.is_set():
                        try:
                            q.put(c, timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(None)
            except BaseException as e:  # handed to the consumer
                q.put(e)

        t = threading.Thread(target=produce, name="llumi-decompress", daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            t.join(timeout=5)

    def _chunks(self, chunk_bytes: int) -> Iterator[Chunk]:
        """Decompressed blocks are copied into reused buffers; a chunk ends at the first newline at or
        after ``chunk_bytes`` bytes (so boundaries depend only on the data, not on how the decompressor
        sliced its output), and what follows that newline starts the next chunk's buffer."""
        pool = _Buffers(self.as_files)
        slack = 1 << 21  # room for the decompressor's last block past chunk_bytes
        with open(self.path, "rb") as raw:
            f = HashingFile(raw)
            head = raw.read(4)
            raw.seek(0)
            if head.startswith(ZSTD_MAGIC):
                blocks = _zstd_blocks(f, self.state)
            elif head.startswith(GZIP_MAGIC):
                blocks = _gzip_blocks(f, self.state)
            else:
                blocks = _plain_blocks(f, self.state)
            buf = pool.get(chunk_bytes + slack)
            used = 0  # bytes of buf holding data
            searched = 0  # no newline at or after chunk_bytes - 1 before this offset
            index = 0
            line_no = 1
            offset = 0
            for block in blocks:
                k = len(block)
                self.state.decompressed_bytes += k
                if used + k > len(buf):
                    buf = _grown(pool, buf, used, used + k)
                buf.mem[used: used + k] = block
                used += k
                while used >= chunk_bytes:
                    cut = buf.mem.find(b"\n", max(searched, chunk_bytes - 1), used)
                    if cut < 0:
                        searched = used
                        break
                    end = cut + 1
                    rest = used - end
                    nxt = pool.get(max(chunk_bytes + slack, rest))
                    nxt.mem[:rest] = memoryview(buf.mem)[end:used]
                    n_lines = count_newlines(buf.mem, end)
                    offset += end
                    yield _sealed(pool, buf, end, index=index, first_line=line_no, end_offset=offset, lines=n_lines)
                    line_no += n_lines
                    index += 1
                    buf, used, searched = nxt, rest, 0
            # drain the hash of any bytes the decompressor did not ask for
            while f.read(1 << 20):
                pass
            self.state.sha256 = f.digest()
            offset += used
            n_lines = count_newlines(buf.mem, used) + (1 if used and buf.mem[used - 1] != 10 else 0)
            yield _sealed(pool, buf, used, index=index, first_line=line_no, end_offset=offset, final=True,
                          lines=n_lines)


def read_csv_batches(path: Path, block_size: int = 1 << 22) -> Iterator["pa.RecordBatch"]:
    """CSV as record batches (values may span lines, as in CounselChat's answers)."""
    import pyarrow.csv as pcsv

    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=block_size),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, delimiter="\t" if path.suffix == ".tsv" else ","),
            convert_options=pcsv.ConvertOptions(strings_can_be_null=True),
        )
    except Exception as e:  # pyarrow raises ArrowInvalid for unreadable files
        raise InputError(f"{path}: cannot read as CSV: {e}") from None
    yield from reader


def read_parquet_batches(path: Path, batch_size: int = 65536) -> Iterator["pa.RecordBatch"]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise InputError(f"{path}: cannot read as Parquet: {e}") from None
    yield from pf.iter_batches(batch_size=batch_size)


def table_columns(path: Path, fmt: str) -> list[str]:
    """Column names of a CSV or Parquet table (for error messages and mapping checks)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).schema_arrow.names
    import csv

    with open(path, "rb") as f:
        first = f.read(1 << 16).split(b"\n", 1)[0].decode("utf-8", "replace").strip().lstrip("\ufeff")
    return next(csv.reader([first], delimiter="\t" if path.suffix == ".tsv" else ","), [])
