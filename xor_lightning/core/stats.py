"""Success-rate statistics over a population of seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion (sound at 0/n and n/n, unlike Wald)."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0/n and n/n one bound is exactly 0 or 1; say so rather than return rounding noise.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def survival(solved_at: Sequence[int], total: int, last_epoch: int) -> tuple[list[int], list[float]]:
    """The fraction of ``total`` members not yet solved, against epochs: a step function given by
    the points where it changes (``solved_at``: the epoch each solved member first solved), from
    epoch 0 (all unsolved) to ``last_epoch`` (the members never solved)."""
    epochs, left = [0], [1.0]
    remaining = total
    for epoch in sorted(solved_at):
        remaining -= 1
        if epoch == epochs[-1]:
            left[-1] = remaining / total
        else:
            epochs.append(epoch)
            left.append(remaining / total)
    if epochs[-1] != last_epoch:
        epochs.append(last_epoch)
        left.append(left[-1])
    return epochs, left


def as_steps(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    """Points that draw ``(xs, ys)`` as a step function (each value held until the next x)."""
    sx, sy = [xs[0]], [ys[0]]
    for x, y in zip(xs[1:], ys[1:]):
        sx += [x, x]
        sy += [sy[-1], y]
    return sx, sy
