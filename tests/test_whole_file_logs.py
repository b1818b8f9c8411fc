"""The CSV logger's rewrites of whole files (metrics.csv when columns are added, hparams.yaml) are
whole-or-nothing: a full disk in the middle keeps every row and value the file held before."""

from __future__ import annotations

import csv
import errno

import pytest

from tests.helpers import compose_config
from xor_lightning.base import atomic_io
from xor_lightning.run.loggers import build_loggers
from xor_lightning.run.run_paths import RunPaths


def csv_logger(tmp_path):
    paths = RunPaths("r1", tmp_path / "out", tmp_path / "ckpt", tmp_path / "logs", tmp_path / "logs" / "r1")
    (logger,) = build_loggers(compose_config("train", ["logger=csv"]), paths)
    return logger, tmp_path / "logs" / "r1" / "csv"


def disk_full(*args):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_metrics_csv_gains_columns_keeps_every_row(tmp_path, monkeypatch):
    logger, folder = csv_logger(tmp_path)
    for epoch in range(1, 6):
        logger.log_metrics({"train/loss": 1.0 / epoch}, step=epoch)
    logger.save()
    before = (folder / "metrics.csv").read_bytes()
    logger.log_metrics({"hp/success_rate": 1.0}, step=5)  # a new column: Lightning rewrites the file whole
    monkeypatch.setattr(atomic_io.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        logger.save()
    assert (folder / "metrics.csv").read_bytes() == before  # Lightning's own writer left it truncated
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.csv"]  # no temporary file left

    monkeypatch.undo()
    logger.save()  # the disk has room again: the new column is added to the rows kept
    with open(folder / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["train/loss"] for r in rows[:5]] == ["1.0", "0.5", "0.3333333333333333", "0.25", "0.2"]
    assert rows[-1]["hp/success_rate"] == "1.0"


def test_a_full_disk_while_hparams_yaml_is_rewritten_keeps_the_earlier_one(tmp_path, monkeypatch):
    logger, folder = csv_logger(tmp_path)
    logger.log_hyperparams({"seed": 0, "optimizer.lr": 0.05})
    before = (folder / "hparams.yaml").read_text()
    assert "optimizer.lr: 0.05" in before
    monkeypatch.setattr(atomic_io.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        logger.log_hyperparams({"model.hidden": 8})
    assert (folder / "hparams.yaml").read_text() == before
    assert sorted(p.name for p in folder.iterdir()) == ["hparams.yaml"]
