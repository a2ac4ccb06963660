"""`llumi rate` from the command line: create from output files, scripted raters, report, export and
`llumi pairs --from-ratings`, on the bundled sample's held-out posts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from llumi.errors import InputError
from tests.conftest import read_jsonl


@pytest.fixture
def study_ws(ws, tmp_path):
    import llumi
    from llumi.assist.generate import split_inputs
    from llumi.data.ingest import ingest
    from llumi.data.pairs import PairsConfig, build_pairs

    sample = Path(llumi.__file__).parent / "data" / "sample"
    ingest(ws, sorted(sample.glob("*.zst")), progress=False)
    build_pairs(ws, PairsConfig(similarity="lexical"), progress=False)
    posts = split_inputs(ws, "generate", "test")[:4]
    files = {}
    for system, reply in (("warm", "That sounds really hard, and I'm sorry. What has helped you before?"),
                          ("curt", "ok")):
        files[system] = tmp_path / f"{system}.jsonl"
        lines = [json.dumps({"id": p["id"], "text": f"{reply} [{i}]"}) for i, p in enumerate(posts)]
        lines.append("{not json")   # a damaged line is reported, not fatal
        files[system].write_text("\n".join(lines) + "\n")
    return ws, files


def test_create_simulate_report_export_and_dpo2_pairs(study_ws, run_cli):
    ws, files = study_ws
    code, out, _ = run_cli("rate", "create", "pilot", "--system", f"warm={files['warm']}",
                           "--system", f"curt={files['curt']}", "--limit", "4", "--json")
    created = json.loads(out)
    assert code == 0 and created["posts"] == 4 and created["systems"] == ["curt", "human", "warm"]
    assert [p["line"] for p in created["skipped_input_lines"]] == [5, 5]

    code, out, _ = run_cli("rate", "simulate", "pilot", "--json")
    answers = json.loads(out)["answers"]
    assert code == 0 and sum(answers.values()) == 4 * 2          # two raters per post by default

    code, out, _ = run_cli("rate", "report", "pilot", "--json")
    rep = json.loads(out)
    assert rep["counts"]["answers"] == 8 and Path(rep["report"]).exists()
    means = rep["summary"]["overall"]["means"]
    assert means["warm"]["empathy"]["mean"] > means["curt"]["empathy"]["mean"]
    assert set(rep["summary"]["by_credential"]) <= {"clinician", "peer", "lay"}
    html = Path(rep["report"]).read_text()
    assert "Krippendorff" in html and "<script" not in html and "http" not in html.replace("http-equiv", "")
    assert (Path(rep["report"]).parent / "meta.json").exists()

    code, out, _ = run_cli("rate", "export", "pilot", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows and {r["kind"] for r in rows} == {"rating", "preference"}
    assert all(r["rater"].startswith("rater-") and "scripted" not in r["rater"] for r in rows)
    code, out, _ = run_cli("rate", "export", "pilot", "--format", "jsonl")
    lines = [json.loads(l) for l in out.splitlines()]
    assert code == 0 and len(lines) == len(rows) and {r["kind"] for r in lines} == {"rating", "preference"}
    assert sorted(map(str, (r["score"] for r in lines if r["kind"] == "rating"))) == \
        sorted(r["score"] for r in rows if r["kind"] == "rating")

    code, out, _ = run_cli("pairs", "--from-ratings", "pilot", "--json")
    made = json.loads(out)
    assert code == 0 and made["pairs"] > 0
    pairs = [r for f in Path(made["folder"]).glob("*.jsonl") for r in read_jsonl(f)]
    dpo_row = read_jsonl(ws.pairs / "gm-dpo" / "train.jsonl")[0]
    assert all(set(r) >= {"prompt", "chosen", "rejected"} for r in pairs)
    assert [m["role"] for m in pairs[0]["prompt"]] == [m["role"] for m in dpo_row["prompt"]]
    assert all(r["chosen_system"] != "curt" for r in pairs)   # the scripted raters never prefer "ok"
    meta = json.loads((Path(made["folder"]) / "meta.json").read_text())
    assert meta["study"]["name"] == "pilot" and meta["config"]["credentials"] == {"safety": ["clinician"]}


def test_bad_input_is_a_clear_error(study_ws, run_cli):
    ws, files = study_ws
    with pytest.raises(InputError, match="at least two systems"):
        run_cli("rate", "create", "solo", "--system", f"warm={files['warm']}", "--no-human")
    with pytest.raises(InputError, match="no study named 'nope'"):
        run_cli("rate", "report", "nope")
    with pytest.raises(InputError, match="no user 'ghost'"):
        run_cli("rate", "raters", "ghost", "--credential", "lay")
    code, _, err = run_cli("rate", "create", "x", "--system", "warm")
    assert code != 0 and "NAME=FILE" in err
