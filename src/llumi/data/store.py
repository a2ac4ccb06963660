"""Read access to the workspace store through DuckDB views.

``posts`` and ``replies`` are the cleaned tables with excluded rows (duplicates, too deep) removed and
one row per id (the latest snapshot by ``retrieved_on`` where a dump held an item twice). The raw
Parquet parts stay queryable as ``posts_parts`` and ``replies_parts``.

    import llumi.data.store as store
    con = store.connect(Workspace())
    con.sql("select community, count(*) from replies group by 1").show()
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from llumi.data import schema
from llumi.errors import WorkspaceError
from llumi.workspace import Workspace


def _parts_sql(folder: Path, table: str) -> str:
    files = sorted(folder.glob("*.parquet"))
    if files:
        return (f"select * exclude (filename), parse_filename(filename) as _part "
                f"from read_parquet('{folder.as_posix()}/*.parquet', union_by_name=true, filename=true)")
    # An empty table with the right columns, so queries still bind.
    cols = ", ".join(
        f"cast(null as {_duck_type(f.type)}) as {f.name}"
        for f in getattr(schema, table.upper())
    )
    return f"select {cols}, cast(null as varchar) as _part where false"


def _duck_type(t) -> str:
    import pyarrow as pa

    if pa.types.is_string(t):
        return "varchar"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_boolean(t):
        return "boolean"
    raise TypeError(t)


def connect(ws: Workspace, *, require_data: bool = True, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the store's views. Raises ``WorkspaceError`` if the store is empty
    and ``require_data`` is set."""
    root = ws.store
    has_data = any((root / "replies").glob("*.parquet")) or any((root / "posts").glob("*.parquet"))
    if require_data and not has_data:
        raise WorkspaceError(
            f"the store in {ws.root} holds no data yet: run `llumi ingest SOURCE...` first"
            " (or pass --workspace to point at another workspace)"
        )
    con = duckdb.connect(database)
    con.execute("set enable_progress_bar = false")
    con.execute(f"create or replace view posts_parts as {_parts_sql(root / 'posts', 'posts')}")
    con.execute(f"create or replace view replies_parts as {_parts_sql(root / 'replies', 'replies')}")
    excluded = root / "excluded.parquet"
    if excluded.exists():
        con.execute(f"create or replace view excluded as select * from read_parquet('{excluded.as_posix()}')")
    else:
        con.execute("create or replace view excluded as select cast(null as varchar) as \"table\", "
                    "cast(null as varchar) as id, cast(null as varchar) as part, "
                    "cast(null as bigint) as source_line, cast(null as varchar) as reason where false")
    for table, key in (("posts", "post_id"), ("replies", "reply_id")):
        con.execute(f"""
            create or replace view {table} as
            select * exclude (_rn, _part) from (
                select *, row_number() over (
                    partition by {key}
                    order by retrieved_on desc nulls last, _part desc, source_line desc) as _rn
                from {table}_parts p
                where not exists (
                    select 1 from excluded e
                    where e."table" = '{table}' and e.id = p.{key}
                      and e.part = p._part and e.source_line = p.source_line)
            ) where _rn = 1
        """)
    return con
