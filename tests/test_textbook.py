"""Networks written down by hand (model.weights, evaluate weights=), the linear output head, and the
Deep Learning book's exact solution: evaluated as it is, trained from, and drawn in both spaces."""

from __future__ import annotations

import json

import matplotlib.image
import pytest
import torch

from tests.helpers import run_cli
from xor_lightning.core.data import INPUTS, TARGETS
from xor_lightning.core.nets import Population
from xor_lightning.core.task import XOR
from xor_lightning.core.verdict import prediction, right
from xor_lightning.run.train import train
from xor_lightning.views.figures import hidden_space_panel

QUIET = ("visuals.images=false", "visuals.histograms=false", "visuals.report=false", "torch_threads=1")
BOOK = """activation: relu
output: linear
layers:
  - {weight: [[1, 1], [1, 1]], bias: [0, -1]}
  - {weight: [[1, -2]], bias: [0]}
"""


def test_the_book_solution_evaluates_exactly_and_draws_both_spaces(tmp_path):
    res = run_cli("evaluate", "weights=deep_learning_book", "space=space.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "SOLVED: 4/4 rows right; loss 0" in res.stdout
    for row in ("  0   0 |      0   0.000     0  right", "  1   1 |      0   0.000     0  right",
                "  0   1 |      1   1.000     1  right", "  1   0 |      1   1.000     1  right"):
        assert row in res.stdout
    height, width = matplotlib.image.imread(tmp_path / "space.png").shape[:2]
    assert width > 2 * height  # input space beside the hidden layer's space


def test_every_member_starts_from_the_written_weights(tmp_path):
    (tmp_path / "book.yaml").write_text(BOOK)
    pop = Population(3, [2], "relu", output="linear", start=str(tmp_path / "book.yaml"))
    for i in range(3):
        assert pop.member_state(i)["0.weight"].tolist() == [[1.0, 1.0], [1.0, 1.0]]
        assert pop.member_state(i)["2.weight"].tolist() == [[1.0, -2.0]]
    assert pop(INPUTS)[:, :, 0].tolist() == [TARGETS.squeeze(-1).tolist()] * 3  # exactly 0, 1, 1, 0
    assert hidden_space_panel(pop, 0, task=XOR) is not None
    assert hidden_space_panel(Population(1, [3], "relu"), 0, task=XOR) is None


def test_training_from_the_book_solution_stays_there(train_cfg):
    metrics = train(train_cfg("experiment=deep_learning_book", *QUIET))
    assert metrics["solved"] == 1 and metrics["final_loss"] == 0.0 and metrics["epochs_to_solve"]["median"] == 1


def test_a_linear_head_counts_rounding_noise_around_one_half_as_undecided():
    probs = torch.tensor([0.5 + 3e-8, 0.5 - 2e-7, 0.5 + 2e-6, 0.75])
    targets = torch.tensor([1.0, 0.0, 1.0, 1.0])
    assert right(probs, targets, head="logit").tolist() == [True, True, True, True]
    assert right(probs, targets, head="linear").tolist() == [False, False, True, True]
    assert [prediction(p, "linear") for p in probs.tolist()] == ["?", "?", "1", "1"]


def test_member_i_of_a_linear_head_population_is_its_lone_run(train_cfg, tmp_path):
    common = ("model.output=linear", "loss=mse", "model.activation=relu", "model.hidden=[4]", "optimizer=sgd",
              "optimizer.lr=0.2", "early_stop.enabled=false", "trainer.max_epochs=120", *QUIET)
    train(train_cfg("seed=7", "seeds=3", *common, run_id="pop"))
    rows = (tmp_path / "outputs" / "pop" / "members.csv").read_text().splitlines()[1:]
    for i in range(3):
        train(train_cfg(f"seed={7 + i}", "seeds=1", *common, run_id=f"lone{i}"))
        lone_row = (tmp_path / "outputs" / f"lone{i}" / "members.csv").read_text().splitlines()[1]
        assert rows[i].split(",")[1:5] == lone_row.split(",")[1:5]  # seed, solved, epochs to solve, best epoch


BAD_WEIGHTS = [
    ("missing", None, ["no such file", "deep_learning_book"]),
    ("shape", "layers:\n  - {weight: [[1, 1, 1]], bias: [0]}\n", ["layer 0", "1 rows of 2 numbers"]),
    ("not-a-number", "layers:\n  - {weight: [[1, .nan]], bias: [0]}\n", ["finite number"]),
    ("two-outputs", "layers:\n  - {weight: [[1, 1], [1, 1]], bias: [0, 0]}\n", ["2 outputs", "one number"]),
    ("no-layers", "activation: relu\n", ["'layers'"]),
    ("not-yaml", "layers: [\n", ["not readable as YAML/JSON"]),
]


@pytest.mark.parametrize("name, text, words", BAD_WEIGHTS, ids=[b[0] for b in BAD_WEIGHTS])
def test_a_bad_weights_file_is_one_line_before_anything_runs(tmp_path, name, text, words):
    path = tmp_path / f"{name}.yaml"
    if text is not None:
        path.write_text(text)
    res = run_cli("train", f"model.weights={path}", "model.hidden=[]", cwd=tmp_path)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith(f"error: model.weights={path}") and all(w in lines[0] for w in words), lines[0]
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["model.weights=deep_learning_book"], ["hidden widths are [2]", "model.hidden=[2]"]),
        (["model.weights=deep_learning_book", "model.hidden=[2]"], ["model.activation=relu"]),
        (["model.output=linear"], ["loss=bce_with_logits needs a logit output", "loss=mse"]),
        (["model.output=sigmoid"], ["model.output='sigmoid'", "logit, linear"]),
    ],
)
def test_a_network_that_does_not_fit_its_weights_or_loss_is_refused(tmp_path, args, words):
    res = run_cli("train", *args, cwd=tmp_path)
    assert res.returncode == 2 and all(w in res.stderr for w in words), res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_evaluate_needs_one_source(tmp_path):
    for args, word in (([], "neither"), (["checkpoint=x.ckpt", "weights=deep_learning_book"], "both")):
        res = run_cli("evaluate", *args, cwd=tmp_path)
        assert res.returncode == 2 and word in res.stderr and "weights=FILE" in res.stderr, res.stderr


def test_the_metrics_of_a_hand_network_report_it_solved(tmp_path):
    (tmp_path / "book.json").write_text(json.dumps({"activation": "relu", "output": "linear", "layers": [
        {"weight": [[1, 1], [1, 1]], "bias": [0, -1]}, {"weight": [[1, -2]], "bias": [0]}]}))
    res = run_cli("evaluate", f"weights={tmp_path / 'book.json'}", cwd=tmp_path)  # JSON is YAML too
    assert res.returncode == 0 and "SOLVED: 4/4 rows right" in res.stdout, res.stderr
