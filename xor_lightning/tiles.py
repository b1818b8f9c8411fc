"""One field as a square picture (a tile): colours, the p = 0.5 line, the truth table's markers,
axes; and the pieces that explain them: the legend of the marks and the colour bars.

Tiles show the square [LOW, HIGH]^2 around the table; field row 0 is x2 = LOW, picture row 0 is
the top, so fields are flipped on the way in.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from xor_lightning import canvas
from xor_lightning.canvas import BLACK, PROB_CMAP, UNIT_CMAP, text
from xor_lightning.data import INPUTS, TARGETS

LOW, HIGH = -0.5, 1.5  # the square shown around the unit square of the truth table


def _pixel(value: float, size: int) -> float:
    """Pixel coordinate (0 = first row/column centre) of ``value`` along a side of ``size`` points."""
    return (value - LOW) / (HIGH - LOW) * (size - 1)


def _supersampled(draw_shape, box: int, scale: int = 4) -> np.ndarray:
    """An antialiased 0..1 mask: ``draw_shape(draw, scale)`` on a ``box*scale`` canvas, shrunk."""
    mask = Image.new("L", (box * scale, box * scale))
    draw_shape(ImageDraw.Draw(mask), scale)
    return np.asarray(mask.reduce(scale), dtype=np.float32) / 255.0


def _marker(target: float, radius: float, cx: float, cy: float, box: int) -> list[tuple[np.ndarray, tuple]]:
    """Masks and colours, painted in order, of one table row's marker centred at (cx, cy) inside a
    ``box`` square: a white circle ringed black for target 1, a black square ringed white for 0."""
    ring = 1.6
    if target > 0.5:
        shapes = [(radius, BLACK), (radius - ring, (255, 255, 255))]
        draw = ImageDraw.ImageDraw.ellipse
    else:
        shapes = [(radius * 0.9, (255, 255, 255)), (radius * 0.9 - ring, BLACK)]
        draw = ImageDraw.ImageDraw.rectangle
    layers = []
    for r, colour in shapes:
        # Pixel i covers [i, i+1) in continuous coordinates, so its centre is at i + 0.5.
        def shape(d, s, r=r):
            draw(d, [(cx + 0.5 - r) * s, (cy + 0.5 - r) * s, (cx + 0.5 + r) * s, (cy + 0.5 + r) * s], fill=255)
        layers.append((_supersampled(shape, box), colour))
    return layers


@lru_cache(maxsize=16)
def _table_markers(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four table rows' markers on a ``size`` tile as (rows, columns, alpha, premultiplied
    colour) of the pixels they touch, so marking a tile is one vectorized blend."""
    radius = min(max(size / 18, 4.5), 9.0)
    box = int(2 * radius + 6)
    marked = []
    for (x1, x2), target in zip(INPUTS.tolist(), TARGETS.squeeze(-1).tolist()):
        cx, cy = _pixel(x1, size), (size - 1) - _pixel(x2, size)  # row 0 is the top: x2 = HIGH
        left, top = int(cx) - box // 2, int(cy) - box // 2
        patch_alpha, patch_colour = np.zeros((box, box)), np.zeros((box, box, 3))
        for alpha, colour in _marker(target, radius, cx - left, cy - top, box):  # paint layers in order
            patch_colour = patch_colour * (1 - alpha[..., None]) + np.asarray(colour) * alpha[..., None]
            patch_alpha = patch_alpha * (1 - alpha) + alpha
        ys, xs = np.nonzero(patch_alpha)
        marked.append((ys + top, xs + left, patch_alpha[ys, xs], patch_colour[ys, xs]))
    rows, cols, alpha, colour = (np.concatenate(parts) for parts in zip(*marked))
    return rows, cols, alpha[:, None], colour


def _mark_table(tile: np.ndarray) -> np.ndarray:
    rows, cols, alpha, colour = _table_markers(tile.shape[0])
    tile[rows, cols] = (tile[rows, cols] * (1 - alpha) + colour + 0.5).astype(np.uint8)
    return tile


def _decision_line(logit: np.ndarray, width: float = 1.8) -> np.ndarray:
    """Antialiased mask of the p = 0.5 line. On the logit the distance to the line is about
    |z| / |grad z| pixels (exact where z is linear), however saturated the sigmoid is; a flat
    field (a member at p = 0.5 everywhere) has no line."""
    gy, gx = np.gradient(logit)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = width / 2 + 0.5 - np.abs(logit) / np.hypot(gx, gy)
    return np.fmin(np.fmax(alpha, 0.0), 1.0)  # fmax/fmin also turn NaN (0 / 0) into 0


def boundary_tile(logit: np.ndarray) -> np.ndarray:
    """p(y=1) of one ``[R, R]`` logit field: colours, the p = 0.5 line, the table, a frame."""
    z = logit[::-1]  # field rows start at x2 = LOW; picture rows start at the top
    prob = 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
    tile = canvas.colourize(prob, PROB_CMAP, 0.0, 1.0)
    canvas.paint_sparse(tile, _decision_line(z), BLACK)
    return canvas.frame(_mark_table(tile))


def unit_tile(activation: np.ndarray, limit: float) -> np.ndarray:
    """One unit's ``[R, R]`` activation on the symmetric scale [-limit, limit]: 0 is white."""
    tile = canvas.colourize(activation[::-1], UNIT_CMAP, -limit, limit)
    return canvas.frame(_mark_table(tile))


def with_axes(tile: np.ndarray) -> np.ndarray:
    """Tick labels 0 and 1 at the table's rows and columns, and the axis names x1, x2."""
    size, margin = tile.shape[0], 26
    left, below = canvas.blank(size, margin), canvas.blank(margin, size + margin)
    for value in (0, 1):
        label, at = text(str(value), 10), int(round(_pixel(value, size)))
        canvas.put(left, label, (size - 1) - at - label.shape[0] // 2, 14)
        canvas.put(below, label, 1, margin + at - label.shape[1] // 2)
    canvas.put(left, text("x2", 11), size // 2 - 7, 0)
    canvas.put(below, text("x1", 11), 12, margin + size // 2 - 6)
    return canvas.vstack([canvas.hstack([left, tile]), below])


@lru_cache(maxsize=2)
def legend() -> np.ndarray:
    """What the marks mean: circle target 1, square target 0, black line p = 0.5."""
    box = 18
    pieces = []
    for target, words in ((1.0, "target 1"), (0.0, "target 0")):
        sign = canvas.blank(box, box)
        for alpha, colour in _marker(target, 6.0, box / 2 - 0.5, box / 2 - 0.5, box):
            canvas.paint(sign, alpha, colour)
        pieces += [sign, canvas.pad(text(words, 11), top=2)]
    line = canvas.blank(box, 26)
    line[box // 2 - 1:box // 2 + 1, 2:24] = BLACK
    pieces += [line, canvas.pad(text("p = 0.5 (the decision line)", 11), top=2)]
    out = canvas.hstack([p if i % 2 == 0 else canvas.pad(p, right=14) for i, p in enumerate(pieces)], gap=4)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=8)
def prob_bar(height: int) -> np.ndarray:
    out = canvas.colour_bar(PROB_CMAP, 0.0, 1.0, height, "p(y=1)", [(1.0, "1"), (0.5, "0.5"), (0.0, "0")])
    out.flags.writeable = False
    return out


def unit_bar(limit: float, height: int) -> np.ndarray:
    return canvas.colour_bar(
        UNIT_CMAP, -limit, limit, height, "activation", [(limit, f"{limit:.2g}"), (0.0, "0"), (-limit, f"-{limit:.2g}")]
    )
