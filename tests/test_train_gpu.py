"""The GPU recipes on a tiny random model: 4-bit QLoRA (configs/*-mistral-qlora.yaml) and the
multi-GPU recipe under `accelerate launch` (configs/gm-sft-multigpu.yaml with configs/accelerate/).

Skipped without a CUDA GPU and bitsandbytes (CI has neither). On a GPU machine:

    python -m pytest tests/test_train_gpu.py tests/test_train.py

(test_train.py then runs its recipes on the GPU too). The recipes' own settings are kept except the
model, the number of steps, the lengths and the batch, so a wrong setting in a config fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU (the QLoRA and multi-GPU recipes)", allow_module_level=True)
bnb = pytest.importorskip("bitsandbytes", reason="the QLoRA recipes need bitsandbytes")

from llumi.train import dpo, load_config, sft  # noqa: E402
from llumi.workspace import Workspace, read_meta  # noqa: E402

from tests.test_train import (assert_every_lora_parameter_changed, finished_runs, launch, lora_snapshot,  # noqa: E402
                              write_pairs)
from tests.tiny_model import make_tiny_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHORT = {"max_steps": 3, "max_length": 128, "max_eval_rows": 6,
         "trl.per_device_train_batch_size": 2, "trl.gradient_accumulation_steps": 1,
         "trl.per_device_eval_batch_size": 4, "trl.learning_rate": 1e-2, "trl.save_steps": 1,
         "trl.logging_steps": 1}


def recipe(name: str, model: Path, **over):
    return load_config(REPO / "configs" / name, {**SHORT, "model": str(model), **over})


def linear4bit(model) -> int:
    return sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def qlora_sft(tmp_path_factory, tiny):
    ws = Workspace(tmp_path_factory.mktemp("qlora") / "work").ensure()
    write_pairs(ws)
    snap = lora_snapshot()
    summary = sft.main(recipe("gm-sft-mistral-qlora.yaml", tiny), ws, callbacks=(snap,), progress=False)
    return ws, summary, snap


def test_qlora_sft_trains_lora_on_a_4bit_base_on_the_gpu(qlora_sft):
    ws, summary, snap = qlora_sft
    assert linear4bit(snap.model) > 0, "the base was not loaded in 4-bit"
    assert next(snap.model.parameters()).device.type == "cuda"
    assert_every_lora_parameter_changed(snap)
    run = Path(summary["path"])
    ev = json.loads((run / "eval.json").read_text())
    assert ev["trained"]["loss"] < ev["start"]["loss"]
    meta = read_meta(run)
    assert meta["device"] == "cuda" and meta["config"]["quantize"] == "4bit"
    assert meta["trl_args"]["optim"] == "paged_adamw_32bit"
    # The merged model is the base reloaded unquantized with the adapter merged in: a plain folder.
    merged = json.loads((run / "merged" / "config.json").read_text())
    assert "quantization_config" not in merged and merged["dtype"] == "bfloat16"  # the dtype it computed in


def test_qlora_dpo_starts_from_the_sft_model_in_4bit_and_its_reference_is_that_model(qlora_sft, tiny):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    ws, sft_summary, _ = qlora_sft
    snap = lora_snapshot()
    summary = dpo.main(recipe("gm-dpo-mistral-qlora.yaml", tiny), ws, callbacks=(snap,), progress=False)
    assert summary["start_from"] == Path(sft_summary["path"]).name
    assert_every_lora_parameter_changed(snap)
    policy = snap.model.eval()
    assert linear4bit(policy) > 0
    ev = json.loads((Path(summary["path"]) / "eval.json").read_text())
    assert ev["start"]["reward_accuracy"] is None and 0.0 <= ev["trained"]["reward_accuracy"] <= 1.0
    # The reference (adapter disabled) is the merged SFT model quantized the same way.
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
    sft_model = AutoModelForCausalLM.from_pretrained(sft_summary["merged"], quantization_config=quant,
                                                     dtype=torch.bfloat16, device_map={"": 0}).eval()
    ids = torch.tensor([[1, 5, 9, 42, 7, 3, 11]], device="cuda")
    with torch.no_grad(), policy.disable_adapter():
        reference = policy(input_ids=ids).logits.float()
    with torch.no_grad():
        expected = sft_model(input_ids=ids).logits.float()
    torch.testing.assert_close(reference, expected, rtol=2e-2, atol=2e-2)


def test_multigpu_recipe_runs_under_accelerate_launch_with_fsdp(tmp_path, tiny):
    """configs/gm-sft-multigpu.yaml through configs/accelerate/fsdp.yaml on every GPU this machine has:
    the weights are sharded, gathered for the adapter, and one run folder holds the result."""
    ws = Workspace(tmp_path / "work").ensure()
    write_pairs(ws)
    n = torch.cuda.device_count()
    launcher = ["accelerate.commands.launch", "--config_file", str(REPO / "configs" / "accelerate" / "fsdp.yaml"),
                "--num_processes", str(n)]
    done = launch(ws, launcher, "gm-sft-multigpu.yaml", {**SHORT, "model": str(tiny)})
    assert done.returncode == 0, done.stderr[-4000:]
    (run,) = finished_runs(ws, "gm-sft")
    meta = read_meta(run)
    assert meta["device"] == "cuda" and meta["processes"] == n and meta["metrics"]["steps"] == 3
    assert (run / "adapter" / "adapter_model.safetensors").exists() and (run / "merged" / "config.json").exists()
