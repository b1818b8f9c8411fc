"""The thin ``@hydra.main`` wrappers; the work is in train(cfg) and evaluate(cfg)."""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from xor_lightning.config_dir import config_dir
from xor_lightning.errors import UserError


def _run(fn, cfg: DictConfig):
    try:
        return fn(cfg)
    except UserError as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            # An Exception fails this job only (Hydra runs the rest); SystemExit would end the sweep.
            raise
        # SystemExit passes through Hydra's error reporting untouched: one line, exit code 2.
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def train_main(cfg: DictConfig) -> float:
    from xor_lightning.train import train

    # The return value is what Hydra sweepers optimise: the success rate.
    return _run(train, cfg)["success_rate"]


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="evaluate")
def evaluate_main(cfg: DictConfig) -> None:
    from xor_lightning.evaluate import evaluate

    _run(evaluate, cfg)


ENTRY_POINTS = {"train": train_main, "evaluate": evaluate_main}
