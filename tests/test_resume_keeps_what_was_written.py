"""A resumed run adds to what its first part wrote, and never loses it (issue 18, class 4)."""

from __future__ import annotations

import csv

from tests.helpers import train_config
from xor_lightning.run.train import train

QUICK = ("device=cpu", "logger=csv", "visuals.report=false", "early_stop.enabled=false", "block_epochs=5",
         "checkpoint.last_every_n_epochs=5")


def rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_resumed_csv_logger_keeps_the_first_part_and_writes_the_rest_beside_it(tmp_path):
    train(train_config(tmp_path, *QUICK, "trainer.max_epochs=10", run_id="r"))
    first = tmp_path / "logs" / "r" / "csv" / "metrics.csv"
    before = first.read_bytes()
    train(train_config(tmp_path, *QUICK, "trainer.max_epochs=20", "ckpt_path=last", run_id="r"))
    assert first.read_bytes() == before  # Lightning's CSVLogger would have deleted it
    steps = sorted(int(r["step"]) for r in rows(first) if r["train/loss"])
    later = sorted(int(r["step"]) for r in rows(tmp_path / "logs" / "r" / "csv-2" / "metrics.csv") if r["train/loss"])
    assert steps == list(range(1, 11)) and later == list(range(11, 21))
