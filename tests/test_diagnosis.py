"""Why a seed fails: each cause on a run built to show it (the classic cases), and the prediction
behind "still learning" tested by giving those members more epochs."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
import torch

from xor_lightning.core.data import INPUTS
from xor_lightning.core.diagnosis import diagnose
from xor_lightning.core.evaluation import evaluate_module
from xor_lightning.core.module import XORModule
from xor_lightning.run.train import train

QUIET = ("visuals.images=false", "visuals.histograms=false", "visuals.report=false", "torch_threads=1")
# The forum thread's setting: ReLU [5], MSE, plain SGD at lr 0.03, full batch, 1000 epochs.
FORUM_SGD = ("model.hidden=[5]", "model.activation=relu", "loss=mse", "optimizer=sgd", "optimizer.lr=0.03",
             "early_stop.enabled=false")


def _members(tmp_path, run_id: str = "test") -> list[dict]:
    with open(tmp_path / "outputs" / run_id / "members.csv") as fh:
        return list(csv.DictReader(fh))


def _causes(tmp_path, run_id: str = "test") -> Counter:
    return Counter(r["cause"] for r in _members(tmp_path, run_id) if r["solved"] == "0")


@pytest.mark.parametrize(
    "overrides, cause, share",
    [
        # No activation: an affine function of the inputs, whatever the depth.
        (("model.activation=identity", "model.hidden=[4,4]", "trainer.max_epochs=300", "seeds=20"), "linear", 1.0),
        # The init-scale study's smallest std: sigmoid units all at 1/2, the output at the constant guess.
        (("model.hidden=[2]", "model.activation=sigmoid", "model.init=normal", "model.init_std=0.05", "optimizer=sgd",
          "optimizer.lr=0.1", "early_stop.enabled=false", "trainer.max_epochs=2000", "seeds=50"), "plateau", 1.0),
        # Two ReLU units: most failures have a unit (or the rows of both classes) switched off for good.
        (("model.hidden=[2]", "model.activation=relu", "trainer.max_epochs=300", "seeds=100"), "dead", 0.7),
        # Huge initial weights: sigmoid units pinned at 0 or 1 on every row.
        (("model.hidden=[2]", "model.activation=sigmoid", "model.init=normal", "model.init_std=21.1", "optimizer=sgd",
          "optimizer.lr=0.1", "early_stop.enabled=false", "trainer.max_epochs=2000", "seeds=100"), "saturated units", 0.7),
        # Two tanh units with Adam: the classic stuck state, two rows at p = 1/2, three rows "right".
        (("model.hidden=[2]", "trainer.max_epochs=1000", "seeds=100"), "local minimum", 0.9),
    ],
    ids=["linear", "plateau", "dead", "saturated_units", "local_minimum"],
)
def test_each_cause_on_a_run_built_to_show_it(train_cfg, tmp_path, overrides, cause, share):
    metrics = train(train_cfg(*overrides, *QUIET))
    causes = _causes(tmp_path)
    failed = metrics["seeds"] - metrics["solved"]
    assert failed > 0 and sum(causes.values()) == failed
    assert causes[cause] >= share * failed, causes
    assert metrics["causes"][cause] == causes[cause]  # metrics.json counts the same
    assert "" not in causes  # every failed member has a cause


@pytest.mark.slow  # ~25 s: 100 members trained to up to 12,000 epochs
def test_still_learning_members_do_solve_when_given_more_epochs(train_cfg, tmp_path):
    first = train(train_cfg(*FORUM_SGD, "seeds=100", "trainer.max_epochs=1000", *QUIET))
    rows = _members(tmp_path)
    learning = {int(r["member"]): int(r["more_epochs"]) for r in rows if r["cause"] == "still learning"}
    dead = [int(r["member"]) for r in rows if r["cause"] == "dead"]
    assert len(learning) >= 20 and dead
    horizon = min(1000 + max(learning.values()), 12_000)
    train(train_cfg(*FORUM_SGD, "seeds=100", f"trainer.max_epochs={horizon}", f"ckpt_path={first['last_checkpoint']}",
                    *QUIET))
    later = _members(tmp_path)
    within = [i for i, more in learning.items() if later[i]["solved"] == "1"
              and int(later[i]["epochs_to_solve"]) <= 1000 + more]
    assert len(within) >= 0.8 * len(learning), (len(within), len(learning))  # solved within the estimate
    assert not any(later[i]["solved"] == "1" for i in dead)  # a dead member cannot revive


def test_the_causes_reach_the_printed_summary_and_tensorboard(train_cfg, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    metrics = train(train_cfg("model.hidden=[2]", "model.activation=relu", "trainer.max_epochs=300", "seeds=40", *QUIET))
    saved = json.loads((tmp_path / "outputs" / "test" / "metrics.json").read_text())
    assert saved["causes"] == metrics["causes"] and sum(saved["causes"].values()) == 40 - metrics["solved"]
    acc = EventAccumulator(metrics["log_dir"], size_guidance={"scalars": 0}).Reload()
    dead = acc.Scalars("why_failed/dead")
    assert [e.step for e in dead] == [300] and dead[0].value == pytest.approx(metrics["causes"]["dead"] / 40)


def test_the_survival_curve_reaches_tensorboard_and_the_sweep_summary(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tests.helpers import run_cli
    from xor_lightning.views.sweep_summary import job_survival

    res = run_cli("train", "-m", "model.hidden=[2],[8]", "model.activation=relu", "seeds=30", "trainer.max_epochs=150",
                  "run_id=sv", *QUIET, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    sweep = tmp_path / "multirun" / "sv"
    header = (sweep / "summary.csv").read_text().splitlines()[0].split(",")
    assert {"dead", "plateau", "still_learning", "local_minimum", "linear", "saturated_units", "saturated_output",
            "diverged", "other"} <= set(header)
    assert (sweep / "summary.png").stat().st_size > 10_000
    for job in ("0", "1"):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        epochs, left = job_survival(sweep / job)
        assert epochs[0] == 0 and left[0] == 1.0 and left[-1] == pytest.approx(1 - metrics["success_rate"])
        acc = EventAccumulator(str(tmp_path / "logs" / "sv" / job), size_guidance={"scalars": 0}).Reload()
        logged = acc.Scalars("val/not_yet_solved")
        assert [e.step for e in logged] == epochs and [e.value for e in logged] == pytest.approx(left)


def _crafted_tanh_l1(hidden_scale: list[float], out_scale: list[float], out_bias: list[float]):
    """Tanh [2] members with hand-set weights: unit 1 = tanh(a(x1 + x2) - a/2), unit 2 =
    tanh(a(x1 + x2) - 3a/2), logit = c (unit 1 - unit 2) + d, with an L1 loss (on probabilities)."""
    k = len(hidden_scale)
    module = XORModule({"hidden": [2], "activation": "tanh", "init": "pytorch", "init_std": 1.0}, {"name": "l1"},
                       {"_target_": "torch.optim.Adam", "lr": 0.01}, seeds=k)
    a, c, d = (torch.tensor(v) for v in (hidden_scale, out_scale, out_bias))
    with torch.no_grad():
        module.net.weights[0].copy_(a[:, None, None].expand(k, 2, 2))
        module.net.biases[0].copy_(torch.stack([-a / 2, -1.5 * a], dim=1)[:, None, :])
        module.net.weights[1].copy_(torch.stack([c, -c], dim=1)[:, :, None])
        module.net.biases[1].copy_(d[:, None, None])
    return module


def test_saturated_names_what_is_pinned_hidden_units_or_the_output():
    # Member 0 solves; member 1 has healthy units but its logit is about -11 on the rows of target 1
    # (the issue's tanh + L1 + Adam case); member 2's units sit at |z| >= 50 on every row (and its bias is wrong).
    module = _crafted_tanh_l1([2.0, 2.0, 100.0], [10.0, -10.0, 10.0], [-8.0, 4.0, 4.0])
    ev = evaluate_module(module)
    assert ev.solved.tolist() == [True, False, False]
    logit = module.net(INPUTS).squeeze(-1)[1].detach()
    assert float(logit[1]) < -11 < float(logit[1]) + 1  # pinned at the wrong end of the row (0, 1)
    diagnosis = diagnose(module, ev.solved, ev.diverged)
    assert diagnosis.causes == ["", "saturated output", "saturated units"]
    assert diagnosis.summary() == "1 saturated units, 1 saturated output"
