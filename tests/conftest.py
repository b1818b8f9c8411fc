"""Shared fixtures: compose real configs with Hydra's compose API, writing only under tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from xor_lightning.base.config_dir import config_dir

REPO = Path(__file__).resolve().parents[1]


def compose_config(name: str = "train", overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


@pytest.fixture
def train_cfg(tmp_path):
    """``train_cfg(*overrides)``: a train config whose outputs all land under tmp_path."""

    def make(*overrides: str, run_id: str = "test") -> DictConfig:
        return compose_config(
            "train",
            [
                f"run_id={run_id}",
                f"paths.output_dir={tmp_path / 'outputs' / run_id}",
                f"paths.checkpoint_dir={tmp_path / 'checkpoints'}",
                f"paths.log_dir={tmp_path / 'logs'}",
                *overrides,
            ],
        )

    return make


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180,
            preexec_fn=None) -> subprocess.CompletedProcess:
    """``python -m xor_lightning ARGS`` in a subprocess (never the @hydra.main function in-process);
    ``preexec_fn`` runs in the child before it starts (e.g. to limit its file sizes)."""
    full_env = {k: v for k, v in os.environ.items() if k != "XOR_LIGHTNING_RUN_ID"}
    full_env.update({"PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "xor_lightning", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn,
    )
