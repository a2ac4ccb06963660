"""The `llumi` command: one CLI, verbs in pipeline order.

    ingest -> stats -> pairs -> (train -> generate / improve -> eval -> rate -> serve)   safety

Library code raises ``llumi.errors`` exceptions; this module alone turns them into messages and exit
codes. Every verb that summarises its work accepts ``--json`` and then prints exactly one JSON object on
standard output (progress and warnings go to standard error).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from llumi import __version__
from llumi.errors import LlumiError
from llumi.workspace import Workspace


def emit(summary: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print a verb's summary: one JSON object with ``--json``, else the human text."""
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True, default=str))
    else:
        click.echo(human if human is not None else json.dumps(summary, indent=2, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object (counts, output paths) for scripts.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--workspace", "-w", type=click.Path(file_okay=False), envvar="LLUMI_HOME", default=None,
    help="Workspace folder where every stage reads and writes (default ./llumi-work; env LLUMI_HOME).",
)
@click.version_option(__version__, prog_name="llumi")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """LLUMI: turn a mental-health community's votes into safe writing assistance for peer supporters.

    Run the stages in order; each finds its inputs in the workspace:

    \b
      llumi ingest DUMP...      read Reddit dumps or CSV/Parquet tables into the store
      llumi stats               counts, score distributions, score lags (and PNG plots)
      llumi pairs               SFT examples, DPO pairs and IM examples from the votes
      llumi safety check TEXT   risk triage and output guard
    """
    ctx.obj = Workspace(workspace)


def main(argv: list[str] | None = None) -> None:
    """Entry point: library errors become a one-line message and exit code 1."""
    try:
        cli.main(args=argv, prog_name="llumi", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except LlumiError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)


# ==== data: ingest, stats ===================================================================

@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--community", help="Name to store everything under (default: each item's subreddit). Required for tables.")
@click.option("--subreddit", "subreddits", multiple=True, help="Keep only this subreddit (repeatable; case-insensitive).")
@click.option("--format", "fmt", type=click.Choice(["auto", "ndjson", "reddit-thread", "csv", "parquet"]),
              default=None, help="Source format (default: detected from the file).")
@click.option("--map", "columns", multiple=True, metavar="KEY=COLUMN",
              help="Table column mapping: post_id, post_title, post_text, reply_text, score, reply_id, author, "
                   "post_author, created_utc, post_created_utc.")
@click.option("--preset", type=click.Choice(["counselchat"]), default=None, help="A named column mapping.")
@click.option("--max-depth", type=int, default=None, help="Deepest reply kept (1 = top-level replies only; the default).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML file of ingest settings.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override one setting (repeatable).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@json_option
@click.pass_obj
def ingest(ws, sources, community, subreddits, fmt, columns, preset, max_depth, config_path, overrides, quiet, as_json):
    """Read community dumps into the workspace store, cleaned, scrubbed and pseudonymised.

    SOURCES are Pushshift / Arctic Shift NDJSON files (.zst with any window, .gz, plain), threads saved
    from Reddit's JSON view, or CSV / Parquet tables of posts and scored replies (with --map or --preset).
    Submissions and comments may come in separate files. Bad lines are counted and set aside with their
    line number in the store's quarantine folder; the run goes on. Re-running adds nothing twice, and an
    interrupted run resumes where it stopped.

    \b
    Examples:
      llumi ingest RS_2019-10.zst RC_2019-10.zst --subreddit SuicideWatch
      llumi ingest counselchat.csv --preset counselchat --community counselchat
    """
    from llumi import config as cfgmod
    from llumi.data.ingest import IngestConfig, ingest as run_ingest

    opts = cfgmod.parse_overrides(overrides)
    if columns:
        opts["columns"] = {**opts.get("columns", {}), **_key_values(columns, "--map")}
    for key, value in (("community", community), ("format", fmt), ("preset", preset), ("max_depth", max_depth)):
        if value is not None:
            opts[key] = value
    if subreddits:
        opts["subreddits"] = list(subreddits)
    cfg = cfgmod.load(IngestConfig, config_path, opts)
    summary = run_ingest(ws, sources, cfg, progress=not quiet and not as_json)
    emit(summary, as_json, _ingest_text(summary))


def _key_values(items, option: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=COLUMN", param_hint=option)
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _ingest_text(s: dict) -> str:
    def fmt(counts: dict) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"

    lines = [f"Read {s['lines_read']:,} lines in {s['seconds']:.1f}s: kept {s['kept_posts']:,} posts and "
             f"{s['kept_replies']:,} replies."]
    lines.append(f"  dropped:     {fmt(s['dropped'])}")
    lines.append(f"  quarantined: {fmt(s['quarantined'])}" + (f"  (see {s['quarantine']})" if s["quarantined"] else ""))
    lines.append(f"  scrubbed:    {fmt(s['scrubbed'])}")
    for src in s["sources"]:
        if src["message"]:
            lines.append(f"  {src['path']}: {src['message']}")
    lines.append(f"Store: {s['store']}   next: llumi stats, llumi pairs")
    return "\n".join(lines)


@cli.command()
@click.option("--community", "communities", multiple=True,
              help="Only this community (repeatable; default: every community in the store).")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@json_option
@click.pass_obj
def stats(ws, communities, no_plots, as_json):
    """Counts, score distributions, replies per post and score lags of the store, per community.

    Prints posts, replies, posts with replies and orphan replies (replies whose post is not in the
    store), quantiles of reply scores, replies per post and score lags in days (scores are snapshots
    taken that long after writing), and writes stats/stats.json, PNG histograms (score, replies per
    post, score lag; log scale) and meta.json in the workspace.
    """
    from llumi.data.stats import compute_stats, format_stats

    summary = compute_stats(ws, communities, plots=not no_plots)
    emit(summary, as_json, format_stats(summary))


# ==== data: pairs ===========================================================================

@cli.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML file of pair settings (see docs/pairs.md; every rule is a setting).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one setting, e.g. --set dpo_min_ratio=3 --set communities=depression,anxiety (repeatable).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@json_option
@click.pass_obj
def pairs(ws, config_path, overrides, quiet, as_json):
    """Build training data from the votes: GM SFT examples, GM DPO pairs, IM examples and IM pairs.

    Writes pairs/gm-sft, gm-dpo, im-sft and im-dpo in the workspace, each with train / validation /
    test JSON lines in TRL's conversational formats and a meta.json. Splits are by post: no post is in
    two splits. By default a DPO pair follows the Stanford Human Preferences rule: the chosen reply
    scored at least twice the rejected one and was written later, so its lead cannot come from being
    seen first. An IM example is such a pair whose replies say much the same thing: the weaker one is
    the draft, the better-received one the revision.

    \b
    Examples:
      llumi pairs
      llumi pairs --set communities=depression --set max_pairs_per_post=3 --json
      llumi pairs --config configs/pairs.yaml --set similarity=lexical
    """
    from llumi import config as cfgmod
    from llumi.data.pairs import PairsConfig, build_pairs

    cfg = cfgmod.load(PairsConfig, config_path, cfgmod.parse_overrides(overrides))
    summary = build_pairs(ws, cfg, progress=not quiet and not as_json)
    emit(summary, as_json, _pairs_text(summary))


def _pairs_text(s: dict) -> str:
    def fmt(counts: dict) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"

    lines = [f"{s['replies']['eligible']:,} of {s['replies']['in_scope']:,} replies usable, on "
             f"{s['posts']['with_eligible_replies']:,} posts ({', '.join(s['communities'])});"
             f" replies dropped: {fmt(s['dropped']['replies'])}"]
    for name, out in s["outputs"].items():
        lines.append(f"  {name:7s} train {out['train']:,}  validation {out['validation']:,}  test {out['test']:,}"
                     f"   {out['path']}")
    lines.append(f"  dropped gm-sft posts: {fmt(s['dropped']['gm-sft'])}")
    lines.append(f"  dropped gm-dpo pairs: {fmt(s['dropped']['gm-dpo'])}")
    lines.append(f"  dropped im pairs:     {fmt(s['dropped']['im'])}")
    sim = s["similarity"]
    lines.append(f"IM similarity: {sim['method']} >= {sim['threshold']}; prompt version {s['prompt_version']};"
                 f" undated pairs kept: gm-dpo {s['pair_candidates']['undated_in_gm_dpo']:,}, im {s['undated_im']:,}")
    return "\n".join(lines)


# ==== safety ================================================================================


if __name__ == "__main__":
    main()
