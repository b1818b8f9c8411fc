"""The population optimizer (core/optim.py): each member of a stacked population, with its own
hyperparameters, is bit for bit what torch.optim computes for that member's parameters alone; its
state is torch.optim's (names, shapes, dtypes), so checkpoints save, load and resume exactly."""

from __future__ import annotations

import copy
import io

import pytest
import torch

from xor_lightning.core.optim import OPTIMIZERS, PopulationOptimizer, make_optimizer, member_values

SHAPES = [(2, 3), (3,), (3, 1), (1,)]  # a 2-3-1 network's weights and biases, per member
STEPS = 100
# Per rule, one member per entry, each with its own arguments (flags mixed within one population).
MEMBERS = {
    "torch.optim.SGD": [dict(lr=0.1), dict(lr=0.03, momentum=0.9), dict(lr=0.2, momentum=0.5, dampening=0.3, weight_decay=0.01),
                        dict(lr=0.05, momentum=0.9, nesterov=True), dict(lr=0.07, maximize=True)],
    "torch.optim.Adam": [dict(lr=0.05), dict(lr=0.01, betas=(0.8, 0.99)), dict(lr=0.02, amsgrad=True, weight_decay=0.1),
                         dict(lr=0.03, eps=1e-3, decoupled_weight_decay=True, weight_decay=0.2)],
    "torch.optim.AdamW": [dict(lr=0.05), dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1), dict(lr=0.02, amsgrad=True)],
    "torch.optim.Adamax": [dict(lr=0.002), dict(lr=0.05, betas=(0.7, 0.9), weight_decay=0.01)],
    "torch.optim.RMSprop": [dict(lr=0.01), dict(lr=0.003, alpha=0.9, momentum=0.8), dict(lr=0.02, centered=True),
                            dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.01)],
    "torch.optim.Adagrad": [dict(lr=0.1), dict(lr=0.3, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01)],
    "torch.optim.Adadelta": [dict(lr=1.0), dict(lr=3.0, rho=0.8, eps=1e-5, weight_decay=0.01)],
    "torch.optim.ASGD": [dict(lr=0.01), dict(lr=0.2, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.01)],
    "torch.optim.Rprop": [dict(lr=0.01), dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-4, 1.0))],
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors (tests/conftest.py)


def gradient(p: torch.Tensor) -> torch.Tensor:
    """An elementwise gradient (a double well) from correctly rounded ops only: the same bits for a
    member's slice of a stacked tensor as for its own tensor, so only the optimizers are compared."""
    return (p * p - 1) * p * 0.5 + 0.1


def start(members: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(members, *s, generator=g) for s in SHAPES]


def population(target: str, members: list[dict], init: list[torch.Tensor]) -> tuple[list, PopulationOptimizer]:
    params = [torch.nn.Parameter(t.clone()) for t in init]
    values = [member_values(target, m) for m in members]
    hyper = {name: [v[name] for v in values] for name in values[0]}
    return params, make_optimizer({"_target_": target, "_partial_": True, **members[0]}, params, hyper)


def steps(params: list[torch.Tensor], opt: torch.optim.Optimizer, n: int) -> None:
    for _ in range(n):
        for p in params:
            p.grad = gradient(p.detach())
        opt.step()


def test_every_offered_optimizer_has_a_case():
    assert set(MEMBERS) == set(OPTIMIZERS)


@pytest.mark.parametrize("n", [STEPS, pytest.param(1000, marks=pytest.mark.slow)])
@pytest.mark.parametrize("target", MEMBERS)
def test_each_member_is_torch_optim_alone_bit_for_bit(target, n):
    members = MEMBERS[target]
    init = start(len(members))
    params, opt = population(target, members, init)
    steps(params, opt, n)
    cls = getattr(torch.optim, target.rsplit(".", 1)[1])
    for k, args in enumerate(members):
        lone = [torch.nn.Parameter(t[k].clone()) for t in init]
        steps(lone, cls(lone, foreach=False, **args), n)
        for mine, theirs in zip(params, lone):
            assert torch.equal(mine[k], theirs), f"{target} member {k} ({args}) differs from torch.optim"


@pytest.mark.parametrize("target", MEMBERS)
def test_state_is_torch_optims_and_a_torch_state_resumes_exactly(target):
    """A uniform config's state_dict has torch.optim's layout (ASGD: eta and mu one per member), and
    a torch.optim state (a checkpoint from before the population optimizer) continues bit for bit."""
    args = MEMBERS[target][-1]
    init = start(3)
    cls = getattr(torch.optim, target.rsplit(".", 1)[1])
    theirs = [torch.nn.Parameter(t.clone()) for t in init]
    torch_opt = cls(theirs, foreach=False, **args)
    steps(theirs, torch_opt, 20)
    mine = [torch.nn.Parameter(t.detach().clone()) for t in theirs]
    opt = make_optimizer({"_target_": target, **args}, mine)
    steps(mine, opt, 1)
    want, got = torch_opt.state_dict()["state"], opt.state_dict()["state"]
    assert set(got) == set(want)
    for index, entry in want.items():
        assert set(got[index]) == set(entry)
        for name, value in entry.items():
            shape = (3,) if target == "torch.optim.ASGD" and name in ("eta", "mu") else value.shape
            assert got[index][name].shape == shape and got[index][name].dtype == value.dtype, (index, name)
    if target == "torch.optim.ASGD":
        return  # its per-member eta/mu are not torch's one number
    for p, q in zip(mine, theirs):
        p.data.copy_(q.data)
    opt.load_state_dict(copy.deepcopy(torch_opt.state_dict()))  # as read from a file: no shared tensors
    steps(mine, opt, 30)
    steps(theirs, torch_opt, 30)
    assert all(torch.equal(p, q) for p, q in zip(mine, theirs))


@pytest.mark.parametrize("target", MEMBERS)
def test_saved_and_loaded_state_continues_bit_identically(target):
    members = MEMBERS[target]
    init = start(len(members), seed=1)
    whole, opt = population(target, members, init)
    steps(whole, opt, 60)
    first, opt_a = population(target, members, init)
    steps(first, opt_a, 25)
    buffer = io.BytesIO()
    torch.save(opt_a.state_dict(), buffer)
    buffer.seek(0)
    resumed = [torch.nn.Parameter(p.detach().clone()) for p in first]
    _, opt_b = population(target, members, init)
    opt_b = type(opt_b)(resumed, opt_b.target, opt_b.defaults, opt_b.hyper)
    opt_b.load_state_dict(torch.load(buffer, weights_only=True))
    steps(resumed, opt_b, 35)
    assert all(torch.equal(p, q) for p, q in zip(whole, resumed))


def test_hyperparameters_are_one_float64_per_member():
    params = [torch.nn.Parameter(t) for t in start(5)]
    opt = make_optimizer({"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.05, "betas": [0.9, 0.99]}, params,
                         {"lr": [0.1, 0.2, 0.3, 0.4, 0.5]})
    assert opt.hyper["lr"].tolist() == [0.1, 0.2, 0.3, 0.4, 0.5] and opt.hyper["beta2"].tolist() == [0.99] * 5
    assert opt.hyper["lr"].dtype == torch.float64 and opt.hyper["amsgrad"].dtype == torch.bool
    with pytest.raises(ValueError, match="lr: \\[2\\] values for 5 members"):
        make_optimizer({"_target_": "torch.optim.Adam", "lr": 0.05}, params, {"lr": [0.1, 0.2]})


MIXED = [("torch.optim.SGD", dict(lr=0.1)), ("torch.optim.SGD", dict(lr=0.05, momentum=0.9)),
         ("torch.optim.Adam", dict(lr=0.02, amsgrad=True)), ("torch.optim.Adam", dict(lr=0.05)),
         ("torch.optim.ASGD", dict(lr=0.1, t0=3)), ("torch.optim.Rprop", dict(lr=0.01))]


def mixed(init: list[torch.Tensor]) -> tuple[list, PopulationOptimizer]:
    """One optimizer whose members use different rules: each run of one rule is a part."""
    params = [torch.nn.Parameter(t.clone()) for t in init]
    parts, k = [], 0
    while k < len(MIXED):
        end = k
        while end < len(MIXED) and MIXED[end][0] == MIXED[k][0]:
            end += 1
        values = [member_values(MIXED[k][0], a) for _, a in MIXED[k:end]]
        parts.append((MIXED[k][0], MIXED[k][1], {n: [v[n] for v in values] for n in values[0]}, slice(k, end)))
        k = end
    return params, PopulationOptimizer(params, "torch.optim.SGD", {"lr": 0.1}, parts=parts)


def test_members_with_different_rules_are_each_torch_optim_alone():
    init = start(len(MIXED), seed=2)
    params, opt = mixed(init)
    steps(params, opt, STEPS)
    for k, (target, args) in enumerate(MIXED):
        lone = [torch.nn.Parameter(t[k].clone()) for t in init]
        steps(lone, getattr(torch.optim, target.rsplit(".", 1)[1])(lone, foreach=False, **args), STEPS)
        assert all(torch.equal(mine[k], theirs) for mine, theirs in zip(params, lone)), (target, args)
    state = opt.state_dict()["state"][0]
    assert {"1.exp_avg", "1.max_exp_avg_sq", "0.momentum_buffer", "2.eta", "3.step_size"} <= set(state)
    assert state["1.exp_avg"].shape == params[0].shape and state["2.eta"].shape == (len(MIXED),)  # full size


def test_a_mixed_optimizers_state_reloads_and_continues_bit_identically():
    init = start(len(MIXED), seed=3)
    whole, opt = mixed(init)
    steps(whole, opt, 40)
    first, opt_a = mixed(init)
    steps(first, opt_a, 15)
    saved = copy.deepcopy(opt_a.state_dict())
    resumed, opt_b = mixed([p.detach() for p in first])
    opt_b.load_state_dict(saved)
    steps(resumed, opt_b, 25)
    assert all(torch.equal(p, q) for p, q in zip(whole, resumed))


RUNS = {"adam": ["optimizer=adam"], "sgd_nesterov": ["optimizer=sgd", "optimizer.momentum=0.9", "optimizer.nesterov=true"]}


@pytest.mark.parametrize("optimizer", RUNS.values(), ids=RUNS.keys())
def test_a_run_trains_exactly_as_torch_optim_in_a_plain_loop(train_cfg, optimizer):
    """The app's run (the block loop, its population optimizer) ends on the very weights that
    torch.optim gives the same population in a plain PyTorch loop."""
    from omegaconf import OmegaConf

    from xor_lightning.core.data import INPUTS, TARGETS
    from xor_lightning.core.losses import member_losses
    from xor_lightning.core.nets import Population
    from xor_lightning.run.checkpoints import load_checkpoint
    from xor_lightning.run.train import train

    epochs = 60
    cfg = train_cfg("seed=4", "seeds=3", "model.hidden=[3]", "early_stop.enabled=false", f"trainer.max_epochs={epochs}",
                    "visuals.images=false", "visuals.histograms=false", "visuals.report=false", *optimizer)
    trained = load_checkpoint(train(cfg)["last_checkpoint"]).net
    args = {k: v for k, v in OmegaConf.to_container(cfg.optimizer).items() if not k.startswith("_")}
    pop = Population(3, [3], "tanh", seed=4)
    opt = getattr(torch.optim, cfg.optimizer._target_.rsplit(".", 1)[1])(pop.parameters(), **args)
    for _ in range(epochs):
        opt.zero_grad(set_to_none=True)
        member_losses("bce_with_logits", pop(INPUTS), TARGETS).sum().backward()
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(trained.parameters(), pop.parameters()))
