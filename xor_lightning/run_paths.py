"""The folders of one run, all named by the run id (promise: one obvious home per output)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from xor_lightning.errors import UserError

CLAIM = ".run"  # created exclusively in the checkpoint folder: two runs never share one


@dataclass(frozen=True)
class RunPaths:
    name: str             # run id; "<sweep id>/<job number>" inside a multirun
    output_dir: Path      # Hydra's run dir: .hydra/, train.log, metrics.json, members.csv
    checkpoint_dir: Path  # best.ckpt, last.ckpt
    log_root: Path        # TensorBoard root shared by every run
    log_dir: Path         # this run's TensorBoard events


def run_name(cfg: DictConfig) -> str:
    if HydraConfig.initialized():
        hc = HydraConfig.get()
        if hc.mode == RunMode.MULTIRUN:
            return f"{cfg.run_id}/{hc.job.num}"
    return str(cfg.run_id)


def checkpoint_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.checkpoint_dir) / run_name(cfg)


def check_free(cfg: DictConfig, ckpt: Path) -> None:
    """Never overwrite an earlier run's checkpoints, except when resuming from one of them."""
    resuming = cfg.get("ckpt_path") is not None
    if ckpt.exists() and any(ckpt.iterdir()) and not resuming:
        raise UserError(
            f"run_id={cfg.run_id}: {ckpt} already holds a run's checkpoints; choose another run_id, "
            f"or resume it with ckpt_path=last"
        )


def run_paths(cfg: DictConfig) -> RunPaths:
    name = run_name(cfg)
    ckpt = checkpoint_dir(cfg)
    check_free(cfg, ckpt)
    ckpt.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(ckpt / CLAIM, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        if cfg.get("ckpt_path") is None:  # another run claimed it since check_free
            raise UserError(f"run_id={cfg.run_id}: {ckpt} is in use by another run; choose another run_id") from None
    root = Path(cfg.paths.log_dir)
    return RunPaths(name, Path(cfg.paths.output_dir), ckpt, root, root / name)
