"""The folders of one run, all named by the run id (promise: one obvious home per output)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from xor_lightning.errors import UserError


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


def run_paths(cfg: DictConfig) -> RunPaths:
    name = run_name(cfg)
    ckpt = Path(cfg.paths.checkpoint_dir) / name
    if ckpt.exists() and any(ckpt.iterdir()):
        # Never overwrite an earlier run's checkpoints.
        raise UserError(f"run_id={cfg.run_id}: {ckpt} already holds a run's checkpoints; choose another run_id")
    root = Path(cfg.paths.log_dir)
    return RunPaths(name, Path(cfg.paths.output_dir), ckpt, root, root / name)
