"""The GPU recipe benchmark (benchmarks/gpu_qlora.py) as a dry run on the CPU at a tiny shape, so it
cannot silently rot between the sessions that have a GPU: it builds the model, runs the recipes through
llumi.train and writes its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from llumi.workspace import Workspace  # noqa: E402

from tests.test_train import write_pairs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_dry_run_on_the_cpu_measures_every_phase(tmp_path):
    ws = Workspace(tmp_path / "w").ensure()
    write_pairs(ws, n_train=16, n_val=4)
    out = tmp_path / "gpu_qlora.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_qlora.py"), "--pairs", str(ws.pairs), "--shape", "tiny",
         "--device", "cpu", "--sft-steps", "2", "--dpo-steps", "2", "--eval-rows", "4",
         "--scratch", str(tmp_path / "scratch"), "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["shape"] == "tiny" and report["dims"]["num_hidden_layers"] == 2
    phases = {p["phase"]: p for p in report["phases"]}
    assert list(phases) == ["qlora-sft", "qlora-dpo", "lora-sft"]
    for name, p in phases.items():
        assert "error" not in p, p
        assert p["steps"] == 2 and p["s_per_step"] > 0 and p["train_tokens_per_s"] > 0, name
        assert p["eval"]["rows"] == 4 and p["eval"]["trained"]["loss"] > 0, name
    assert phases["qlora-dpo"]["grad_accumulation"] == 8  # the recipe's own batch settings are kept
    assert "qlora-sft" in done.stdout and "s/step" in done.stdout


def test_a_dpo_phase_without_its_sft_phase_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_qlora.py"), "--pairs", str(tmp_path),
                           "--phases", "qlora-dpo"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "qlora-dpo starts from the qlora-sft run" in done.stderr
