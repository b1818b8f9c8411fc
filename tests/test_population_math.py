"""The population network and the losses: init choices, logits out, each loss gets what it consumes."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from xor_lightning.core.data import INPUTS, TARGETS
from xor_lightning.core.losses import LOSSES, consumes, member_losses
from xor_lightning.core.nets import ACTIVATIONS, INITS, Population
from xor_lightning.views.figures import grid_points, output_fields, unit_fields


def plain_mlp(seed: int, hidden: list[int]) -> nn.Sequential:
    torch.manual_seed(seed)
    widths = [2, *hidden, 1]
    layers: list[nn.Module] = []
    for i, o in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(i, o), nn.Tanh()]
    return nn.Sequential(*layers[:-1])


@pytest.mark.parametrize("hidden", [[], [3], [16, 8]])
def test_pytorch_init_equals_a_plain_seeded_torch_mlp(hidden):
    pop = Population(3, hidden, "tanh", "pytorch", seed=5)
    for i in range(3):
        ref = plain_mlp(5 + i, hidden)
        got = pop.member_state(i)
        for name, tensor in ref.state_dict().items():
            assert torch.equal(got[name], tensor), name
        assert torch.allclose(pop(INPUTS)[i], ref(INPUTS), atol=1e-6)


def test_member_i_is_member_0_of_a_population_seeded_seed_plus_i():
    big, lone = Population(6, [4], "relu", seed=100), Population(1, [4], "relu", seed=104)
    for w_big, w_lone in zip(big.weights, lone.weights):
        assert torch.equal(w_big[4], w_lone[0])
    assert not torch.equal(big.weights[0][0], big.weights[0][1])


def test_a_subset_of_members_is_evaluated_as_those_members_of_the_whole():
    pop = Population(7, [5, 3], "tanh", seed=2)
    x = grid_points(9)
    assert torch.equal(pop(x, only=[6, 0, 3]), pop(x)[[6, 0, 3]])
    assert torch.equal(pop(x, upto=0, only=[4]), pop(x, upto=0)[[4]])
    # The pictures use the subset path: each drawn member matches the full population's output.
    assert torch.allclose(output_fields(pop, [2, 5], 9), torch.sigmoid(pop(x)[[2, 5], :, 0]).reshape(2, 9, 9))
    assert torch.equal(unit_fields(pop, 1, 9), pop(x, upto=0)[1].T.reshape(5, 9, 9))


@pytest.mark.parametrize("init", INITS)
def test_every_init_builds_with_the_expected_scale(init):
    pop = Population(2000, [16], "tanh", init, init_std=3.0, seed=0, init_bound=0.3)
    w, b = pop.weights[0].detach(), pop.biases[0].detach()  # first layer: fan_in 2, fan_out 16
    if init == "normal":
        assert w.std().item() == pytest.approx(3.0, rel=0.05)
        assert b.std().item() == pytest.approx(3.0, rel=0.05)
    elif init == "uniform":  # U(-0.3, 0.3) for weights and biases: std 0.3 / sqrt(3)
        assert w.std().item() == pytest.approx(0.3 / math.sqrt(3), rel=0.05)
        assert b.std().item() == pytest.approx(0.3 / math.sqrt(3), rel=0.05)
    elif init == "pytorch":
        assert w.abs().max().item() <= 1 / math.sqrt(2) + 1e-6
        assert b.abs().max().item() <= 1 / math.sqrt(2) + 1e-6
    else:
        assert torch.count_nonzero(b) == 0  # schemes from torch.nn.init leave biases at zero
        expected = {  # std of torch.nn.init's defaults for fan_in=2, fan_out=16
            "xavier_uniform": math.sqrt(2 / 18),
            "xavier_normal": math.sqrt(2 / 18),
            "kaiming_uniform": math.sqrt(2 / 2),
            "kaiming_normal": math.sqrt(2 / 2),
        }[init]
        assert w.std().item() == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_emits_unbounded_logits_of_shape_members_rows_1(activation):
    pop = Population(5, [4, 3], activation, "normal", init_std=5.0, seed=1)
    out = pop(INPUTS)
    assert out.shape == (5, 4, 1)
    assert (out.abs() > 1).any(), "logits, not probabilities: no sigmoid in the model"


def test_no_hidden_layer_is_logistic_regression():
    pop = Population(2, [], "relu", seed=0)
    assert [tuple(w.shape) for w in pop.weights] == [(2, 2, 1)]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("name", LOSSES)
def test_each_loss_gets_what_it_consumes(name):
    logits = torch.tensor([[[-3.0], [2.0], [0.5], [4.0]], [[1.0], [-1.0], [0.0], [-6.0]]])
    probs = torch.sigmoid(logits)
    reference = {
        "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(logits[k], TARGETS),
        "bce": lambda: F.binary_cross_entropy(probs[k], TARGETS),
        "mse": lambda: F.mse_loss(probs[k], TARGETS),
        "l1": lambda: F.l1_loss(probs[k], TARGETS),
        "smooth_l1": lambda: F.smooth_l1_loss(probs[k], TARGETS),
        "poisson_nll": lambda: nn.PoissonNLLLoss()(probs[k], TARGETS),
        "kl_div": lambda: nn.KLDivLoss(reduction="mean")(probs[k], TARGETS),
        "hinge_embedding": lambda: nn.HingeEmbeddingLoss()(probs[k], TARGETS),
        "soft_margin": lambda: nn.SoftMarginLoss()(probs[k], TARGETS),
        "multilabel_soft_margin": lambda: nn.MultiLabelSoftMarginLoss()(probs[k], TARGETS),
    }[name]
    got = member_losses(name, logits, TARGETS)
    assert got.shape == (2,)
    for k in range(2):
        assert got[k].item() == pytest.approx(reference().item(), rel=1e-6)
    assert consumes(name) == ("logits" if name == "bce_with_logits" else "probabilities")


def test_loss_input_overrides_what_a_loss_consumes():
    logits = torch.tensor([[[-3.0], [2.0], [0.5], [4.0]]])
    twice = member_losses("bce_with_logits", logits, TARGETS, input="probabilities")  # the thread's sigmoid twice
    assert twice.item() == pytest.approx(F.binary_cross_entropy_with_logits(torch.sigmoid(logits[0]), TARGETS).item())
    on_logits = member_losses("mse", logits, TARGETS, input="logits")
    assert on_logits.item() == pytest.approx(F.mse_loss(logits[0], TARGETS).item())


def test_population_loss_sum_gives_each_member_its_lone_gradient():
    pop = Population(3, [4], "tanh", seed=7)
    member_losses("mse", pop(INPUTS), TARGETS).sum().backward()
    lone = Population(1, [4], "tanh", seed=9)
    member_losses("mse", lone(INPUTS), TARGETS).sum().backward()
    assert torch.allclose(pop.weights[0].grad[2], lone.weights[0].grad[0], atol=1e-7)
