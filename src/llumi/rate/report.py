"""`llumi rate report`: a study's results as JSON and as one self-contained HTML page."""

from __future__ import annotations

import html
from typing import Any

from llumi.rate.stats import summarize
from llumi.workspace import Workspace, write_json_atomic, write_meta


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _means_table(block: dict[str, Any], dims: list[str]) -> str:
    head = "".join(f"<th>{html.escape(d)}</th>" for d in dims)
    rows = []
    for system, per in block["means"].items():
        cells = []
        for d in dims:
            m = per.get(d) or {}
            ci = f" <small>[{_fmt(m.get('low'))}, {_fmt(m.get('high'))}]</small>" if (m.get("n") or 0) > 1 else ""
            cells.append(f"<td>{_fmt(m.get('mean'))}{ci} <small>n={m.get('n', 0)}</small></td>")
        rows.append(f"<tr><th>{html.escape(system)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>system</th>{head}</tr>{''.join(rows) or '<tr><td>no ratings</td></tr>'}</table>"


def _wins_table(block: dict[str, Any]) -> str:
    rows = [f"<tr><td>{html.escape(k)}</td><td>{w['a_wins']}</td><td>{w['b_wins']}</td><td>{w['ties']}</td>"
            f"<td>{_fmt(w['a_win_rate'])}</td></tr>" for k, w in block["win_rates"].items()]
    return ("<table><tr><th>A vs B</th><th>A wins</th><th>B wins</th><th>ties</th><th>A's win rate</th></tr>"
            f"{''.join(rows) or '<tr><td colspan=5>no preferences</td></tr>'}</table>")


def _alpha_row(name: str, block: dict[str, Any], dims: list[str]) -> str:
    return f"<tr><th>{html.escape(name)}</th>" + "".join(f"<td>{_fmt(block['alpha'].get(d))}</td>" for d in dims) + "</tr>"


CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
small{color:#666}.note{background:#fff6e0;border:1px solid #e0c070;padding:.6em 1em}"""


def render_body(name: str, summary: dict[str, Any], counts: dict[str, Any]) -> str:
    """The report as an HTML fragment (every text escaped): what the file and the web page both show."""
    dims = summary["dimensions"]
    parts = [f"<p>{counts['posts']} posts, {counts['answers']} answers ({counts['skipped']} skipped as too "
             f"distressing), {summary['overall']['raters']} raters. Scale {summary['scale'][0]}–{summary['scale'][-1]}; "
             "means are over items (each item's mean over its raters) with 95% bootstrap intervals.</p>",
             "<p class=note>Ratings say what these raters judged; a rating by a lay rater is not a clinical "
             "judgement. Read the split by credential before trusting a 'safety' figure.</p>",
             "<h2>All raters</h2>", _means_table(summary["overall"], dims), "<h3>Pairwise preferences</h3>",
             _wins_table(summary["overall"]),
             "<h2>Agreement (Krippendorff's alpha, ordinal)</h2><table id=agreement><tr><th>raters</th>",
             "".join(f"<th>{html.escape(d)}</th>" for d in dims), "</tr>", _alpha_row("all", summary["overall"], dims)]
    for cred, block in summary["by_credential"].items():
        parts.append(_alpha_row(cred, block, dims))
    parts.append("</table><p><small>– : undefined (fewer than two raters on the same items, or no variation).</small></p>")
    for cred, block in summary["by_credential"].items():
        parts += [f"<h2 class=by-credential>{html.escape(cred)} raters ({block['raters']})</h2>", _means_table(block, dims),
                  _wins_table(block)]
    return "".join(parts)


def render_html(name: str, summary: dict[str, Any], counts: dict[str, Any]) -> str:
    """The report as one self-contained page (inline style, no external asset)."""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Rating study {html.escape(name)}</title>"
            f"<style>{CSS}</style></head><body><h1>Rating study: {html.escape(name)}</h1>"
            f"{render_body(name, summary, counts)}</body></html>")


def write_report(ws: Workspace, studies, name: str, seed: int = 0) -> dict[str, Any]:
    """Compute the study's summary and write ``report.json`` and ``report.html`` under ``rate/NAME/``."""
    records = studies.records(name, ws.secret_key())
    cfg = records["config"]
    lo, hi = cfg["scale"]
    summary = summarize(records["ratings"], records["preferences"], dimensions=cfg["dimensions"],
                        scale=tuple(range(lo, hi + 1)), seed=seed)
    counts = {"posts": len(records["posts"]), "items": len(records["items"]),
              "answers": len(records["responses"]),
              "skipped": sum(1 for r in records["responses"] if r["status"] == "skipped")}
    out = ws.root / "rate" / name
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "report.json", {"study": name, "counts": counts, **summary})
    (out / "report.html").write_text(render_html(name, summary, counts), encoding="utf-8")
    write_meta(out, stage="rate-report", config={"study": name, "seed": seed, **cfg}, seed=seed,
               extra_packages=("krippendorff",),
               snapshot={"answers": counts["answers"], "last_answer_at": max((r["at"] for r in records["responses"]), default=None)})
    lines = [f"Study {name}: {counts['answers']} answers ({counts['skipped']} skipped) on {counts['posts']} posts."]
    for system, per in summary["overall"]["means"].items():
        lines.append(f"  {system:<12} " + "  ".join(f"{d} {_fmt((per.get(d) or {}).get('mean'))}" for d in cfg["dimensions"]))
    lines.append("  agreement (alpha): " + ", ".join(f"{d} {_fmt(a)}" for d, a in summary["overall"]["alpha"].items()))
    lines.append(f"Report: {out / 'report.html'}")
    return {"study": name, "counts": counts, "report": str(out / "report.html"), "json": str(out / "report.json"),
            "text": "\n".join(lines), "summary": summary}
