"""train(cfg) end to end: learns XOR, writes checkpoints and metrics, evaluate reproduces it."""

import json

import torch

from tests.helpers import compose_config
from xor_lightning.core.data import INPUTS
from xor_lightning.core.evaluation import evaluate_module
from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.evaluate import evaluate
from xor_lightning.run.train import train


def test_default_config_learns_xor_and_stops_early(train_cfg, tmp_path):
    metrics = train(train_cfg())
    assert metrics["solved"] == 1 and metrics["success_rate"] == 1.0
    assert metrics["stopped_early"] and metrics["epochs_trained"] < 1000
    assert 0 < metrics["epochs_to_solve"]["median"] <= metrics["epochs_trained"]
    saved = json.loads((tmp_path / "outputs" / "test" / "metrics.json").read_text())
    for key in ("seeds", "solved", "success_rate", "success_rate_ci95", "epochs_to_solve", "final_loss", "best_checkpoint"):
        assert key in saved
    assert saved == json.loads(json.dumps(metrics))


def test_checkpoints_reload_to_the_same_predictions(train_cfg, tmp_path):
    cfg = train_cfg("seeds=8", "model.activation=relu", "model.hidden=[6]", "trainer.max_epochs=40")
    metrics = train(cfg)
    ckpt_dir = tmp_path / "checkpoints" / "test"
    assert sorted(p.name for p in ckpt_dir.glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]  # no temporaries left
    assert metrics["best_checkpoint"] == str(ckpt_dir / "best.ckpt")

    module = load_checkpoint(metrics["best_checkpoint"])
    assert module.device.type == "cpu" and not module.training
    assert module.hparams.model["activation"] == "relu" and module.hparams.seeds == 8
    again = load_checkpoint(metrics["best_checkpoint"])
    assert torch.equal(module(INPUTS), again(INPUTS))
    ev = evaluate_module(module)
    assert ev.summary()["solved"] == metrics["solved"]
    assert ev.summary()["final_loss"] == metrics["final_loss"]

    raw = torch.load(metrics["best_checkpoint"], weights_only=True)  # plain containers only
    assert raw["hyper_parameters"]["model"]["hidden"] == [6]

    summary = evaluate(compose_config("evaluate", [f"checkpoint={metrics['best_checkpoint']}", "member=3"]))
    assert summary["solved"] == metrics["solved"] and summary["seeds"] == 8


def test_population_reports_success_rate_and_epochs(train_cfg, tmp_path):
    # Two ReLU units often die or split the square badly: some seeds solve XOR, some do not.
    metrics = train(train_cfg("seeds=50", "model.hidden=[2]", "model.activation=relu", "trainer.max_epochs=150"))
    assert metrics["seeds"] == 50
    assert 0 < metrics["solved"] < 50
    lo, hi = metrics["success_rate_ci95"]
    assert lo <= metrics["success_rate"] <= hi
    assert not metrics["stopped_early"] and metrics["epochs_trained"] == 150
    rows = (tmp_path / "outputs" / "test" / "members.csv").read_text().splitlines()
    assert rows[0] == "member,seed,solved,epochs_to_solve,best_epoch,final_loss,epochs_trained,diverged,cause,more_epochs"
    assert len(rows) == 51
    assert sum(int(r.split(",")[2]) for r in rows[1:]) == metrics["solved"]
