"""What many tests need: a real config composed with Hydra's compose API whose outputs all land in a
temporary folder, and the real command line, in a subprocess (finished or still running)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from xor_lightning.base.config_dir import config_dir

REPO = Path(__file__).resolve().parents[1]


def compose_config(name: str = "train", overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def train_config(root: Path, *overrides: str, run_id: str = "test") -> DictConfig:
    """A train config named ``run_id`` whose outputs, checkpoints and logs are all under ``root``."""
    return compose_config("train", [
        f"run_id={run_id}", f"paths.output_dir={root / 'outputs' / run_id}",
        f"paths.checkpoint_dir={root / 'checkpoints'}", f"paths.log_dir={root / 'logs'}", *overrides,
    ])


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # A run id in the test's own environment must not name the runs the tests start.
    env = {k: v for k, v in os.environ.items() if k != "XOR_LIGHTNING_RUN_ID"}
    return {**env, "PYTHONPATH": str(REPO), **(extra or {})}


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180,
            preexec_fn=None) -> subprocess.CompletedProcess:
    """``python -m xor_lightning ARGS`` in a subprocess, run to its end; ``preexec_fn`` runs in the
    child before it starts (e.g. to limit its file sizes)."""
    return subprocess.run(
        [sys.executable, "-m", "xor_lightning", *args],
        cwd=cwd, env=_env(env), capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn,
    )


def start_train(cwd: Path, *args: str) -> subprocess.Popen:
    """``python -m xor_lightning train ARGS`` started and left running (to signal or race it)."""
    return subprocess.Popen([sys.executable, "-m", "xor_lightning", "train", *args], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_refused_in_process(args: list[str], message: str, folder: Path, capsys) -> None:
    """``main(args)`` run in this process from ``folder`` (the caller chdirs there): exit 2, one
    stderr line starting with ``message``, and nothing written into ``folder``."""
    from xor_lightning.cli.main import main

    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not any(folder.iterdir()), "nothing is written for bad input"
