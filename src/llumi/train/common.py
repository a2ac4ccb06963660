"""The few pieces the SFT and DPO recipes share: device checks, reading pairs, loading a model, the
progress line, the curves plot and provenance. Plain functions; the recipes stay in sft.py / dpo.py.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from pathlib import Path
from typing import Any

from llumi import jsonl
from llumi.errors import ConfigError, InputError, LlumiError, WorkspaceError
from llumi.train.config import TrainConfig, construct
from llumi.workspace import Workspace, file_hash

SPLITS = ("train", "validation")
TRAIN_PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes", "deepspeed")


# --- device ------------------------------------------------------------------------------

def check_device(cfg: TrainConfig) -> str:
    """``cuda`` or ``cpu`` for this run; fails at once when the config needs a GPU this machine lacks."""
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    has_cuda = torch.cuda.is_available()
    if (cfg.requires_gpu or cfg.device == "cuda" or cfg.quantize) and not has_cuda:
        why = (f"it loads {cfg.model} in 4-bit with bitsandbytes" if cfg.quantize
               else f"it trains {cfg.model}, too large for a CPU")
        raise LlumiError(f"this config needs a CUDA GPU ({why}); on this machine use {cfg.cpu_config}")
    if cfg.quantize:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise LlumiError("quantize: 4bit needs bitsandbytes: pip install bitsandbytes") from None
    return "cuda" if has_cuda and cfg.device != "cpu" else "cpu"


def pick_dtype(cfg: TrainConfig, device: str):
    """The weights' dtype: bf16 where the hardware computes it natively (CUDA Ampere+, CPUs with
    AVX512-BF16 or AMX), else fp16 on older GPUs and fp32 on other CPUs."""
    import torch

    if cfg.dtype != "auto":
        return getattr(torch, cfg.dtype)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


# --- data --------------------------------------------------------------------------------

def data_files(cfg: TrainConfig, ws: Workspace) -> dict[str, Path]:
    """{"train": path, "validation": path (if there is one)} for this run's data."""
    if cfg.data:
        src = Path(cfg.data).expanduser()
    else:
        src = ws.pairs / (f"{cfg.role}-dpo2" if cfg.round == 2 else cfg.name)
    if src.is_file():
        return {"train": src}
    if not src.is_dir():
        hint = ("run `llumi pairs` first" if not cfg.data and cfg.round == 1
                else "give --data FOLDER_OR_JSONL (a folder with train.jsonl and validation.jsonl, or one .jsonl file)")
        raise WorkspaceError(f"training data {src} not found; {hint}")
    files = {s: src / f"{s}.jsonl" for s in SPLITS if (src / f"{s}.jsonl").exists()}
    if "train" not in files:
        raise InputError(f"{src} has no train.jsonl")
    return files


def read_rows(path: Path, keys: tuple[str, ...], limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of a JSON lines file with only ``keys`` (TRL gets no metadata columns)."""
    rows = []
    for n, row, why in jsonl.objects(path):
        if why:  # training data is all or nothing: a bad line stops the run before it starts
            raise InputError(f"{path}:{n}: {why}; fix or remove that line")
        missing = [k for k in keys if k not in row]
        if missing:
            raise InputError(f"{path}:{n}: missing {', '.join(missing)}; this recipe needs rows with "
                             f"{', '.join(keys)} (TRL conversational format, as `llumi pairs` writes)")
        rows.append({k: row[k] for k in keys})
        if limit and len(rows) >= limit:
            break
    if not rows:
        raise InputError(f"{path} has no rows")
    return rows


def fits(tokenizer, prompt: list[dict], cfg: TrainConfig) -> bool:
    """Whether a prompt leaves at least ``min_completion_tokens`` of ``max_length`` for the reply
    (TRL truncates from the end, so a longer prompt would leave nothing to learn from)."""
    ids = tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return len(ids) + cfg.min_completion_tokens <= cfg.max_length


# --- model -------------------------------------------------------------------------------

def load_model(path: str | Path, cfg: TrainConfig, device: str, *, quantize: bool = True, dtype=None):
    """(model, tokenizer) from a local model folder, in the run's dtype (4-bit where asked)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = dtype or pick_dtype(cfg, device)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if cfg.quantize and quantize:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.chat_template is None:
        raise InputError(f"the tokenizer of {path} has no chat template; give a chat model or add one")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def weights_hash(folder: Path) -> str:
    """One sha256 over a model folder's config and weight files (names and contents)."""
    h = hashlib.sha256()
    files = sorted(p for p in Path(folder).iterdir()
                   if p.name == "config.json" or p.suffix in (".safetensors", ".bin"))
    for p in files:
        h.update(p.name.encode())
        h.update(file_hash(p).encode())
    return f"sha256:{h.hexdigest()}"


def trl_args(cfg: TrainConfig, device: str, dtype, output_dir: Path, **defaults: Any):
    """The run's ``trl.SFTConfig`` / ``trl.DPOConfig``: the recipe's defaults, then the config's ``trl``
    mapping, then the settings the config keeps at its top level. A key TRL does not know fails here,
    naming the valid ones; nothing here needs the device itself, so a GPU recipe can be checked on a CPU."""
    import torch
    import trl

    cls = trl.SFTConfig if cfg.stage == "sft" else trl.DPOConfig
    base = {"report_to": "none", "disable_tqdm": True, "logging_steps": 1, "save_strategy": "steps",
            "save_total_limit": 2,
            "activation_checkpointing": cfg.trl.get("gradient_checkpointing", device == "cuda"),
            "bf16": device == "cuda" and dtype == torch.bfloat16,
            "fp16": device == "cuda" and dtype == torch.float16}
    settings = renamed_for(cls, {**base, **defaults, **cfg.trl})
    return construct(cls, settings, "trl", output_dir=str(output_dir),
                     max_steps=cfg.max_steps, num_train_epochs=cfg.epochs, max_length=cfg.max_length,
                     seed=cfg.seed, use_cpu=device == "cpu")


# transformers renamed these settings; a recipe may use either name with either version.
RENAMED = {"activation_checkpointing": "gradient_checkpointing",
           "activation_checkpointing_kwargs": "gradient_checkpointing_kwargs"}


def renamed_for(cls, settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with each renamed key under the name that ``cls`` (the installed version) takes."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(cls)}
    out = dict(settings)
    for new, old in RENAMED.items():
        for have, want in ((new, old), (old, new)):
            if have in out and have not in known and want in known:
                value = out.pop(have)
                out.setdefault(want, value)
    return out


def save_adapter(trainer, out_dir: Path) -> None:
    """Write the trained LoRA adapter and the tokenizer to ``out_dir``. Every process must call this:
    under FSDP the weights are sharded, so they are gathered into one full state dict first (a
    collective), and only the main process writes."""
    if trainer.is_fsdp_enabled:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(out_dir))


def merge_and_save(base_path: Path, adapter_dir: Path, out_dir: Path, cfg: TrainConfig, tokenizer, dtype) -> Path:
    """Reload the base unquantized on the CPU, in the dtype the run computed in (bf16 for a QLoRA run
    on a GPU), merge the adapter into it and save a plain model folder."""
    from peft import PeftModel

    model, _ = load_model(base_path, cfg, "cpu", quantize=False, dtype=dtype)
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    merged.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


# --- progress and curves -----------------------------------------------------------------

def progress_callback(label: str):
    """A TrainerCallback printing ``label step k/N  loss  elapsed  ETA`` to stderr."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def __init__(self) -> None:
            self.start = None
            self.first_step = 0
            self.loss = None

        def on_train_begin(self, args, state, control, **kw):
            self.start = time.monotonic()
            self.first_step = state.global_step  # > 0 when resuming
            print(f"{label}: {state.max_steps} steps" + (f", resuming at step {state.global_step}"
                  if state.global_step else ""), file=sys.stderr, flush=True)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.loss = logs["loss"]
                self.line(state)

        def on_step_end(self, args, state, control, **kw):
            if not control.should_log:  # else on_log prints, with the step's loss
                self.line(state)

        def line(self, state):
            done = state.global_step - self.first_step
            elapsed = time.monotonic() - self.start
            eta = elapsed / max(done, 1) * (state.max_steps - state.global_step)
            loss = f"  loss {self.loss:.4f}" if self.loss is not None else ""
            print(f"{label}: step {state.global_step}/{state.max_steps}{loss}  elapsed {_hms(elapsed)}"
                  f"  ETA {_hms(eta)}", file=sys.stderr, flush=True)

    return Progress()


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def plot_curves(log_history: list[dict[str, Any]], path: Path, title: str) -> Path:
    """A PNG of every logged training (and evaluation) metric against the step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, faster import
    from matplotlib.ticker import MaxNLocator

    skip = {"step", "epoch", "total_flos", "train_runtime", "train_samples_per_second",
            "train_steps_per_second", "num_tokens", "eval_runtime", "eval_samples_per_second",
            "eval_steps_per_second", "learning_rate", "grad_norm"}
    series: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        for k, v in entry.items():
            if k not in skip and not k.startswith("train_") and isinstance(v, (int, float)) and math.isfinite(v):
                series.setdefault(k, []).append((entry.get("step", 0), v))
    first = ("loss", "eval_loss", "rewards/margins", "rewards/accuracies", "eval_rewards/margins",
             "eval_rewards/accuracies", "rewards/chosen", "rewards/rejected", "mean_token_accuracy")
    keys = sorted(series, key=lambda k: (first.index(k) if k in first else len(first), k))[:6] or ["loss"]
    cols = min(len(keys), 2)
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(5.5 * cols, 3.0 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = series.get(key, [])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 30 else None)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(title)
    height = 3.0 * rows  # margins in inches, so any number of rows fits
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.5 / height, top=1 - 0.6 / height, hspace=0.55, wspace=0.25)
    fig.savefig(path, dpi=90)
    return path


def inputs_provenance(files: dict[str, Path]) -> dict[str, str]:
    """{path: sha256} of the data files, plus the pairs folder's own meta.json when it has one."""
    out = {str(p.resolve()): file_hash(p) for p in files.values()}
    meta = files["train"].parent / "meta.json"
    if meta.exists():
        out[str(meta.resolve())] = file_hash(meta)
    return out


def no_rows_error(split: str, n_total: int, cfg: TrainConfig) -> ConfigError:
    return ConfigError(f"none of the {n_total} {split} rows fits max_length={cfg.max_length} with at least "
                       f"{cfg.min_completion_tokens} reply tokens; raise max_length")
