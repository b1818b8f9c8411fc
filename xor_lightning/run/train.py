"""``train(cfg)``: one run (a population of seeds) from a composed config to a metrics dict."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from pytorch_lightning.callbacks import Timer

from xor_lightning.base.errors import UserError
from xor_lightning.core.block import LoopPlan
from xor_lightning.core.data import TruthTableDataModule
from xor_lightning.core.devices import choose_accelerator
from xor_lightning.core.diagnosis import Diagnosis, diagnose
from xor_lightning.core.divergence import Diverged
from xor_lightning.core.evaluation import Evaluation, evaluate_module
from xor_lightning.core.module import XORModule
from xor_lightning.run.checkpoints import (
    load_checkpoint,
    task_overrides,
)
from xor_lightning.run.checks import check_train_config
from xor_lightning.run.extra_callbacks import check_callbacks
from xor_lightning.run.interrupt import Interrupted
from xor_lightning.run.lightning_logging import quiet_lightning
from xor_lightning.run.loggers import check_loggers, log_run_summary
from xor_lightning.run.outputs import hparams_for_tensorboard, nan_if_none, write_outputs
from xor_lightning.run.resume import checkpoint_summary, resume_path
from xor_lightning.run.reused_run import resume_one_job, sweep_jobs
from xor_lightning.run.run_paths import (
    RunPaths,
    check_output_dirs,
    check_run_folder,
    checkpoint_dir,
    holds_its_folders,
    run_paths,
)
from xor_lightning.run.trainer_setup import Built, build_module, build_trainer, loop_plan, torch_threads, trainer_args
from xor_lightning.views.run_report import write_report
from xor_lightning.views.tables import summary_lines
from xor_lightning.views.tb_hparams import columns, param_names, sweep_job, trial_name
from xor_lightning.views.tb_visuals import VisualsCallback

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TrainPlan:
    """What a train job's checks found, and all train() needs from them."""

    accelerator: str
    resume: Path | None
    trainer_args: dict[str, Any]
    loop: LoopPlan
    threads: int | None
    start_epochs: int = 0  # epochs the resumed checkpoint has trained (0 for a fresh run)


def plan(cfg: DictConfig) -> TrainPlan:
    """The checks whose results the run itself uses, in the order they are reported."""
    check_train_config(cfg)
    passed, loop = trainer_args(cfg.trainer), loop_plan(cfg)
    accelerator = choose_accelerator(cfg.device.accelerator, key="device")
    resume = resume_path(cfg, checkpoint_dir(cfg))
    start = checkpoint_summary(resume)["epochs_done"] if resume is not None else 0
    return TrainPlan(accelerator, resume, passed, loop, torch_threads(cfg), start)


def preflight(cfg: DictConfig, multirun: bool = False) -> TrainPlan:
    """Every check of a train job, run by precheck for each job before Hydra makes a folder.

    train() calls ``plan`` again in its job (which may be another process) for the values; the
    surroundings checked here (loggers, callbacks, folders) it finds as precheck left them.
    """
    if multirun and cfg.get("ckpt_path") is not None:
        folder = Path(cfg.paths.checkpoint_dir) / str(cfg.run_id)
        jobs = sweep_jobs(folder) if folder.is_dir() else []
        raise UserError(f"ckpt_path resumes one run, not a multirun (-m): {resume_one_job(str(cfg.run_id), jobs)}")
    found = plan(cfg)
    check_loggers(cfg)
    check_callbacks(cfg)
    check_output_dirs(cfg, multirun)
    check_run_folder(cfg, multirun)
    return found


def _resume_hint(epochs: int, last: str) -> str:
    # No run_id=: the checkpoint records its run's (a sweep job's is <sweep>/<job>, not the sweep's id).
    again = " ".join(o for o in task_overrides() if not o.startswith(("ckpt_path=", "run_id=")))
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
    "timer": "stopped: the Timer callback's duration ran out",
    "fast_dev_run": "stopped: trainer.fast_dev_run trains one block only and writes no best.ckpt",
    "callback": "stopped by a callback (its trainer.should_stop)",
}


def stop_reason(trainer: pl.Trainer, module: XORModule, max_epochs: int, max_time: bool = False) -> str:
    """Why fit ended, from what the run really saw (interruptions are raised before this).
    ``max_time``: trainer.max_time was given (Lightning runs it as a Timer of its own)."""
    if bool(module.facts.diverged.all()):
        return "diverged"
    if trainer.fast_dev_run:  # a debug run: one block, whatever else happened inside it
        return "fast_dev_run"
    if module.run_over:
        return "all_solved"
    if int(module.epochs_done) >= max_epochs or module.facts.remaining == 0:  # or each member at its own (a table's)
        return "max_epochs"
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)
                  and c.time_remaining() is not None and c.time_remaining() <= 0), None)
    if timer is not None:
        return "max_time" if max_time else "timer"
    return "callback"


@holds_its_folders  # the run's folder lock (run_paths) lasts exactly as long as this call
def train(cfg: DictConfig) -> dict[str, Any]:
    """Train ``cfg.seeds`` networks, reload the best checkpoint, evaluate it, write metrics.json."""
    wall_start = time.perf_counter()
    found = plan(cfg)
    paths = run_paths(cfg)
    built, module, fit_seconds = _fit(cfg, found, paths)
    # Said where it is news: the fused engine ran, or engine= was given; a small run's torch engine is the debug log's
    (log.info if module.engine == "fused" or cfg.get("engine", "auto") != "auto" else log.debug)(
        f"engine: {module.engine} ({module.engine_reason})")
    epochs = int(module.epochs_done)
    last = _save_last(built, paths, epochs)
    reason = stop_reason(built.trainer, module, int(cfg.trainer.max_epochs), cfg.trainer.get("max_time") is not None)
    fitted = Fitted(module, epochs, last, built.best.best_model_path or None, reason, fit_seconds,
                    built.trainer.loggers, built.visuals)
    return finish(cfg, found, paths, fitted, wall_start)


@dataclass(frozen=True)
class Fitted:
    """What a job's training left for the rest of its run: its module (its final state and facts),
    epochs trained, its checkpoints, why it stopped, its loggers and pictures. A lone run's comes
    from its own Trainer; a job of a packed population's from its slice (run/packed.py)."""

    module: XORModule
    epochs: int
    last: str
    best: str | None  # none under fast_dev_run: then the final weights are evaluated
    reason: str
    fit_seconds: float
    loggers: list
    visuals: VisualsCallback


def finish(cfg: DictConfig, found: TrainPlan, paths: RunPaths, fitted: Fitted, wall_start: float) -> dict[str, Any]:
    """After fit: reload the best checkpoint, evaluate it, diagnose, write metrics.json and
    members.csv, the loggers' summary and report.png; the same for a lone run and a packed job."""
    module, epochs, last, best, reason = fitted.module, fitted.epochs, fitted.last, fitted.best, fitted.reason
    fit_seconds, visuals = fitted.fit_seconds, fitted.visuals
    best_module = load_checkpoint(best or last, "cpu", key="best checkpoint")
    # Predictions of each member's best weights; the per-epoch facts of the whole run.
    ev = evaluate_module(best_module, module.facts.cpu(), epochs)
    diagnosis = diagnose(module, ev.solved, ev.diverged)
    visuals.log_best(fitted.loggers[0] if fitted.loggers else None, best_module, epochs, ev.best_member(), ev.solved)
    metrics = {
        "run_id": paths.name,
        **ev.summary(),
        "causes": diagnosis.counts(),  # why the members that did not solve it failed (diagnosis.py)
        "epochs_trained": epochs,
        "epochs_this_process": epochs - found.start_epochs,  # a resumed run: what this command added
        "stop_reason": reason,
        "stopped_early": reason == "all_solved",
        "best_checkpoint": best,
        "last_checkpoint": last,
        "log_dir": str(paths.log_dir),
        "device": found.accelerator,
        "engine": module.engine,  # fused | torch: which trained the epochs (engine=auto decides, core/engines.py)
        "engine_reason": module.engine_reason,
        "fit_seconds": round(fit_seconds, 3),
        "visuals_seconds": round(visuals.seconds, 3),  # TensorBoard images/histograms, included in fit_seconds
    }
    _log_summary(cfg, fitted.loggers, ev, metrics, epochs)
    metrics["wall_seconds"] = round(time.perf_counter() - wall_start, 3)  # whole job: build, fit, evaluate
    write_outputs(paths, metrics, ev, diagnosis)
    _report(cfg, paths, best_module, ev, visuals, diagnosis)
    if reason == "diverged":
        raise Diverged(_diverged_message(cfg, ev, metrics), metrics)
    log.info(_last_line(found, epochs, fit_seconds, stop_words(reason, cfg), best, last, paths))
    if cfg.seeds == 1 and not in_multirun():
        log.info(f"one network (seed {cfg.seed}); how reliably does this configuration learn XOR? seeds=1000 trains "
                 f"1000 at once (seeds {cfg.seed}..{cfg.seed + 999}) for the success rate and why seeds fail")
    return metrics


def stop_words(reason: str, cfg: DictConfig) -> str:
    """Why training stopped, in the words of one network or of a population."""
    if reason == "all_solved" and cfg.seeds == 1:
        margin = float(cfg.early_stop.margin)
        return (f"stopped early: every row right by early_stop.margin={margin:g}, p >= {0.5 + margin:g} for a 1 "
                f"and <= {0.5 - margin:g} for a 0")
    return STOP_REASONS[reason]


def in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _last_line(found: TrainPlan, epochs: int, fit_seconds: float, stopped: str, best: str | None, last: str,
               paths: RunPaths) -> str:
    trained = f"trained {epochs} epochs"
    if found.start_epochs and epochs == found.start_epochs:
        trained = f"nothing left to train: the resumed run had ended after {epochs} epochs; evaluated"
    elif found.start_epochs:
        start = found.start_epochs
        trained = f"trained {epochs - start} epochs in this process (epochs {start + 1}-{epochs} of the run)"
    checkpoint = f"best checkpoint {best}" if best else f"no best.ckpt written; evaluated the last checkpoint {last}"
    return (f"{trained} in {fit_seconds:.1f}s on {found.accelerator} ({stopped}); {checkpoint}; "
            f"metrics {paths.output_dir / 'metrics.json'}")


def _fit(cfg: DictConfig, found: TrainPlan, paths: RunPaths) -> tuple[Built, XORModule, float]:
    """Build the population, its data and the trainer, and train; returns them and the fit time."""
    quiet_lightning()
    if found.threads:
        torch.set_num_threads(found.threads)
    start = time.perf_counter()
    pl.seed_everything(cfg.seed, verbose=False)
    module = build_module(cfg, found.loop)
    datamodule = TruthTableDataModule(module.task, cfg.data.batch_size, cfg.data.shuffle, cfg.seed, cfg.seeds)
    built = build_trainer(cfg, paths, found.accelerator, found.trainer_args)
    built.trainer.fit(module, datamodule=datamodule, ckpt_path=found.resume)
    return built, module, time.perf_counter() - start


def _save_last(built: Built, paths: RunPaths, epochs: int) -> str:
    """last.ckpt always ends as the final state (also after Ctrl-C): the periodic copy may be older."""
    last = str((paths.checkpoint_dir / "last.ckpt").resolve())
    built.trainer.save_checkpoint(last)
    if built.interrupt.requested:
        raise Interrupted(_resume_hint(epochs, last))
    return last


def _log_summary(cfg: DictConfig, loggers: list, ev: Evaluation, metrics: dict, epochs: int) -> None:
    params = hparams_for_tensorboard(cfg, ev.task)
    job, overrides, swept = sweep_job()
    log_run_summary(
        loggers, params,
        {
            "verdict/success_rate": metrics["success_rate"],
            "verdict/epochs_to_solve_median": nan_if_none(metrics["epochs_to_solve"]["median"]),
            "verdict/final_loss": metrics["final_loss"],
        },
        step=epochs,
        # The fraction of members that failed for each cause, at the last epoch.
        extra={**{f"why_failed/{c.replace(' ', '_')}": n / ev.members for c, n in metrics["causes"].items()},
               # The fraction of members right at exactly each budget reached (budgets in train.yaml).
               **{f"verdict/right_at_{e}": r["rate"] for e, r in metrics["right_at_budget"].items() if r is not None}},
        curves={"val/not_yet_solved": ev.survival()},
        trial=trial_name(job, overrides, swept), shown=columns(params, param_names(swept)),
    )


def _report(cfg: DictConfig, paths: RunPaths, best_module: XORModule, ev: Evaluation, visuals: VisualsCallback,
            diagnosis: Diagnosis) -> None:
    if cfg.visuals.report:
        report_png = write_report(paths.output_dir / "report.png", best_module, ev, visuals.history, paths.name, diagnosis)
        log.info(f"report {report_png}")
    # One record, so one write: jobs side by side (joblib) cannot interleave their tables.
    log.info("\n".join(summary_lines(ev, diagnosis=diagnosis)))
