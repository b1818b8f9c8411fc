"""Per-member losses. Each states what it consumes: logits, or probabilities (sigmoid applied here).

The model emits logits by default; a probability loss applies the sigmoid itself, so there is
never a sigmoid in the model *and* a logits loss. With ``model.output=linear`` the output is the
prediction itself and only mse, l1 and smooth_l1 apply (LINEAR_HEAD_LOSSES). Each function returns
one mean loss per member ``[K]``; training sums them so every member gets exactly the gradient it
would get alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

# name -> (what the loss consumes, elementwise loss on (input, target))
LOSSES: dict[str, tuple[str, Callable[..., torch.Tensor]]] = {
    "bce_with_logits": ("logits", F.binary_cross_entropy_with_logits),
    # Sigmoid then BCE: torch clamps log at -100, so saturated outputs stop learning. Kept on
    # purpose so users can see the difference with bce_with_logits.
    "bce": ("probabilities", F.binary_cross_entropy),
    "mse": ("probabilities", F.mse_loss),
    "l1": ("probabilities", F.l1_loss),
    "smooth_l1": ("probabilities", F.smooth_l1_loss),
}


LINEAR_HEAD_LOSSES = ("mse", "l1", "smooth_l1")  # bce needs a value in [0, 1], bce_with_logits a logit


def consumes(name: str) -> str:
    return LOSSES[name][0]


def member_losses(name: str, logits: torch.Tensor, target: torch.Tensor, head: str = "logit", **kwargs) -> torch.Tensor:
    """Mean loss of each member: outputs ``[K, N, 1]``, target ``[N, 1]`` -> ``[K]``. With a linear
    head (``head="linear"``) the output is the prediction itself: a probability loss takes it as it
    is (checks.py refuses the losses that need a logit or a value in [0, 1] there)."""
    kind, fn = LOSSES[name]
    inputs = logits if kind == "logits" or head == "linear" else torch.sigmoid(logits)
    per_row = fn(inputs, target.expand_as(inputs), reduction="none", **kwargs)
    return per_row.flatten(1).mean(dim=1)
