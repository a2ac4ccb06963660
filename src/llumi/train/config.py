"""Settings of one training run (`llumi train sft` / `llumi train dpo`), loaded from one YAML file.

    cfg = llumi.config.load(TrainConfig, "configs/gm-sft-cpu.yaml", {"max_steps": 10})

The ``lora`` mapping is passed unchanged to ``peft.LoraConfig`` and the ``trl`` mapping to
``trl.SFTConfig`` / ``trl.DPOConfig``, so those libraries validate their own fields (a wrong key there
fails when the run starts, naming the key). The few settings every run has (steps, length, seed) are
top-level keys; ``--set trl.learning_rate=1e-4`` style overrides reach into the two mappings.

This module does not import torch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from llumi import config as cfgmod
from llumi.errors import ConfigError

ROLES = ("gm", "im")
STAGES = ("sft", "dpo")

# LoRA on every attention and MLP projection of Llama/Mistral-style models.
DEFAULT_LORA = {
    "r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "task_type": "CAUSAL_LM",
}
# Settings that have a top-level key of their own and must not be repeated under `trl`.
TOP_LEVEL = {"max_steps": "max_steps", "num_train_epochs": "epochs", "max_length": "max_length", "seed": "seed",
             "output_dir": "(the run folder)"}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run. Every key of a recipe YAML is a field here."""

    role: str = "gm"                       # gm (Generation Model) | im (Improvement Model)
    stage: str = "sft"                     # sft | dpo
    round: int = 1                         # DPO round: 1, or 2 for DPO2 (pairs from human ratings)
    model: str = "smollm2-135m"            # base model: packaged name, HF id, local folder or GGUF file
    data: str | None = None                # pairs folder (train/validation.jsonl) or one .jsonl file;
                                           # default: <workspace>/pairs/<role>-<stage> (round 2: <role>-dpo2)
    start_from: str | None = None          # DPO: the run to start from (folder, or name under runs/);
                                           # default: latest SFT run of the role (round 2: latest DPO run)
    lora: dict[str, Any] = dataclasses.field(default_factory=lambda: dict(DEFAULT_LORA))
    trl: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_steps: int = -1                    # > 0 overrides epochs
    epochs: float = 1.0
    max_length: int = 512                  # tokens of prompt + reply; longer rows are truncated
    min_completion_tokens: int = 16        # rows whose prompt leaves fewer reply tokens are skipped
    max_train_rows: int | None = None      # use only the first N training rows (quick runs)
    max_eval_rows: int | None = 200        # evaluate on at most N validation rows
    seed: int = 42
    dtype: str = "auto"                    # auto | float32 | bfloat16 | float16 (auto: bf16 on GPUs that have it)
    quantize: str | None = None            # None (or "none") | 4bit (QLoRA through bitsandbytes; CUDA only)
    requires_gpu: bool = False             # fail at once on a machine without a CUDA GPU
    device: str = "auto"                   # auto | cpu | cuda
    threads: int | None = None             # torch CPU threads (default: one per core; 1 helps on a busy machine)
    resume: bool = True                    # continue an unfinished run of the same config
    save_merged: bool = True               # also write the base model with the adapter merged in
    shared_prefix: bool = True             # SFT: compute a prompt prefix all rows of a batch share once per
                                           # batch (exact; where valid, see llumi.train.prefix)

    def __post_init__(self) -> None:
        for section in ("lora", "trl"):  # YAML reads 1e-4 (no dot) as text
            object.__setattr__(self, section, {k: _number(v) for k, v in getattr(self, section).items()})
        if self.role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if self.stage not in STAGES:
            raise ConfigError(f"stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if self.round not in (1, 2):
            raise ConfigError(f"round must be 1 or 2 (DPO2), got {self.round}")
        if self.round == 2 and self.stage != "dpo":
            raise ConfigError("round 2 exists only for stage dpo (DPO2 from human ratings)")
        if self.max_length < 32:
            raise ConfigError(f"max_length must be at least 32 tokens, got {self.max_length}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ConfigError(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}")
        if isinstance(self.quantize, str) and self.quantize.lower() in ("", "none", "no", "off"):
            object.__setattr__(self, "quantize", None)  # `--set quantize=none` turns a recipe's 4-bit off
        if self.quantize not in (None, "4bit"):
            raise ConfigError(f"quantize must be 4bit or none, got {self.quantize!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        for key, top in TOP_LEVEL.items():
            if key in self.trl:
                raise ConfigError(f"trl.{key}: set it with the top-level key {top!r} instead")
        if not isinstance(self.lora.get("target_modules", []), (list, str)):
            raise ConfigError("lora.target_modules must be a list of module names or 'all-linear'")

    @property
    def name(self) -> str:
        """The run kind: gm-sft, gm-dpo, gm-dpo-r2, ..."""
        return f"{self.role}-{self.stage}" + ("-r2" if self.round == 2 else "")

    @property
    def cpu_config(self) -> str:
        return f"configs/{self.role}-{self.stage}{'2' if self.round == 2 else ''}-cpu.yaml"


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Load a TrainConfig from YAML plus overrides; ``lora.X`` / ``trl.X`` overrides set one entry of a mapping."""
    overrides = dict(overrides or {})
    nested: dict[str, dict[str, Any]] = {}
    for key in [k for k in overrides if "." in k]:
        section, sub = key.split(".", 1)
        if section not in ("lora", "trl") or not sub:
            raise ConfigError(f"override {key!r}: only lora.<key> and trl.<key> reach into a mapping; "
                              f"valid settings are: {', '.join(f.name for f in dataclasses.fields(TrainConfig))}")
        nested.setdefault(section, {})[sub] = _number(overrides.pop(key))
    cfg = cfgmod.load(TrainConfig, path, overrides)
    if nested:
        merged = {s: {**getattr(cfg, s), **v} for s, v in nested.items()}
        cfg = cfgmod.from_dict(TrainConfig, {**dataclasses.asdict(cfg), **merged})
    return cfg


def _number(value: Any) -> Any:
    """``"1e-4"`` -> 1e-4: YAML 1.1 reads exponents without a dot as text, which TRL would reject."""
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


def construct(cls: Any, settings: dict[str, Any], section: str, **fixed: Any) -> Any:
    """``cls(**settings, **fixed)``, turning the library's complaint about a bad key into a ConfigError."""
    try:
        return cls(**{**settings, **fixed})
    except TypeError as e:
        import inspect

        valid = sorted(p for p in inspect.signature(cls).parameters if not p.startswith("_"))
        raise ConfigError(f"{section}: {e}. Valid {section} settings ({cls.__name__}): {', '.join(valid)}") from None
    except ValueError as e:
        raise ConfigError(f"{section}: {e}") from None
