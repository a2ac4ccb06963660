"""The evaluation report as one self-contained HTML page: inline CSS and inline SVG plots drawn here,
no script, no external asset, every piece of text HTML-escaped."""

from __future__ import annotations

import html
from typing import Any

from llumi.evaluate.report import HIGHER_IS_BETTER, LABELS

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2430;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #d6dbe3;padding-bottom:.25rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}th,td{border:1px solid #d6dbe3;padding:.3rem .5rem;text-align:right;vertical-align:top}
th{background:#f2f4f8}td.l,th.l{text-align:left}.ci{color:#6a7385;font-size:.78rem}.best{font-weight:700;background:#eaf6ec}
.note{background:#fff8e5;border-left:4px solid #e0a800;padding:.5rem .8rem;margin:.8rem 0}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:1rem}
figure{margin:0;border:1px solid #e3e7ee;padding:.4rem}figcaption{font-size:.85rem;font-weight:600}
.ex{border:1px solid #d6dbe3;margin:1rem 0;padding:.6rem}.post{white-space:pre-wrap;background:#f6f7fa;padding:.5rem;font-size:.9rem}
.replies{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.6rem;margin-top:.5rem}
.reply{border:1px solid #e3e7ee;padding:.5rem;white-space:pre-wrap;font-size:.88rem}.reply h4{margin:0 0 .3rem;font-size:.85rem}
.tag{display:inline-block;font-size:.72rem;padding:0 .35rem;border-radius:.3rem;background:#e8ecf3;margin-left:.3rem}
.bad{background:#fde2e1}.muted{color:#6a7385}
"""

COLORS = ["#3b6fb6", "#d9822b", "#2e9e5b", "#b8406b", "#7d5bb6", "#4b9fb0", "#8c6d31", "#5f6b7a"]
e = html.escape


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def plot(measure: str, systems: dict[str, dict], names: list[str]) -> str:
    """A dot per system with its bootstrap interval as a whisker, as inline SVG."""
    vals = [(n, systems[n]["measures"].get(measure) or {}) for n in names]
    vals = [(n, v) for n, v in vals if v.get("mean") is not None]
    if not vals:
        return ""
    lo = min(v["low"] for _, v in vals)
    hi = max(v["high"] for _, v in vals)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    width, left, right, row = 360, 90, 20, 22
    height = 30 + row * len(vals)
    x = lambda v: left + (v - lo) / (hi - lo) * (width - left - right)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{e(LABELS.get(measure, measure))}">']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(f'<line x1="{x(v):.1f}" y1="8" x2="{x(v):.1f}" y2="{height - 18}" stroke="#e3e7ee"/>'
                     f'<text x="{x(v):.1f}" y="{height - 5}" font-size="9" text-anchor="middle" fill="#6a7385">{v:.2f}</text>')
    for i, (n, v) in enumerate(vals):
        y = 18 + i * row
        c = COLORS[names.index(n) % len(COLORS)]
        parts.append(f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">{e(n[:14])}</text>'
                     f'<line x1="{x(v["low"]):.1f}" y1="{y}" x2="{x(v["high"]):.1f}" y2="{y}" stroke="{c}" stroke-width="2"/>'
                     f'<line x1="{x(v["low"]):.1f}" y1="{y - 4}" x2="{x(v["low"]):.1f}" y2="{y + 4}" stroke="{c}"/>'
                     f'<line x1="{x(v["high"]):.1f}" y1="{y - 4}" x2="{x(v["high"]):.1f}" y2="{y + 4}" stroke="{c}"/>'
                     f'<circle cx="{x(v["mean"]):.1f}" cy="{y}" r="4" fill="{c}"><title>{e(n)}: {v["mean"]:.3f} '
                     f'[{v["low"]:.3f}, {v["high"]:.3f}]</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def render(summary: dict[str, Any], post_list: list[dict], records: dict[str, list[dict]], examples: int = 8) -> str:
    systems = summary["systems"]
    names = list(systems)
    measures = summary["measures"]
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           f"<title>LLUMI evaluation: {e(summary['name'])}</title>",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<style>{CSS}</style></head><body>",
           f"<h1>LLUMI evaluation: {e(summary['name'])}</h1>",
           f"<p class=\"muted\">{e(summary['kind'])} · {summary['posts']} posts · systems: {e(', '.join(names))} · "
           f"seed {summary['seed']} · {summary['n_boot']} bootstrap resamples · 95% intervals</p>",
           '<div class="note">These are automatic measures. The empathy scores come from a lexicon (or a classifier, '
           'where one was trained) and the reward from a model of past votes; an LLM judge, where one was used, is a '
           'language model and <strong>not a clinician</strong>. None of them replaces human and clinical review of '
           'what a system says to people in distress.</div>']
    if summary["bad_lines"]:
        out.append(f'<div class="note bad">{summary["bad_lines"]} malformed input line(s) were set aside; see the '
                   'table below and metrics.json for line numbers.</div>')

    # summary table
    out.append("<h2>Summary</h2><table><tr><th class=l>measure</th>" + "".join(f"<th>{e(n)}</th>" for n in names) + "</tr>")
    for m in measures:
        cells = []
        means = {n: systems[n]["measures"][m]["mean"] for n in names}
        direction = HIGHER_IS_BETTER.get(m, True if m.startswith(("judge_", "empathy_trained")) else None)
        present = [v for v in means.values() if v is not None]
        best = (max(present) if direction else min(present)) if present and direction is not None and len(present) > 1 else None
        for n in names:
            v = systems[n]["measures"][m]
            cls = ' class="best"' if best is not None and v["mean"] == best else ""
            cells.append(f"<td{cls}>{_fmt(v['mean'])}<br><span class=ci>[{_fmt(v['low'])}, {_fmt(v['high'])}] n={v['n']}</span></td>")
        arrow = "" if direction is None else (" ↑" if direction else " ↓")
        out.append(f"<tr><td class=l title=\"{e(summary['docs'].get(m) or '')}\">{e(LABELS.get(m, m))}{arrow}</td>{''.join(cells)}</tr>")
    for key, label in (("distinct_1", "Distinct-1 ↑"), ("distinct_2", "Distinct-2 ↑"), ("self_bleu", "Self-BLEU ↓")):
        out.append(f"<tr><td class=l>{e(label)}</td>" + "".join(f"<td>{_fmt(systems[n]['diversity'][key], 3)}</td>" for n in names) + "</tr>")
    out.append("<tr><td class=l>rows matched / missing / bad lines</td>" + "".join(
        f"<td>{systems[n]['matched']} / {systems[n]['missing']} / {len(systems[n]['bad_lines'])}</td>" for n in names) + "</tr>")
    out.append("</table><p class=muted>↑ higher is better, ↓ lower is better; the best mean is highlighted (no test implied).</p>")

    # plots
    out.append("<h2>Per-dimension plots</h2><div class=plots>")
    for m in measures:
        svg = plot(m, systems, names)
        if svg:
            out.append(f"<figure><figcaption>{e(LABELS.get(m, m))}</figcaption>{svg}</figure>")
    out.append("</div>")

    # safety
    out.append("<h2>Safety</h2><p>Post tiers (llumi.safety triage): " +
               e(", ".join(f"{k} {v}" for k, v in summary["post_tiers"].items())) + "</p>")
    out.append("<table><tr><th class=l>system</th><th>replies</th><th>guard: allow</th><th>rewrite</th><th>block</th>"
               "<th>escalate</th><th>withheld</th><th>resources when required (tier ≥ moderate)</th>"
               "<th>no resources at tier none</th><th>withheld at high/imminent</th><th class=l>guard rules</th></tr>")
    for n in names:
        s = systems[n]["safety"]
        a = s["actions"]
        rules = ", ".join(f"{k} {v}" for k, v in sorted(s["rules"].items(), key=lambda kv: -kv[1])[:6])
        out.append(f"<tr><td class=l>{e(n)}</td><td>{s['replies']}</td>" + "".join(
            f"<td>{a.get(k, 0)}</td>" for k in ("allow", "rewrite", "block", "escalate", "withheld")) +
            f"<td>{_pct(s['resources_when_required'])} <span class=ci>of {s['required']}</span></td>"
            f"<td>{_pct(s['no_resources_at_none'])} <span class=ci>of {s['at_none']}</span></td>"
            f"<td>{_pct(s['withheld_at_high'])} <span class=ci>of {s['at_high']}</span></td><td class=l>{e(rules)}</td></tr>")
    out.append("</table>")

    # reward win rates
    if summary.get("reward_win_rates"):
        wr = summary["reward_win_rates"]
        out.append("<h2>Community reward model: win rates</h2><p>Row system's win rate over the column system on the "
                   "posts both answered, by the reward model trained on the community's votes (a tie counts half).</p>")
        out.append("<table><tr><th class=l>row beats column</th>" + "".join(f"<th>{e(n)}</th>" for n in names) + "</tr>")
        for a in names:
            out.append(f"<tr><td class=l>{e(a)}</td>" + "".join(
                "<td>–</td>" if a == b else f"<td>{_pct(wr[a][b]['win_rate'])} <span class=ci>n={wr[a][b]['n']}</span></td>"
                for b in names) + "</tr>")
        out.append("</table>")

    # judge
    if summary.get("judge"):
        j = summary["judge"]
        out.append("<h2>LLM judge</h2><div class=note>The judge is a language model, not a clinician. Prompt version "
                   f"{e(str(j['describe'].get('version')))}; model {e(str(j['describe'].get('model')))}; "
                   f"unparsed answers: {j['unparsed_answers']}.</div>")
        if j["pairwise"]:
            out.append("<table><tr><th class=l>pair</th><th>win rate (both orders)</th><th>n</th><th>orders disagreed</th></tr>")
            for k, v in j["pairwise"].items():
                out.append(f"<tr><td class=l>{e(k)}</td><td>{_pct(v['win_rate'])}</td><td>{v['n']}</td><td>{v['position_disagreements']}</td></tr>")
            out.append("</table>")

    # paired comparisons
    if summary["comparisons"]:
        out.append("<h2>Paired comparisons</h2><p>Mean difference (first minus second system) on the posts both "
                   "answered, with a paired bootstrap 95% interval, bootstrap p and Wilcoxon signed-rank p.</p>")
        out.append("<table><tr><th class=l>pair</th><th class=l>measure</th><th>diff</th><th>95% interval</th><th>n</th>"
                   "<th>p (bootstrap)</th><th>p (Wilcoxon)</th></tr>")
        for pair, per in summary["comparisons"].items():
            for m, c in per.items():
                if c["n"] == 0:
                    continue
                sig = ' class="best"' if c.get("p_bootstrap") is not None and c["p_bootstrap"] < 0.05 else ""
                out.append(f"<tr><td class=l>{e(pair)}</td><td class=l>{e(LABELS.get(m, m))}</td><td{sig}>{_fmt(c['diff'], 3)}</td>"
                           f"<td>[{_fmt(c['low'], 3)}, {_fmt(c['high'], 3)}]</td><td>{c['n']}</td>"
                           f"<td>{_fmt(c['p_bootstrap'], 3)}</td><td>{_fmt(c['p_wilcoxon'], 3)}</td></tr>")
        out.append("</table>")

    # examples
    out.append(f"<h2>Side by side</h2><p>The first {examples} posts that at least one system answered.</p>")
    shown = 0
    for i, p in enumerate(post_list):
        if shown >= examples:
            break
        if not any(records[n][i]["present"] for n in names):
            continue
        shown += 1
        out.append(f"<div class=ex><div><strong>Post {e(p['id'])}</strong>"
                   f"<span class=tag>tier {e(next((records[n][i]['safety']['tier'] for n in names if records[n][i]['present']), 'none'))}</span></div>"
                   f"<div class=post>{e(p['post'])}</div>")
        if p.get("draft"):
            out.append(f"<div class=reply><h4>writer's draft</h4>{e(p['draft'])}</div>")
        out.append("<div class=replies>")
        for n in names:
            rec = records[n][i]
            if not rec["present"]:
                body = '<span class="muted">no reply for this post</span>'
                tags = ""
            elif rec.get("text") is None:
                body = '<span class="muted">withheld: the post was triaged high risk and escalated</span>'
                tags = '<span class="tag bad">withheld</span>'
            else:
                body = e(rec["text"])
                s = rec["safety"]
                tags = f'<span class="tag{" bad" if s["action"] in ("block", "escalate") else ""}">guard {e(s["action"])}</span>'
                tags += "".join(f'<span class=tag>{e(k)} {_fmt(rec.get(k), 1)}</span>'
                                for k in ("empathy_er", "empathy_ip", "empathy_ex", "reward") if rec.get(k) is not None)
            out.append(f"<div class=reply><h4>{e(n)}{tags}</h4>{body}</div>")
        out.append("</div></div>")

    # provenance
    out.append("<h2>Provenance</h2><table>" + "".join(
        f"<tr><td class=l>{e(k)}</td><td class=l>{e(str(v))}</td></tr>" for k, v in summary["inputs"].items()) + "</table>")
    out.append("<table>" + "".join(f"<tr><td class=l>{e(k)}</td><td class=l>{e(str(v))}</td></tr>"
                                  for k, v in summary["scorers"].items()) + "</table>")
    bad = [(n, b) for n in names for b in systems[n]["bad_lines"]]
    if bad:
        out.append("<h3>Lines set aside</h3><table><tr><th class=l>system</th><th>line</th><th class=l>problem</th></tr>" +
                   "".join(f"<tr><td class=l>{e(n)}</td><td>{b['line']}</td><td class=l>{e(b['problem'])}</td></tr>" for n, b in bad[:200]) +
                   "</table>")
    out.append("</body></html>")
    return "\n".join(out)
