"""The classic settings, exactly (issue 12, item 4): the shipped experiment configs train the
networks their sources describe. Each source's own loop is written here in plain PyTorch and the
run of our config must end with its weights: the init-scale article's summed cross-entropy
(lr 0.1 on the sum == our lr 0.4 on the mean), Rumelhart et al.'s half summed squared error with
momentum (lr 0.5 == our lr 1.0), the forum loop that never reset its gradients (== SGD momentum 1).
The new init options keep promise 1: member i is the lone run of seed + i."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.helpers import compose_config, run_cli
from xor_lightning.base.errors import UserError
from xor_lightning.core.data import INPUTS, TARGETS
from xor_lightning.core.losses import member_losses
from xor_lightning.core.nets import Population, init_member
from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.checks import check_train_config
from xor_lightning.run.train import train

STEPS = 300
QUIET = ("visuals.images=false", "visuals.histograms=false", "visuals.report=false", "progress.bar=false")


def trained_members(train_cfg, *overrides: str, seed: int, seeds: int) -> list[list[torch.Tensor]]:
    """Each member's parameters (nn.Linear layout, Sequential order) after a real run of STEPS epochs."""
    cfg = train_cfg(f"seed={seed}", f"seeds={seeds}", *overrides, f"trainer.max_epochs={STEPS}",
                    "early_stop.enabled=false", *QUIET, run_id=f"s{seed}k{seeds}")
    net = load_checkpoint(train(cfg)["last_checkpoint"]).net
    return [list(net.member_state(i).values()) for i in range(seeds)]


def sequential(layers: list[tuple[torch.Tensor, torch.Tensor]], activation: nn.Module) -> nn.Sequential:
    """A plain torch MLP holding the given (weight, bias) pairs, ``activation`` between layers."""
    modules: list[nn.Module] = []
    for weight, bias in layers:
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        modules += [linear, activation]
    return nn.Sequential(*modules[:-1])


def plain_loop(model: nn.Sequential, loss_fn: Callable, optimizer: torch.optim.Optimizer, zero_grad: bool = True) -> list:
    """The articles' loop: the whole table every step; returns the parameters after STEPS steps."""
    for _ in range(STEPS):
        if zero_grad:
            optimizer.zero_grad()
        loss_fn(model(INPUTS), TARGETS).backward()
        optimizer.step()
    return [p.detach() for p in model.parameters()]


def assert_close(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> None:
    # A population's long tensors take torch's SIMD kernels, a plain nn.Linear's short ones the
    # scalar code (tanh, exp round differently in the last bit): equal up to float rounding,
    # which 300 steps at an effective lr of 10 (lr 1, momentum 0.9) grow to ~1e-6 of the weights.
    worst = max(((a - b).abs() / (1 + b.abs())).max().item() for a, b in zip(ours, theirs))
    assert worst <= 1e-5, worst


# -- the init-scale article: summed cross-entropy, lr 0.1; hidden std varies, output std 0.8165 ----

def test_init_scale_article_config_trains_the_articles_network(train_cfg):
    ours = trained_members(train_cfg, "experiment=init_scale_article", "model.init_std=1.58", seed=10, seeds=3)
    widths = [2, 2, 1]
    for i in range(3):
        start = init_member(10 + i, widths, "normal", 1.58, output_init_std=0.8165)
        net = sequential(start, nn.Sigmoid())
        summed = lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="sum")  # noqa: E731
        assert_close(ours[i], plain_loop(net, summed, torch.optim.SGD(net.parameters(), lr=0.1)))


def test_output_init_std_draws_the_output_layer_alone_from_its_own_std():
    pop = Population(4000, [2], "sigmoid", "normal", init_std=0.1, seed=0, output_init_std=0.8165)
    hidden = torch.cat([pop.weights[0].flatten(), pop.biases[0].flatten()])
    output = torch.cat([pop.weights[1].flatten(), pop.biases[1].flatten()])
    assert hidden.std().item() == pytest.approx(0.1, rel=0.05)
    assert output.std().item() == pytest.approx(0.8165, rel=0.05)
    # null means init_std for every layer: exactly the draws of before the key existed
    same = Population(5, [3], "tanh", "normal", init_std=2.0, seed=1, output_init_std=None)
    explicit = Population(5, [3], "tanh", "normal", init_std=2.0, seed=1, output_init_std=2.0)
    assert all(torch.equal(a, b) for a, b in zip(same.parameters(), explicit.parameters()))


def test_lr_on_the_sum_is_lr_times_4_on_the_mean_bit_for_bit():
    """The table has 4 rows: the summed loss's gradient is 4x the mean's, exactly (a power of two),
    and 0.4 is 4 x 0.1 in binary too, so the steps are identical, not merely close."""
    summed, mean = (Population(50, [2], "sigmoid", "normal", init_std=1.58, seed=0, output_init_std=0.8165)
                    for _ in range(2))
    opts = torch.optim.SGD(summed.parameters(), lr=0.1), torch.optim.SGD(mean.parameters(), lr=0.4)
    for _ in range(STEPS):
        for opt in opts:
            opt.zero_grad()
        z = summed(INPUTS)
        F.binary_cross_entropy_with_logits(z, TARGETS.expand_as(z), reduction="none").flatten(1).sum(1).sum().backward()
        member_losses("bce_with_logits", mean(INPUTS), TARGETS).sum().backward()
        for opt in opts:
            opt.step()
    assert all(torch.equal(a, b) for a, b in zip(summed.parameters(), mean.parameters()))


# -- Rumelhart, Hinton & Williams (1986): half the summed squared error, lr 0.5, momentum 0.9 ------

def half_summed_squared_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * (torch.sigmoid(logits) - target).pow(2).sum()


def test_rumelhart_config_trains_the_papers_network(train_cfg):
    ours = trained_members(train_cfg, "experiment=rumelhart_1986", "model.hidden=[2]", seed=20, seeds=3)
    for i in range(3):
        start = init_member(20 + i, [2, 2, 1], "uniform", 1.0, init_bound=0.3)
        net = sequential(start, nn.Sigmoid())
        sgd = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
        assert_close(ours[i], plain_loop(net, half_summed_squared_error, sgd))


def test_half_summed_squared_error_gradient_is_twice_the_mean_squared_error_gradient():
    half, mean = (Population(20, [3], "sigmoid", "uniform", seed=3, init_bound=0.3) for _ in range(2))
    z = half(INPUTS)
    (0.5 * (torch.sigmoid(z) - TARGETS).pow(2).flatten(1).sum(1)).sum().backward()
    member_losses("mse", mean(INPUTS), TARGETS).sum().backward()
    # exactly, so lr 0.5 on the paper's error and lr 1.0 on ours take identical steps, momentum included
    assert all(torch.equal(a.grad, 2 * b.grad) for a, b in zip(half.parameters(), mean.parameters()))


def test_uniform_init_draws_weights_and_biases_within_the_bound():
    pop = Population(2000, [8], "sigmoid", "uniform", seed=0, init_bound=0.3)
    for p in pop.parameters():
        assert p.abs().max().item() <= 0.3
        assert p.abs().max().item() > 0.29  # spread over the whole interval, biases too
        assert p.mean().abs().item() < 0.02


# -- the forum thread's loop without zero_grad() == SGD with momentum 1.0 -------------------------

@pytest.mark.parametrize("activation, loss", [("relu", "l1"), ("elu", "mse")])
def test_forum_loop_without_zero_grad_is_sgd_with_momentum_1(train_cfg, activation, loss):
    ours = trained_members(train_cfg, "experiment=forum_no_zero_grad", f"model.activation={activation}",
                           f"loss={loss}", seed=30, seeds=3)
    act = {"relu": nn.ReLU(), "elu": nn.ELU()}[activation]
    criterion = {"l1": nn.L1Loss(), "mse": nn.MSELoss()}[loss]
    for i in range(3):
        torch.manual_seed(30 + i)  # the thread's network: nn.Linear's own init, sigmoid on the output
        net = nn.Sequential(nn.Linear(2, 5), act, nn.Linear(5, 1))
        theirs = plain_loop(net, lambda z, y: criterion(torch.sigmoid(z), y),
                            torch.optim.SGD(net.parameters(), lr=0.03), zero_grad=False)
        assert_close(ours[i], theirs)


def test_momentum_1_is_the_accumulating_loop_bit_for_bit():
    def run(momentum: float, zero_grad: bool) -> list[torch.Tensor]:
        torch.manual_seed(7)
        net = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 1))
        sgd = torch.optim.SGD(net.parameters(), lr=0.03, momentum=momentum)
        return plain_loop(net, lambda z, y: F.l1_loss(torch.sigmoid(z), y), sgd, zero_grad=zero_grad)

    assert all(torch.equal(a, b) for a, b in zip(run(1.0, True), run(0.0, False)))


# -- promise 1 with the new options ----------------------------------------------------------------

NEW_OPTIONS = {
    "uniform_momentum": ["experiment=rumelhart_1986", "model.hidden=[3]"],
    "output_init_std": ["experiment=init_scale_article", "model.init_std=0.667"],
}


@pytest.mark.parametrize("overrides", NEW_OPTIONS.values(), ids=NEW_OPTIONS.keys())
def test_member_i_is_the_lone_run_of_seed_plus_i_with_the_new_options(train_cfg, overrides):
    population = trained_members(train_cfg, *overrides, seed=40, seeds=3)
    for i in range(3):
        (lone,) = trained_members(train_cfg, *overrides, seed=40 + i, seeds=1)
        assert_close(population[i], lone)


# -- bad values: one line naming the key -------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    (["model.init=uniform", "model.output_init_std=0.5"],
     "model.output_init_std=0.5 is only used by model.init=normal (now uniform); "
     "choose model.init=normal or set model.output_init_std=null"),
    (["model.init=normal", "model.output_init_std=-1"],
     "model.output_init_std=-1 is not valid; expected a number > 0, or null (= model.init_std)"),
    (["model.init=uniform", "model.init_bound=0"], "model.init_bound=0 is not valid; expected a number > 0.0"),
])
def test_bad_init_options_are_one_line_naming_the_key(overrides, message):
    with pytest.raises(UserError) as err:
        check_train_config(compose_config("train", overrides))
    assert str(err.value) == message


def test_bad_init_option_on_the_command_line_exits_2_and_writes_nothing(tmp_path):
    res = run_cli("train", "model.init=pytorch", "model.output_init_std=0.8", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: model.output_init_std=0.8 is only used by model.init=normal (now pytorch); "
        "choose model.init=normal or set model.output_init_std=null"]
    assert list(tmp_path.iterdir()) == []
