"""What a sweep launched into processes of its own (hydra/launcher=submitit_local, submitit_slurm)
tells the terminal: Hydra's submitit launcher is silent until every job has ended, and its jobs'
output lands in files the user would not guess."""

from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf


class LaunchNotes(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        target = str(OmegaConf.select(config, "hydra.launcher._target_") or "")
        if ".submitit_launcher." not in target:
            return
        sweep = str(config.hydra.sweep.dir)
        folder = str(OmegaConf.select(config, "hydra.launcher.submitit_folder") or f"{sweep}/.submitit/%j")
        kind = "SLURM jobs" if target.endswith("SlurmLauncher") else "processes of their own"
        print(f"the jobs run as {kind}: nothing more is printed here until all have ended (the sweep's "
              f"table then); meanwhile each job's train.log is {sweep}/<job>/train.log (tail -f "
              f"{sweep}/*/train.log) and its console output {folder.replace('%j', '<submitit job id>')}/"
              "<submitit job id>_0_log.out (.err)", file=sys.stderr, flush=True)
