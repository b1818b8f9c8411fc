"""Members whose loss becomes non-finite: marked, frozen at zero, and left out of every mean.

Members are independent slices of the stacked parameters, so a NaN in one member never reaches
another through the forward pass or the gradients. It would still reach the *logged means* and the
checkpoints' weights; facts.py (which marks it and leaves it out of every mean) and ``freeze`` keep
it out of both. A diverged member's weights, gradients and optimizer state are set to zero, so every
elementwise optimizer leaves it at zero from then on (a zero gradient with zero moments is a zero
step) while the other members follow exactly the trajectory they would follow alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from xor_lightning.base.errors import RunStopped


class Diverged(RunStopped):
    """Every member's loss became non-finite: the run has nothing left to train."""

    exit_code = 3

    def __init__(self, message: str, metrics: dict | None = None) -> None:
        super().__init__(message)
        self.metrics = metrics or {}  # what train() measured and wrote before giving up


@torch.no_grad()
def freeze(params: Iterable[torch.Tensor], optimizers: Iterable[torch.optim.Optimizer], diverged: torch.Tensor) -> None:
    """Zero the diverged members' slice (dim 0) of every parameter, its gradient and optimizer state."""
    states = [opt.state for opt in optimizers]
    for p in params:
        p[diverged] = 0
        if p.grad is not None:
            p.grad[diverged] = 0
        for state in states:
            for value in state.get(p, {}).values():
                if torch.is_tensor(value) and value.shape == p.shape:
                    value[diverged] = 0

