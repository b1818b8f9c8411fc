"""The block loop: exact block ends, per-member gradient clipping as torch clips a lone network,
the one tie rule (p = 0.5 is never right), float64, and honest stop reasons."""

from __future__ import annotations

import json

import pytest
import pytorch_lightning as pl
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from tests.helpers import run_cli
from xor_lightning.core.block import LoopPlan
from xor_lightning.core.data import INPUTS, TARGETS
from xor_lightning.core.verdict import prediction, right
from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.train import train

QUIET = ("visuals.images=false", "visuals.histograms=false", "visuals.report=false")


@pytest.mark.parametrize(
    "first, expected", [(0, 50), (50, 100), (95, 100), (100, 150), (990, 1000)]
)
def test_a_block_ends_at_its_length_every_cadence_and_max_epochs(first, expected):
    plan = LoopPlan(max_epochs=1000, block_epochs=70, cadences=(50, 0, 100))
    assert plan.block_end(first) == expected


def test_scalars_are_logged_for_every_table_epoch(train_cfg):
    metrics = train(train_cfg("trainer.max_epochs=23", "early_stop.enabled=false", "block_epochs=5", *QUIET))
    acc = EventAccumulator(metrics["log_dir"], size_guidance={"scalars": 0}).Reload()
    for tag in ("train/loss", "val/loss", "val/acc", "val/success_rate"):
        assert [e.step for e in acc.Scalars(tag)] == list(range(1, 24)), tag


def _plain_clipped_run(seed: int, epochs: int, max_norm: float) -> list[torch.Tensor]:
    """A plain PyTorch loop: nn.Sequential, SGD, torch.nn.utils.clip_grad_norm_ every step."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    for _ in range(epochs):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(net(INPUTS), TARGETS).backward()
        nn.utils.clip_grad_norm_(net.parameters(), max_norm)
        opt.step()
    return [p.detach() for p in net.parameters()]


def test_gradient_clipping_clips_each_member_as_torch_clips_a_lone_network(train_cfg):
    # lr 1 makes the gradient norm exceed 0.05 most of the time: clipping changes the trajectory.
    cfg = train_cfg("seed=2", "seeds=3", "model.hidden=[4]", "optimizer=sgd", "optimizer.lr=1.0",
                    "+trainer.gradient_clip_val=0.05", "trainer.max_epochs=60", "early_stop.enabled=false", *QUIET)
    net = load_checkpoint(train(cfg)["last_checkpoint"]).net
    unclipped = _plain_clipped_run(2, 60, max_norm=1e9)
    for i in range(3):
        ref = _plain_clipped_run(2 + i, 60, max_norm=0.05)
        ours = [net.weights[0][i].T, net.biases[0][i, 0], net.weights[1][i].T, net.biases[1][i, 0]]
        for a, b in zip(ours, ref):
            assert torch.allclose(a, b, atol=1e-5), i
    assert not torch.allclose(net.weights[0][0].T, unclipped[0], atol=1e-3)  # clipping did something


def test_p_exactly_one_half_is_never_right():
    probs = torch.tensor([0.5, 0.7, 0.3, 0.5])
    targets = torch.tensor([0.0, 1.0, 0.0, 1.0])
    assert right(probs, targets).tolist() == [False, True, True, False]
    assert right(probs, targets, margin=0.25).tolist() == [False, False, False, False]
    assert [prediction(p) for p in probs.tolist()] == ["?", "1", "0", "?"]


def test_margin_0_never_stops_a_run_that_solved_nothing(tmp_path):
    # Weights ~1e-30: every logit rounds to 0, so p = 0.5 exactly on every row, and lr 1e-30 keeps it.
    res = run_cli("train", "early_stop.margin=0", "model.init=normal", "model.init_std=1e-30", "optimizer=sgd",
                  "optimizer.lr=1e-30", "trainer.max_epochs=30", "run_id=tie", "device=cpu", *QUIET, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((tmp_path / "outputs" / "tie" / "metrics.json").read_text())
    assert metrics["solved"] == 0 and metrics["stop_reason"] == "max_epochs" and metrics["epochs_trained"] == 30
    assert "undecided (p = 0.5)" in res.stdout and "NOT SOLVED (plateau): 0/4 rows right" in res.stdout


def test_float64_precision_trains_and_reloads(train_cfg):
    metrics = train(train_cfg("device.precision=64-true", "device=cpu", "seeds=4", *QUIET))
    assert metrics["solved"] == 4 and metrics["stop_reason"] == "all_solved"
    state = torch.load(metrics["last_checkpoint"], weights_only=True)["state_dict"]
    assert state["net.weights.0"].dtype == torch.float64
    assert load_checkpoint(metrics["best_checkpoint"])(INPUTS).shape == (4, 4, 1)


@pytest.mark.parametrize(
    "overrides, reason, epochs",
    [
        (("trainer.max_epochs=7", "early_stop.enabled=false"), "max_epochs", lambda e: e == 7),
        (("+trainer.fast_dev_run=true", "block_epochs=3", "early_stop.enabled=false"), "fast_dev_run", lambda e: e == 3),
        (("+trainer.max_time=00:00:00:01", "trainer.max_epochs=1000000", "block_epochs=50",
          "early_stop.enabled=false", "seeds=200"), "max_time", lambda e: 0 < e < 1000000 and e % 50 == 0),
        ((), "all_solved", lambda e: e < 1000),
        # Solved inside its one block, but a debug run still: it says so, and that it wrote no best.ckpt.
        (("+trainer.fast_dev_run=true",), "fast_dev_run", lambda e: e < 100),
        (("callbacks=timer", "callbacks.timer.duration=00:00:00:01", "trainer.max_epochs=1000000", "block_epochs=50",
          "early_stop.enabled=false", "seeds=200"), "timer", lambda e: 0 < e < 1000000 and e % 50 == 0),
        (("+callbacks.stop._target_=tests.test_block_loop.StopAfterOneBlock", "early_stop.enabled=false",
          "block_epochs=20"), "callback", lambda e: e == 20),
    ],
    ids=["max_epochs", "fast_dev_run", "max_time", "all_solved", "fast_dev_run_solved", "timer", "callback"],
)
def test_the_stop_reason_is_the_real_one(train_cfg, overrides, reason, epochs, caplog):
    with caplog.at_level("INFO"):
        metrics = train(train_cfg(*overrides, "device=cpu", *QUIET))
    assert metrics["stop_reason"] == reason
    assert metrics["stopped_early"] == (reason == "all_solved")
    assert epochs(metrics["epochs_trained"]), metrics["epochs_trained"]
    last = [r.getMessage() for r in caplog.records if r.getMessage().startswith("trained ")][-1]
    if reason == "fast_dev_run":
        assert metrics["best_checkpoint"] is None and "no best.ckpt written; evaluated the last checkpoint" in last
    else:
        assert metrics["best_checkpoint"].endswith("best.ckpt") and f"best checkpoint {metrics['best_checkpoint']}" in last


class StopAfterOneBlock(pl.Callback):
    """A user's callback that ends the run through trainer.should_stop."""

    def on_train_batch_end(self, trainer, *args, **kwargs) -> None:
        trainer.should_stop = True


def test_bf16_rounding_never_counts_a_linear_network_as_solved(train_cfg):
    # No activation: no affine function solves XOR, however close to p = 0.5 bf16 rounds its outputs.
    metrics = train(train_cfg("device.precision=bf16-mixed", "device=cpu", "model.activation=identity", "loss=mse",
                              "seeds=100", "trainer.max_epochs=300", *QUIET))
    first = torch.load(metrics["last_checkpoint"], weights_only=True)["state_dict"]["facts.first_solved"]
    assert metrics["solved"] == 0 and int((first >= 0).sum()) == 0
