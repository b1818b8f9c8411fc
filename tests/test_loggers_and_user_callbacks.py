"""The logger group (tensorboard, csv, mlflow) and user callbacks, each writing real files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.helpers import REPO, assert_refused_in_process, compose_config, run_cli
from xor_lightning.run.loggers import build_loggers, log_run_summary
from xor_lightning.run.run_paths import RunPaths
from xor_lightning.run.train import train

PARAMS = {"seed": 0, "optimizer": "Adam", "optimizer/lr": 0.05}
FINAL = {"verdict/success_rate": 1.0, "verdict/final_loss": 0.01}


def mlflow_run(log_root: Path) -> Path:
    """The one MLflow run folder in the file store under ``log_root``."""
    runs = [p.parent for p in (log_root / "mlruns").glob("*/*/meta.yaml")]
    assert len(runs) == 1, runs
    return runs[0]


def mlflow_metric(run: Path, name: str) -> list[tuple[int, float]]:
    """(step, value) per line of a metric file: ``timestamp value step``."""
    lines = (run / "metrics" / name).read_text().split("\n")
    return [(int(step), float(value)) for _, value, step in (line.split() for line in lines if line)]


def test_per_epoch_log_metrics_and_the_summary_reach_every_logger(tmp_path):
    """What the training loop does each epoch: log_metrics(dict, step=epoch) on every logger."""
    cfg = compose_config("train", ["logger=[csv,mlflow,tensorboard]"])
    paths = RunPaths("r1", tmp_path / "out", tmp_path / "ckpt", tmp_path / "logs", tmp_path / "logs" / "r1")
    loggers = build_loggers(cfg, paths)
    assert [type(lg).__name__ for lg in loggers][0] == "TensorBoardLogger"  # pictures read trainer.logger
    for epoch in (1, 2, 3):
        for logger in loggers:
            logger.log_metrics({"train/loss": 1.0 / epoch, "val/acc": 0.25 * epoch}, step=epoch)
    log_run_summary(loggers, PARAMS, FINAL, step=3)

    with open(tmp_path / "logs" / "r1" / "csv" / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["step"], r["train/loss"]) for r in rows[:3]] == [("1", "1.0"), ("2", "0.5"), ("3", "0.3333333333333333")]
    assert rows[-1]["verdict/success_rate"] == "1.0"

    run = mlflow_run(tmp_path / "logs")
    assert mlflow_metric(run, "train/loss") == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
    assert mlflow_metric(run, "verdict/success_rate") == [(3, 1.0)]
    assert (run / "params" / "optimizer.lr").read_text() == "0.05"
    assert (run / "tags" / "mlflow.runName").read_text() == "r1"

    acc = EventAccumulator(str(tmp_path / "logs" / "r1"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("train/loss")] == [(1, 1.0), (2, 0.5), (3, pytest.approx(1 / 3))]


@pytest.mark.parametrize("logger", ["csv", "mlflow"])
def test_a_training_run_writes_its_curves_and_results(train_cfg, tmp_path, logger):
    metrics = train(train_cfg(f"logger={logger}", "seeds=3", "trainer.max_epochs=15", "early_stop.enabled=false",
                              "visuals.report=false"))
    logs = tmp_path / "logs"
    assert not list(logs.rglob("events.out.tfevents.*")), "only the chosen logger writes"
    if logger == "csv":
        with open(logs / "test" / "csv" / "metrics.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len([r for r in rows if r["train/loss"]]) == 15
        assert float(rows[-1]["verdict/success_rate"]) == metrics["success_rate"]
        assert "optimizer.lr: 0.05" in (logs / "test" / "csv" / "hparams.yaml").read_text()
    else:
        run = mlflow_run(logs)
        assert len(mlflow_metric(run, "val/loss")) == 15
        assert mlflow_metric(run, "verdict/success_rate") == [(15, metrics["success_rate"])]
        assert (run / "params" / "model.hidden").read_text() == "8"


CALLBACK = '''
import pytorch_lightning as pl


class EpochsFile(pl.Callback):
    """Writes how many table epochs were trained when training ends (a Lightning epoch is a block)."""

    def __init__(self, path):
        self.path = path

    def on_train_end(self, trainer, pl_module):
        with open(self.path, "w") as fh:
            fh.write(str(int(pl_module.epochs_done)))
'''


def test_ready_and_own_callbacks_run_beside_ours(tmp_path):
    (tmp_path / "my_callbacks.py").write_text(CALLBACK)
    res = run_cli(
        "train", "logger=csv", "callbacks=lr_monitor", "+callbacks.mine._target_=my_callbacks.EpochsFile",
        f"+callbacks.mine.path={tmp_path / 'epochs.txt'}", "trainer.max_epochs=12", "early_stop.enabled=false",
        "run_id=cb", "visuals.report=false", cwd=tmp_path, env={"PYTHONPATH": f"{REPO}:{tmp_path}"},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "epochs.txt").read_text() == "12"
    with open(tmp_path / "logs" / "cb" / "csv" / "metrics.csv", newline="") as fh:
        lrs = [r["lr-Adam"] for r in csv.DictReader(fh) if r["lr-Adam"]]
    assert lrs and set(lrs) == {"0.05"}
    # ours are still there: the checkpoints and the evaluation of the best one
    assert (tmp_path / "checkpoints" / "cb" / "best.ckpt").is_file()
    assert json.loads((tmp_path / "outputs" / "cb" / "metrics.json").read_text())["epochs_trained"] == 12


@pytest.mark.parametrize(
    "args, message",
    [
        (["+callbacks.x._target_=nope.Nope"], "error: callbacks.x._target_=nope.Nope: cannot import it (No module named 'nope')"),
        (["+callbacks.x._target_=collections.OrderedDict"],
         "error: callbacks.x._target_=collections.OrderedDict is not a Lightning Callback"),
        (["callbacks=lr_monitor", "+callbacks.lr_monitor.foo=1"],
         "error: callbacks.lr_monitor.foo is not an argument of LearningRateMonitor; valid: logging_interval, log_momentum"),
        (["+callbacks.x=3"], "error: callbacks.x must be a mapping with a _target_"),
        (["+logger.x._target_=pytorch_lightning.callbacks.Timer"],
         "error: logger.x._target_=pytorch_lightning.callbacks.Timer is not a Lightning logger"),
        (["logger=nope"], "error: logger='nope' is not a known choice; choose one of: csv, mlflow, tensorboard"),
        (["callbacks=nope"], "error: callbacks='nope' is not a known choice; choose one of: lr_monitor, timer"),
    ],
)
def test_a_bad_logger_or_callback_is_one_line_before_anything_runs(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(["train", *args], message, tmp_path, capsys)


def test_a_users_own_progress_bar_replaces_ours(train_cfg):
    from pytorch_lightning.callbacks import TQDMProgressBar

    from xor_lightning.run.run_paths import run_paths
    from xor_lightning.run.train import plan
    from xor_lightning.run.trainer_setup import build_trainer
    from xor_lightning.views.progress import EpochProgressBar

    cfg = train_cfg("+callbacks.bar._target_=pytorch_lightning.callbacks.TQDMProgressBar", "progress.bar=true")
    found = plan(cfg)
    bar = build_trainer(cfg, run_paths(cfg), found.accelerator, found.trainer_args).trainer.progress_bar_callback
    assert isinstance(bar, TQDMProgressBar) and not isinstance(bar, EpochProgressBar)


def test_several_loggers_at_once_from_the_command_line(tmp_path, monkeypatch, capsys):
    """``logger=[tensorboard,csv]`` as configs/train.yaml and docs/usage.md write it: both loggers' files."""
    from xor_lightning.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "logger=[tensorboard,csv]", "run_id=both", "trainer.max_epochs=12",
                 "early_stop.enabled=false", "visuals.report=false", "progress.bar=false"]) == 0
    run = tmp_path / "logs" / "both"
    acc = EventAccumulator(str(run))
    acc.Reload()
    assert len(acc.Scalars("train/loss")) == 12
    with open(run / "csv" / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len([r for r in rows if r["train/loss"]]) == 12


def test_a_list_of_choices_is_still_a_list_of_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(["train", "logger=[tensorboard,../x]"],
                              "error: logger='[tensorboard,../x]' is not valid; a group choice is a name", tmp_path, capsys)
