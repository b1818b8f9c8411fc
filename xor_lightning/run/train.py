"""``train(cfg)``: one run (a population of seeds) from a composed config to a metrics dict."""

from __future__ import annotations

import csv
import inspect
import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Timer
from pytorch_lightning.callbacks.progress import ProgressBar

from xor_lightning.base.atomic_io import atomic_write_text
from xor_lightning.base.errors import UserError
from xor_lightning.core.block import GradClip, LoopPlan
from xor_lightning.core.data import TruthTableDataModule
from xor_lightning.core.devices import choose_accelerator
from xor_lightning.core.diagnosis import Diagnosis, diagnose
from xor_lightning.core.divergence import Diverged
from xor_lightning.core.evaluation import Evaluation, evaluate_module
from xor_lightning.core.facts import StopRule
from xor_lightning.core.module import XORModule
from xor_lightning.run.checkpoints import (
    AtomicCheckpointIO,
    BestCheckpoint,
    LastCheckpoint,
    RunInfo,
    load_checkpoint,
    task_overrides,
)
from xor_lightning.run.checks import check_train_config
from xor_lightning.run.extra_callbacks import build_callbacks, check_callbacks
from xor_lightning.run.interrupt import Interrupted, StopOnInterrupt
from xor_lightning.run.lightning_logging import quiet_lightning
from xor_lightning.run.loggers import build_loggers, check_loggers, log_run_summary
from xor_lightning.run.resume import resume_path
from xor_lightning.run.run_paths import (
    RunPaths,
    check_output_dirs,
    check_run_folder,
    checkpoint_dir,
    holds_its_folders,
    run_paths,
)
from xor_lightning.views.progress import progress_callbacks
from xor_lightning.views.run_report import write_report
from xor_lightning.views.tables import summary_lines
from xor_lightning.views.tb_visuals import VisualsCallback

log = logging.getLogger(__name__)

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


def _trainer_args(trainer_cfg: DictConfig) -> dict[str, Any]:
    """The trainer.* keys passed through to pytorch_lightning.Trainer (checked)."""
    args = OmegaConf.to_container(trainer_cfg, resolve=True)
    valid = inspect.signature(pl.Trainer.__init__).parameters
    for key in args:
        if key in _OWN_TRAINER_ARGS:
            raise UserError(f"trainer.{key} is not available: {_OWN_TRAINER_ARGS[key]}")
        if key not in valid:
            raise UserError(f"trainer.{key} is not an argument of pytorch_lightning.Trainer")
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
# process two threads were 2-5x slower (benchmarks/threads.py; README "Speed").
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
    target = str(HydraConfig.get().launcher.get("_target_", ""))
    return not target.endswith("BasicLauncher")  # joblib, submitit: several jobs share the machine


def loop_plan(cfg: DictConfig) -> LoopPlan:
    """How the module trains: blocks, their cadences, the early stop and gradient clipping."""
    stop = StopRule(float(cfg.early_stop.margin), int(cfg.trainer.get("min_epochs") or 0)) if cfg.early_stop.enabled else None
    return LoopPlan(
        max_epochs=int(cfg.trainer.max_epochs), block_epochs=int(cfg.block_epochs),
        cadences=(int(cfg.visuals.every_n_epochs), int(cfg.checkpoint.last_every_n_epochs)),
        stop=stop, clip=_grad_clip(cfg.trainer),
    )


def build_module(cfg: DictConfig, loop: LoopPlan | None = None) -> XORModule:
    def plain(node: DictConfig) -> dict:
        return OmegaConf.to_container(node, resolve=True)

    return XORModule(
        model=plain(cfg.model), loss=plain(cfg.loss), optimizer=plain(cfg.optimizer),
        seed=cfg.seed, seeds=cfg.seeds, loop=loop or loop_plan(cfg),
    )


@dataclass(frozen=True)
class TrainPlan:
    """What a train job's checks found, and all train() needs from them."""

    accelerator: str
    resume: Path | None
    trainer_args: dict[str, Any]
    loop: LoopPlan
    threads: int | None


def plan(cfg: DictConfig) -> TrainPlan:
    """The checks whose results the run itself uses, in the order they are reported."""
    check_train_config(cfg)
    trainer_args, loop = _trainer_args(cfg.trainer), loop_plan(cfg)
    accelerator = choose_accelerator(cfg.device.accelerator, key="device")
    return TrainPlan(accelerator, resume_path(cfg, checkpoint_dir(cfg)), trainer_args, loop, torch_threads(cfg))


def preflight(cfg: DictConfig, multirun: bool = False) -> TrainPlan:
    """Every check of a train job, run by precheck for each job before Hydra makes a folder.

    train() calls ``plan`` again in its job (which may be another process) for the values; the
    surroundings checked here (loggers, callbacks, folders) it finds as precheck left them.
    """
    if multirun and cfg.get("ckpt_path") is not None:
        raise UserError("ckpt_path resumes one run; resume the jobs of a multirun one at a time")
    found = plan(cfg)
    check_loggers(cfg)
    check_callbacks(cfg)
    check_output_dirs(cfg, multirun)
    check_run_folder(cfg, multirun)
    return found


@dataclass(frozen=True)
class Built:
    """The trainer and our callbacks that train() reads after fit."""

    trainer: pl.Trainer
    best: BestCheckpoint
    visuals: VisualsCallback
    interrupt: StopOnInterrupt


def build_trainer(cfg: DictConfig, paths: RunPaths, found: TrainPlan) -> Built:
    best = BestCheckpoint(paths.checkpoint_dir, cfg.checkpoint.last_every_n_epochs)
    v = cfg.visuals
    visuals = VisualsCallback(v.every_n_epochs, v.members, v.images, v.histograms, v.member)
    interrupt = StopOnInterrupt()
    callbacks: list[pl.Callback] = [
        best, LastCheckpoint(paths.checkpoint_dir / "last.ckpt", cfg.checkpoint.last_every_n_epochs),
        interrupt, RunInfo(paths.name, cfg), visuals,
    ]
    user = build_callbacks(cfg)  # the user's own (callbacks: in train.yaml), after ours
    if not any(isinstance(c, ProgressBar) for c in user):  # a user's own progress bar replaces ours
        callbacks.extend(progress_callbacks(cfg.progress, int(cfg.trainer.max_epochs)))
    callbacks.extend(user)
    trainer = pl.Trainer(
        accelerator=found.accelerator, devices=1, precision=cfg.device.precision,
        logger=build_loggers(cfg, paths), callbacks=callbacks, default_root_dir=paths.output_dir,
        # Lightning counts blocks; the module counts table epochs and stops at trainer.max_epochs.
        max_epochs=-1, min_epochs=None,
        enable_model_summary=False, num_sanity_val_steps=0, log_every_n_steps=1,
        enable_progress_bar=any(isinstance(c, ProgressBar) for c in callbacks),
        plugins=[AtomicCheckpointIO()],  # a kill -9 never leaves a half-written checkpoint
        **found.trainer_args,
    )
    return Built(trainer, best, visuals, interrupt)


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


MEMBER_COLUMNS = ["member", "seed", "solved", "epochs_to_solve", "best_epoch", "final_loss", "epochs_trained",
                  "diverged", "cause", "more_epochs"]


def members_csv(ev: Evaluation, diagnosis: Diagnosis) -> str:
    """One row per member: its own run's facts, as a lone run of its seed would report them, and
    why it failed if it did."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MEMBER_COLUMNS)
    for i, (solved, first, best, loss, trained, diverged, cause, more) in enumerate(zip(
        ev.solved.tolist(), ev.first_solved.tolist(), ev.best_epoch.tolist(), ev.losses.tolist(),
        ev.epochs_trained.tolist(), ev.diverged.tolist(), diagnosis.causes, diagnosis.more_epochs,
    )):
        writer.writerow([i, ev.seed + i, int(solved), first if solved and first > 0 else "",
                         best if best > 0 else "", f"{loss:.6g}", trained, int(diverged), cause,
                         "" if more is None else more])
    return out.getvalue()


def write_outputs(paths: RunPaths, metrics: dict, ev: Evaluation, diagnosis: Diagnosis) -> None:
    # Whole files or none (atomic_io): a full disk never leaves a truncated members.csv that looks
    # complete; metrics.json last, so its presence means the job finished.
    atomic_write_text(paths.output_dir / "members.csv", members_csv(ev, diagnosis))
    atomic_write_text(paths.output_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")


def _resume_hint(epochs: int, last: str) -> str:
    again = " ".join(o for o in task_overrides() if not o.startswith("ckpt_path="))
    return (f"stopped after {epochs} epochs; last checkpoint {last}. "
            f"Resume with: python -m xor_lightning train {again + ' ' if again else ''}ckpt_path={last}")


def _diverged_message(cfg: DictConfig, ev: Evaluation, metrics: dict) -> str:
    epoch = int(ev.diverged_at.min())
    who = "the network" if metrics["seeds"] == 1 else f"all {metrics['seeds']} members"
    return (f"training diverged: the loss of {who} became NaN/inf in epoch {epoch}; "
            f"lower optimizer.lr (now {cfg.optimizer.lr:g}) or model.init_std, or change model.activation "
            f"(run folder {cfg.paths.output_dir})")


STOP_REASONS = {
    "all_solved": "stopped early: every member solved the table by the margin",
    "diverged": "stopped: every member diverged",
    "max_epochs": "reached trainer.max_epochs",
    "max_time": "stopped: trainer.max_time ran out",
    "fast_dev_run": "stopped: trainer.fast_dev_run trains one block only",
    "callback": "stopped by a callback",
}


def stop_reason(trainer: pl.Trainer, module: XORModule, max_epochs: int) -> str:
    """Why fit ended, from what the run really saw (interruptions are raised before this)."""
    if bool(module.facts.diverged.all()):
        return "diverged"
    if module.run_over:
        return "all_solved"
    if int(module.epochs_done) >= max_epochs:
        return "max_epochs"
    if trainer.fast_dev_run:
        return "fast_dev_run"
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is not None and timer.time_remaining() is not None and timer.time_remaining() <= 0:
        return "max_time"
    return "callback"


@holds_its_folders  # the run's folder lock (run_paths) lasts exactly as long as this call
def train(cfg: DictConfig) -> dict[str, Any]:
    """Train ``cfg.seeds`` networks, reload the best checkpoint, evaluate it, write metrics.json."""
    wall_start = time.perf_counter()
    found = plan(cfg)
    paths = run_paths(cfg)
    built, module, fit_seconds = _fit(cfg, found, paths)
    epochs = int(module.epochs_done)
    last = _save_last(built, paths, epochs)
    best = built.best.best_model_path or last
    best_module = load_checkpoint(best, "cpu", key="best checkpoint")
    # Predictions of each member's best weights; the per-epoch facts of the whole run.
    ev = evaluate_module(best_module, module.facts.cpu(), epochs)
    diagnosis = diagnose(module, ev.solved, ev.diverged)
    built.visuals.log_best(built.trainer.logger, best_module, epochs, ev.best_member(), ev.solved)
    reason = stop_reason(built.trainer, module, int(cfg.trainer.max_epochs))
    metrics = {
        "run_id": paths.name,
        **ev.summary(),
        "causes": diagnosis.counts(),  # why the members that did not solve it failed (diagnosis.py)
        "epochs_trained": epochs,
        "stop_reason": reason,
        "stopped_early": reason == "all_solved",
        "best_checkpoint": best,
        "last_checkpoint": last,
        "log_dir": str(paths.log_dir),
        "device": found.accelerator,
        "fit_seconds": round(fit_seconds, 3),
        "visuals_seconds": round(built.visuals.seconds, 3),  # TensorBoard images/histograms, included in fit_seconds
    }
    _log_summary(cfg, built.trainer, ev, metrics, epochs)
    metrics["wall_seconds"] = round(time.perf_counter() - wall_start, 3)  # whole job: build, fit, evaluate
    write_outputs(paths, metrics, ev, diagnosis)
    _report(cfg, paths, best_module, ev, built, diagnosis)
    if reason == "diverged":
        raise Diverged(_diverged_message(cfg, ev, metrics), metrics)
    log.info(
        f"trained {epochs} epochs in {fit_seconds:.1f}s on {found.accelerator} ({STOP_REASONS[reason]}); "
        f"best checkpoint {best}; metrics {paths.output_dir / 'metrics.json'}"
    )
    return metrics


def _fit(cfg: DictConfig, found: TrainPlan, paths: RunPaths) -> tuple[Built, XORModule, float]:
    """Build the population, its data and the trainer, and train; returns them and the fit time."""
    quiet_lightning()
    if found.threads:
        torch.set_num_threads(found.threads)
    start = time.perf_counter()
    pl.seed_everything(cfg.seed, verbose=False)
    module = build_module(cfg, found.loop)
    datamodule = TruthTableDataModule(cfg.data.batch_size, cfg.data.shuffle, cfg.seed, cfg.seeds)
    built = build_trainer(cfg, paths, found)
    built.trainer.fit(module, datamodule=datamodule, ckpt_path=found.resume)
    return built, module, time.perf_counter() - start


def _save_last(built: Built, paths: RunPaths, epochs: int) -> str:
    """last.ckpt always ends as the final state (also after Ctrl-C): the periodic copy may be older."""
    last = str((paths.checkpoint_dir / "last.ckpt").resolve())
    built.trainer.save_checkpoint(last)
    if built.interrupt.requested:
        raise Interrupted(_resume_hint(epochs, last))
    return last


def _log_summary(cfg: DictConfig, trainer: pl.Trainer, ev: Evaluation, metrics: dict, epochs: int) -> None:
    log_run_summary(
        trainer.loggers, hparams_for_tensorboard(cfg),
        {
            "hp/success_rate": metrics["success_rate"],
            "hp/epochs_to_solve_median": _nan_if_none(metrics["epochs_to_solve"]["median"]),
            "hp/final_loss": metrics["final_loss"],
        },
        step=epochs,
        # The fraction of members that failed for each cause, at the last epoch.
        extra={f"diagnosis/{c.replace(' ', '_')}": n / ev.members for c, n in metrics["causes"].items()},
        curves={"survival/not_yet_solved": ev.survival()},
    )


def _report(cfg: DictConfig, paths: RunPaths, best_module: XORModule, ev: Evaluation, built: Built,
            diagnosis: Diagnosis) -> None:
    if cfg.visuals.report:
        report_png = write_report(paths.output_dir / "report.png", best_module, ev, built.visuals.history, paths.name, diagnosis)
        log.info(f"report {report_png}")
    for line in summary_lines(ev, diagnosis=diagnosis):
        log.info(line)
