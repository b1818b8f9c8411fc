"""A resumed run adds to what its first part wrote, and never loses it (issue 18, class 4)."""

from __future__ import annotations

import csv

import pytest

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


SETTINGS = ("seeds=3", "optimizer=sgd", "optimizer.momentum=0.9", "model.hidden=[4]", "early_stop.margin=0.45",
            "data.batch_size=2", "data.shuffle=true", "device=cpu", "visuals.report=false", "block_epochs=5")


@pytest.mark.slow  # three real runs, two of them subprocesses
def test_a_resume_takes_the_runs_settings_from_its_checkpoint_and_says_what_it_added(tmp_path):
    import torch

    from tests.helpers import run_cli

    first = run_cli("train", "run_id=r", *SETTINGS, "trainer.max_epochs=10", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    resumed = run_cli("train", "run_id=r", "ckpt_path=last", "trainer.max_epochs=20", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "trained 10 epochs in this process (epochs 11-20 of the run)" in resumed.stdout + resumed.stderr
    reference = train(train_config(tmp_path / "ref", *SETTINGS, "trainer.max_epochs=20", run_id="ref"))
    got = torch.load(tmp_path / "checkpoints" / "r" / "last.ckpt", weights_only=True)["state_dict"]
    want = torch.load(reference["last_checkpoint"], weights_only=True)["state_dict"]
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)

    # A word that would change the trajectory is refused in one line that says what to leave out.
    refused = run_cli("train", "run_id=r", "ckpt_path=last", "seeds=5", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "it was trained with seeds=3, not 5" in refused.stderr and "leave out what sets seeds" in refused.stderr
