"""``train(cfg)``: one run (a population of seeds) from a composed config to a metrics dict."""

from __future__ import annotations

import csv
import inspect
import io
import json
import logging
import time
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import TensorBoardLogger

from xor_lightning.atomic_io import AtomicCheckpointIO, atomic_write_text
from xor_lightning.checkpoints import load_checkpoint
from xor_lightning.checks import check_train_config
from xor_lightning.data import TruthTableDataModule
from xor_lightning.devices import choose_accelerator
from xor_lightning.divergence import Diverged, apply_run_divergence
from xor_lightning.errors import UserError
from xor_lightning.evaluation import Evaluation, evaluate_module, report
from xor_lightning.interrupt import Interrupted, StopOnInterrupt
from xor_lightning.lightning_logging import quiet_lightning
from xor_lightning.module import StopWhenSolved, XORModule
from xor_lightning.resume import RunInfo, resume_path, task_overrides
from xor_lightning.run_paths import RunPaths, checkpoint_dir, holds_its_folders, run_paths
from xor_lightning.run_report import write_report
from xor_lightning.tb_visuals import VisualsCallback

log = logging.getLogger(__name__)

# Trainer arguments train() decides itself; the config cannot pass them through trainer.*.
_OWN_TRAINER_ARGS = {
    "accelerator": "device", "devices": "device", "precision": "device.precision",
    "logger": "paths.log_dir", "callbacks": "early_stop / checkpoint", "default_root_dir": "paths",
}


def _trainer_args(trainer_cfg: DictConfig) -> dict[str, Any]:
    args = OmegaConf.to_container(trainer_cfg, resolve=True)
    valid = inspect.signature(pl.Trainer.__init__).parameters
    for key in args:
        if key in _OWN_TRAINER_ARGS:
            raise UserError(f"trainer.{key} is set by xor-lightning; use {_OWN_TRAINER_ARGS[key]} instead")
        if key not in valid:
            raise UserError(f"trainer.{key} is not an argument of pytorch_lightning.Trainer")
    return args


def torch_threads(cfg: DictConfig) -> int | None:
    value = cfg.get("torch_threads")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UserError(f"torch_threads={value!r} must be a positive integer, or null for torch's default")
    return value


def build_module(cfg: DictConfig) -> XORModule:
    def plain(node: DictConfig) -> dict:
        return OmegaConf.to_container(node, resolve=True)

    return XORModule(
        model=plain(cfg.model), loss=plain(cfg.loss), optimizer=plain(cfg.optimizer),
        seed=cfg.seed, seeds=cfg.seeds, margin=cfg.early_stop.margin,
    )


def build_trainer(cfg: DictConfig, paths: RunPaths, accelerator: str) -> tuple[pl.Trainer, ModelCheckpoint]:
    checkpoint = ModelCheckpoint(
        dirpath=paths.checkpoint_dir, filename="best", monitor="val/loss", mode="min",
        save_top_k=1, auto_insert_metric_name=False, enable_version_counter=False,
        every_n_epochs=cfg.checkpoint.every_n_epochs,
    )
    # Not save_last: Lightning 2.6 rewrites last.ckpt only together with best.ckpt, so it would hold
    # the best epoch. This one keeps the latest state for resuming after a kill; train() writes the final one.
    latest = ModelCheckpoint(
        dirpath=paths.checkpoint_dir, filename="last", monitor=None, save_top_k=1,
        auto_insert_metric_name=False, enable_version_counter=False,
        every_n_epochs=cfg.checkpoint.last_every_n_epochs,
    )
    v = cfg.visuals
    callbacks: list[pl.Callback] = [
        checkpoint, latest, StopOnInterrupt(), RunInfo(paths.name, cfg),
        VisualsCallback(v.every_n_epochs, v.members, v.images, v.histograms),
    ]
    if cfg.early_stop.enabled:
        callbacks.append(StopWhenSolved())
    logger = TensorBoardLogger(
        save_dir=paths.log_root, name=paths.name, version="", default_hp_metric=False
    )
    trainer = pl.Trainer(
        accelerator=accelerator, devices=1, precision=cfg.device.precision,
        logger=logger, callbacks=callbacks, default_root_dir=paths.output_dir,
        enable_model_summary=False, log_every_n_steps=1, num_sanity_val_steps=0,
        plugins=[AtomicCheckpointIO()],  # a kill -9 never leaves a half-written checkpoint
        **_trainer_args(cfg.trainer),
    )
    return trainer, checkpoint


def hparams_for_tensorboard(cfg: DictConfig) -> dict[str, Any]:
    """Flat scalars with the same keys and types for every run, so HParams can compare runs."""
    model, opt = cfg.model, cfg.optimizer
    return {
        "seed": int(cfg.seed), "seeds": int(cfg.seeds),
        "model/hidden": ",".join(str(w) for w in model.hidden) or "none",
        "model/activation": str(model.activation), "model/init": str(model.init),
        "model/init_std": float(model.init_std), "loss": str(cfg.loss.name),
        "optimizer": str(opt._target_).rsplit(".", 1)[-1], "optimizer/lr": float(opt.lr),
        "optimizer/weight_decay": float(opt.get("weight_decay", 0.0)),
        "optimizer/momentum": float(opt.get("momentum", 0.0)),
        "data/batch_size": int(cfg.data.batch_size or 4), "trainer/max_epochs": int(cfg.trainer.max_epochs),
    }


def _nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def write_outputs(paths: RunPaths, metrics: dict, ev: Evaluation) -> None:
    # Whole files or none (atomic_io): a full disk never leaves a truncated members.csv that looks complete.
    rows = io.StringIO(newline="")
    out = csv.writer(rows)
    out.writerow(["member", "seed", "solved", "epochs_to_solve", "final_loss", "diverged"])
    for i in range(ev.members):
        first = int(ev.first_solved[i])
        solved = bool(ev.solved[i])
        out.writerow([
            i, ev.seed + i, int(solved), first if solved and first > 0 else "", f"{float(ev.losses[i]):.6g}",
            int(ev.diverged[i]),
        ])
    atomic_write_text(paths.output_dir / "members.csv", rows.getvalue())
    atomic_write_text(paths.output_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")


def _resume_hint(epochs: int, last: str) -> str:
    again = " ".join(o for o in task_overrides() if not o.startswith("ckpt_path="))
    return (f"stopped after {epochs} epochs; last checkpoint {last}. "
            f"Resume with: python -m xor_lightning train {again + ' ' if again else ''}ckpt_path={last}")


def _diverged_message(cfg: DictConfig, module: XORModule, metrics: dict) -> str:
    epoch = int(module.diverged_at.min())
    who = "the network" if metrics["seeds"] == 1 else f"all {metrics['seeds']} members"
    return (f"training diverged: the loss of {who} became NaN/inf in epoch {epoch}; "
            f"lower optimizer.lr (now {cfg.optimizer.lr:g}) or model.init_std, or change model.activation "
            f"(run folder {cfg.paths.output_dir})")


@holds_its_folders  # the run's folder lock (run_paths) lasts exactly as long as this call
def train(cfg: DictConfig) -> dict[str, Any]:
    """Train ``cfg.seeds`` networks, reload the best checkpoint, evaluate it, write metrics.json."""
    wall_start = time.perf_counter()
    check_train_config(cfg)
    accelerator = choose_accelerator(cfg.device.accelerator, key="device")
    resume = resume_path(cfg, checkpoint_dir(cfg))
    paths = run_paths(cfg)
    quiet_lightning()
    threads = torch_threads(cfg)
    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    pl.seed_everything(cfg.seed, verbose=False)
    module = build_module(cfg)
    datamodule = TruthTableDataModule(cfg.data.batch_size, cfg.data.shuffle, cfg.seed)
    trainer, checkpoint = build_trainer(cfg, paths, accelerator)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    fit_seconds = time.perf_counter() - start
    # last.ckpt always ends as the final state (also after Ctrl-C): the periodic copy may be older.
    last = str((paths.checkpoint_dir / "last.ckpt").resolve())
    trainer.save_checkpoint(last)
    if any(isinstance(c, StopOnInterrupt) and c.requested for c in trainer.callbacks):
        raise Interrupted(_resume_hint(trainer.current_epoch, last))

    visuals = next(c for c in trainer.callbacks if isinstance(c, VisualsCallback))
    best = checkpoint.best_model_path or last
    best_module = load_checkpoint(best, "cpu", key="best checkpoint")
    ev = evaluate_module(best_module)
    apply_run_divergence(ev, module.diverged_at)
    metrics = {
        "run_id": paths.name,
        **ev.summary(),
        "epochs_trained": trainer.current_epoch,
        "stopped_early": trainer.current_epoch < cfg.trainer.max_epochs and not bool(ev.diverged.all()),
        "best_checkpoint": best,
        "last_checkpoint": last,
        "log_dir": str(paths.log_dir),
        "device": accelerator,
        "fit_seconds": round(fit_seconds, 3),
        "visuals_seconds": round(visuals.seconds, 3),  # TensorBoard images/histograms, included in fit_seconds
    }
    trainer.logger.log_hyperparams(
        hparams_for_tensorboard(cfg),
        {
            "hp/success_rate": metrics["success_rate"],
            "hp/epochs_to_solve_median": _nan_if_none(metrics["epochs_to_solve"]["median"]),
            "hp/final_loss": metrics["final_loss"],
        },
    )
    trainer.logger.finalize("success")
    metrics["wall_seconds"] = round(time.perf_counter() - wall_start, 3)  # whole job: build, fit, evaluate
    write_outputs(paths, metrics, ev)
    if cfg.visuals.report:
        log.info(f"report {write_report(paths.output_dir / 'report.png', best_module, ev, visuals.history, paths.name)}")
    for line in report(ev):
        log.info(line)
    if bool(ev.diverged.all()):
        raise Diverged(_diverged_message(cfg, module, metrics), metrics)
    log.info(
        f"trained {metrics['epochs_trained']} epochs in {fit_seconds:.1f}s on {accelerator}"
        f"{' (stopped early: all solved)' if metrics['stopped_early'] else ''}; "
        f"best checkpoint {best}; metrics {paths.output_dir / 'metrics.json'}"
    )
    return metrics
