"""The optional learned risk classifier: trained on a tiny synthetic set with the real embedder."""

import csv
import json

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("sentence_transformers")

RISK = [
    "I can't stop thinking about ending everything",
    "nothing matters and I want to be gone",
    "I don't see a future for myself at all",
    "every night I think about not being here",
    "I feel like a weight on everyone around me",
    "the pain is too much and I want out",
    "I have been planning how to leave this world",
    "I am so empty and tired of existing",
    "there is no way forward for me anymore",
    "I keep imagining my own funeral",
]
CONTROL = [
    "what is the best way to refinance a mortgage",
    "my landlord kept the deposit without a reason",
    "tips for teaching fractions to year five",
    "which scope should I buy for a hunting rifle",
    "the council tax bill went up again this year",
    "how do I file a small claims case",
    "looking for a good budgeting spreadsheet",
    "our school is changing the timetable next term",
    "is it worth switching energy supplier now",
    "recommend a podcast about local history",
]


@pytest.mark.slow
def test_train_saves_a_cross_validated_classifier_that_triage_can_use(run_cli, ws, tmp_path):
    data = tmp_path / "labelled.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for t in RISK:
            w.writerow([t, "1"])
        for t in CONTROL:
            w.writerow([t, "0"])
    code, out, _ = run_cli("safety", "train", "--data", str(data), "--folds", "3", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["classes"] == ["none", "low"]
    assert summary["cv"]["folds"] == 3 and summary["cv"]["rows"] == 20
    assert summary["cv"]["roc_auc"] > 0.8
    folder = ws.root / "safety" / "classifier"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["stage"] == "safety-train" and meta["inputs"][str(data)].startswith("sha256:")
    saved = json.loads((folder / "classifier.json").read_text())
    assert len(saved["coef"][0]) == 384

    from llumi.safety import triage
    from llumi.safety.classifier import RiskClassifier

    clf = RiskClassifier.load(folder)
    assert clf.predict_tier(["I don't want to be around anymore, it's all too heavy", "how do I bake sourdough bread"]) == ["low", "none"]
    r = triage("there is no way forward for me", classifier=clf)
    assert r.tier == "low" and "learned.classifier" in r.rules

    code, out, _ = run_cli("safety", "check", "there is nothing ahead for me", "--classifier", "--json")
    assert json.loads(out)["tier"] == "low"


def test_missing_classifier_says_what_to_do(ws):
    from llumi.errors import WorkspaceError
    from llumi.safety.classifier import RiskClassifier

    with pytest.raises(WorkspaceError, match="llumi safety train"):
        RiskClassifier.load(ws.root / "safety" / "classifier")
