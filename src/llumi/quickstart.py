"""`llumi quickstart`: the whole pipeline on the bundled sample community and the default small model.

ingest -> stats -> pairs -> SFT and DPO of the GM and the IM -> GGUF export -> generate and improve
on the held-out posts -> the untuned and SFT models on the same posts -> the community-preference
reward model -> `llumi eval` (report) -> a rating study answered by scripted raters -> DPO2 pairs ->
DPO2 of the GM, then a summary; with ``serve`` the web app starts at the end. Every stage is the same code the individual
verbs run, and each one that has finished is skipped when the quickstart is run again (an interrupted
training run resumes from its last checkpoint), so a second run only does what is left.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from llumi import config as cfgmod
from llumi.workspace import Workspace

# The evaluation measures the summary shows (the report has them all, with intervals).
HEADLINE = ("reward", "empathy_er", "empathy_ex", "flesch_reading_ease", "length_words", "questions")
SAMPLE = Path(__file__).resolve().parent / "data" / "sample"
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def say(msg: str) -> None:
    click.echo(msg, err=True)


def train_config(role: str, stage: str, fast: bool):
    from llumi.train.config import TrainConfig

    path = CONFIGS / f"{role}-{stage}-cpu.yaml"
    overrides: dict[str, Any] = {"role": role, "stage": stage}
    if fast:  # a shortened schedule (tests, a first look): a few steps, a few evaluation rows
        overrides.update({"max_steps": 2, "max_eval_rows": 4, "max_train_rows": 16})
    return cfgmod.load(TrainConfig, path if path.exists() else None, overrides)


def main(ws: Workspace, *, fast: bool = False, limit: int = 8, backend: str = "auto",
         model: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Run every stage; returns the summary that is also printed."""
    from llumi.data.ingest import IngestConfig, ingest
    from llumi.data.pairs import PairsConfig, build_pairs
    from llumi.data.stats import compute_stats
    from llumi.train import runs
    from llumi.train.config import TrainConfig

    started = time.time()
    timings: dict[str, float] = {}

    def stage(name: str):
        timings[name] = time.time()
        say(f"\n== {name} ({_clock(time.time() - started)} elapsed)")

    def done(name: str):
        timings[name] = round(time.time() - timings[name], 1)

    stage("ingest the bundled sample community (invented posts and replies)")
    s_ingest = ingest(ws, sorted(SAMPLE.glob("*.zst")), IngestConfig(), progress=progress)
    say(f"   {s_ingest['kept_posts']} posts, {s_ingest['kept_replies']} replies kept; "
        f"quarantined {sum(s_ingest['quarantined'].values())} bad lines, dropped {sum(s_ingest['dropped'].values())}")
    done("ingest the bundled sample community (invented posts and replies)")
    stage("stats")
    compute_stats(ws)
    done("stats")
    stage("pairs from the votes")
    s_pairs = build_pairs(ws, PairsConfig(), progress=progress)
    say("   " + ", ".join(f"{k}: {v['total']} ({v['train']} train)" for k, v in s_pairs["outputs"].items()))
    done("pairs from the votes")

    trained: dict[str, dict[str, Any]] = {}
    for role in ("gm", "im"):
        for st in ("sft", "dpo"):
            name = f"train {role.upper()} {st.upper()}"
            stage(name)
            cfg = train_config(role, st, fast)
            if model:
                cfg = cfgmod.load(type(cfg), None, {**cfgmod.to_dict(cfg), "model": model})
            finished = runs.latest(ws, f"{role}-{st}")
            if finished and _same_config(finished, cfg):
                say(f"   already trained: {finished['run']}")
                trained[f"{role}-{st}"] = finished
            else:
                from llumi.train import dpo, sft

                trained[f"{role}-{st}"] = (sft if st == "sft" else dpo).main(cfg, ws, progress=progress)
            done(name)

    chosen_backend = _pick_backend(backend)
    if chosen_backend == "llamacpp":
        stage("export the tuned models to GGUF for llama.cpp")
        from llumi.assist.generate import export_run_gguf

        for role in ("gm", "im"):
            export_run_gguf(Path(trained[f"{role}-dpo"]["path"]))
        done("export the tuned models to GGUF for llama.cpp")

    from llumi.assist.generate import AssistConfig, run as run_assist

    outputs = {}
    for kind in ("generate", "improve"):
        stage(f"{kind} on held-out posts ({chosen_backend})")
        cfg = AssistConfig(backend=chosen_backend, limit=limit, max_new_tokens=160)
        outputs[kind] = run_assist(ws, kind, cfg, split="test", progress=progress)
        done(f"{kind} on held-out posts ({chosen_backend})")

    # The paper's comparison on the held-out posts: untuned base, SFT, DPO (and the human replies).
    systems = {"dpo": outputs["generate"]["output"]}
    stage("generate with the untuned model and the SFT model, for comparison")
    for name, opts in (("base", {"run": None, "model": model or "smollm2-135m"}),
                       ("sft", {"run": trained["gm-sft"]["path"]})):
        cfg = AssistConfig(backend=chosen_backend, limit=limit, max_new_tokens=160, **opts)
        systems[name] = run_assist(ws, "generate", cfg, split="test", output=str(ws.root / "outputs" / f"generate-{name}"),
                                   progress=progress)["output"]
    done("generate with the untuned model and the SFT model, for comparison")

    stage("community-preference reward model and evaluation report")
    from llumi.evaluate import evaluate_systems
    from llumi.evaluate.reward import train_reward

    reward = train_reward(ws)
    # the same first `limit` held-out posts that every system answered (and their human replies)
    evaluation = evaluate_systems(ws, {k: systems[k] for k in ("base", "sft", "dpo")}, name="quickstart",
                                  limit=limit, progress=progress)
    done("community-preference reward model and evaluation report")

    stage("rating study with scripted raters, DPO2 pairs, DPO2 of the GM")
    study = _scripted_study(ws, {k: systems[k] for k in ("sft", "dpo")}, limit)
    name = "train GM DPO2"
    cfg = cfgmod.load(TrainConfig, CONFIGS / "gm-dpo2-cpu.yaml",
                      {"role": "gm", "stage": "dpo", "round": 2, **({"max_steps": 2, "max_eval_rows": 4} if fast else {})})
    finished = runs.latest(ws, "gm-dpo-r2")
    if not study["pairs"]:
        pass
    elif finished and _same_config(finished, cfg) and not study["new_pairs"]:
        trained["gm-dpo2"] = finished
    else:
        from llumi.train import dpo

        trained["gm-dpo2"] = dpo.main(cfg, ws, progress=progress)
    done("rating study with scripted raters, DPO2 pairs, DPO2 of the GM")

    summary = {
        "workspace": str(ws.root),
        "seconds": round(time.time() - started, 1),
        "stages_seconds": timings,
        "ingest": {k: s_ingest[k] for k in ("lines_read", "kept_posts", "kept_replies", "dropped", "quarantined")},
        "pairs": {k: {s: v[s] for s in ("train", "validation", "test")} for k, v in s_pairs["outputs"].items()},
        "training": {k: {"run": v.get("run"), "eval": (v.get("metrics") or {}).get("eval")} for k, v in trained.items()},
        "outputs": {k: {"file": v["output"], "actions": v["actions"], "withheld": v["withheld"]} for k, v in outputs.items()},
        "systems": systems,
        "reward_model": {"accuracy": reward.get("accuracy"), "pairs": reward.get("pairs"), "folder": reward.get("output")},
        "evaluation": {"report": evaluation["report"], "posts": evaluation["posts"],
                       "means": {n: {m: (v["measures"].get(m) or {}).get("mean") for m in HEADLINE}
                                 for n, v in evaluation["systems"].items()}},
        "study": study,
        "serve_gm_run": trained["gm-dpo"]["path"],
    }
    return summary


def _scripted_study(ws: Workspace, systems: dict[str, str], limit: int) -> dict[str, Any]:
    """The rating study "quickstart" on the held-out posts (the systems' drafts and the human replies),
    answered by scripted raters, and its DPO2 pairs. A second run reuses the study."""
    from llumi.assist.generate import split_inputs
    from llumi.rate.cli import read_outputs
    from llumi.rate.pairs import RatingPairsConfig, write_rating_pairs
    from llumi.rate.report import write_report
    from llumi.rate.simulate import default_raters, simulate
    from llumi.rate.study import StudyConfig, Studies
    from llumi.errors import WorkspaceError
    from llumi.web.db import open_db

    studies = Studies(open_db(ws))
    name = "quickstart"
    new = name not in {s["name"] for s in studies.list()}
    if new:
        posts = split_inputs(ws, "generate", "test")[:limit]
        outputs = {k: read_outputs(v)[0] for k, v in systems.items()}
        outputs["human"] = {str(p["id"]): p["reference"] for p in posts}
        studies.create(name, [{"id": str(p["id"]), "title": p["title"], "text": p["text"]} for p in posts], outputs,
                       StudyConfig(raters_per_item=2))
    answers = simulate(studies, name, default_raters())["answers"]
    report = write_report(ws, studies, name)
    pairs = None
    if new or not (ws.pairs / "gm-dpo2").exists():
        try:
            pairs = write_rating_pairs(ws, studies, name, RatingPairsConfig())
        except WorkspaceError as e:   # the raters saw no difference worth a pair: no DPO2 this time
            say(f"   no DPO2 pairs: {e}")
            pairs = {"pairs": 0, "folder": None}
    if pairs is None:
        n = sum(1 for f in (ws.pairs / "gm-dpo2").glob("*.jsonl") for _ in open(f))
        pairs = {"pairs": n, "folder": str(ws.pairs / "gm-dpo2")}
    return {"name": name, "answers": answers, "report": report["report"], "pairs": pairs["pairs"],
            "pairs_folder": pairs["folder"], "new_pairs": new, "raters": "scripted (a test harness, not evidence)"}


def _same_config(pointer: dict[str, Any], cfg) -> bool:
    meta = Path(pointer["path"]) / "meta.json"
    if not meta.exists():
        return False
    return json.loads(meta.read_text()).get("config") == cfgmod.to_dict(cfg)


def _pick_backend(backend: str) -> str:
    if backend != "auto":
        return backend
    try:
        import gguf  # noqa: F401
        import xllamacpp  # noqa: F401
    except ImportError:
        return "transformers"
    return "llamacpp"


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


def format_summary(s: dict[str, Any]) -> str:
    lines = [f"LLUMI quickstart finished in {_clock(s['seconds'])} (workspace {s['workspace']})", ""]
    lines.append("Validation, tuned model against its starting point:")
    for key, t in s["training"].items():
        ev = t.get("eval") or {}
        start, trained = ev.get("start") or {}, ev.get("trained") or {}
        if key.endswith("sft"):
            if start.get("loss") is not None:
                lines.append(f"  {key.upper():7s} loss {start['loss']:.3f} -> {trained['loss']:.3f}   (untuned -> SFT)")
        else:
            if trained:
                acc = trained.get("reward_accuracy")
                lines.append(
                    f"  {key.upper():7s} reward accuracy {acc:.2f}, margin {trained.get('reward_margin', 0):.3f}; "
                    f"preference accuracy {start.get('preference_accuracy', float('nan')):.2f} -> "
                    f"{trained.get('preference_accuracy', float('nan')):.2f}   "
                    + ("(DPO -> DPO2, scripted raters' pairs)" if key.endswith("dpo2") else "(SFT -> DPO)"))
    lines.append("")
    for kind, o in s["outputs"].items():
        lines.append(f"{kind}: guard actions {o['actions']}, withheld {o['withheld']} -> {o['file']}")
    ev = s.get("evaluation")
    if ev:
        lines += ["", f"Held-out posts ({ev['posts']}), means per system (llumi eval; the report has intervals):"]
        lines.append("  " + "system".ljust(8) + "".join(m.rjust(21) for m in HEADLINE))
        for name, means in ev["means"].items():
            lines.append("  " + name.ljust(8) + "".join(("-" if means.get(m) is None else f"{means[m]:.2f}").rjust(21)
                                                      for m in HEADLINE))
        acc = (s.get("reward_model") or {}).get("accuracy") or {}
        if acc:
            lines.append("  reward model pairwise accuracy: " + ", ".join(f"{k} {v:.2f}" for k, v in acc.items() if v is not None))
        lines.append(f"  report: {ev['report']}")
    st = s.get("study")
    if st:
        lines += ["", f"Rating study '{st['name']}', answered by scripted raters (a test harness, not evidence): "
                      f"{sum(st['answers'].values())} answers, {st['pairs']} DPO2 pairs; report {st['report']}"]
    lines.append("")
    lines.append("Examples (held-out posts):")
    for kind, o in s["outputs"].items():
        rows = [json.loads(l) for l in Path(o["file"]).read_text().splitlines() if l.strip()]
        shown = [r for r in rows if not r.get("withheld")][:2] + [r for r in rows if r.get("withheld")][:1]
        for r in shown:
            head = f"  [{kind}] post {r.get('post_id')} tier {r['tier']} -> {r['action']}"
            lines.append(head + (f" ({', '.join(r.get('guard_rules') or [])})" if r.get("guard_rules") else ""))
            if r.get("withheld"):
                lines.append(f"      withheld: {r['reason']}")
            else:
                text = (r.get("text") or "(nothing shown)").replace("\n", " ")
                lines.append(f"      {text[:300]}{'...' if len(text) > 300 else ''}")
    lines += ["", "Try next:",
              f"  llumi -w {s['workspace']} serve                      # the web app (the quickstart script starts it)",
              f"  llumi -w {s['workspace']} safety check \"I don't want to wake up tomorrow\"",
              f"  llumi -w {s['workspace']} generate posts.jsonl       # your own posts: {{\"id\", \"title\", \"text\"}}",
              f"  llumi -w {s['workspace']} improve drafts.jsonl       # with a \"draft\" reply to improve",
              f"  llumi -w {s['workspace']} stats                      # plots in {s['workspace']}/stats/"]
    return "\n".join(lines)
