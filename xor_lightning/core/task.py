"""The task a run learns: its rows, what "solved" means, and how to draw it; built by name from the
``data`` config (a plain dict: core reads no Hydra) and recorded in every checkpoint.

Everything downstream takes a Task: the DataModule (its rows), the population (its input width),
the facts, evaluation and diagnosis (targets, the solved rule, linear separability), the pictures
(the points and the square they live in), the checks and memory bounds (rows, width). A new task is
one builder in ``BUILDERS`` and one file in configs/data/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from xor_lightning.base.errors import UserError

DEFAULT = "xor"  # the task of a config or checkpoint that names none (every checkpoint before tasks)


@dataclass(frozen=True, eq=False)
class Task:
    name: str
    inputs: torch.Tensor           # [N, n_in] float32 (MPS has no float64), the rows trained on
    targets: torch.Tensor          # [N] 0 or 1
    linearly_separable: bool       # an affine function of the inputs can get every row right
    description: str               # one line for printouts
    solved_accuracy: float = 1.0   # solved: at least this fraction of the training rows right (1: every row)
    test_inputs: torch.Tensor | None = None   # [M, n_in] a held-out part, never trained on
    test_targets: torch.Tensor | None = None  # [M]
    extent: tuple[float, float] = (-0.5, 1.5)  # the square pictures show around the inputs (2 inputs only)

    @property
    def n_in(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def rows(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def column(self) -> torch.Tensor:
        """[N, 1] the targets as the losses take them."""
        return self.targets.unsqueeze(-1)

    @property
    def plane(self) -> bool:
        """Two inputs: the decision boundary is a picture over (x1, x2)."""
        return self.n_in == 2

    @cached_property
    def marks(self) -> tuple[tuple[float, float, float], ...]:
        """(x1, x2, target) of each training row, for the pictures (2 inputs only)."""
        return tuple((a, b, t) for (a, b), t in zip(self.inputs.tolist(), self.targets.tolist())) if self.plane else ()

    def solved(self, rows_right: torch.Tensor) -> torch.Tensor:
        """[K] bool from [K, N] rows right (verdict.right): the task's one solved rule."""
        if self.solved_accuracy >= 1.0:
            return rows_right.all(dim=1)
        return rows_right.float().mean(dim=1) >= self.solved_accuracy


def _xor(data: Mapping[str, Any]) -> Task:
    inputs = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return Task("xor", inputs, torch.tensor([0.0, 1.0, 1.0, 0.0]), linearly_separable=False,
                description="xor: the 4-row XOR truth table")


BUILDERS: dict[str, Callable[[Mapping[str, Any]], Task]] = {"xor": _xor}


def build(data: Mapping[str, Any] | None) -> Task:
    """The task the ``data`` config names (``name``; none: xor); UserError for a bad value."""
    data = {} if data is None else data
    name = data.get("name", DEFAULT)
    if name not in BUILDERS:
        raise UserError(f"data.name={name!r} is not valid; choose one of: {', '.join(BUILDERS)} (data=NAME)")
    return BUILDERS[name](data)


XOR = build(None)
