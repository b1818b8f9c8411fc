"""TensorFlow Playground's four classification sets, drawn as its src/dataset.ts draws them, and its
input features.

Each generator takes the number of points, the noise as a fraction (Playground's percent / 100) and
a ``random.Random`` (Playground calls Math.random, seeded by seedrandom; the draws come in the same
order, so the sets follow the same formulas, not the same numbers). Labels are 0/1 (Playground:
-1/+1). For xor and circle the noise perturbs the point the label is computed from and the point
stays where it is; for gauss and spiral it moves the points (gauss: through the variance).
"""

from __future__ import annotations

import math
import random

import torch

EXTENT = (-6.0, 6.0)  # Playground's plane: x and y from -6 to 6

# Playground's inputs (playground.ts INPUTS), by the names data.features takes.
FEATURES = {
    "x1": lambda x, y: x, "x2": lambda x, y: y, "x1sq": lambda x, y: x * x, "x2sq": lambda x, y: y * y,
    "x1x2": lambda x, y: x * y, "sin_x1": lambda x, y: torch.sin(x), "sin_x2": lambda x, y: torch.sin(y),
}

Points = list[tuple[float, float, int]]  # (x, y, label 0/1)


def _uniform(rng: random.Random, a: float, b: float) -> float:
    return rng.random() * (b - a) + a


def _normal(rng: random.Random, mean: float, variance: float) -> float:
    """dataset.ts normalRandom: the polar Box-Muller method."""
    while True:
        v1, v2 = 2 * rng.random() - 1, 2 * rng.random() - 1
        s = v1 * v1 + v2 * v2
        if s <= 1 and s > 0:  # Playground loops while s > 1; s == 0 (log 0) has probability 0 there too
            break
    return mean + math.sqrt(variance) * math.sqrt(-2 * math.log(s) / s) * v1


def gauss(n: int, noise: float, rng: random.Random) -> Points:
    """classifyTwoGaussData: two Gaussians at (2, 2) (label 1) and (-2, -2) (label 0), variance 0.5..4 with noise 0..0.5."""
    variance = 0.5 + (4 - 0.5) * noise / 0.5
    points: Points = []
    for cx, label in ((2.0, 1), (-2.0, 0)):
        for _ in range(n // 2):
            x = _normal(rng, cx, variance)
            points.append((x, _normal(rng, cx, variance), label))
    return points


def spiral(n: int, noise: float, rng: random.Random) -> Points:
    """classifySpiralData: two arms of 1.75 turns out to radius 5, the second turned by pi."""
    half = n // 2
    points: Points = []
    for delta, label in ((0.0, 1), (math.pi, 0)):
        for i in range(half):
            r = i / half * 5
            t = 1.75 * i / half * 2 * math.pi + delta
            x = r * math.sin(t) + _uniform(rng, -1, 1) * noise
            y = r * math.cos(t) + _uniform(rng, -1, 1) * noise
            points.append((x, y, label))
    return points


def circle(n: int, noise: float, rng: random.Random) -> Points:
    """classifyCircleData: label 1 inside radius 2.5, drawn at radius 0..2.5 and 3.5..5."""
    radius = 5.0
    points: Points = []
    for low, high in ((0.0, radius * 0.5), (radius * 0.7, radius)):
        for _ in range(n // 2):
            r = _uniform(rng, low, high)
            angle = _uniform(rng, 0, 2 * math.pi)
            x, y = r * math.sin(angle), r * math.cos(angle)
            nx, ny = _uniform(rng, -radius, radius) * noise, _uniform(rng, -radius, radius) * noise
            points.append((x, y, int(math.hypot(x + nx, y + ny) < radius * 0.5)))
    return points


def xor(n: int, noise: float, rng: random.Random) -> Points:
    """classifyXORData: uniform in [-5, 5]^2 pushed 0.3 away from the axes; label 1 where x*y >= 0."""
    points: Points = []
    for _ in range(n):
        x = _uniform(rng, -5, 5)
        x += 0.3 if x > 0 else -0.3
        y = _uniform(rng, -5, 5)
        y += 0.3 if y > 0 else -0.3
        nx, ny = _uniform(rng, -5, 5) * noise, _uniform(rng, -5, 5) * noise
        points.append((x, y, int((x + nx) * (y + ny) >= 0)))
    return points


SETS = {"xor": xor, "circle": circle, "gauss": gauss, "spiral": spiral}


def shuffle(points: Points, rng: random.Random) -> None:
    """dataset.ts shuffle: Fisher-Yates from the end, as Playground shuffles before it splits."""
    counter = len(points)
    while counter > 0:
        index = math.floor(rng.random() * counter)
        counter -= 1
        points[counter], points[index] = points[index], points[counter]


def draw(name: str, n: int, noise_percent: float, seed: int, train_share: float) -> tuple[Points, Points]:
    """(training points, test points): ``n`` points of set ``name``, shuffled, the first
    ``floor(n * train_share)`` for training (playground.ts generateData)."""
    rng = random.Random(seed)
    points = SETS[name](n, noise_percent / 100, rng)
    shuffle(points, rng)
    split = math.floor(len(points) * train_share + 1e-9)
    return points[:split], points[split:]


def featurize(xy: torch.Tensor, features: tuple[str, ...]) -> torch.Tensor:
    """[M, len(features)] the network's inputs at plane points ``xy`` [M, 2]."""
    x, y = xy[:, 0], xy[:, 1]
    return torch.stack([FEATURES[f](x, y) for f in features], dim=1)
