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
    for _ in range(100):
        for net, o in [(pop, opt), *zip(lone, lone_opts)]:
            o.zero_grad()
            member_losses("bce_with_logits", net(INPUTS), TARGETS).sum().backward()
            o.step()
    worst = max((p[i] - q[0]).abs().max().item() for i, net in enumerate(lone)
                for p, q in zip(pop.parameters(), net.parameters()))
    print(f"largest |member - lone| after 100 epochs: {worst:.3g}")
    assert worst <= 1e-6
