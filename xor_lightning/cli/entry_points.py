"""The thin ``@hydra.main`` wrappers; the work is in train(cfg) and evaluate(cfg)."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from xor_lightning.base.config_dir import config_dir
from xor_lightning.base.errors import WRITE_ERRORS, JobFailed, RunStopped, UserError, WriteFailed
from xor_lightning.base.launchers import in_process
from xor_lightning.core.divergence import Diverged
from xor_lightning.run.interrupt import Interrupted
from xor_lightning.run.write_errors import describe, take_writers_in_hand

log = logging.getLogger(__name__)


def _in_worker() -> bool:
    """A multirun job running in a process of its own (joblib, submitit), not in the one that launched the sweep."""
    hc = HydraConfig.get()
    return hc.mode == RunMode.MULTIRUN and not in_process(hc.launcher.get("_target_", ""))


def _run(fn, cfg: DictConfig):
    # A full disk fails the log file's writes too: keep logging's own tracebacks off the console.
    logging.raiseExceptions = False
    try:
        try:
            return fn(cfg)
        except OSError as exc:
            if exc.errno not in WRITE_ERRORS:
                raise
            raise WriteFailed(describe(cfg, exc)) from None
    except Diverged as exc:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            print(f"{exc.label}: {exc}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
        # In a sweep a diverged population is a result (success rate 0), shown as such in the summary.
        log.warning(str(exc))
        return exc.metrics
    except (UserError, RunStopped) as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN and (not isinstance(exc, Interrupted) or _in_worker()):
            # An Exception fails this job only (Hydra runs the rest, the summary shows it); SystemExit
            # would end the sweep: what Ctrl-C means when the jobs run in this very process.
            raise JobFailed(f"{exc.label}: {exc}") from None
        # SystemExit passes through Hydra's error reporting untouched: one line, the exit code.
        print(f"{exc.label}: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def train_main(cfg: DictConfig) -> float:
    from xor_lightning.run.train import train

    # The return value is what Hydra sweepers optimise: the success rate.
    return _run(train, cfg)["success_rate"]


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="evaluate")
def evaluate_main(cfg: DictConfig) -> None:
    from xor_lightning.run.evaluate import evaluate

    _run(evaluate, cfg)


def _with_writers_in_hand(app):
    def run() -> None:
        take_writers_in_hand()  # Hydra saves the job's config before the task starts
        app()

    return run


ENTRY_POINTS = {"train": _with_writers_in_hand(train_main), "evaluate": _with_writers_in_hand(evaluate_main)}
