"""`llumi rate ...`: human rating studies (create, raters, list, report, export, simulate)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import click

from llumi.errors import InputError

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")


def emit(summary: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    from llumi.cli import emit as _emit   # llumi.cli imports this module: import it late

    _emit(summary, as_json, human)


def _studies(ws):
    from llumi.rate.study import Studies
    from llumi.web.db import open_db

    return Studies(open_db(ws))


def _kv(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise click.BadParameter(f"{v!r}: expected NAME=FILE", param_hint=what)
        if name in out:
            raise click.BadParameter(f"system {name!r} given twice", param_hint=what)
        out[name.strip()] = path.strip()
    return out


def read_outputs(path: str | Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """``{id: text}`` from a JSON-lines file of a system's replies (``llumi generate`` output, or any rows
    with ``id`` and ``text``); withheld rows (text null) have no reply. Raters see ``text``, what a
    person would be shown after the guard (``llumi eval``'s reader takes ``model_text`` instead). Problems come back with line
    numbers; the rest is used."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    from llumi import jsonl

    out, problems = {}, []
    for n, row, problem in jsonl.objects(path):
        if problem is None and "id" not in row:
            problem = "no id"
        if problem is not None:
            problems.append({"file": str(path), "line": n, "problem": problem})
            continue
        text = row.get("text")
        if isinstance(text, str) and text.strip():
            out[str(row["id"])] = text
    return out, problems


@click.group()
def rate() -> None:
    """Human rating studies: blind ratings by raters with declared credentials, reports, DPO2 pairs.

    \b
      llumi rate create NAME --system dpo=gen.jsonl --system sft=sft.jsonl   (+ the human replies)
      llumi rate raters USER --credential clinician|peer|lay
      (raters rate in the web app: llumi serve, then /rate)
      llumi rate report NAME          means with intervals, win rates, agreement, by credential
      llumi rate export NAME --format csv|jsonl
      llumi pairs --from-ratings NAME && llumi train dpo --round 2 ...
    """


@rate.command("create")
@click.argument("name")
@click.option("--system", "systems", multiple=True, metavar="NAME=FILE",
              help="A system's replies (JSON lines with id and text, e.g. `llumi generate` output). Repeatable.")
@click.option("--posts", type=click.Path(dir_okay=False), help="Posts as JSON lines (id, title, text). "
              "Default: the held-out test posts of `llumi pairs`.")
@click.option("--split", default="test", show_default=True, help="Which split of `llumi pairs` when --posts is not given.")
@click.option("--human/--no-human", default=True, show_default=True,
              help="Add the community's best human reply (from the pairs split) as the system 'human'.")
@click.option("--limit", type=int, help="At most this many posts.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML with the study's settings.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a setting: dimensions, scale, pairwise, raters_per_item, instructions, "
                   "content_warning_tier, seed.")
@json_option
@click.pass_obj
def create(ws, name, systems, posts, split, human, limit, config_path, overrides, as_json):
    """Create a study NAME from posts and two or more systems' replies."""
    from llumi import config as cfgmod
    from llumi.rate.study import StudyConfig

    cfg = cfgmod.load(StudyConfig, config_path, cfgmod.parse_overrides(overrides))
    outputs, problems = {}, []
    for system, path in _kv(systems, "--system").items():
        outputs[system], bad = read_outputs(path)
        problems += bad
    if posts:
        from llumi.assist.generate import read_inputs

        rows, bad = read_inputs(Path(posts), "generate")
        problems += [{"file": posts, **p} for p in bad]
        rows = [{"id": str(r["id"]), "title": r.get("title"), "text": r.get("text", r.get("post"))} for r in rows]
        if human:
            refs = {str(r["id"]): r["reference"] for r in rows if r.get("reference")}
            if refs:
                outputs.setdefault("human", refs)
    else:
        from llumi.assist.generate import split_inputs

        rows = [{"id": str(r["id"]), "title": r["title"], "text": r["text"], "reference": r["reference"]}
                for r in split_inputs(ws, "generate", split)]
        if human:
            if "human" in outputs:
                raise click.BadParameter("a system is already called 'human': pass --no-human", param_hint="--system")
            outputs["human"] = {r["id"]: r["reference"] for r in rows}
    if limit:
        rows = rows[:limit]
    summary = _studies(ws).create(name, rows, outputs, cfg)
    summary["skipped_input_lines"] = problems
    lines = [f"Study {name}: {summary['posts']} posts, {summary['items']} replies from "
             f"{', '.join(summary['systems'])}; {summary['content_warnings']} with a content warning; "
             f"{summary['posts_left_out']} posts left out (fewer than two replies)."]
    lines += [f"  skipped {p['file']} line {p['line']}: {p['problem']}" for p in problems]
    lines.append("Raters rate it in the web app (llumi serve, then /rate); declare their credentials with "
                 "`llumi rate raters USER --credential ...`.")
    emit(summary, as_json, "\n".join(lines))


@rate.command("raters")
@click.argument("username")
@click.option("--credential", type=click.Choice(["clinician", "peer", "lay"]), required=True,
              help="clinician: licensed clinician; peer: trained peer supporter; lay: neither.")
@json_option
@click.pass_obj
def raters(ws, username, credential, as_json):
    """Declare a user's rater credential (the user must exist: llumi users add)."""
    studies = _studies(ws)
    user = studies.db.user_by_name(username)
    if user is None:
        raise InputError(f"no user {username!r}: create it with `llumi users add {username}`")
    studies.declare(user["id"], credential)
    studies.db.audit("rater.declare", None, user=username, credential=credential)
    emit({"user": username, "credential": credential}, as_json, f"{username}: {credential}")


@rate.command("list")
@json_option
@click.pass_obj
def list_(ws, as_json):
    """The studies, with how many posts and answers each has."""
    rows = _studies(ws).list()
    human = "\n".join(f"{r['name']:<24} {r['status']:<7} {r['posts']:>5} posts {r['responses']:>6} answers"
                      for r in rows) or "No studies yet: llumi rate create NAME --system ..."
    emit({"studies": rows}, as_json, human)


@rate.command("report")
@click.argument("name")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap intervals.")
@json_option
@click.pass_obj
def report(ws, name, seed, as_json):
    """Write the study's report (report.json, report.html) under WORKSPACE/rate/NAME/."""
    from llumi.rate.report import write_report

    studies = _studies(ws)
    summary = write_report(ws, studies, name, seed=seed)
    emit(summary, as_json, summary["text"])


@rate.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="File to write (default: standard output).")
@click.pass_obj
def export(ws, name, fmt, out):
    """The raw ratings, preferences and skips, with pseudonymous rater ids."""
    from llumi.rate.study import iter_export_rows

    records = _studies(ws).records(name, ws.secret_key())
    rows = list(iter_export_rows(records))
    f = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        if fmt == "jsonl":
            for r in rows:
                f.write(json.dumps(r, sort_keys=True) + "\n")
        else:
            fields = ["kind", "post", "item", "system", "rater", "credential", "dimension", "score", "a", "b", "choice"]
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    finally:
        if out:
            f.close()
    if out:
        click.echo(f"{len(rows)} rows written to {out}", err=True)


@rate.command("simulate")
@click.argument("name")
@click.option("--seed", type=int, default=0, show_default=True)
@json_option
@click.pass_obj
def simulate_(ws, name, seed, as_json):
    """Scripted raters (two clinicians, a peer, a lay rater) rate the study: a test harness so the DPO2 path
    runs end to end without people. Their users are named scripted-*; never mix them into a real study."""
    from llumi.rate.simulate import default_raters, simulate

    summary = simulate(_studies(ws), name, default_raters(), seed=seed)
    emit(summary, as_json, f"Scripted raters answered {sum(summary['answers'].values())} items of study {name}: "
         + ", ".join(f"{k} {v}" for k, v in summary["answers"].items()))


COMMANDS = (rate,)
