"""The one tie rule: when is a row of the truth table right? And what does an output predict?

The network's output is read through its head (``model.output``): a ``logit`` (p = sigmoid(output),
the default) or ``linear`` (the output itself is the prediction p, as in the Deep Learning book's
exact solution). A row is right only strictly on its side of p = 0.5: p > 0.5 for a target of 1,
p < 0.5 for a 0; p == 0.5 is undecided, so never right. A linear head's p is a sum of products,
so float32 rounding leaves it a few 1e-8 off 0.5 where it "should" be 0.5: within ``TOLERANCE``
(1e-6) of 0.5 it is undecided too (a network without an activation would otherwise count as
solving XOR by rounding noise). With a margin m > 0 a row must also be at least m from 0.5.
Validation, evaluation, the early stop, metrics, members.csv, the printed table and the pictures
all decide through this module.
"""

from __future__ import annotations

import torch

HEADS = ("logit", "linear")
TOLERANCE = {"logit": 0.0, "linear": 1e-6}  # |p - 0.5| at or below this is undecided


def probability(output: torch.Tensor, head: str = "logit") -> torch.Tensor:
    """What the output predicts: p(y=1) (a linear head's p may leave [0, 1])."""
    return torch.sigmoid(output) if head == "logit" else output


def decision(output: torch.Tensor, head: str = "logit") -> torch.Tensor:
    """The output shifted so that 0 is the decision (> 0 predicts 1): the logit, or p - 1/2."""
    return output if head == "logit" else output - 0.5


def signed_confidence(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """How far each p(y=1) is from 0.5 on the target's side: > 0 right, < 0 wrong, 0 undecided.

    ``probs`` [..., N] and ``targets`` [N] (0 or 1) broadcast against each other."""
    return (probs - 0.5) * (2 * targets - 1)


def right(probs: torch.Tensor, targets: torch.Tensor, margin: float = 0.0, head: str = "logit") -> torch.Tensor:
    """Bool [..., N]: which rows are right (by at least ``margin`` in probability)."""
    return right_by(signed_confidence(probs, targets), margin, head)


def right_by(signed: torch.Tensor, margin: float = 0.0, head: str = "logit") -> torch.Tensor:
    """``right`` from ``signed_confidence`` already at hand (the training loop has it every epoch)."""
    ok = signed > TOLERANCE[head]
    return ok if margin <= 0 else ok & (signed >= margin)


def prediction(p: float, head: str = "logit") -> str:
    """The class p predicts, as printed: '1', '0', '?' when undecided (0.5), '-' for NaN."""
    if p != p:
        return "-"
    return "1" if p - 0.5 > TOLERANCE[head] else "0" if 0.5 - p > TOLERANCE[head] else "?"
