"""The one tie rule: when is a row of the truth table right?

A row is right only strictly on its side of p = 0.5: p > 0.5 for a target of 1, p < 0.5 for a 0.
p == 0.5 exactly is undecided, so never right. With a margin m > 0 a row must also be at least m
away from 0.5 (p >= 0.5 + m for a 1, p <= 0.5 - m for a 0). Validation, evaluation, the early stop,
metrics, members.csv, the printed table and the pictures all decide through this module.
"""

from __future__ import annotations

import torch


def signed_confidence(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """How far each p(y=1) is from 0.5 on the target's side: > 0 right, < 0 wrong, 0 undecided.

    ``probs`` [..., N] and ``targets`` [N] (0 or 1) broadcast against each other."""
    return (probs - 0.5) * (2 * targets - 1)


def right(probs: torch.Tensor, targets: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Bool [..., N]: which rows are right (by at least ``margin`` in probability)."""
    return right_by(signed_confidence(probs, targets), margin)


def right_by(signed: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """``right`` from ``signed_confidence`` already at hand (the training loop has it every epoch)."""
    ok = signed > 0
    return ok if margin <= 0 else ok & (signed >= margin)


def prediction(p: float) -> str:
    """The class a probability predicts, as printed: '1', '0', '?' for exactly 0.5, '-' for NaN."""
    return "1" if p > 0.5 else "0" if p < 0.5 else "?" if p == 0.5 else "-"
