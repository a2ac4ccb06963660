"""Training recipes over TRL and PEFT: `llumi train sft` and `llumi train dpo` (the only place
training libraries are imported; importing this package does not import them).

    from llumi.train import load_config
    from llumi.train import sft, dpo
    sft.main(load_config("configs/gm-sft-cpu.yaml"), Workspace())

Runs live in <workspace>/runs/ (see ``llumi.train.runs``); ``runs.latest(ws, "gm-dpo")`` finds the
latest finished run of a kind.
"""

from llumi.train.config import TrainConfig, load_config

__all__ = ["TrainConfig", "load_config"]
