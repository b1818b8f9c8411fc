"""Per-member losses. Each states what it consumes: logits, or probabilities (sigmoid applied here).

The model emits logits; a loss that consumes probabilities applies the sigmoid itself, as the
forum thread's ``nn.Sequential(..., nn.Sigmoid())`` feeds its criterion the sigmoid's output.
``loss.input`` overrides the default (``INPUTS``): ``bce_with_logits`` on probabilities is the
thread's BCEWithLogitsLoss after a model that already ends in a sigmoid (a sigmoid twice). With
``model.output=linear`` the output is the prediction itself and only mse, l1 and smooth_l1 apply
(LINEAR_HEAD_LOSSES). Each function returns one mean loss per member ``[K]``; training sums them so
every member gets exactly the gradient it would get alone.

Every criterion here, with PyTorch's defaults, reduces a ``[N, 1]`` output to the mean over its N
elements (KLDivLoss's 'mean' averages over all elements; MultiLabelSoftMarginLoss averages over its
one class, then the batch), so a member's mean over its rows is what the criterion returns on that
member's output alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

INPUTS = ("probabilities", "logits")

# name -> (what the loss consumes by default, elementwise loss on (input, target), the nn class)
LOSSES: dict[str, tuple[str, Callable[..., torch.Tensor], str]] = {
    "bce_with_logits": ("logits", F.binary_cross_entropy_with_logits, "BCEWithLogitsLoss"),
    # Sigmoid then BCE: torch clamps log at -100, so saturated outputs stop learning. Kept on
    # purpose so users can see the difference with bce_with_logits.
    "bce": ("probabilities", F.binary_cross_entropy, "BCELoss"),
    "mse": ("probabilities", F.mse_loss, "MSELoss"),
    "l1": ("probabilities", F.l1_loss, "L1Loss"),
    "smooth_l1": ("probabilities", F.smooth_l1_loss, "SmoothL1Loss"),
    # The forum sweep's other criteria, on 0/1 targets they were not designed for (docs/reference.md):
    "poisson_nll": ("probabilities", F.poisson_nll_loss, "PoissonNLLLoss"),  # exp(x) - y x (log_input)
    "kl_div": ("probabilities", F.kl_div, "KLDivLoss"),                      # y (log y - x); 0 where y = 0
    "hinge_embedding": ("probabilities", F.hinge_embedding_loss, "HingeEmbeddingLoss"),  # y=0: (1-x)+x = 1
    "soft_margin": ("probabilities", F.soft_margin_loss, "SoftMarginLoss"),  # log(1 + exp(-y x)); y=0: log 2
    "multilabel_soft_margin": ("probabilities", F.multilabel_soft_margin_loss, "MultiLabelSoftMarginLoss"),
}


LINEAR_HEAD_LOSSES = ("mse", "l1", "smooth_l1")  # bce needs a value in [0, 1], bce_with_logits a logit
NEEDS_PROBABILITIES = ("bce",)  # binary_cross_entropy refuses inputs outside [0, 1]


def consumes(name: str, input: str | None = None) -> str:
    """What the loss is fed: ``input`` (loss.input) when given, else the loss's default."""
    return input or LOSSES[name][0]


def row_losses(name: str, logits: torch.Tensor, target: torch.Tensor, head: str = "logit",
               input: str | None = None, **kwargs) -> torch.Tensor:
    """The loss of every element of the outputs ``[K, N, 1]`` (target ``[N, 1]``), unreduced."""
    _, fn, _ = LOSSES[name]
    probabilities = consumes(name, input) == "probabilities" and head != "linear"
    inputs = torch.sigmoid(logits) if probabilities else logits
    return fn(inputs, target.expand_as(inputs), reduction="none", **kwargs)


def member_losses(name: str, logits: torch.Tensor, target: torch.Tensor, head: str = "logit",
                  input: str | None = None, **kwargs) -> torch.Tensor:
    """Mean loss of each member: outputs ``[K, N, 1]``, target ``[N, 1]`` -> ``[K]``. With a linear
    head (``head="linear"``) the output is the prediction itself: a probability loss takes it as it
    is (checks.py refuses the losses that need a logit or a value in [0, 1] there)."""
    return row_losses(name, logits, target, head, input, **kwargs).flatten(1).mean(dim=1)
