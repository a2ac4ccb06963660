"""The community-preference reward model (`llumi eval train-reward`) and the trained empathy scorer."""

from __future__ import annotations

import csv
import json
import random

import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("sklearn")

from llumi import prompts  # noqa: E402
from llumi.errors import WorkspaceError  # noqa: E402
from llumi.evaluate import empathy  # noqa: E402
from llumi.evaluate.reward import RewardModel, post_of, train_reward, win_rates  # noqa: E402
from llumi.workspace import read_meta  # noqa: E402

TOPICS = ["my exams", "losing my job", "my breakup", "moving to a new city", "my dad's illness", "feeling lonely",
          "not sleeping", "my panic attacks", "fighting with my sister", "starting therapy"]
WARM = ["That sounds so hard with {t}. It makes sense you feel worn out; what has helped even a little so far?",
        "I'm really sorry about {t}. You're not alone in this, and I'd love to hear how you're holding up.",
        "Going through {t} is a lot. It sounds like you've been carrying it alone; who could you lean on this week?"]
COLD = ["lol just deal with it", "whatever, everyone has problems", "stop complaining and get over it",
        "nobody cares tbh", "ok and?"]


def _pairs(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        t = rng.choice(TOPICS)
        post = f"Struggling with {t}. I can't focus and I cry most nights."
        good, bad = rng.choice(WARM).format(t=t), rng.choice(COLD)
        chosen, rejected = (good, bad) if rng.random() < 0.9 else (bad, good)  # 10% label noise
        rows.append({"post_id": f"p{seed}-{i}", "prompt": prompts.gm_messages("Help", post),
                     "chosen": [prompts.assistant(chosen)], "rejected": [prompts.assistant(rejected)]})
    return rows


def _write_pairs(ws, n_train=80, n_val=30, n_test=40):
    folder = ws.pairs / "gm-dpo"
    folder.mkdir(parents=True)
    for split, n, seed in (("train", n_train, 0), ("validation", n_val, 1), ("test", n_test, 2)):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _pairs(n, seed)))
    return folder


def test_post_is_taken_from_the_prompt():
    assert post_of(prompts.gm_messages("Title", "Body text")) == "Title\n\nBody text"


def test_reward_model_learns_community_preferences_and_is_saved_with_meta(ws):
    folder = _write_pairs(ws)
    with open(folder / "test.jsonl", "a") as f:
        f.write('{"prompt": broken\n')
        f.write('{"prompt": [], "chosen": []}\n')
    s = train_reward(ws)
    assert s["pairs"] == {"train": 80, "validation": 30, "test": 40}
    assert [b["line"] for b in s["bad_lines"]] == [41, 42]
    # 10% of labels are flipped: a model that learned warm-over-cold scores about 0.9 on held-out pairs
    assert s["accuracy"]["test"] >= 0.8 and s["accuracy"]["validation"] >= 0.75
    assert s["c"] in (0.01, 0.1, 1.0, 10.0)
    out = ws.root / "eval" / "reward-model"
    meta = read_meta(out)
    assert meta["stage"] == "eval-train-reward" and set(meta["inputs"]) == {"gm-dpo/train.jsonl", "gm-dpo/validation.jsonl", "gm-dpo/test.jsonl"}
    model = RewardModel.load(out)
    post = "Struggling with my exams. I can't focus and I cry most nights."
    r = model.score([post, post], [WARM[0].format(t="my exams"), "stop complaining and get over it"])
    assert r[0] > r[1]
    spec = json.loads((out / "reward.json").read_text())
    (out / "reward.json").write_text(json.dumps({**spec, "version": "minilm-bt-0"}))
    with pytest.raises(WorkspaceError, match="re-run `llumi eval train-reward`"):
        RewardModel.load(out)


def test_reward_model_missing_is_a_clear_error(ws):
    with pytest.raises(WorkspaceError, match="llumi pairs"):
        train_reward(ws)
    with pytest.raises(WorkspaceError, match="train-reward"):
        RewardModel.load(ws.root / "eval" / "reward-model")


def test_win_rates_by_hand():
    wr = win_rates({"a": [1.0, 2.0, None, 0.0], "b": [0.0, 2.0, 5.0, 1.0]})
    # posts 0, 1, 3: a wins, tie, loses -> (1 + 0.5 + 0) / 3
    assert wr["a"]["b"] == {"n": 3, "win_rate": pytest.approx(0.5)}
    assert wr["b"]["a"]["win_rate"] == pytest.approx(0.5)
    wr = win_rates({"a": [3.0, 3.0], "b": [1.0, 2.0]})
    assert wr["a"]["b"]["win_rate"] == 1.0 and wr["b"]["a"]["win_rate"] == 0.0


def _write_epitome(folder, n=60, seed=0):
    """EPITOME-format CSVs (invented rows): level 2 replies name a feeling, level 0 give orders."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    strong = ["It sounds like you feel completely alone with {t}.", "That must be so painful, going through {t}."]
    weak = ["I understand.", "I get it, {t} is hard."]
    none = ["Just go to the gym.", "Drink more water and sleep."]
    for mech in ("emotional-reactions", "interpretations", "explorations"):
        with open(folder / f"{mech}-mine.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["sp_id", "rp_id", "seeker_post", "response_post", "level", "rationales"])
            for i in range(n):
                t = rng.choice(TOPICS)
                level = i % 3
                reply = rng.choice([none, weak, strong][level]).format(t=t)
                w.writerow([f"s{i // 2}", f"r{i}", f"I am struggling with {t}.", reply, level, ""])
            w.writerow(["sx", "rx", "post", "reply", "not-a-level", ""])
    return folder


def test_train_empathy_cross_validates_saves_and_predicts(run_cli, ws, tmp_path):
    data = _write_epitome(tmp_path / "epi")
    code, out, _ = run_cli("eval", "train-empathy", "--data", str(data), "--folds", "3", "--json")
    assert code == 0
    s = json.loads(out)
    assert s["rows"] == {"emotional_reactions": 60, "interpretations": 60, "explorations": 60}  # bad level skipped
    for mech in empathy.MECHANISMS:
        assert s["cv"][mech]["accuracy"] > 0.8 and s["cv"][mech]["spearman"] > 0.7 and s["cv"][mech]["folds"] == 3
        assert set(s["lexicon"][mech]) == {"n", "spearman", "accuracy", "macro_f1"}
    folder = ws.root / "eval" / "empathy-classifier"
    assert read_meta(folder)["stage"] == "eval-train-empathy"
    clf = empathy.EmpathyClassifier.load(folder)
    pred = clf.predict(["It sounds like you feel completely alone with my exams.", "Drink more water and sleep."],
                       ["I am struggling with my exams."] * 2)
    assert pred["interpretations"] == [2, 0]


def test_train_empathy_reports_missing_columns(run_cli, tmp_path):
    from llumi.errors import InputError

    bad = tmp_path / "bad"
    bad.mkdir()
    for mech in ("emotional-reactions", "interpretations", "explorations"):
        (bad / f"{mech}.csv").write_text("post,reply\nx,y\n")
    with pytest.raises(InputError, match="missing column"):
        run_cli("eval", "train-empathy", "--data", str(bad))
