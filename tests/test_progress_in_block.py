"""Signs of life inside a long block: the bar and the progress lines move from inside a block of
epochs (the module calls its epoch hooks after every epoch; they redraw when their time has come),
and the hooks change nothing the run computes."""

from __future__ import annotations

import logging
import re

import torch

from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.train import train
from xor_lightning.views.progress import EpochProgressBar

QUIET = ("visuals.images=false", "visuals.histograms=false", "visuals.report=false", "torch_threads=1")
ONE_BLOCK = ("seeds=3", "trainer.max_epochs=40", "block_epochs=40", "early_stop.enabled=false")


def test_the_bar_and_the_lines_move_inside_one_block(train_cfg, monkeypatch, caplog):
    shown = []
    monkeypatch.setattr(EpochProgressBar, "IN_BLOCK_SECONDS", 0.0)  # redraw after every epoch
    monkeypatch.setattr(EpochProgressBar, "_show", lambda self, epochs, solved, loss: shown.append(epochs))
    with caplog.at_level(logging.INFO, logger="xor_lightning.views.progress"):
        train(train_cfg(*ONE_BLOCK, *QUIET, "progress.bar=true", "progress.every_seconds=1e-9"))
    assert shown[:40] == list(range(1, 41)), shown  # every epoch of the one block, then its end
    said = [int(m) for m in re.findall(r"epoch (\d+)/40", caplog.text)]
    assert said[:3] == [1, 2, 3] and said[-1] == 40, said


def test_the_epoch_hooks_change_nothing_the_run_computes(train_cfg, monkeypatch):
    quiet = train(train_cfg(*ONE_BLOCK, *QUIET, "progress.bar=false", "progress.every_seconds=0", run_id="quiet"))
    monkeypatch.setattr(EpochProgressBar, "IN_BLOCK_SECONDS", 0.0)
    monkeypatch.setattr(EpochProgressBar, "_show", lambda self, *state: None)
    busy = train(train_cfg(*ONE_BLOCK, *QUIET, "progress.bar=true", "progress.every_seconds=1e-9", run_id="busy"))
    a, b = (load_checkpoint(m["last_checkpoint"]).net.parameters() for m in (quiet, busy))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
