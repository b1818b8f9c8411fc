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
from xor_lightning.core import playground

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
    # Pictures: the plane (x1, x2) the rows live in, for tasks that have one.
    features: tuple[str, ...] = ()             # the inputs as functions of (x1, x2) (playground.FEATURES)
    points: torch.Tensor | None = None         # [N, 2] where the training rows sit in the plane
    test_points: torch.Tensor | None = None    # [M, 2] and the test rows
    extent: tuple[float, float] = (-0.5, 1.5)  # the square pictures show
    ticks: tuple[float, ...] = (0, 1)          # the axis labels of that square

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
        """The rows live in a plane (x1, x2): the decision boundary is a picture."""
        return bool(self.features)

    @property
    def has_test(self) -> bool:
        return self.test_inputs is not None and len(self.test_inputs) > 0

    @property
    def unit(self) -> str:
        """What a row is called in printouts."""
        return "points" if self.points is not None else "rows"

    def featurize(self, xy: torch.Tensor) -> torch.Tensor:
        """[M, n_in] the network's inputs at plane points [M, 2]."""
        return playground.featurize(xy, self.features)

    @cached_property
    def marks(self) -> tuple[tuple[float, float, float], ...]:
        """(x1, x2, target) of each training row in the plane, for the pictures (none without a plane)."""
        return _marks(self.points if self.points is not None else self.inputs, self.targets) if self.plane else ()

    @cached_property
    def test_marks(self) -> tuple[tuple[float, float, float], ...]:
        return _marks(self.test_points, self.test_targets) if self.plane and self.has_test else ()

    def solved(self, rows_right: torch.Tensor) -> torch.Tensor:
        """[K] bool from [K, N] rows right (verdict.right): the task's one solved rule."""
        if self.solved_accuracy >= 1.0:
            return rows_right.all(dim=1)
        return rows_right.float().mean(dim=1) >= self.solved_accuracy


MAX_BITS = 16  # inputs of a truth table: 2^16 = 65,536 rows at most, checked before anything is allocated
# The 16 two-input gates, numbered by their targets on the rows (a, b) = 00, 01, 10, 11 read as a
# binary number (first row the most significant bit): and = 0001, xor = 0110, nand = 1110.
GATES = ("false", "and", "a_and_not_b", "a", "b_and_not_a", "b", "xor", "or",
         "nor", "xnor", "not_b", "b_implies_a", "not_a", "a_implies_b", "nand", "true")
# The largest integer weight a threshold function of n inputs needs (Muroga): with weights in
# [-W, W] a table that no weight vector separates is not linearly separable at all.
_MAX_THRESHOLD_WEIGHT = {1: 1, 2: 1, 3: 2, 4: 3, 5: 5}


def _int_in(key: str, value: Any, low: int, high: int, what: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{key}={value!r} is not valid; expected {what or f'an integer from {low} to {high}'}")
    return value


def _only(data: Mapping[str, Any], name: str, keys: tuple[str, ...]) -> None:
    """A key of another task (data.bits with data=table, say) is refused, not ignored."""
    shared = ("name", "batch_size", "shuffle")
    for key in data:
        if key not in shared and key not in keys:
            raise UserError(f"data.{key} is not an option of data={name}; its options: {', '.join(keys) or 'none'}")


def binary_rows(bits: int) -> torch.Tensor:
    """[2^bits, bits] every input in binary counting order, the first input the most significant bit."""
    r = torch.arange(2**bits).unsqueeze(1)
    return ((r >> torch.arange(bits - 1, -1, -1)) & 1).float()


def linearly_separable(inputs: torch.Tensor, targets: torch.Tensor) -> bool | None:
    """Whether some w, t put every 1-row above t and every 0-row below it; exact up to 5 inputs
    (integer weights up to Muroga's bound suffice there), None (not known) beyond."""
    n = inputs.shape[1]
    if bool((targets > 0.5).all()) or bool((targets < 0.5).all()):
        return True
    if n not in _MAX_THRESHOLD_WEIGHT:
        return None
    w = _MAX_THRESHOLD_WEIGHT[n]
    weights = torch.cartesian_prod(*[torch.arange(-w, w + 1.0)] * n).reshape(-1, n)  # [W', n]
    sums = weights @ inputs.T  # [W', rows]
    ones = targets > 0.5
    return bool((sums[:, ~ones].max(dim=1).values < sums[:, ones].min(dim=1).values).any())


def _table_task(name: str, bits: int, targets: torch.Tensor, description: str,
                separable: bool | None = None) -> Task:
    inputs = binary_rows(bits)
    known = linearly_separable(inputs, targets) if separable is None else separable
    return Task(name, inputs, targets, linearly_separable=known, description=description,
                features=("x1", "x2") if bits == 2 else ())


def _marks(points: torch.Tensor, targets: torch.Tensor) -> tuple[tuple[float, float, float], ...]:
    return tuple((a, b, t) for (a, b), t in zip(points.tolist(), targets.tolist()))


def _xor(data: Mapping[str, Any]) -> Task:
    _only(data, "xor", ())
    return _table_task("xor", 2, torch.tensor([0.0, 1.0, 1.0, 0.0]), "xor: the 4-row XOR truth table", False)


def _parity(data: Mapping[str, Any]) -> Task:
    _only(data, "parity", ("bits",))
    bits = _int_in("data.bits", data.get("bits"), 2, MAX_BITS,
                   f"an integer from 2 to {MAX_BITS} (2^bits rows: {2**MAX_BITS:,} at most)")
    inputs = binary_rows(bits)
    targets = (inputs.sum(dim=1) % 2).float()
    return Task("parity", inputs, targets, linearly_separable=False, features=("x1", "x2") if bits == 2 else (),
                description=f"parity of {bits} bits: {2**bits} rows, target 1 where an odd number of inputs is 1")


def _table(data: Mapping[str, Any]) -> Task:
    _only(data, "table", ("targets", "gate"))
    gate, given = data.get("gate"), data.get("targets")
    if isinstance(gate, bool):  # data.gate=false on a command line reads as a YAML boolean
        gate = "true" if gate else "false"
    if (gate is None) == (given is None):
        raise UserError("data=table needs data.gate=NAME (one of the 16 two-input gates: " + ", ".join(GATES)
                        + ") or data.targets=[...] (2^n targets of 0/1, rows in binary counting order), "
                        + ("and was given both" if gate is not None else "and was given neither"))
    if gate is not None:
        if gate not in GATES:
            raise UserError(f"data.gate={gate!r} is not valid; choose one of: {', '.join(GATES)}")
        index = GATES.index(gate)
        targets = torch.tensor([float((index >> (3 - r)) & 1) for r in range(4)])
        return _table_task("table", 2, targets, f"gate {gate}: targets {''.join(str(int(t)) for t in targets)} "
                           "on rows (a, b) = 00 01 10 11")
    return _table_task("table", *_targets(given))


def _targets(given: Any) -> tuple[int, torch.Tensor, str]:
    rule = f"a list of 2^n targets, each 0 or 1 (n from 1 to {MAX_BITS}), rows in binary counting order, e.g. [0,1,1,0]"
    if isinstance(given, (str, bytes)) or not isinstance(given, (list, tuple)):
        raise UserError(f"data.targets={given!r} is not valid; expected {rule}")
    size = len(given)
    if size < 2 or size > 2**MAX_BITS or size & (size - 1):
        raise UserError(f"data.targets has {size} values; expected a power of 2 from 2 to {2**MAX_BITS:,}: {rule}")
    bad = [v for v in given if isinstance(v, bool) or not isinstance(v, int | float) or v not in (0, 1)]
    if bad:
        raise UserError(f"data.targets holds {bad[0]!r}; expected {rule}")
    bits = size.bit_length() - 1
    shown = "".join(str(int(v)) for v in given[:16]) + ("..." if size > 16 else "")
    return bits, torch.tensor([float(v) for v in given]), f"table of {bits} inputs: targets {shown}"


MAX_POINTS = 100_000  # points of a playground set, checked before any is drawn
SOLVED_ACCURACY = 0.9  # the default data.solved_accuracy of a point set (docs/tasks.md says why)


def _number_in(key: str, value: Any, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise UserError(f"{key}={value!r} is not valid; expected {what}")
    return float(value)


def _playground(data: Mapping[str, Any]) -> Task:
    keys = ("set", "noise", "points", "test_fraction", "seed", "features", "solved_accuracy")
    _only(data, "playground", keys)
    name = data.get("set", "xor")
    if name not in playground.SETS:
        raise UserError(f"data.set={name!r} is not valid; choose one of: {', '.join(playground.SETS)}")
    noise = _number_in("data.noise", data.get("noise", 0), 0, 50, "a number from 0 to 50 (percent, as Playground's slider)")
    n = _int_in("data.points", data.get("points", 500), 4, MAX_POINTS, f"an even number from 4 to {MAX_POINTS:,}")
    if n % 2:
        raise UserError(f"data.points={n} is not valid; expected an even number from 4 to {MAX_POINTS:,} (half per class)")
    test = _number_in("data.test_fraction", data.get("test_fraction", 0.5), 0, 0.95,
                      "a number from 0 to 0.95 (the share of the points held out for testing)")
    seed = _int_in("data.seed", data.get("seed", 0), 0, 2**32 - 1, "an integer from 0 to 4294967295")
    accuracy = _number_in("data.solved_accuracy", data.get("solved_accuracy", SOLVED_ACCURACY), 0.5, 1,
                          "a number from 0.5 to 1 (the training accuracy that counts as solved)")
    features = data.get("features", ["x1", "x2"])
    if (isinstance(features, str) or not isinstance(features, list | tuple) or not features
            or len(set(features)) != len(features) or not all(f in playground.FEATURES for f in features)):
        raise UserError(f"data.features={features!r} is not valid; expected a list of distinct names from: "
                        f"{', '.join(playground.FEATURES)}, e.g. [x1,x2]")
    features = tuple(features)
    train, held_out = playground.draw(name, n, noise, seed, 1 - test)
    xy, held_xy = (torch.tensor([(x, y) for x, y, _ in part], dtype=torch.float32).reshape(-1, 2)
                   for part in (train, held_out))
    labels, held_labels = (torch.tensor([float(t) for *_, t in part]) for part in (train, held_out))
    noise_text = f"{noise:g}% noise" if noise else "no noise"
    return Task(
        "playground", playground.featurize(xy, features), labels, linearly_separable=name == "gauss" and not noise,
        description=(f"playground {name}, {noise_text}: {len(train)} training and {len(held_out)} test points "
                     f"(data seed {seed}), features {', '.join(features)}; solved: training accuracy >= {accuracy:g}"),
        solved_accuracy=accuracy, test_inputs=playground.featurize(held_xy, features), test_targets=held_labels,
        features=features, points=xy, test_points=held_xy, extent=playground.EXTENT, ticks=(-6, -3, 0, 3, 6),
    )


BUILDERS: dict[str, Callable[[Mapping[str, Any]], Task]] = {
    "xor": _xor, "parity": _parity, "table": _table, "playground": _playground,
}


def build(data: Mapping[str, Any] | None) -> Task:
    """The task the ``data`` config names (``name``; none: xor); UserError for a bad value."""
    data = {} if data is None else data
    name = data.get("name", DEFAULT)
    if name not in BUILDERS:
        raise UserError(f"data.name={name!r} is not valid; choose one of: {', '.join(BUILDERS)} (data=NAME)")
    return BUILDERS[name](data)


XOR = build(None)
