"""The member table (core/members.py): a uniform run is one group; a grid's jobs concatenate; a
population whose members differ in seed, init scale and optimizer arguments trains each member as
its own lone network (Population + member_losses + torch.optim, seeded alone)."""

from __future__ import annotations

import pytest
import torch

from xor_lightning.core.data import INPUTS, TARGETS
from xor_lightning.core.losses import member_losses
from xor_lightning.core.members import MemberTable
from xor_lightning.core.nets import Population
from xor_lightning.core.optim import make_optimizer

MODEL = {"hidden": [4], "activation": "tanh", "init": "normal", "init_std": 1.0, "output_init_std": None, "init_bound": 1.0}
SGD = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1, "momentum": 0.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors (tests/conftest.py)


def test_a_uniform_run_is_one_group_seeded_seed_plus_i():
    table = MemberTable.uniform(7, 3, MODEL, SGD, {"name": "bce_with_logits"})
    assert table.seed.tolist() == [7, 8, 9] and table.numbers["lr"].tolist() == [0.1] * 3
    assert table.model_number("output_init_std") == [None] * 3
    assert table.slices("optimizer") == [("torch.optim.SGD", slice(0, 3))]
    assert str(MemberTable.from_lists(table.to_lists()).to_lists()) == str(table.to_lists())  # NaN: str compares it


def test_jobs_concatenate_with_their_own_numbers_and_choices():
    adam = {"_target_": "torch.optim.Adam", "lr": 0.05}
    jobs = [MemberTable.uniform(0, 2, MODEL, SGD), MemberTable.uniform(0, 2, {**MODEL, "activation": "relu"}, adam),
            MemberTable.uniform(5, 1, MODEL, {**SGD, "lr": 0.3})]
    table = MemberTable.concat(jobs)
    assert table.seed.tolist() == [0, 1, 0, 1, 5]
    assert table.choices["optimizer"] == ["torch.optim.SGD", "torch.optim.Adam"]
    assert table.groups["activation"].tolist() == [0, 0, 1, 1, 0]
    assert table.slices("optimizer") == [("torch.optim.SGD", slice(0, 2)), ("torch.optim.Adam", slice(2, 4)),
                                         ("torch.optim.SGD", slice(4, 5))]
    assert table.members_of("activation", "relu").tolist() == [2, 3]
    hyper = table.optimizer_hyper("torch.optim.SGD")  # Adam's members lack momentum: SGD's default
    assert hyper["lr"].tolist() == [0.1, 0.1, 0.05, 0.05, 0.3] and hyper["momentum"].tolist() == [0.0] * 5
    assert torch.isnan(table.numbers["beta1"][:2]).all() and table.numbers["beta1"][2].item() == 0.9


def test_from_lists_refuses_a_table_of_another_shape():
    data = MemberTable.uniform(0, 3, MODEL, SGD).to_lists()
    data["numbers"]["lr"] = [0.1]
    with pytest.raises(ValueError, match="lr does not have one valid value per member"):
        MemberTable.from_lists(data)
    data = MemberTable.uniform(0, 3, MODEL, SGD).to_lists()
    data["groups"]["activation"] = [0, 0, 4]
    with pytest.raises(ValueError, match="activation"):
        MemberTable.from_lists(data)


def test_members_with_their_own_seed_scale_and_optimizer_arguments_train_as_alone():
    grid = [(3, 0.5, 0.1, 0.0), (3, 2.0, 0.1, 0.9), (11, 1.0, 0.5, 0.5), (0, 1.0, 0.02, 0.9)]  # seed, init_std, lr, momentum
    table = MemberTable.concat([MemberTable.uniform(s, 1, {**MODEL, "init_std": std}, {**SGD, "lr": lr, "momentum": m})
                                for s, std, lr, m in grid])
    pop = Population(len(grid), [4], "tanh", "normal", per_member={
        "seed": table.seed.tolist(), "init_std": table.model_number("init_std")})
    opt = make_optimizer(SGD, pop.parameters(), table.optimizer_hyper("torch.optim.SGD"))
    lone = [Population(1, [4], "tanh", "normal", std, seed=s) for s, std, _, _ in grid]
    lone_opts = [torch.optim.SGD(net.parameters(), lr=lr, momentum=m) for net, (_, _, lr, m) in zip(lone, grid)]
    for _ in range(50):
        for net, o in [(pop, opt), *zip(lone, lone_opts)]:
            o.zero_grad()
            member_losses("bce_with_logits", net(INPUTS), TARGETS).sum().backward()
            o.step()
    worst = max((p[i] - q[0]).abs().max().item() for i, net in enumerate(lone)
                for p, q in zip(pop.parameters(), net.parameters()))
    print(f"largest |member - lone| after 50 epochs: {worst:.3g}")
    assert worst <= 1e-6


# Six jobs of a grid (seed, init_std, optimizer, activation, init, loss, early-stop margin): one population,
# each member as its lone run.
JOBS = [(3, 1.0, ["optimizer=adam", "optimizer.lr=0.05"]),
        (3, 2.0, ["optimizer=sgd", "optimizer.lr=0.5", "optimizer.momentum=0.9", "early_stop.margin=0.2"]),
        (3, 1.0, ["optimizer=adam", "optimizer.lr=0.05", "early_stop.margin=0.45"]),
        (8, 0.5, ["optimizer=adam", "optimizer.lr=0.02", "optimizer.betas=[0.8,0.99]"]),
        (5, 1.0, ["optimizer=adam", "model.activation=relu", "loss=mse"]),
        (6, 1.0, ["optimizer=sgd", "optimizer.lr=0.5", "model.activation=sigmoid", "model.init=xavier_uniform",
                  "loss=bce_with_logits", "loss.input=probabilities"])]
COMMON = ("model.hidden=[4]", "model.init=normal", "trainer.max_epochs=150", "block_epochs=7",
          "visuals.images=false", "visuals.histograms=false", "visuals.report=false")


@pytest.mark.slow  # six train() runs, ~5 s
def test_a_module_whose_members_differ_trains_each_as_its_lone_run(train_cfg, monkeypatch):
    from omegaconf import OmegaConf

    import xor_lightning.run.train as run_train
    from xor_lightning.run.checkpoints import load_checkpoint

    def cfg_of(seed, std, opt, seeds=1, run_id="x"):
        return train_cfg(*COMMON, f"seed={seed}", f"seeds={seeds}", f"model.init_std={std}", *opt, run_id=run_id)

    lone = []
    for i, (seed, std, opt) in enumerate(JOBS):
        lone.append(load_checkpoint(run_train.train(cfg_of(seed, std, opt, run_id=f"lone{i}"))["last_checkpoint"]))
    jobs = [cfg_of(seed, std, opt) for seed, std, opt in JOBS]
    table = MemberTable.concat([MemberTable.uniform(c.seed, 1, OmegaConf.to_container(c.model),
                                                    OmegaConf.to_container(c.optimizer), OmegaConf.to_container(c.loss),
                                                    margin=c.early_stop.margin)
                                for c in jobs])
    build = run_train.build_module

    def with_members(cfg, loop=None):
        module = build(cfg, loop)
        return type(module)(**{**module.hparams, "members": table.to_lists()}, loop=module.loop)

    monkeypatch.setattr(run_train, "build_module", with_members)
    packed_cfg = cfg_of(*JOBS[0][:2], JOBS[0][2], seeds=len(JOBS), run_id="packed")
    packed = load_checkpoint(run_train.train(packed_cfg)["last_checkpoint"])
    mine, theirs = packed.state_dict(), [m.state_dict() for m in lone]
    compared = 0
    for name, value in mine.items():
        if value.dim() and value.shape[0] == len(JOBS) and (name.startswith("net.") or name.startswith("facts.")):
            for i in range(len(JOBS)):
                assert torch.equal(value[i], theirs[i][name][0]), (name, i)
            compared += 1
    assert compared > 8  # the weights and every per-member fact (first solved, best epoch, stop, ...)
    assert len({int(packed.facts.stopped_at[i]) for i in range(len(JOBS))}) > 1  # each stopped at its own epoch


def test_members_with_their_own_activation_are_evaluated_alone_and_as_a_subset():
    table = MemberTable.concat([MemberTable.uniform(s, 2, {**MODEL, "activation": a}, SGD)
                                for s, a in ((0, "tanh"), (2, "relu"), (4, "sigmoid"))])
    pop = Population(6, [4], "tanh", "normal", per_member=table.population_columns())
    whole = pop(INPUTS)
    for i, (s, a) in enumerate(((0, "tanh"), (0, "tanh"), (2, "relu"), (2, "relu"), (4, "sigmoid"), (4, "sigmoid"))):
        alone = Population(1, [4], a, "normal", seed=s + i % 2)
        assert all(torch.equal(p[i], q[0]) for p, q in zip(pop.parameters(), alone.parameters()))
        # To float32 rounding: torch's sigmoid rounds a row of a [K, ...] tensor and of a [1, ...] one
        # differently in the last bit (a uniform population of sigmoid members does the same).
        assert (whole[i] - alone(INPUTS)[0]).abs().max() <= 1e-6
    assert (pop(INPUTS, only=[5, 0, 3]) - whole[[5, 0, 3]]).abs().max() <= 1e-6
