"""Reading JSON-lines files the way every stage does: blank lines skipped, and each line that is not a
JSON object reported with its number, so a caller counts it and goes on (never a crash on line 40,001,
never a line silently dropped)."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator


def objects(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Each non-blank line as ``(line number, object, None)``, or ``(line number, None, why)`` when the
    line is not a JSON object. Undecodable bytes are replaced, not fatal."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield n, None, f"not JSON: {e.msg} (column {e.colno})"
                continue
            if not isinstance(obj, dict):
                yield n, None, "not a JSON object"
                continue
            yield n, obj, None
