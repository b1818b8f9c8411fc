"""Resuming a run: ``ckpt_path=PATH`` (any checkpoint of ours) or ``ckpt_path=last`` with ``run_id=ID``.

A resumed run keeps the original run id (so it writes into the same checkpoints/ and logs/ folders)
and must use the settings the checkpoint was trained with; anything else would not continue the
same trajectory. The checkpoint records its run id and the command-line overrides that made it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from xor_lightning.errors import UserError

RUN_KEY = "xor_lightning_run"
# Config sections that decide the trajectory; a resumed run must match the checkpoint on them.
_SAME = ("model", "loss", "optimizer", "seed", "seeds", "data")


def settings(cfg: DictConfig) -> dict[str, Any]:
    """The trajectory-deciding part of ``cfg`` as plain values."""
    return {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k] for k in _SAME}


def task_overrides() -> list[str]:
    """The command-line overrides of this job (empty outside Hydra)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


class RunInfo(pl.Callback):
    """Stores the run id, the overrides and the trajectory settings in every checkpoint."""

    def __init__(self, run_id: str, cfg: DictConfig) -> None:
        keep = [o for o in task_overrides() if not o.startswith(("ckpt_path=", "run_id="))]
        self.info = {"run_id": run_id, "overrides": keep,
                     "settings": settings(cfg)}

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[RUN_KEY] = self.info


def read_run_info(path: str | Path) -> dict[str, Any]:
    """The run record of a checkpoint ({} when it has none or cannot be read)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return {}
    info = ckpt.get(RUN_KEY) if isinstance(ckpt, dict) else None
    return info if isinstance(info, dict) else {}


def run_id_from_args(args: list[str]) -> str | None:
    """The original run id when ``args`` resume from a checkpoint path and name no run_id."""
    given = dict(a.split("=", 1) for a in args if "=" in a and not a.startswith(("+", "~", "-")))
    path = given.get("ckpt_path")
    if "run_id" in given or path in (None, "null", "last") or not Path(path).is_file():
        return None
    return read_run_info(path).get("run_id")


def resume_path(cfg: DictConfig, checkpoint_dir: Path) -> Path | None:
    """The checkpoint to resume from (checked), or None for a fresh run."""
    value = cfg.get("ckpt_path")
    if value is None:
        return None
    if value == "last":
        path = checkpoint_dir / "last.ckpt"
        if not path.is_file():
            raise UserError(f"ckpt_path=last: {path} does not exist; give run_id=<the run to resume> or ckpt_path=PATH")
    else:
        path = Path(str(value))
    _check_same_settings(cfg, path)
    return path


def _check_same_settings(cfg: DictConfig, path: Path) -> None:
    from xor_lightning.checkpoints import load_checkpoint

    load_checkpoint(path, "cpu", key="ckpt_path")  # one-line errors for missing/unreadable files
    info = read_run_info(path)
    if not info:
        raise UserError(f"ckpt_path={path}: this checkpoint has no run record (written by an older version); cannot resume it")
    now = settings(cfg)
    for key in _SAME:
        diff = _first_difference(info["settings"][key], now[key], key)
        if diff:
            name, then, given = diff
            hint = " ".join(info["overrides"]) or "(no overrides)"
            raise UserError(
                f"ckpt_path={path}: it was trained with {name}={then!r}, not {given!r}; "
                f"resume with the run's own settings: {hint}"
            )


def _first_difference(then: Any, now: Any, key: str) -> tuple[str, Any, Any] | None:
    if isinstance(then, dict) and isinstance(now, dict):
        for k in sorted(set(then) | set(now)):
            diff = _first_difference(then.get(k), now.get(k), f"{key}.{k}")
            if diff:
                return diff
        return None
    return None if then == now else (key, then, now)
