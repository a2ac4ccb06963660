"""`llumi safety check | eval | train` from the command line."""

import json

import pytest

from llumi.safety import triage


def test_check_text_human_and_json(run_cli):
    code, out, _ = run_cli("safety", "check", "everyone would be better off without me")
    assert code == 0
    assert "tier: low" in out and "burden.better_off_without_me" in out and "Have you wished you were dead" in out
    code, out, _ = run_cli("safety", "check", "everyone would be better off without me", "--json")
    data = json.loads(out)
    assert data["tier"] == "low" and data["signals"][0]["evidence"]
    assert data["guidance"]["questions"]


def test_check_guards_a_reply(run_cli):
    code, out, _ = run_cli("safety", "check", "I've been feeling suicidal", "--reply", "Are you safe right now?",
                           "--locale", "en-AU", "--json")
    v = json.loads(out)["guard"]
    assert v["action"] == "rewrite" and "13 11 14" in v["text"] and "guard.resource_added" in v["rules"]


def test_fail_at_exits_nonzero_at_or_above_the_tier(run_cli):
    assert run_cli("safety", "check", "I want to kill myself tonight", "--fail-at", "high")[0] == 3
    assert run_cli("safety", "check", "I want to die", "--fail-at", "high")[0] == 0
    assert run_cli("safety", "check", "I want to die", "--fail-at", "low")[0] == 3


def test_check_file(run_cli, tmp_path):
    p = tmp_path / "post.txt"
    p.write_text("I just took 40 pills.")
    code, out, _ = run_cli("safety", "check", "--file", str(p), "--json")
    assert json.loads(out)["tier"] == "imminent"


def test_check_jsonl_counts_and_sets_aside_bad_lines(run_cli, tmp_path):
    p = tmp_path / "posts.jsonl"
    p.write_text("\n".join([
        json.dumps({"body": "Looking for advice on a used car"}),
        "{not json",
        json.dumps({"body": "I want to unalive myself", "draft": "Call 555-123-4567 now."}),
        json.dumps({"other": "no body field"}),
    ]) + "\n")
    code, out, _ = run_cli("safety", "check", "--jsonl", str(p), "--field", "body", "--reply-field", "draft", "--json", "--fail-at", "moderate")
    data = json.loads(out)
    assert code == 3
    assert data["tiers"]["none"] == 1 and data["tiers"]["moderate"] == 1
    assert [b["line"] for b in data["bad_lines"]] == [2, 4]
    guarded = data["items"][1]["guard"]
    assert guarded["action"] == "rewrite" and "555" not in guarded["text"] and "988" in guarded["text"]


def test_check_needs_exactly_one_source(run_cli):
    code, _, err = run_cli("safety", "check")
    assert code == 2 and "exactly one of TEXT, --file or --jsonl" in err


def test_eval_runs_the_fixtures(run_cli):
    code, out, _ = run_cli("safety", "eval", "--json")
    data = json.loads(out)
    assert code == 0
    for name in ("triage", "metamorphic", "golden_replies", "guard"):
        assert data["fixtures"][name]["total"] > 10 and data["fixtures"][name]["failures"] == []


def test_eval_on_labelled_data(run_cli, tmp_path):
    p = tmp_path / "labelled.csv"
    p.write_text("post,group\n"
                 "\"I want to kill myself\",risk\n"
                 "\"nobody would even notice if I was gone\",risk\n"
                 "\"what a lovely day for a walk\",risk\n"
                 "\"how do I appeal a parking ticket\",control\n"
                 "\"this exam is killing me lol\",control\n")
    code, out, _ = run_cli("safety", "eval", "--data", str(p), "--text-col", "post", "--label-col", "group",
                           "--positive", "risk", "--negative", "control", "--json")
    d = json.loads(out)["data"]
    assert d["positive"]["rows"] == 3 and d["negative"]["rows"] == 2
    assert d["positive"]["rate_at_or_above"]["low+"] == pytest.approx(2 / 3)
    assert d["positive"]["rate_at_or_above"]["moderate+"] == pytest.approx(1 / 3)
    assert d["negative"]["rate_at_or_above"]["low+"] == 0.0
    assert d["positive"]["rule_rates"]["active_ideation.kill_myself"] == pytest.approx(1 / 3)


def test_eval_names_the_columns_when_one_is_missing(run_cli, tmp_path):
    p = tmp_path / "labelled.csv"
    p.write_text("post,group\nhello,a\n")
    from llumi.errors import InputError

    with pytest.raises(InputError, match="columns are: post, group"):
        run_cli("safety", "eval", "--data", str(p), "--text-col", "text")


def test_classifier_tier_is_combined_by_taking_the_higher():
    class Fake:
        def predict_tier(self, texts):
            return ["moderate" for _ in texts]

    r = triage("what a lovely day", classifier=Fake())
    assert r.tier == "moderate" and r.rules == ("learned.classifier",)
    assert triage("I'm going to kill myself tonight", classifier=Fake()).tier == "high"


def test_check_reads_standard_input(run_cli):
    code, out, _ = run_cli("safety", "check", "-", "--json", input="i wanna kms")
    assert code == 0 and json.loads(out)["tier"] == "moderate"
