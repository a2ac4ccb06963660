"""The ingest benchmark (benchmarks/ingest.py) at a tiny size, so it cannot silently rot: its generator
makes a 2 GiB-window dump, its baseline does the same work as llumi's ingest and keeps about as much."""

from __future__ import annotations

import pyarrow.parquet as pq
import zstandard

from benchmarks.ingest import MAX_WINDOW, check_window, decompress_only, generate_dump, run_baseline
from llumi.data.ingest import IngestConfig, ingest
from llumi.workspace import Workspace


def test_generator_baseline_and_llumi_agree(tmp_path):
    dump = tmp_path / "RC_tiny.zst"
    info = generate_dump(dump, 2_000_000, seed=7)
    assert info["decompressed_bytes"] >= 2_000_000
    assert decompress_only(dump) == info["decompressed_bytes"]

    window = check_window(dump)
    assert window["window_size"] == MAX_WINDOW and window["default_decoder_refuses"]
    with open(dump, "rb") as f:  # the real format: one comment object a line, 2019-2021 RC keys
        first = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW).stream_reader(f).read(1 << 16).split(b"\n")[0]
    assert first.startswith(b'{"all_awardings":[],') and b'"parent_id":"t3_' in first and b'"retrieved_on":' in first

    out = tmp_path / "baseline.parquet"
    b = run_baseline(dump, out)
    lines = info["lines"]
    assert b["lines_read"] == lines
    assert pq.ParquetFile(out).metadata.num_rows == b["kept_replies"]
    assert 0.4 * lines < b["kept_replies"] < 0.75 * lines  # ~30% nested, ~5% deleted, bots, short ones
    for reason in ("nested", "deleted", "removed", "bot", "moderator", "too_short"):
        assert b["dropped"].get(reason, 0) > 0, reason
    assert b["dropped"]["nested"] > 0.2 * lines
    assert all(b["scrubbed"][k] > 0 for k in ("url", "mention"))

    summary = ingest(Workspace(tmp_path / "work"), [dump], IngestConfig(), progress=False)
    assert summary["lines_read"] == lines and not summary["quarantined"]
    assert abs(summary["kept_replies"] - b["kept_replies"]) <= 0.02 * b["kept_replies"] + 5
    for reason in ("nested", "deleted", "removed", "bot", "moderator", "too_short", "too_long"):
        assert summary["dropped"].get(reason, 0) == b["dropped"].get(reason, 0), reason
