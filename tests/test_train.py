"""The SFT and DPO recipes, on a tiny random Llama with a tokenizer trained on the fly.

Every run is a few steps of milliseconds each; most of a test's time is loading and saving.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from llumi import prompts  # noqa: E402
from llumi.errors import ConfigError, LlumiError  # noqa: E402
from llumi.train import dpo, load_config, runs, sft  # noqa: E402
from llumi.workspace import Workspace, read_meta  # noqa: E402

from tests.tiny_model import make_tiny_model, sentences  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the tiny model gains nothing from more, and a busy machine makes them wait."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def write_pairs(ws: Workspace, n_train: int = 12, n_val: int = 6, seed: int = 0) -> None:
    """pairs/gm-sft and pairs/gm-dpo as `llumi pairs` writes them (with metadata keys to drop).
    A short system prompt keeps the tiny runs fast; the real ones use prompts.GM_SYSTEM."""
    rng = random.Random(seed)
    said = sentences(200, seed=seed)

    def prompt() -> list[dict]:
        return [{"role": "system", "content": "Be a kind peer."},
                {"role": "user", "content": "Post:\n" + " ".join(rng.sample(said, 2))}]

    for name in ("gm-sft", "gm-dpo"):
        folder = ws.pairs / name
        folder.mkdir(parents=True, exist_ok=True)
        for split, n in (("train", n_train), ("validation", n_val)):
            with open(folder / f"{split}.jsonl", "w") as f:
                for i in range(n):
                    meta = {"post_id": f"{split}{i}", "community": "test", "score": 5}
                    if name == "gm-sft":
                        row = {"messages": prompt() + [prompts.assistant(" ".join(rng.sample(said, 2)))], **meta}
                    else:
                        row = {"prompt": prompt(), "chosen": [prompts.assistant("I hear you. " + rng.choice(said))],
                               "rejected": [prompts.assistant(rng.choice(said))], **meta}
                    f.write(json.dumps(row) + "\n")
        (folder / "meta.json").write_text(json.dumps({"stage": "pairs", "test": True}))


def tiny_config(tiny: Path, **over):
    settings = {"model": str(tiny), "max_steps": 3, "max_length": 128, "dtype": "float32", "max_eval_rows": 6,
                "trl": {"per_device_train_batch_size": 2, "per_device_eval_batch_size": 4, "learning_rate": 1e-2,
                        "save_steps": 1, "logging_steps": 1}}
    settings.update(over)
    return load_config(None, settings)


def lora_snapshot():
    """A callback that keeps the LoRA weights at the start and the end of training, and the model."""
    from transformers import TrainerCallback

    class Snapshot(TrainerCallback):
        before: dict = {}
        after: dict = {}
        model = None

        def on_train_begin(self, args, state, control, model=None, **kw):
            self.before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}

        def on_train_end(self, args, state, control, model=None, **kw):
            self.after = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}
            self.model = model

    return Snapshot()


def assert_every_lora_parameter_changed(snap) -> None:
    assert snap.before and set(snap.before) == set(snap.after)
    unchanged = [n for n in snap.before if torch.equal(snap.before[n], snap.after[n])]
    assert not unchanged, f"LoRA parameters that did not change: {unchanged}"


@pytest.fixture(scope="module")
def sft_ws(tmp_path_factory, tiny):
    """A workspace with pairs and one finished SFT run (shared by the DPO tests)."""
    ws = Workspace(tmp_path_factory.mktemp("sft") / "work").ensure()
    write_pairs(ws)
    snap = lora_snapshot()
    summary = sft.main(tiny_config(tiny), ws, callbacks=(snap,), progress=False)
    return ws, summary, snap


# --- SFT ----------------------------------------------------------------------------------

def test_sft_changes_every_lora_parameter_and_reports_loss_before_and_after(sft_ws):
    ws, summary, snap = sft_ws
    assert_every_lora_parameter_changed(snap)
    assert summary["metrics"]["steps"] == 3
    ev = json.loads((Path(summary["path"]) / "eval.json").read_text())
    assert ev["rows"] == 6
    assert ev["start"]["loss"] > 0 and ev["trained"]["loss"] > 0
    assert ev["trained"]["loss"] < ev["start"]["loss"]  # lr 1e-2 on a random model: it learns at once


def test_sft_run_folder_has_adapter_merged_curves_and_meta(sft_ws, tiny):
    ws, summary, _ = sft_ws
    run = Path(summary["path"])
    assert run.parent == ws.runs and run.name.startswith("gm-sft-2")
    assert (run / "adapter" / "adapter_config.json").exists()
    assert (run / "merged" / "config.json").exists() and (run / "merged" / "tokenizer_config.json").exists()
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((run / "checkpoints").glob("checkpoint-*"))

    meta = read_meta(run)
    assert meta["stage"] == "train-sft" and meta["round"] == 1 and meta["role"] == "gm"
    assert meta["seed"] == 42 and meta["config"]["max_steps"] == 3
    assert meta["base_model"]["path"] == str(tiny.resolve())
    assert meta["base_model"]["weights_sha256"].startswith("sha256:")
    data = {Path(p).name: h for p, h in meta["inputs"].items()}
    assert set(data) == {"train.jsonl", "validation.jsonl", "meta.json"}
    assert all(h.startswith("sha256:") for h in data.values())
    for pkg in ("torch", "transformers", "trl", "peft", "python", "llumi"):
        assert meta["versions"].get(pkg), pkg
    assert "git_commit" in meta
    assert meta["metrics"]["eval"]["trained"]["loss"] == summary["metrics"]["eval"]["trained"]["loss"]
    assert meta["trl_args"]["learning_rate"] == 1e-2 and meta["lora_config"]["r"] == 16


def test_latest_pointer_names_the_finished_run(sft_ws):
    ws, summary, _ = sft_ws
    for name in ("gm-sft", "gm"):
        pointer = runs.latest(ws, name)
        assert pointer["run"] == Path(summary["path"]).name
        assert Path(pointer["merged"]).is_dir()
    assert runs.latest(ws, "im-sft") is None


# --- DPO ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dpo_run(sft_ws, tiny):
    ws, sft_summary, _ = sft_ws
    snap = lora_snapshot()
    summary = dpo.main(tiny_config(tiny, stage="dpo"), ws, callbacks=(snap,), progress=False)
    return ws, sft_summary, summary, snap


def test_dpo_starts_from_sft_and_its_reference_is_the_sft_model(dpo_run):
    from transformers import AutoModelForCausalLM

    ws, sft_summary, summary, snap = dpo_run
    assert summary["start_from"] == Path(sft_summary["path"]).name
    policy = snap.model.eval()
    device = next(policy.parameters()).device  # the GPU where there is one
    sft_merged = AutoModelForCausalLM.from_pretrained(sft_summary["merged"], dtype=torch.float32).to(device).eval()
    ids = torch.tensor([[1, 5, 9, 42, 7, 3, 11]], device=device)
    with torch.no_grad():
        with policy.disable_adapter():
            reference_logits = policy(input_ids=ids).logits
        sft_logits = sft_merged(input_ids=ids).logits
        trained_logits = policy(input_ids=ids).logits
    torch.testing.assert_close(reference_logits, sft_logits, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(trained_logits, sft_logits, atol=1e-4)  # the new adapter did move the policy


def test_dpo_changes_every_lora_parameter(dpo_run):
    assert_every_lora_parameter_changed(dpo_run[3])


def test_dpo_reports_reward_accuracy_and_margin_beside_the_starting_point(dpo_run):
    ws, sft_summary, summary, _ = dpo_run
    ev = json.loads((Path(summary["path"]) / "eval.json").read_text())
    assert ev["rows"] == 6
    start, trained = ev["start"], ev["trained"]
    assert start["reward_accuracy"] is None and start["reward_margin"] == 0.0
    assert start["loss"] == pytest.approx(0.6931, abs=1e-3)
    assert 0.0 <= start["preference_accuracy"] <= 1.0
    assert 0.0 <= trained["reward_accuracy"] <= 1.0
    assert trained["reward_margin"] > 0 and trained["loss"] < start["loss"]  # lr 1e-2: it learns at once
    meta = read_meta(summary["path"])
    assert meta["round"] == 1 and meta["start_from"]["run"] == sft_summary["path"]
    assert meta["reference_model"].startswith(Path(sft_summary["path"]).name + "/merged")
    assert runs.latest(ws, "gm-dpo")["run"] == summary["run"]
    assert runs.latest(ws, "gm")["run"] == summary["run"]  # the role's latest model is now the DPO one


def test_dpo2_is_round_two_from_the_dpo_run_on_a_later_pair_file(dpo_run, tiny, tmp_path):
    ws, _, dpo_summary, _ = dpo_run
    ratings = tmp_path / "rating-pairs.jsonl"  # DPO2 pairs from human ratings: the same format
    ratings.write_text((ws.pairs / "gm-dpo" / "train.jsonl").read_text())
    summary = dpo.main(tiny_config(tiny, stage="dpo", round=2, data=str(ratings), max_steps=2), ws, progress=False)
    meta = read_meta(summary["path"])
    assert Path(summary["path"]).name.startswith("gm-dpo-r2-")
    assert meta["round"] == 2 and meta["start_from"]["run"] == dpo_summary["path"]
    assert meta["metrics"]["eval"]["split"] is None  # one pair file: no validation split
    assert runs.latest(ws, "gm-dpo-r2")["round"] == 2


def test_eval_generates_a_system_from_a_named_run(sft_ws, tmp_path):
    """`llumi eval --run NAME=RUN`: replies generated with a finished training run, then measured."""
    ws, summary, _ = sft_ws
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps({"id": f"p{i}", "title": "Low week", "text": text}) + "\n" for i, text in
                             enumerate(["I failed my exam and I feel useless.", "My cat died and the flat is so quiet."])))
    from click.testing import CliRunner

    from llumi.cli import cli

    result = CliRunner().invoke(cli, ["-w", str(ws.root), "eval", "--run", f"sft={summary['run']}", "--posts",
                                      str(posts), "--backend", "transformers", "--reward", "off", "--similarity",
                                      "off", "--name", "from-run", "--bootstrap", "100", "--quiet", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["posts"] == 2 and out["systems"]["sft"]["measures"]["length_words"]["n"] == 2
    generated = list((ws.root / "eval" / "from-run").rglob("generate.jsonl"))
    assert generated and all(json.loads(l)["id"] in ("p0", "p1") for l in generated[0].read_text().splitlines())
    assert (ws.root / "eval" / "from-run" / "report.html").exists()


# --- shared-prefix batches ----------------------------------------------------------------

@pytest.mark.parametrize("maker", ["llama", "gemma3", "llama-checkpointed"])
def test_shared_prefix_batches_give_the_same_loss_and_lora_gradients(maker, tiny, tmp_path):
    """A batch whose rows share their first tokens (system prompt and chat template) computes them once:
    the same loss and the same gradient of every LoRA weight as the plain padding-free batch, in float32.
    Gemma 3's rows are longer than its sliding window, so the window is checked too; and under activation
    checkpointing (the GPU recipes' default) the recomputed layers see the same layout."""
    import peft
    from datasets import Dataset

    from llumi.train import prefix
    from llumi.train.common import load_model, read_rows, trl_args
    from llumi.train.config import construct

    from tests.tiny_model import make_tiny_gemma3

    path = make_tiny_gemma3(tmp_path / "gemma3") if maker == "gemma3" else tiny
    ws = Workspace(tmp_path / "w").ensure()
    write_pairs(ws)
    cfg = tiny_config(path, lora={**tiny_config(path).lora, "lora_dropout": 0.0},  # dropout draws would differ
                      trl={**tiny_config(path).trl, "packing": True})  # padding-free, as gm-sft-cpu.yaml
    model, tokenizer = load_model(path, cfg, "cpu")
    rows = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]}
            for r in read_rows(ws.pairs / "gm-sft" / "train.jsonl", ("messages",))]
    trainer = prefix.trainer_class()(
        model=model, args=trl_args(cfg, "cpu", torch.float32, tmp_path / "out"), processing_class=tokenizer,
        peft_config=construct(peft.LoraConfig, cfg.lora, "lora"), train_dataset=Dataset.from_list(rows))
    assert trainer.shared_prefix_off is None
    examples = [trainer.train_dataset[i] for i in range(4)]
    plain = trainer.data_collator.base(examples)
    shared = trainer.data_collator(examples)
    size, lengths = shared[prefix.KEY]
    assert size >= prefix.MIN_PREFIX and len(lengths) >= 4
    assert shared["input_ids"].shape[1] == plain["input_ids"].shape[1] - (len(lengths) - 1) * size
    if maker == "gemma3":
        assert size + max(lengths) > model.config.sliding_window

    m = trainer.model
    m.train()
    if maker.endswith("checkpointed"):  # Trainer turns it on when training starts; here by hand
        m.get_base_model().activation_checkpointing_enable({"use_reentrant": False})
        assert m.get_base_model().is_activation_checkpointing
    with torch.no_grad():  # LoRA B starts at zero, which would leave every A without a gradient
        for name, p in m.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.1)

    def loss_and_grads(batch):
        m.zero_grad()
        loss = trainer.compute_loss(m, dict(batch))
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in m.named_parameters() if p.requires_grad}

    loss, grads = loss_and_grads(plain)
    tokens = trainer._total_train_tokens
    loss_shared, grads_shared = loss_and_grads(shared)
    assert trainer._total_train_tokens == 2 * tokens  # every row's tokens counted, the prefix once per row
    torch.testing.assert_close(loss_shared, loss, rtol=1e-6, atol=1e-6)
    assert len(grads) == 2 * 2 * 7  # A and B of 7 projections in 2 layers
    for name in grads:
        assert grads[name].abs().max() > 0, name
        torch.testing.assert_close(grads_shared[name], grads[name], rtol=1e-5, atol=1e-6, msg=name)


def test_sft_with_and_without_shared_prefix_trains_to_the_same_adapter(tiny, tmp_path):
    weights, metas = {}, {}
    for on in (True, False):
        ws = Workspace(tmp_path / str(on)).ensure()
        write_pairs(ws)
        lora = {**tiny_config(tiny).lora, "lora_dropout": 0.0}
        trl = {**tiny_config(tiny).trl, "packing": True}
        cfg = tiny_config(tiny, lora=lora, trl=trl, shared_prefix=on, save_merged=False)
        summary = sft.main(cfg, ws, progress=False)
        weights[on], metas[on] = adapter_weights(Path(summary["path"])), read_meta(Path(summary["path"]))
    assert metas[True]["shared_prefix"]["used"] and metas[True]["shared_prefix"]["batches_with_shared_prefix"] > 0
    assert metas[False]["shared_prefix"] == {"used": False, "why_not": "turned off (shared_prefix: false)"}
    assert metas[True]["metrics"]["train_tokens"] == metas[False]["metrics"]["train_tokens"]
    assert metas[True]["metrics"]["eval"]["trained"]["loss"] < metas[True]["metrics"]["eval"]["start"]["loss"]
    for name in weights[False]:
        torch.testing.assert_close(weights[True][name], weights[False][name], rtol=1e-4, atol=1e-5, msg=name)


def test_shared_prefix_stays_off_where_it_does_not_apply(tiny, tmp_path):
    ws = Workspace(tmp_path / "w").ensure()
    write_pairs(ws)
    cfg = tiny_config(tiny, max_steps=1, save_merged=False,
                      trl={**tiny_config(tiny).trl, "packing": False, "padding_free": False})  # padded batches
    meta = read_meta(Path(sft.main(cfg, ws, progress=False)["path"]))
    assert not meta["shared_prefix"]["used"] and "padding-free" in meta["shared_prefix"]["why_not"]


# --- resume -------------------------------------------------------------------------------

class Interrupt(Exception):
    pass


def stop_after(step: int):
    from transformers import TrainerCallback

    class Stop(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == step:
                raise Interrupt(f"interrupted after step {step}")

    return Stop()


def adapter_weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "adapter" / "adapter_model.safetensors"))


@pytest.mark.parametrize("packing", [False, True])  # packed: shared-prefix batches, as gm-sft-cpu.yaml
def test_resume_after_an_interruption_gives_the_same_weights_as_an_uninterrupted_run(packing, tiny, tmp_path):
    cfg = tiny_config(tiny, max_steps=4, trl={**tiny_config(tiny).trl, "packing": packing})
    straight = Workspace(tmp_path / "straight").ensure()
    write_pairs(straight)
    expected = adapter_weights(Path(sft.main(cfg, straight, progress=False)["path"]))

    broken = Workspace(tmp_path / "broken").ensure()
    write_pairs(broken)
    with pytest.raises(Interrupt):
        sft.main(cfg, broken, callbacks=(stop_after(2),), progress=False)
    (unfinished,) = [p for p in broken.runs.iterdir() if p.is_dir()]
    assert not (unfinished / "meta.json").exists()

    summary = sft.main(cfg, broken, progress=False)  # the same command again
    assert Path(summary["path"]) == unfinished
    assert summary["resumed_from"].endswith("checkpoint-1")  # step 2 was interrupted before its save
    assert read_meta(unfinished)["metrics"]["steps"] == 4
    got = adapter_weights(unfinished)
    assert set(got) == set(expected)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6, msg=name)


def test_a_different_config_starts_a_new_run_instead_of_resuming(tiny, tmp_path):
    ws = Workspace(tmp_path / "w").ensure()
    write_pairs(ws)
    with pytest.raises(Interrupt):
        sft.main(tiny_config(tiny), ws, callbacks=(stop_after(2),), progress=False)
    summary = sft.main(tiny_config(tiny, seed=7, max_steps=1), ws, progress=False)
    assert summary["resumed_from"] is None
    assert len([p for p in ws.runs.iterdir() if p.is_dir()]) == 2


# --- several processes (accelerate launch) ------------------------------------------------

def launch(ws: Workspace, launcher: list[str], config: str, settings: dict, stage: str = "sft", **env: str):
    """`LAUNCHER -m llumi.cli train STAGE --config configs/CONFIG --set ...` under python: LAUNCHER is
    `accelerate.commands.launch ARGS` or `torch.distributed.run ARGS` (torchrun)."""
    sets = [f"--set={k}={v}" for k, v in settings.items()]
    cmd = [sys.executable, "-m", *launcher, "-m", "llumi.cli", "--workspace", str(ws.root), "train", stage,
           "--config", str(REPO / "configs" / config), "--quiet", "--json", *sets]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env})


def finished_runs(ws: Workspace, name: str) -> list[Path]:
    return [p for p in ws.runs.glob(f"{name}-2*") if (p / "meta.json").exists()]


def test_two_processes_write_one_run_and_one_report(tiny, tmp_path):
    """Data parallel on the CPU (torchrun, gloo), the way accelerate launch runs the multi-GPU recipe:
    the run folder is chosen once and shared, only the main process writes and reports, and the DPO
    that follows starts from that run."""
    ws = Workspace(tmp_path / "w").ensure()
    write_pairs(ws)
    settings = {"model": str(tiny), "max_steps": 2, "max_length": 128, "dtype": "float32", "max_eval_rows": 6,
                "device": "cpu", "trl.per_device_train_batch_size": 2, "trl.save_steps": 1}
    two = ["torch.distributed.run", "--nproc_per_node", "2"]
    for stage in ("sft", "dpo"):
        # GPUs hidden: on a machine with one, accelerate's barrier would ask for cuda:<rank> (seen on an H200)
        done = launch(ws, two, f"gm-{stage}-cpu.yaml", settings, stage, CUDA_VISIBLE_DEVICES="")
        assert done.returncode == 0, done.stderr[-4000:]
        (report,) = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        (run,) = finished_runs(ws, f"gm-{stage}")
        assert report["path"] == str(run)
        meta = read_meta(run)
        assert meta["processes"] == 2 and meta["metrics"]["steps"] == 2
        assert (run / "adapter" / "adapter_model.safetensors").exists() and (run / "merged").is_dir()
    assert report["start_from"] == finished_runs(ws, "gm-sft")[0].name


# --- configs and errors -------------------------------------------------------------------

def test_gpu_config_fails_at_once_with_a_clear_message_on_a_cpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    cfg = load_config(REPO / "configs" / "gm-sft-mistral-qlora.yaml")
    assert cfg.requires_gpu and cfg.quantize == "4bit"
    with pytest.raises(LlumiError, match=r"needs a CUDA GPU \(it loads .*Mistral-7B.* in 4-bit with bitsandbytes\); "
                                         r"on this machine use configs/gm-sft-cpu.yaml"):
        sft.main(cfg, Workspace(tmp_path / "w"))


def test_bad_config_keys_get_clear_messages(tiny, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("role: gm\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) learning_rate; valid settings are: .*max_steps"):
        load_config(bad)
    with pytest.raises(ConfigError, match="role must be one of gm, im"):
        load_config(None, {"role": "xx"})
    with pytest.raises(ConfigError, match="trl.max_steps: set it with the top-level key 'max_steps'"):
        load_config(None, {"trl": {"max_steps": 5}})
    ws = Workspace(tmp_path / "w").ensure()
    write_pairs(ws, n_train=2, n_val=2)
    with pytest.raises(ConfigError, match=r"trl: .*learning_rat.*Valid trl settings \(SFTConfig\)"):
        sft.main(tiny_config(tiny, trl={"learning_rat": 1e-3}), ws, progress=False)


def test_every_config_loads_and_names_its_command_on_the_first_line():
    files = sorted((REPO / "configs").glob("*.yaml"))
    assert {f.name for f in files} >= {"gm-sft-cpu.yaml", "gm-dpo-cpu.yaml", "im-sft-cpu.yaml", "im-dpo-cpu.yaml",
                                       "gm-dpo2-cpu.yaml", "gm-sft-mistral-qlora.yaml", "gm-dpo-mistral-qlora.yaml",
                                       "im-sft-mistral-qlora.yaml", "im-dpo-mistral-qlora.yaml"}
    for f in files:
        first = f.read_text().splitlines()[0]
        cfg = load_config(f)
        assert first.startswith("# ") and f"--config configs/{f.name}" in first, f.name
        assert f"llumi train {cfg.stage}" in first or f"llumi.cli train {cfg.stage}" in first, f.name


@pytest.mark.parametrize("name", sorted(f.name for f in (REPO / "configs").glob("*.yaml")))
def test_every_recipe_builds_its_trl_and_lora_settings(name, tmp_path):
    """Each config's `trl` and `lora` mappings are accepted by the installed TRL and PEFT (a GPU recipe
    too: a key that a library renamed or dropped fails here, on any machine, not on the user's GPU)."""
    import peft

    from llumi.train.common import trl_args
    from llumi.train.config import construct

    cfg = load_config(REPO / "configs" / name)
    args = trl_args(cfg, "cpu", torch.float32, tmp_path)
    for key, value in cfg.trl.items():
        assert getattr(args, key) == value or key == "optim", key  # optim becomes an enum
    construct(peft.LoraConfig, cfg.lora, "lora")


def test_a_malformed_training_file_stops_with_its_line_before_any_training(tiny, tmp_path):
    ws = Workspace(tmp_path / "w").ensure()
    write_pairs(ws)
    train = ws.pairs / "gm-sft" / "train.jsonl"
    lines = train.read_text().splitlines()
    train.write_text("\n".join(lines[:3] + ['{"messages": [', "[1, 2]"] + lines[3:]) + "\n")
    with pytest.raises(LlumiError, match=r"train\.jsonl:4: not JSON: .*; fix or remove that line"):
        sft.main(tiny_config(tiny), ws, progress=False)
    train.write_text("\n".join(lines[:3] + ["[1, 2]"] + lines[3:]) + "\n")
    with pytest.raises(LlumiError, match=r"train\.jsonl:4: not a JSON object"):
        sft.main(tiny_config(tiny), ws, progress=False)
    assert not list(ws.runs.glob("gm-sft-2*"))  # no run folder was begun


def test_renamed_trl_settings_reach_an_older_transformers_under_their_old_name():
    """transformers 5.17 (as on the GPU machines tried) has gradient_checkpointing, later ones also
    activation_checkpointing: the recipes use the new name and still build on the older version."""
    import dataclasses

    from llumi.train.common import renamed_for

    @dataclasses.dataclass
    class Old:
        gradient_checkpointing: bool = False
        gradient_checkpointing_kwargs: dict | None = None
        learning_rate: float = 1e-3

    @dataclasses.dataclass
    class New(Old):
        activation_checkpointing: bool = False

    settings = {"activation_checkpointing": True, "activation_checkpointing_kwargs": {"use_reentrant": False},
                "learning_rate": 0.1}
    assert Old(**renamed_for(Old, settings)) == Old(True, {"use_reentrant": False}, 0.1)
    assert renamed_for(New, settings)["activation_checkpointing"] is True  # a name it knows stays
    assert renamed_for(Old, {"gradient_checkpointing": True}) == {"gradient_checkpointing": True}


def test_cli_train_sft_and_dpo_json(run_cli, ws, tiny):
    write_pairs(ws)
    common = ["--model", str(tiny), "--set", "max_length=128", "--set", "dtype=float32",
              "--set", "trl.per_device_train_batch_size=2", "--set", "trl.save_steps=1", "--max-steps", "2"]
    code, out, err = run_cli("train", "sft", "--role", "gm", *common, "--json")
    assert code == 0, err
    s = json.loads(out)
    assert s["role"] == "gm" and s["stage"] == "sft" and s["metrics"]["steps"] == 2
    assert "step 2/2" in err and "ETA" in err
    code, out, err = run_cli("train", "dpo", *common, "--start-from", s["run"], "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["start_from"] == s["run"] and d["metrics"]["eval"]["trained"]["reward_accuracy"] is not None
    code, out, _ = run_cli("train", "dpo", *common)  # human text: the side-by-side table
    assert "reward_margin" in out and "start" in out and "trained" in out


def test_cli_refuses_a_recipe_of_the_other_stage():
    from click.testing import CliRunner

    from llumi.cli import cli

    result = CliRunner().invoke(cli, ["train", "dpo", "--config", str(REPO / "configs" / "gm-sft-cpu.yaml")])
    assert isinstance(result.exception, ConfigError)
    assert "is a sft recipe; run `llumi train sft" in str(result.exception)


@pytest.mark.slow
def test_two_real_smollm2_steps(tmp_path):
    """Two steps of the real CPU recipe on SmolLM2-135M with the real prompts (skipped without the model)."""
    from llumi.models import resolve_model

    try:
        resolve_model("smollm2-135m")
    except LlumiError as e:
        pytest.skip(str(e))
    ws = Workspace(tmp_path / "w").ensure()
    folder = ws.pairs / "gm-sft"
    folder.mkdir(parents=True)
    rows = [{"messages": prompts.gm_messages(f"Rough week {i}", s) + [prompts.assistant("That sounds really hard.")]}
            for i, s in enumerate(sentences(8))]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:6]))
    (folder / "validation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[6:]))
    cfg = load_config(REPO / "configs" / "gm-sft-cpu.yaml", {"max_steps": 2, "save_merged": False})
    summary = sft.main(cfg, ws, progress=False)
    ev = summary["metrics"]["eval"]
    assert summary["metrics"]["steps"] == 2 and ev["trained"]["loss"] < ev["start"]["loss"]
