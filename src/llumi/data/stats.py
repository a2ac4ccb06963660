"""What is in the store: counts per community, score distributions, replies per post, score lags.

    summary = compute_stats(Workspace())      # also writes stats/stats.json, PNG plots, meta.json

Everything is aggregated by DuckDB over the store's views; only small histograms reach Python, so a
store of any size works. Scores are snapshots taken ``score_lag`` after writing (see
docs/reddit-dumps.md), so the lag distribution matters as much as the scores: a community captured in
near real time has nearly every score at 1 and yields few preference pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llumi.data import store
from llumi.errors import InputError
from llumi.workspace import Workspace, write_json_atomic, write_meta

QUANTILES = {"min": 0.0, "p10": 0.1, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9, "p99": 0.99, "max": 1.0}
TOTAL = "(all)"
MAX_PLOTTED = 8   # communities drawn one line each in a plot; the rest are left out of the plot (not the counts)


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _quantiles(values: list | None, digits: int = 2) -> dict[str, float] | None:
    if values is None:
        return None
    return {k: round(float(v), digits) for k, v in zip(QUANTILES, values)}


def compute_stats(ws: Workspace, communities: tuple[str, ...] | list[str] = (), plots: bool = True) -> dict[str, Any]:
    """Counts and distributions per community (and in total); writes ``ws.stats``. Returns the summary."""
    con = store.connect(ws)
    try:
        return _compute(con, ws, [c.strip().lower() for c in communities if c.strip()], plots)
    finally:
        con.close()


def _compute(con, ws: Workspace, communities: list[str], plots: bool) -> dict[str, Any]:
    present = [c for (c,) in con.execute(
        "select distinct coalesce(community, '') from (select community from posts union all "
        "select community from replies) order by 1").fetchall()]
    for c in communities:
        if c not in present:
            raise InputError(f"no posts or replies in the store for community {c!r}; communities are: {', '.join(present)}")
    where = "true" if not communities else f"coalesce(community, '') in ({', '.join(_q(c) for c in communities)})"
    qs = "[" + ", ".join(str(q) for q in QUANTILES.values()) + "]"
    con.execute(f"create temp view s_posts as select * from posts where {where}")
    con.execute(f"create temp view s_replies as select * from replies where {where}")
    # Replies per post, keyed by the post's own community (posts with no replies count as 0).
    con.execute("""
        create temp table per_post as
        select coalesce(p.community, '') as community, p.post_id, coalesce(c.n, 0) as n
        from s_posts p left join (select post_id, count(*) as n from replies group by post_id) c using (post_id)
    """)

    def by_community(sql: str) -> dict[str, tuple]:
        """Run a query grouped by community and in total: {community or TOTAL: row}."""
        rows = con.execute(sql.format(group="group by grouping sets ((coalesce(community, '')), ())")).fetchall()
        return {(TOTAL if r[0] is None else r[0]): r[1:] for r in rows}

    grouping_key = "case when grouping(coalesce(community, '')) = 1 then null else coalesce(community, '') end"
    posts = by_community(f"""
        select {grouping_key}, count(*), quantile_cont(score, {qs}), count(created_utc)
        from s_posts {{group}}""")
    replies = by_community(f"""
        select {grouping_key}, count(*), quantile_cont(score, {qs}),
               quantile_cont(score_lag / 86400.0, {qs}), count(score_lag), count(created_utc),
               count(*) filter (where coalesce(depth, case when parent_id like 't1_%' then 2 else 1 end) = 1),
               count(*) filter (where is_submitter)
        from s_replies {{group}}""")
    orphans = by_community(f"""
        select {grouping_key}, count(*), count(distinct post_id)
        from s_replies r where not exists (select 1 from posts p where p.post_id = r.post_id) {{group}}""")
    per_post = by_community(f"""
        select {grouping_key}, count(*) filter (where n > 0), quantile_cont(n, {qs}), avg(n)
        from per_post {{group}}""")

    names = sorted({*posts, *replies} - {TOTAL}) + [TOTAL]
    table: dict[str, Any] = {}
    for name in names:
        p = posts.get(name, (0, None, 0))
        r = replies.get(name, (0, None, None, 0, 0, 0, 0))
        o = orphans.get(name, (0, 0))
        pp = per_post.get(name, (0, None, None))
        table[name] = {
            "posts": p[0],
            "replies": r[0],
            "posts_with_replies": pp[0],
            "posts_without_replies": p[0] - pp[0],
            "orphan_replies": o[0],                  # replies whose post is not in the store
            "orphan_reply_posts": o[1],              # distinct missing posts they point to
            "top_level_replies": r[5],
            "replies_by_poster": r[6],
            "undated_posts": p[0] - p[2],
            "undated_replies": r[0] - r[4],
            "replies_per_post": _quantiles(pp[1]),
            "mean_replies_per_post": None if pp[2] is None else round(float(pp[2]), 2),
            "post_score": _quantiles(p[1]),
            "reply_score": _quantiles(r[1]),
            "reply_score_lag_days": _quantiles(r[2], 3),
            "replies_with_score_lag": r[3],
        }

    out = ws.stats
    out.mkdir(parents=True, exist_ok=True)
    plot_paths = _plots(con, out) if plots else {}
    from llumi.data.pairs import store_fingerprint

    fingerprint = store_fingerprint(ws)
    summary = {
        "workspace": str(ws.root),
        "communities": table,
        "inputs": fingerprint,
        "outputs": {"stats": str(out / "stats.json"), "plots": plot_paths},
    }
    write_json_atomic(out / "stats.json", summary)
    write_meta(out, stage="stats", config={"communities": communities}, inputs={"store": fingerprint["store"]},
               outputs=summary["outputs"], quantiles=list(QUANTILES), extra_packages=["matplotlib"])
    return summary


def _plots(con, out: Path) -> dict[str, str]:
    """Three PNGs, one line per community (the largest few): scores, replies per post, score lags."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = [c for (c,) in con.execute(
        f"select coalesce(community, '') from s_replies group by 1 order by count(*) desc, 1 limit {MAX_PLOTTED}").fetchall()]
    if not top:
        top = [c for (c,) in con.execute(
            f"select community from per_post group by 1 order by count(*) desc, 1 limit {MAX_PLOTTED}").fetchall()]
    in_top = f"coalesce(community, '') in ({', '.join(_q(c) for c in top)})" if top else "false"

    def counts(sql: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        data: dict[str, tuple[list, list]] = {}
        for community, value, n in con.execute(sql).fetchall():
            v, c = data.setdefault(community, ([], []))
            v.append(value)
            c.append(n)
        return {k: (np.asarray(v, dtype=float), np.asarray(c, dtype=float)) for k, (v, c) in data.items()}

    specs = {
        "score_hist": (
            f"select coalesce(community, ''), score, count(*) from s_replies where score is not null and {in_top} group by 1, 2",
            "reply score", "replies", True),
        "replies_per_post_hist": (
            f"select community, n, count(*) from per_post where {in_top} group by 1, 2",
            "replies per post", "posts", False),
        "score_lag_hist": (
            f"select coalesce(community, ''), floor(score_lag / 86400.0), count(*) from s_replies "
            f"where score_lag is not null and {in_top} group by 1, 2",
            "score lag (days from writing to the score snapshot)", "replies", False),
    }
    paths = {}
    for name, (sql, xlabel, ylabel, symlog) in specs.items():
        data = counts(sql)
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        if data:
            lo = min(v.min() for v, _ in data.values())
            hi = max(v.max() for v, _ in data.values())
            if symlog and hi - lo > 200:
                # Scores span orders of magnitude: log-spaced bins on a symmetric log axis.
                pos = np.unique(np.geomspace(1, max(hi, 1) + 1, 60).round())
                neg = -np.unique(np.geomspace(1, max(-lo, 1) + 1, 20).round())[::-1] if lo < 0 else np.array([])
                bins = np.unique(np.concatenate([neg, [0], pos])) - 0.5
                ax.set_xscale("symlog")
            else:
                width = max(1.0, np.ceil((hi - lo + 1) / 80))
                bins = np.arange(lo - 0.5, hi + width + 0.5, width)
            for community in sorted(data):
                v, c = data[community]
                ax.hist(v, bins=bins, weights=c, histtype="step", linewidth=1.4, label=community or "(none)")
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{ylabel} (log scale)")
        ax.set_title(f"{xlabel.split(' (')[0].capitalize()} per community")
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths[name] = str(path)
    return paths


def format_stats(summary: dict[str, Any]) -> str:
    """The summary as a table for people."""
    def q(d, *keys, fmt="{:g}"):
        return "-" if d is None else "/".join(fmt.format(d[k]) for k in keys)

    head = (f"{'community':<20} {'posts':>8} {'replies':>9} {'w/ replies':>10} {'orphans':>8}"
            f"  {'replies/post p50/p90/max':>24}  {'reply score p50/p90/max':>24}  {'lag days p10/p50/p90':>22}")
    lines = [head, "-" * len(head)]
    for name, s in summary["communities"].items():
        lines.append(
            f"{name[:20]:<20} {s['posts']:>8,} {s['replies']:>9,} {s['posts_with_replies']:>10,} {s['orphan_replies']:>8,}"
            f"  {q(s['replies_per_post'], 'p50', 'p90', 'max'):>24}  {q(s['reply_score'], 'p50', 'p90', 'max'):>24}"
            f"  {q(s['reply_score_lag_days'], 'p10', 'p50', 'p90', fmt='{:.1f}'):>22}"
        )
    total = summary["communities"].get(TOTAL, {})
    if total.get("orphan_replies"):
        lines.append(f"{total['orphan_replies']:,} replies point to {total['orphan_reply_posts']:,} posts that are not "
                     "in the store (their submissions were never ingested); `llumi pairs` cannot use them.")
    lines.append(f"Wrote {summary['outputs']['stats']} and plots in {Path(summary['outputs']['stats']).parent}")
    return "\n".join(lines)
