"""The Lightning side of a run: which Trainer arguments pass through, threads, the loop plan, the
module, and the Trainer with our callbacks."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks.progress import ProgressBar

from xor_lightning.base.errors import UserError
from xor_lightning.base.launchers import in_process
from xor_lightning.core.block import GradClip, LoopPlan
from xor_lightning.core.facts import StopRule
from xor_lightning.core.module import XORModule
from xor_lightning.run.checkpoints import AtomicCheckpointIO, BestCheckpoint, LastCheckpoint, RunInfo
from xor_lightning.run.extra_callbacks import build_callbacks
from xor_lightning.run.interrupt import StopOnInterrupt
from xor_lightning.run.loggers import build_loggers
from xor_lightning.run.run_paths import RunPaths
from xor_lightning.run.trainer_checks import check_trainer_values
from xor_lightning.views.epoch_scalars import EpochScalars
from xor_lightning.views.progress import progress_callbacks
from xor_lightning.views.tb_visuals import VisualsCallback

# Trainer arguments a run decides itself, with what to use instead (one line each when refused).
_NO_VALIDATION_CADENCE = "every epoch is evaluated on the whole table inside its block; there is no separate validation cadence"
_OWN_TRAINER_ARGS = {
    "accelerator": "use device=", "devices": "use device=", "precision": "use device.precision",
    "logger": "use logger=tensorboard|csv|mlflow", "callbacks": "use callbacks.NAME (callbacks=lr_monitor)",
    "default_root_dir": "use paths.*",
    "max_steps": "steps are hidden inside blocks of epochs; use trainer.max_epochs (table epochs)",
    "min_steps": "steps are hidden inside blocks of epochs; use trainer.min_epochs (table epochs)",
    "check_val_every_n_epoch": _NO_VALIDATION_CADENCE, "val_check_interval": _NO_VALIDATION_CADENCE,
    "limit_val_batches": _NO_VALIDATION_CADENCE, "num_sanity_val_steps": _NO_VALIDATION_CADENCE,
    "limit_train_batches": "one training step is a block of epochs; use trainer.max_epochs",
    "overfit_batches": "one training step is a block of epochs; use trainer.max_epochs",
    "accumulate_grad_batches": "an epoch's batches are set by data.batch_size",
    "enable_checkpointing": "best.ckpt and last.ckpt are how a run is evaluated and resumed",
    "barebones": "it turns off the logging and checkpoints a run reports from",
    "log_every_n_steps": "scalars are logged for every table epoch",
    "enable_progress_bar": "use progress.bar=true|false|auto (it counts table epochs)",
    "reload_dataloaders_every_n_epochs": "the table never changes", "plugins": "checkpoints are written atomically by the run",
    "strategy": "a population trains on one device", "num_nodes": "a population trains on one device",
}
# Trainer arguments the block loop implements itself (counted in table epochs, clipped per member).
_LOOP_TRAINER_ARGS = ("max_epochs", "min_epochs", "gradient_clip_val", "gradient_clip_algorithm")


# What Lightning's accelerator names are called here (device=...).
_DEVICE_FOR = {"gpu": "cuda", "cuda": "cuda", "mps": "mps", "cpu": "cpu", "auto": "auto"}


def own_trainer_arg(key: str, value: Any = None) -> str | None:
    """The one line for ``trainer.<key>`` when the run decides that argument itself (what to use instead)."""
    if key not in _OWN_TRAINER_ARGS:
        return None
    instead = _OWN_TRAINER_ARGS[key]
    device = _DEVICE_FOR.get(str(value).lower()) if key in ("accelerator", "devices") else None
    if key == "accelerator" and device:
        instead = f"use device={device}"
    elif key in ("accelerator", "devices"):
        instead = "use device=cuda|mps|cpu|auto (one device: a population trains on one)"
    return f"trainer.{key} is not available: {instead}"


def trainer_args(trainer_cfg: DictConfig) -> dict[str, Any]:
    """The trainer.* keys passed through to pytorch_lightning.Trainer (checked)."""
    args = OmegaConf.to_container(trainer_cfg, resolve=True)
    valid = inspect.signature(pl.Trainer.__init__).parameters
    for key in args:
        refused = own_trainer_arg(key, args[key])
        if refused:
            raise UserError(refused)
        if key not in valid:
            raise UserError(f"trainer.{key} is not an argument of pytorch_lightning.Trainer")
    check_trainer_values(args)
    return {k: v for k, v in args.items() if k not in _LOOP_TRAINER_ARGS}


def _grad_clip(trainer_cfg: DictConfig) -> GradClip | None:
    value = trainer_cfg.get("gradient_clip_val")
    algorithm = trainer_cfg.get("gradient_clip_algorithm") or "norm"
    if algorithm not in ("norm", "value"):
        raise UserError(f"trainer.gradient_clip_algorithm={algorithm!r} is not valid; choose one of: norm, value")
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise UserError(f"trainer.gradient_clip_val={value!r} is not valid; expected a number >= 0 (0 or null: no clipping)")
    return GradClip(float(value), algorithm)


# Below this many seeds one thread is as fast as two on a quiet machine, and next to one busy
# process two threads were 2-5x slower (benchmarks/threads.py; docs/speed.md "Threads").
ONE_THREAD_BELOW = 5000


def torch_threads(cfg: DictConfig) -> int | None:
    """``torch_threads``, or when null: 1 for small populations and for jobs that run side by side
    (a parallel launcher), else None (torch's default: one per core). checks.py validates it."""
    value = cfg.get("torch_threads")
    if value is not None:
        return value
    return 1 if cfg.seeds < ONE_THREAD_BELOW or _jobs_side_by_side() else None


def _jobs_side_by_side() -> bool:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return False
    return not in_process(HydraConfig.get().launcher.get("_target_", ""))  # joblib, submitit: several jobs share the machine


def loop_plan(cfg: DictConfig) -> LoopPlan:
    """How the module trains: blocks, their cadences, the early stop and gradient clipping."""
    stop = StopRule(float(cfg.early_stop.margin), int(cfg.trainer.get("min_epochs") or 0)) if cfg.early_stop.enabled else None
    return LoopPlan(
        max_epochs=int(cfg.trainer.max_epochs), block_epochs=int(cfg.block_epochs),
        cadences=(int(cfg.visuals.every_n_epochs), int(cfg.checkpoint.last_every_n_epochs)),
        stop=stop, clip=_grad_clip(cfg.trainer), engine=str(cfg.get("engine", "auto")),
        engine_threads=int(cfg.get("torch_threads") or 1),
    )


def build_module(cfg: DictConfig, loop: LoopPlan | None = None) -> XORModule:
    def plain(node: DictConfig) -> dict:
        return OmegaConf.to_container(node, resolve=True)

    return XORModule(
        model=plain(cfg.model), loss=plain(cfg.loss), optimizer=plain(cfg.optimizer),
        seed=cfg.seed, seeds=cfg.seeds, loop=loop or loop_plan(cfg), budgets=budgets(cfg), data=plain(cfg.data),
    )


def budgets(cfg: DictConfig) -> list[int]:
    """The epoch budgets, increasing and each once (checks.check_budgets has validated them)."""
    return sorted(set(cfg.get("budgets") or []))


@dataclass(frozen=True)
class Built:
    """The trainer and our callbacks that train() reads after fit."""

    trainer: pl.Trainer
    best: BestCheckpoint
    visuals: VisualsCallback
    interrupt: StopOnInterrupt


def build_trainer(cfg: DictConfig, paths: RunPaths, accelerator: str, passed: dict[str, Any]) -> Built:
    """The Trainer with our callbacks, the user's, and ``passed`` (the checked trainer.* arguments)."""
    best = BestCheckpoint(paths.checkpoint_dir, cfg.checkpoint.last_every_n_epochs)
    v = cfg.visuals
    visuals = VisualsCallback(v.every_n_epochs, v.members, v.images, v.histograms, v.member)
    interrupt = StopOnInterrupt()
    callbacks: list[pl.Callback] = [
        EpochScalars(), best, LastCheckpoint(paths.checkpoint_dir / "last.ckpt", cfg.checkpoint.last_every_n_epochs),
        interrupt, RunInfo(paths.name, cfg), visuals,
    ]
    user = build_callbacks(cfg)  # the user's own (callbacks: in train.yaml), after ours
    if not any(isinstance(c, ProgressBar) for c in user):  # a user's own progress bar replaces ours
        callbacks.extend(progress_callbacks(cfg.progress, int(cfg.trainer.max_epochs)))
    callbacks.extend(user)
    io = AtomicCheckpointIO()  # a kill -9 never leaves a half-written checkpoint; a resume reads checked data only
    trainer = pl.Trainer(
        accelerator=accelerator, devices=1, precision=cfg.device.precision,
        logger=build_loggers(cfg, paths), callbacks=callbacks, default_root_dir=paths.output_dir,
        # Lightning counts blocks; the module counts table epochs and stops at trainer.max_epochs.
        max_epochs=-1, min_epochs=None,
        num_sanity_val_steps=0, log_every_n_steps=1,
        enable_progress_bar=any(isinstance(c, ProgressBar) for c in callbacks),
        plugins=[io],
        **{"enable_model_summary": False, **passed},  # +trainer.enable_model_summary=true asks for it
    )
    io.trainer = trainer
    return Built(trainer, best, visuals, interrupt)
