"""The tasks beyond the four rows (core/task.py): parity, any truth table and the 16 gates, and
TensorFlow Playground's point sets; their refusals; member i == the lone run of seed+i on them."""

from __future__ import annotations

import csv
import math
import random

import pytest
import torch

from tests.helpers import compose_config
from xor_lightning.base.errors import UserError
from xor_lightning.core import playground
from xor_lightning.core.task import GATES, XOR, binary_rows, build, linearly_separable
from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.checks import check_train_config
from xor_lightning.run.train import train

# Each gate's targets on the rows (a, b) = 00, 01, 10, 11, written out by hand.
GATE_TABLES = {
    "false": "0000", "and": "0001", "a_and_not_b": "0010", "a": "0011", "b_and_not_a": "0100", "b": "0101",
    "xor": "0110", "or": "0111", "nor": "1000", "xnor": "1001", "not_b": "1010", "b_implies_a": "1011",
    "not_a": "1100", "a_implies_b": "1101", "nand": "1110", "true": "1111",
}


@pytest.mark.parametrize("gate", GATE_TABLES)
def test_each_gate_by_name_has_its_truth_table(gate):
    task = build({"name": "table", "gate": gate})
    assert task.inputs.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert "".join(str(int(t)) for t in task.targets.tolist()) == GATE_TABLES[gate]
    assert task.linearly_separable == (gate not in ("xor", "xnor"))  # only these two are not


def test_gate_false_and_true_typed_on_a_command_line_are_the_gates():
    for typed, table in (("false", "0000"), ("true", "1111"), ("nand", "1110")):
        task = check_train_config_task(["data=table", f"data.gate={typed}"])
        assert "".join(str(int(t)) for t in task.targets.tolist()) == table


def check_train_config_task(overrides):
    from xor_lightning.run.checks import check_data

    cfg = compose_config("train", overrides)
    check_train_config(cfg)
    return check_data(cfg.data)


def test_the_gates_are_the_16_two_input_functions_and_targets_give_the_same_table():
    assert sorted(GATE_TABLES.values()) == sorted(format(i, "04b") for i in range(16)) and set(GATES) == set(GATE_TABLES)
    by_targets = build({"name": "table", "targets": [1, 1, 0, 1]})
    assert torch.equal(by_targets.targets, build({"name": "table", "gate": "a_implies_b"}).targets)


def test_parity_rows_count_in_binary_with_the_first_input_most_significant():
    task = build({"name": "parity", "bits": 3})
    assert task.inputs.tolist()[:3] == [[0, 0, 0], [0, 0, 1], [0, 1, 0]] and task.rows == 8
    assert task.targets.tolist() == [0, 1, 1, 0, 1, 0, 0, 1]
    two = build({"name": "parity", "bits": 2})  # XOR is 2-bit parity
    assert torch.equal(two.inputs, XOR.inputs) and torch.equal(two.targets, XOR.targets)
    assert not task.linearly_separable and not task.plane


def test_linear_separability_is_exact_on_small_tables():
    two = binary_rows(2)
    tables = [torch.tensor([float((i >> r) & 1) for r in range(4)]) for i in range(16)]
    assert sum(linearly_separable(two, t) for t in tables) == 14  # all but xor and xnor
    three = binary_rows(3)
    majority = (three.sum(1) >= 2).float()
    a_and_b_or_c = (three[:, 0] * torch.maximum(three[:, 1], three[:, 2]))  # needs weights 2, 1, 1
    assert linearly_separable(three, majority) and linearly_separable(three, a_and_b_or_c)
    assert not linearly_separable(three, three.sum(1) % 2)
    assert linearly_separable(binary_rows(6), binary_rows(6)[:, 0]) is None  # beyond 5 inputs: not known


@pytest.mark.parametrize("override, message", [
    ("data.bits=17", "data.bits=17 is not valid; expected an integer from 2 to 16"),
    ("data.bits=1", "data.bits=1 is not valid"),
])
def test_parity_bits_beyond_the_bound_are_refused_in_one_line(override, message):
    with pytest.raises(UserError) as err:
        check_train_config(compose_config("train", ["data=parity", override]))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("override, message", [
    ("data.targets=[0,1,1]", "data.targets has 3 values; expected a power of 2"),
    ("data.targets=[0,1,2,0]", "data.targets holds 2; expected a list of 2^n targets, each 0 or 1"),
    ("data.targets=[0,1,0.5,0]", "data.targets holds 0.5"),
    ("data.gate=maybe", "data.gate='maybe' is not valid; choose one of: false, and"),
    ("data.batch_size=5", "data.batch_size=5 is not valid; expected null (the whole table) or an integer from 1 to 4"),
])
def test_bad_tables_are_refused_in_one_line(override, message):
    extra = [] if override.startswith("data.targets") or override.startswith("data.gate") else ["data.gate=and"]
    with pytest.raises(UserError) as err:
        check_train_config(compose_config("train", ["data=table", override, *extra]))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_table_needs_a_gate_or_targets_and_refuses_a_foreign_key():
    for overrides, message in ((["data=table"], "data=table needs data.gate=NAME"),
                               (["data=table", "data.gate=and", "data.targets=[0,1,1,0]"], "data=table needs"),
                               (["data=parity", "+data.gate=and"], "data.gate is not an option of data=parity")):
        with pytest.raises(UserError, match=message):
            check_train_config(compose_config("train", overrides))


@pytest.mark.parametrize("override, message", [
    ("data.points=200000", "data.points=200000 is not valid; expected an even number from 4 to 100,000"),
    ("data.points=501", "data.points=501 is not valid; expected an even number"),
    ("data.noise=60", "data.noise=60 is not valid; expected a number from 0 to 50"),
    ("data.set=moons", "data.set='moons' is not valid; choose one of: xor, circle, gauss, spiral"),
    ("data.features=[x1,x3]", "data.features=['x1', 'x3'] is not valid"),
    ("data.test_fraction=1", "data.test_fraction=1 is not valid"),
    ("data.batch_size=251", "data.batch_size=251 is not valid; expected null (the whole table) or an integer from 1 to 250"),
])
def test_bad_point_sets_are_refused_in_one_line(override, message):
    with pytest.raises(UserError) as err:
        check_train_config(compose_config("train", ["data=playground", override]))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_point_set_has_a_fixed_training_and_test_part():
    task = build({"name": "playground", "set": "spiral", "seed": 7})
    again = build({"name": "playground", "set": "spiral", "seed": 7})
    assert task.rows == 250 and len(task.test_targets) == 250 and task.has_test and task.plane
    assert torch.equal(task.inputs, again.inputs) and torch.equal(task.test_targets, again.test_targets)
    assert not torch.equal(task.inputs, build({"name": "playground", "set": "spiral", "seed": 8}).inputs)
    features = build({"name": "playground", "set": "circle", "features": ["x1sq", "x2sq", "x1x2", "sin_x1"]})
    x, y = features.points[:, 0], features.points[:, 1]
    assert torch.allclose(features.inputs, torch.stack([x * x, y * y, x * y, torch.sin(x)], dim=1))
    assert task.solved_accuracy == 0.9 and task.solved(torch.tensor([[True] * 9 + [False]])).tolist() == [True]


def _radius(points):
    return [math.hypot(x, y) for x, y, _ in points]


def test_the_playground_generators_follow_dataset_ts():
    rng = random.Random(0)
    circle = playground.circle(2000, 0.0, rng)
    inside, outside = [p for p in circle if p[2] == 1], [p for p in circle if p[2] == 0]
    assert len(inside) == len(outside) == 1000  # no noise: every point keeps its ring's label
    assert max(_radius(inside)) < 2.5 and 3.5 <= min(_radius(outside)) and max(_radius(outside)) <= 5

    spiral = playground.spiral(1000, 0.0, rng)
    one, zero = spiral[:500], spiral[500:]
    assert [p[2] for p in one] == [1] * 500 and [p[2] for p in zero] == [0] * 500
    for i in (1, 137, 499):  # arm 0 turned by pi is arm 1: the same radius i/n*5, the opposite point
        r, t = i / 500 * 5, 1.75 * i / 500 * 2 * math.pi
        assert one[i][:2] == pytest.approx((r * math.sin(t), r * math.cos(t)))
        assert zero[i][:2] == pytest.approx((-one[i][0], -one[i][1]), abs=1e-9)

    gauss = playground.gauss(4000, 0.0, rng)
    ones = torch.tensor([p[:2] for p in gauss if p[2] == 1])
    assert len(ones) == 2000 and torch.allclose(ones.mean(0), torch.tensor([2.0, 2.0]), atol=0.1)
    assert ones.var(0).tolist() == pytest.approx([0.5, 0.5], rel=0.1)  # variance 0.5 at no noise, 4 at 50%
    wide = torch.tensor([p[:2] for p in playground.gauss(4000, 0.5, rng) if p[2] == 1])
    assert wide.var(0).tolist() == pytest.approx([4.0, 4.0], rel=0.1)

    xor = playground.xor(2000, 0.0, rng)
    assert all(abs(x) >= 0.3 and abs(y) >= 0.3 and label == (x * y >= 0) for x, y, label in xor)
    assert 0.45 < sum(p[2] for p in xor) / 2000 < 0.55
    noisy = playground.xor(2000, 0.5, random.Random(0))  # noise flips labels, the points stay where they are
    clean = playground.xor(2000, 0.0, random.Random(0))
    assert sum(n[2] != (n[0] * n[1] >= 0) for n in noisy) > 100
    assert [round(c[0], 6) for c in clean[:1]] == [round(n[0], 6) for n in noisy[:1]]


def test_a_checkpoint_without_a_task_is_xor_and_one_with_one_records_it(tmp_path):
    from xor_lightning.core.module import XORModule

    model = {"hidden": [3], "activation": "tanh", "init": "pytorch", "init_std": 1.0}
    old = XORModule(model, {"name": "bce_with_logits"}, {"_target_": "torch.optim.Adam", "lr": 0.1})
    assert old.task.name == "xor" and old.net.widths[0] == 2
    parity = XORModule(model, {"name": "bce_with_logits"}, {"_target_": "torch.optim.Adam", "lr": 0.1},
                       data={"name": "parity", "bits": 4})
    assert parity.net.widths[0] == 4 and parity.hparams.data == {"name": "parity", "bits": 4}


QUIET = ("visuals.images=false", "visuals.histograms=false", "visuals.report=false")
TASKS = {
    "parity_mini_batch": ["data=parity", "data.bits=3", "data.batch_size=3", "data.shuffle=true", "model.hidden=[4]"],
    "playground_spiral": ["data=playground", "data.set=spiral", "data.points=60", "data.noise=10",
                          "data.batch_size=10", "model.hidden=[4,2]", "model.activation=tanh"],
}


def _run(train_cfg, tmp_path, run_id: str, *overrides: str):
    metrics = train(train_cfg(*overrides, *QUIET, "trainer.max_epochs=60", "block_epochs=7", run_id=run_id))
    with open(tmp_path / "outputs" / run_id / "members.csv") as fh:
        rows = list(csv.DictReader(fh))
    module = load_checkpoint(metrics["best_checkpoint"])
    with torch.no_grad():
        probs = torch.sigmoid(module(module.task.inputs)).squeeze(-1)
    return rows, probs


@pytest.mark.slow  # 8 small runs, ~15 s on 2 cores
@pytest.mark.parametrize("overrides", TASKS.values(), ids=TASKS.keys())
def test_member_i_is_the_lone_run_of_seed_plus_i_on_other_tasks(train_cfg, tmp_path, overrides):
    pop_rows, pop_probs = _run(train_cfg, tmp_path, "pop", "seed=5", "seeds=3", *overrides)
    assert "test_accuracy" in pop_rows[0] or "parity" in overrides[0]
    for i in range(3):
        (lone_row,), lone_probs = _run(train_cfg, tmp_path, f"lone{i}", f"seed={5 + i}", "seeds=1", *overrides)
        for key in lone_row:
            if key not in ("member", "final_loss", "test_loss", "more_epochs"):
                assert pop_rows[i][key] == lone_row[key], (i, key)
        assert float(pop_rows[i]["final_loss"]) == pytest.approx(float(lone_row["final_loss"]), rel=1e-5, abs=1e-7)
        assert torch.allclose(pop_probs[i], lone_probs[0], atol=1e-5), i
