"""Seed 001's whole configuration space (issue 21): every activation, loss and optimizer the forum
thread's sweep imports trains a lone member exactly as the thread's plain loop
``nn.Sequential(nn.Linear(2, 5), Act(), nn.Linear(5, 1), nn.Sigmoid())`` + ``Criterion()`` +
``Optimizer(params, lr=)`` with ``zero_grad`` each epoch, from the same initial weights."""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn

from tests.helpers import REPO
from xor_lightning.core.data import INPUTS, TARGETS
from xor_lightning.core.module import XORModule, make_optimizer
from xor_lightning.core.task import XOR

# The thread's nn.Softmax() without dim, and KLDivLoss's 'mean', warn; we build them as the thread does.
pytestmark = pytest.mark.filterwarnings("ignore:Implicit dimension choice", "ignore:reduction. 'mean' divides")
EPOCHS = 20
LR = 0.03  # the thread's learning rate
ACTIVATIONS = {"relu6": nn.ReLU6, "hardtanh": nn.Hardtanh, "logsigmoid": nn.LogSigmoid, "softshrink": nn.Softshrink,
               "tanhshrink": nn.Tanhshrink, "softmin": nn.Softmin, "softmax": nn.Softmax, "log_softmax": nn.LogSoftmax}
LOSSES = {"poisson_nll": nn.PoissonNLLLoss, "kl_div": nn.KLDivLoss, "hinge_embedding": nn.HingeEmbeddingLoss,
          "soft_margin": nn.SoftMarginLoss, "multilabel_soft_margin": nn.MultiLabelSoftMarginLoss,
          "bce_with_logits": nn.BCEWithLogitsLoss}  # the last after the thread's nn.Sigmoid(): a sigmoid twice
OPTIMIZERS = {"adadelta": torch.optim.Adadelta, "adamax": torch.optim.Adamax, "asgd": torch.optim.ASGD,
              "rprop": torch.optim.Rprop}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors (tests/conftest.py)


def _group(group: str, name: str) -> dict:
    return yaml.safe_load((REPO / "configs" / group / f"{name}.yaml").read_text())


def _compare(activation: str, act: type, loss: str, criterion: type, optimizer: str, optim: type, seed: int = 3) -> float:
    """Max |ours - thread's| over every parameter after each of the first EPOCHS epochs."""
    model = {"hidden": [5], "activation": activation, "init": "pytorch", "init_std": 1.0}
    spec = {**_group("optimizer", optimizer), "lr": LR}
    loss_cfg = {**_group("loss", loss), "input": "probabilities"}  # the thread feeds every criterion the sigmoid's output
    ours = XORModule(model, loss_cfg, spec, seed=seed, seeds=1)
    opt = make_optimizer(spec, ours.net.parameters())
    thread = nn.Sequential(nn.Linear(2, 5), act(), nn.Linear(5, 1), nn.Sigmoid())
    thread.load_state_dict(ours.net.member_state(0), strict=False)  # the same initial weights
    crit, thread_opt = criterion(), optim(thread.parameters(), lr=LR)
    worst = 0.0
    for _ in range(EPOCHS):
        opt.zero_grad()
        ours.losses(INPUTS, TARGETS)[1].sum().backward()
        opt.step()
        thread_opt.zero_grad()
        crit(thread(INPUTS), TARGETS).backward()
        thread_opt.step()
        for name, tensor in ours.net.member_state(0).items():
            worst = max(worst, (tensor - thread.state_dict()[name]).abs().max().item())
    return worst


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_each_new_activation_trains_as_the_threads_loop(activation):
    assert _compare(activation, ACTIVATIONS[activation], "mse", nn.MSELoss, "sgd", torch.optim.SGD) < 1e-6


@pytest.mark.parametrize("loss", LOSSES)
def test_each_new_loss_trains_as_the_threads_loop(loss):
    assert _compare("relu", nn.ReLU, loss, LOSSES[loss], "sgd", torch.optim.SGD) < 1e-6


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_each_new_optimizer_trains_as_the_threads_loop_with_torchs_defaults(optimizer):
    assert _compare("tanh", nn.Tanh, "mse", nn.MSELoss, optimizer, OPTIMIZERS[optimizer]) < 1e-6


def test_the_softmax_family_acts_over_a_layers_units():
    from xor_lightning.core.nets import Population

    pop = Population(3, [5], "softmax", seed=0)
    hidden = pop(INPUTS, upto=0)  # [members, rows, units]
    assert torch.allclose(hidden.sum(dim=-1), torch.ones(3, 4))


@pytest.mark.parametrize("activation, first_layer, cause", [
    # softshrink outputs 0 (derivative 0) on [-0.5, 0.5]: every unit there on every row is off for good
    ("softshrink", (0.1, 0.0), "dead"),
    ("relu6", (-1.0, -0.5), "dead"),  # below 0, as ReLU
    ("hardtanh", (5.0, 2.0), "saturated units"),  # beyond +-1: clipped, derivative 0
    ("softmax", (0.0, 40.0), "saturated units"),  # one unit takes the whole row on every row
])
def test_dead_and_saturated_for_the_new_activations(activation, first_layer, cause):
    from xor_lightning.core.diagnosis import diagnose

    weight, bias = first_layer
    module = XORModule({"hidden": [3], "activation": activation, "init": "pytorch", "init_std": 1.0},
                       {"name": "mse"}, _group("optimizer", "sgd"), seed=0, seeds=1)
    with torch.no_grad():
        module.net.weights[0].fill_(weight / 2)  # |x1 + x2| <= 2: every pre-activation in bias + [0, weight]
        module.net.biases[0].fill_(bias)
        if activation == "softmax":
            module.net.weights[0].zero_()
            module.net.biases[0].copy_(torch.tensor([[[bias, 0.0, 0.0]]]))
    module.facts.begin(100)
    got = diagnose(module, torch.tensor([False]), torch.tensor([False]))
    assert got.causes == [cause]


def _trained(optimizer: str, seed: int, seeds: int, batch_size: int | None, epochs: int = 30) -> list[torch.Tensor]:
    """The module's parameters after ``epochs`` epochs of the block loop's steps (core objects only)."""
    from xor_lightning.core.data import TruthTableDataModule

    model = {"hidden": [5], "activation": "tanh", "init": "pytorch", "init_std": 1.0}
    module = XORModule(model, _group("loss", "bce_with_logits"), _group("optimizer", optimizer), seed=seed, seeds=seeds)
    opt = make_optimizer(module.hparams.optimizer, module.net.parameters())
    data = TruthTableDataModule(XOR, batch_size, shuffle=batch_size is not None, seed=seed, members=seeds)
    for epoch in range(epochs):
        order = data.epoch_rows(epoch)
        for part in data.step_slices():
            x, y = (INPUTS, TARGETS) if order is None else (INPUTS[order[:, part]], TARGETS[order[:, part]])
            opt.zero_grad()
            module.losses(x, y)[1].sum().backward()
            opt.step()
    return [p.detach() for p in module.net.parameters()]


@pytest.mark.parametrize("batch_size", [None, 2], ids=["full_batch", "shuffled_mini_batches"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_member_i_of_a_population_is_its_lone_run_with_each_new_optimizer(optimizer, batch_size):
    population = _trained(optimizer, seed=11, seeds=3, batch_size=batch_size)
    for i in range(3):
        lone = _trained(optimizer, seed=11 + i, seeds=1, batch_size=batch_size)
        for p_pop, p_lone in zip(population, lone):
            assert torch.allclose(p_pop[i], p_lone[0], atol=1e-6), (optimizer, i)
    assert not torch.allclose(population[0][0], population[0][1])  # the members differ


@pytest.mark.parametrize("activation", ["softmin", "softmax", "log_softmax"])
def test_the_softmax_familys_own_derivative_is_the_jacobians_diagonal(activation):
    from xor_lightning.core.diagnosis import unit_derivative
    from xor_lightning.core.nets import ACTIVATIONS as OURS

    z = torch.randn(4, 5, dtype=torch.float64)
    for row in range(4):
        jacobian = torch.autograd.functional.jacobian(OURS[activation], z[row])
        assert torch.allclose(unit_derivative(activation, z)[row], jacobian.diagonal())
