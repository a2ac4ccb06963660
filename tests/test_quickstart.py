"""The main job, on a shortened schedule with the real default model (slow: it loads SmolLM2-135M)."""

import json

import pytest


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quickstart_shortened_schedule(ws):
    from llumi.quickstart import format_summary, main

    s = main(ws, fast=True, limit=2, progress=False)
    # every stage ran and left its outputs with provenance
    assert s["ingest"]["kept_replies"] > 1000 and s["ingest"]["quarantined"]
    assert s["pairs"]["gm-dpo"]["train"] > 100 and s["pairs"]["im-sft"]["train"] > 0
    for key in ("gm-sft", "gm-dpo", "im-sft", "im-dpo"):
        run = s["training"][key]
        assert run["run"] and run["eval"]["rows"] > 0
        assert (ws.runs / run["run"] / "meta.json").exists()
    # SFT reports loss for the untuned model and the tuned one, DPO reward accuracy beside its start
    assert s["training"]["gm-sft"]["eval"]["start"]["loss"] > 0
    assert s["training"]["gm-dpo"]["eval"]["trained"]["reward_accuracy"] is not None
    for kind in ("generate", "improve"):
        rows = [json.loads(l) for l in open(s["outputs"][kind]["file"])]
        assert len(rows) == 2 and all("action" in r and "tier" in r for r in rows)
    # the comparison: untuned, SFT and DPO on the same posts, the human replies beside them, one report
    from pathlib import Path

    assert set(s["evaluation"]["means"]) == {"base", "sft", "dpo", "human"}
    assert Path(s["evaluation"]["report"]).exists() and s["reward_model"]["accuracy"]
    # the rating study answered by scripted raters, and DPO2 from its pairs
    assert sum(s["study"]["answers"].values()) == 2 * 2 and Path(s["study"]["report"]).exists()
    if s["study"]["pairs"]:
        assert s["training"]["gm-dpo2"]["run"].startswith("gm-dpo-r2-")
    # the web app the quickstart ends in can be signed in to: the scripted raters do not stop the first admin
    from llumi.web.cli import first_admin
    from llumi.web.db import open_db

    assert first_admin(ws, open_db(ws)) is not None
    text = format_summary(s)
    assert "GM-SFT  loss" in text and "Try next" in text and "report:" in text
    # a second run finds everything done and trains nothing again
    again = main(ws, fast=True, limit=2, progress=False)
    assert {k: v["run"] for k, v in again["training"].items()} == {k: v["run"] for k, v in s["training"].items()}
