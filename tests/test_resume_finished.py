"""Resuming a run that had already ended trains nothing: its members' lone runs are over too."""

from __future__ import annotations

import logging

import pytest
import torch

from xor_lightning.run.train import train

QUIET = ("visuals.report=false", "visuals.images=false", "visuals.histograms=false")


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("ending", [("seeds=2",), ("seeds=2", "early_stop.enabled=false", "trainer.max_epochs=30")],
                         ids=["every member met the early stop", "max_epochs reached"])
def test_resuming_an_ended_run_trains_no_more_epochs(train_cfg, ending, caplog):
    caplog.set_level(logging.INFO, logger="xor_lightning.run.train")
    first = train(train_cfg(*ending, *QUIET, run_id="ended"))
    weights = torch.load(first["last_checkpoint"], weights_only=True)["state_dict"]
    again = train(train_cfg(*ending, *QUIET, f"ckpt_path={first['last_checkpoint']}", run_id="ended"))
    assert again["epochs_trained"] == first["epochs_trained"] and again["epochs_this_process"] == 0
    assert again["stop_reason"] == first["stop_reason"] and again["success_rate"] == first["success_rate"]
    after = torch.load(again["last_checkpoint"], weights_only=True)["state_dict"]
    moved = [k for k, v in weights.items() if not torch.equal(after[k].nan_to_num(), v.nan_to_num())]
    assert moved == [], moved
    assert f"nothing left to train: the resumed run had ended after {first['epochs_trained']} epochs" in caplog.text
