"""A non-finite loss: a lone run stops with one line and exit code 3; in a population the member is
marked diverged, counted as not solved, and poisons neither the others nor val/loss nor checkpoints."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytorch_lightning as pl
import torch

from tests.helpers import run_cli
from xor_lightning.core.data import TruthTableDataModule
from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.run_paths import run_paths
from xor_lightning.run.train import plan, train
from xor_lightning.run.trainer_setup import build_module, build_trainer

# Checked by hand: with lr=1e30 and SGD, 7 of these 8 relu members overflow to NaN, member 4 does not.
MIXED = ("optimizer=sgd", "optimizer.lr=1e30", "model.activation=relu", "seeds=8", "early_stop.enabled=false", "device=cpu")


def test_single_run_divergence_stops_with_one_line(tmp_path):
    result = run_cli("train", "optimizer.lr=1e30", "model.activation=identity", "trainer.max_epochs=5", "device=cpu",
                     cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 3, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("error: training diverged") and "optimizer.lr" in lines[0]
    (run,) = (tmp_path / "outputs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["diverged"] == 1 and metrics["solved"] == 0
    assert metrics["epochs_trained"] == 1  # stopped at once, not after max_epochs


def test_population_marks_diverged_members_and_keeps_metrics_finite(train_cfg, tmp_path):
    metrics = train(train_cfg(*MIXED, "trainer.max_epochs=20", "budgets=[1,20]"))
    assert 0 < metrics["diverged"] < 8
    assert math.isfinite(metrics["final_loss"])
    with open(tmp_path / "outputs" / "test" / "members.csv") as fh:
        rows = list(csv.DictReader(fh))
    diverged = [r for r in rows if r["diverged"] == "1"]
    assert len(diverged) == metrics["diverged"] and all(r["solved"] == "0" for r in diverged)
    assert all(r["cause"] == "diverged" for r in diverged) and metrics["causes"]["diverged"] == metrics["diverged"]
    assert all(r["right_at_20"] == "0" for r in diverged)  # a diverged member is wrong at every later budget
    for name in ("best.ckpt", "last.ckpt"):
        _assert_finite_weights(torch.load(tmp_path / "checkpoints" / "test" / name, weights_only=True)["state_dict"], name)
    assert (load_checkpoint(metrics["last_checkpoint"]).facts.diverged_at >= 0).sum() == metrics["diverged"]


def _assert_finite_weights(state: dict, name: str) -> None:
    """No NaN anywhere but in a loss trail's "no sample" (a diverged member's trail stops as its lone
    run would end); no inf in any weight (a best loss of inf means "no best yet")."""
    for key, t in state.items():
        if key in ("facts.trail_loss", "facts.trail_margin"):
            t = t[state["facts.trail_epoch"] >= 0]
        assert not torch.isnan(t.float()).any(), (name, key)
        if key.startswith(("net.", "facts.best_weight", "facts.best_bias")):
            assert torch.isfinite(t).all(), (name, key)


class PoisonMember(pl.Callback):
    """Sets one member's weights to NaN after ``epoch`` table epochs (a block ends there): a real
    NaN loss, on cue."""

    def __init__(self, member: int, epoch: int) -> None:
        self.member, self.epoch = member, epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if int(pl_module.epochs_done) == self.epoch:
            with torch.no_grad():
                pl_module.net.weights[0][self.member] = float("nan")


def _fit(cfg, *callbacks):
    paths = run_paths(cfg)
    module = build_module(cfg)
    found = plan(cfg)
    built = build_trainer(cfg, paths, found.accelerator, found.trainer_args)
    trainer, checkpoint = built.trainer, built.best
    trainer.callbacks.extend(callbacks)
    trainer.fit(module, datamodule=TruthTableDataModule(module.task, cfg.data.batch_size, cfg.data.shuffle, cfg.seed, cfg.seeds))
    return module, trainer, checkpoint


def test_other_members_follow_exactly_the_same_trajectory(train_cfg):
    # Adam: moments are state. Blocks of 5 epochs; last.ckpt every 10.
    args = ("seeds=3", "trainer.max_epochs=15", "early_stop.enabled=false", "device=cpu", "block_epochs=5",
            "checkpoint.last_every_n_epochs=10")
    clean, _, _ = _fit(train_cfg(*args, run_id="clean"))
    hit, trainer, checkpoint = _fit(train_cfg(*args, run_id="hit"), PoisonMember(member=1, epoch=5))

    assert hit.facts.diverged_at.tolist() == [-1, 5, -1]  # the weights after epoch 5 gave a NaN loss
    assert hit.facts.best_epoch[1] <= 5  # its best is from before, and stays
    for a, b in zip(clean.net.parameters(), hit.net.parameters()):
        assert torch.equal(a[[0, 2]], b[[0, 2]])  # bit for bit
        assert torch.equal(b[1], torch.zeros_like(b[1]))  # frozen at zero, no NaN in the checkpoint
    assert all(math.isfinite(row["val/loss"]) for row in hit.block.scalars())
    saved = sorted(Path(checkpoint.dirpath).glob("*.ckpt"))
    assert [p.name for p in saved] == ["best.ckpt", "last.ckpt"]  # last: written at epoch 10, after the NaN
    for path in saved:
        _assert_finite_weights(torch.load(path, weights_only=True)["state_dict"], path.name)
