"""What a finished run writes besides its checkpoints: members.csv, metrics.json, and the flat
hyper-parameters TensorBoard's HParams compares runs by."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from omegaconf import DictConfig

from xor_lightning.base.atomic_io import atomic_write_text
from xor_lightning.core.diagnosis import Diagnosis
from xor_lightning.core.evaluation import Evaluation
from xor_lightning.core.task import Task
from xor_lightning.run.run_paths import RunPaths


def hparams_for_tensorboard(cfg: DictConfig, task: Task) -> dict[str, Any]:
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
        "data/task": task.name, "data/batch_size": int(cfg.data.batch_size or task.rows),
        "trainer/max_epochs": int(cfg.trainer.max_epochs),
    }


def nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else float(value)


MEMBER_COLUMNS = ["member", "seed", "solved", "epochs_to_solve", "best_epoch", "final_loss", "epochs_trained",
                  "diverged", "cause", "more_epochs"]
TEST_COLUMNS = ["train_accuracy", "test_accuracy", "test_loss"]  # for a task with a held-out part


def members_csv(ev: Evaluation, diagnosis: Diagnosis) -> str:
    """One row per member: its own run's facts, as a lone run of its seed would report them, and
    why it failed if it did; members that differ in hyperparameters (MemberTable) also say in what."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    tested = ev.test_probs is not None
    # A population whose members differ (a packed grid): what differs, a column each, after the others.
    own = ev.columns or {}
    writer.writerow(MEMBER_COLUMNS + (TEST_COLUMNS if tested else []) + [f"right_at_{e}" for e in ev.budgets] + list(own))
    test = zip(ev.accuracy.tolist(), ev.test_accuracy.tolist(), ev.test_losses.tolist()) if tested else None
    # Per budget: 1 right at exactly that epoch, 0 not, empty when the run never reached it.
    at_budgets = ev.right_at.T.tolist() if ev.budgets else [[] for _ in range(ev.members)]
    seeds = [ev.member_seed(i) for i in range(ev.members)]
    for i, (solved, first, best, loss, trained, diverged, cause, more, at) in enumerate(zip(
        ev.solved.tolist(), ev.first_solved.tolist(), ev.best_epoch.tolist(), ev.losses.tolist(),
        ev.epochs_trained.tolist(), ev.diverged.tolist(), diagnosis.causes, diagnosis.more_epochs, at_budgets,
    )):
        row = [i, seeds[i], int(solved), first if solved and first > 0 else "",
               best if best > 0 else "", f"{loss:.6g}", trained, int(diverged), cause, "" if more is None else more]
        if test is not None:
            row += [f"{v:.6g}" for v in next(test)]
        writer.writerow(row + ["" if r < 0 else r for r in at] + [values[i] for values in own.values()])
    return out.getvalue()


def write_outputs(paths: RunPaths, metrics: dict, ev: Evaluation, diagnosis: Diagnosis) -> None:
    # Whole files or none (atomic_io): a full disk never leaves a truncated members.csv that looks
    # complete; metrics.json last, so its presence means the job finished.
    atomic_write_text(paths.output_dir / "members.csv", members_csv(ev, diagnosis))
    atomic_write_text(paths.output_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
