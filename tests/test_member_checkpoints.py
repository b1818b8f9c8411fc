"""A population with a member table (issue 22): its own ends, budgets and batch orders, the table in
its checkpoints (reloaded to the same predictions, evaluated, resumed), a tampered table refused in
one line, and members.csv's columns of what differs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from tests.helpers import compose_config
from xor_lightning.base.errors import UserError
from xor_lightning.core.block import LoopPlan
from xor_lightning.core.data import TruthTableDataModule
from xor_lightning.core.members import MemberTable, budget_union
from xor_lightning.core.task import XOR

pytestmark = pytest.mark.usefixtures("one_torch_thread")

QUIET = ("visuals.images=false", "visuals.histograms=false", "visuals.report=false", "torch_threads=1")
MODEL = {"hidden": [4], "activation": "tanh", "init": "normal", "init_std": 1.0}
SGD = {"_target_": "torch.optim.SGD", "lr": 0.5, "momentum": 0.9}
ADAM = {"_target_": "torch.optim.Adam", "lr": 0.05}
LOSS = {"name": "bce_with_logits", "input": "logits"}


def _table() -> MemberTable:
    return MemberTable.concat([
        MemberTable.uniform(3, 2, MODEL, SGD, LOSS, margin=0.4, max_epochs=30, budgets=[10, 30]),
        MemberTable.uniform(7, 1, {**MODEL, "activation": "relu"}, ADAM, {"name": "mse", "input": "probabilities"},
                            margin=0.4, max_epochs=17, budgets=[10]),
    ])


def test_blocks_end_at_each_members_own_max_epochs():
    plan = LoopPlan(max_epochs=30, block_epochs=10, ends=(17, 30))
    ends, first = [], 0
    while first < plan.max_epochs:
        first = plan.block_end(first)
        ends.append(first)
    assert ends == [10, 17, 27, 30]


def test_budgets_and_ends_of_members_with_their_own():
    table = _table()
    assert table.ends(99).tolist() == [30, 30, 17]
    union, own = budget_union([5], table)  # the table's own budgets replace the run's
    assert union == (10, 30) and own.tolist() == [[True, True, True], [True, True, False]]
    assert budget_union([5, 5, 2], None) == ((2, 5), None)
    shown = table.differing()
    assert shown["optimizer"] == ["sgd", "sgd", "adam"] and shown["max_epochs"] == [30, 30, 17]
    assert shown["loss"][2] == "mse(input=probabilities)" and "init_std" not in shown  # the same for all


def test_shuffled_orders_come_from_the_members_own_seeds():
    data = TruthTableDataModule(XOR, 1, shuffle=True, seed=0, members=3)
    seeds = torch.tensor([3, 4, 7])
    for epoch in range(20):
        order = data.epoch_rows(epoch, seeds)
        for i, s in enumerate(seeds.tolist()):
            alone = TruthTableDataModule(XOR, 1, shuffle=True, seed=s, members=1)
            assert torch.equal(order[i], alone.epoch_rows(epoch)[0])
    assert torch.equal(data.epoch_rows(5), data.epoch_rows(5, torch.arange(3)))  # seed + i by default


def _train_packed(train_cfg, monkeypatch, *extra: str, run_id: str = "packed"):
    import xor_lightning.run.train as run_train

    table, build = _table(), run_train.build_module

    def with_members(cfg, loop=None):
        module = build(cfg, loop)
        return type(module)(**{**module.hparams, "members": table.to_lists()}, loop=module.loop)

    monkeypatch.setattr(run_train, "build_module", with_members)
    cfg = train_cfg("seed=3", "seeds=3", "model.hidden=[4]", "model.init=normal", "trainer.max_epochs=30",
                    "block_epochs=8", *QUIET, *extra, run_id=run_id)
    return cfg, run_train.train(cfg)


def test_a_checkpoint_with_members_reloads_evaluates_and_refuses_a_tampered_table(train_cfg, monkeypatch, tmp_path):
    from xor_lightning.core.evaluation import evaluate_module
    from xor_lightning.run.checkpoints import load_checkpoint
    from xor_lightning.run.evaluate import evaluate

    cfg, metrics = _train_packed(train_cfg, monkeypatch)
    with open(Path(cfg.paths.output_dir) / "members.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["seed"] for r in rows] == ["3", "4", "7"] and [r["epochs_trained"] for r in rows][2] == "17"
    assert [r["optimizer"] for r in rows] == ["sgd", "sgd", "adam"] and rows[2]["right_at_30"] == ""
    best = load_checkpoint(metrics["best_checkpoint"])
    assert best.members is not None and str(best.members.to_lists()) == str(_table().to_lists())  # NaN: str compares it
    ev = evaluate_module(best)
    assert [int(s) for s in ev.solved.tolist()] == [int(r["solved"]) for r in rows]
    assert [f"{v:.6g}" for v in ev.losses.tolist()] == [r["final_loss"] for r in rows]  # the same predictions
    from xor_lightning.views.tables import summary_lines

    lines = summary_lines(ev, member=2)
    assert "3 members with seeds and settings of their own" in lines[0] and "member 2 (seed 7)" in "\n".join(lines)
    summary = evaluate(compose_config("evaluate", [f"checkpoint={metrics['best_checkpoint']}"]))
    assert summary["solved"] == metrics["solved"]

    tampered = [
        (lambda m: m["numbers"]["lr"].__setitem__(0, -1.0), "optimizer.lr=-1.0 is not valid"),
        (lambda m: m["choices"]["optimizer"].__setitem__(0, "os.system"), "members.choices.optimizer holds 'os.system'"),
        (lambda m: m["choices"]["activation"].__setitem__(0, "evil"), "members.choices.activation holds 'evil'"),
        (lambda m: m["groups"]["loss"].__setitem__(1, 9), "members.groups.loss is not 3 indices"),
        (lambda m: m["seed"].pop(), "members.seed is not 3 integers"),
        (lambda m: m["numbers"].__setitem__("evil", [1.0] * 3), "members.numbers.evil is not a per-member number"),
        (lambda m: m["choices"]["loss"].__setitem__(0, '{"name": "mystery"}'), "loss.name='mystery' is not valid"),
        (lambda m: m["choices"]["budgets"].__setitem__(1, "[10, 99]"), "budgets=[10, 99]: 99 is beyond"),
        (lambda m: m["numbers"]["max_epochs"].__setitem__(2, 0.5), "trainer.max_epochs=0.5 is not valid"),
        (lambda m: m["numbers"]["nesterov"].__setitem__(0, 0.5), "members.numbers.nesterov is not 3 true/false"),
    ]
    for i, (change, message) in enumerate(tampered):
        ckpt = torch.load(metrics["best_checkpoint"], weights_only=True)
        change(ckpt["hyper_parameters"]["members"])
        path = tmp_path / f"tampered{i}.ckpt"
        torch.save(ckpt, path)
        with pytest.raises(UserError) as refused:
            load_checkpoint(path)
        text = str(refused.value)
        assert text.startswith(f"checkpoint={path}: ") and message in text and "\n" not in text, text


def test_a_run_with_members_resumes_as_if_it_had_not_stopped(train_cfg, monkeypatch):
    from xor_lightning.run.checkpoints import load_checkpoint, read_checkpoint

    _, whole = _train_packed(train_cfg, monkeypatch, run_id="whole")
    _, first = _train_packed(train_cfg, monkeypatch, "trainer.max_epochs=20", run_id="part")
    _, resumed = _train_packed(train_cfg, monkeypatch, f"ckpt_path={first['last_checkpoint']}", run_id="part")
    a, b = load_checkpoint(whole["last_checkpoint"]), load_checkpoint(resumed["last_checkpoint"])
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert name == "best_version" or torch.equal(x, y), name  # (a count of blocks; the interruption adds one)
    opt_a, opt_b = (read_checkpoint(m["last_checkpoint"])["optimizer_states"][0]["state"] for m in (whole, resumed))
    for index, entry in opt_a.items():  # member 2 (own max_epochs 17) was held before the interruption at 20
        assert all(torch.equal(value, opt_b[index][name]) for name, value in entry.items()), index
    assert resumed["solved"] == whole["solved"] and resumed["epochs_trained"] == whole["epochs_trained"] == 30
    assert resumed["epochs_this_process"] == 10
    monkeypatch.undo()  # a run without the table cannot continue one with it
    import xor_lightning.run.train as run_train

    cfg = train_cfg("seed=3", "seeds=3", "model.hidden=[4]", "model.init=normal", "trainer.max_epochs=40",
                    "block_epochs=8", *QUIET, f"ckpt_path={resumed['last_checkpoint']}", run_id="part")
    with pytest.raises(UserError, match="this checkpoint's members differ from this run's"):
        run_train.train(cfg)


def test_a_checkpoint_older_than_per_member_trails_loads(train_cfg):
    from xor_lightning.core.module import XORModule

    module = XORModule(MODEL | {"output_init_std": None, "init_bound": 1.0}, LOSS, SGD, seeds=3)
    state = module.state_dict()
    state["facts.trail_epoch"] = torch.arange(8)  # one trail for all members, as before
    module.on_load_checkpoint({"state_dict": state})
    module.load_state_dict(state)
    assert module.facts.trail_epoch.shape == (8, 3) and module.facts.trail_epoch[:, 2].tolist() == list(range(8))


def test_a_jobs_cut_of_the_population_is_its_own_runs_state(train_cfg, monkeypatch):
    """Job A (seeds 3 and 4, SGD with momentum, 30 epochs, budgets 10 and 30) packed with job B: its
    share of the packed last.ckpt (core/job_state.py) is what job A alone writes, held optimizer
    state of members that stopped early included."""
    from xor_lightning.core.diagnosis import diagnose
    from xor_lightning.core.evaluation import evaluate_module
    from xor_lightning.core.job_state import job_end, job_optimizer_state, job_state
    from xor_lightning.run.checkpoints import load_checkpoint, read_checkpoint
    from xor_lightning.run.outputs import members_csv
    from xor_lightning.run.train import train

    alone = train(train_cfg("seed=3", "seeds=2", "model.hidden=[4]", "model.init=normal", "trainer.max_epochs=30",
                            "block_epochs=8", "optimizer=sgd", "optimizer.lr=0.5", "optimizer.momentum=0.9",
                            "loss=bce_with_logits", "budgets=[10,30]", *QUIET, run_id="alone"))
    _, packed = _train_packed(train_cfg, monkeypatch)
    mine, theirs = read_checkpoint(packed["last_checkpoint"]), read_checkpoint(alone["last_checkpoint"])
    module = load_checkpoint(packed["last_checkpoint"])
    end = job_end(module.facts.trained(int(module.epochs_done)), slice(0, 2))
    assert end == alone["epochs_trained"]
    assert 0 < int(module.facts.stopped_at[:2].max()) < end  # one stopped early: its optimizer state was held
    cut = job_state(mine["state_dict"], slice(0, 2), [0, 1], end)
    assert set(cut) == set(theirs["state_dict"])
    for name, value in theirs["state_dict"].items():
        if name != "best_version":  # a count of the population's blocks, not a fact of a member
            assert torch.equal(cut[name].nan_to_num(), value.nan_to_num()), name
    # its evaluation and diagnosis: members.csv and the summary as job A alone wrote them
    best = evaluate_module(load_checkpoint(packed["best_checkpoint"]), module.facts, int(module.epochs_done))
    own = best.take(slice(0, 2), [0, 1])
    text = members_csv(own, diagnose(module, best.solved, best.diverged).take(slice(0, 2)))
    assert text == (Path(alone["log_dir"]).parents[1] / "outputs" / "alone" / "members.csv").read_text()
    summary = own.summary()
    assert {k: alone[k] for k in summary} == summary
    opt = job_optimizer_state(mine["optimizer_states"][0], slice(0, 2), parts=2, part=0, steps=end)
    assert opt["state"].keys() == theirs["optimizer_states"][0]["state"].keys()
    for index, entry in theirs["optimizer_states"][0]["state"].items():
        for name, value in entry.items():
            assert torch.equal(opt["state"][index][name], value), (index, name)
