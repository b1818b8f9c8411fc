"""One field as a square picture (a tile): colours, the p = 0.5 line, the task's rows as markers,
axes; and the pieces that explain them: the legend of the marks and the colour bars.

Tiles show the square [LOW, HIGH]^2 around the table; field row 0 is x2 = LOW, picture row 0 is
the top, so fields are flipped on the way in. The rows come as ``marks``: (x1, x2, target) each
(task.Task.marks).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from xor_lightning.views import canvas
from xor_lightning.views.canvas import BLACK, PROB_CMAP, UNIT_CMAP, text

LOW, HIGH = -0.5, 1.5  # the square shown around the unit square of the truth table
Marks = tuple[tuple[float, float, float], ...]  # (x1, x2, target) per row


def _pixel(value: float, size: int, extent: tuple[float, float] = (LOW, HIGH)) -> float:
    """Pixel coordinate (0 = first row/column centre) of ``value`` along a side of ``size`` points."""
    return (value - extent[0]) / (extent[1] - extent[0]) * (size - 1)


def _supersampled(draw_shape, box: int, scale: int = 4) -> np.ndarray:
    """An antialiased 0..1 mask: ``draw_shape(draw, scale)`` on a ``box*scale`` canvas, shrunk."""
    mask = Image.new("L", (box * scale, box * scale))
    draw_shape(ImageDraw.Draw(mask), scale)
    return np.asarray(mask.reduce(scale), dtype=np.float32) / 255.0


def _marker(target: float, radius: float, cx: float, cy: float, box: int, ring: float = 1.6,
            ring_colour: tuple | None = None) -> list[tuple[np.ndarray, tuple]]:
    """Masks and colours, painted in order, of one table row's marker centred at (cx, cy) inside a
    ``box`` square: a white circle ringed black for target 1, a black square ringed white for 0
    (ringed ``ring_colour`` instead when given: the test points of a point set)."""
    if target > 0.5:
        shapes = [(radius, ring_colour or BLACK), (radius - ring, (255, 255, 255))]
        draw = ImageDraw.ImageDraw.ellipse
    else:
        shapes = [(radius * 0.9, ring_colour or (255, 255, 255)), (radius * 0.9 - ring, BLACK)]
        draw = ImageDraw.ImageDraw.rectangle
    layers = []
    for r, colour in shapes:
        # Pixel i covers [i, i+1) in continuous coordinates, so its centre is at i + 0.5.
        def shape(d, s, r=r):
            draw(d, [(cx + 0.5 - r) * s, (cy + 0.5 - r) * s, (cx + 0.5 + r) * s, (cy + 0.5 + r) * s], fill=255)
        layers.append((_supersampled(shape, box), colour))
    return layers


MANY = 16  # more marks than this (a point set) are drawn as small dots
TEST_RING = (150, 150, 150)  # the ring of a point set's test points


@lru_cache(maxsize=16)
def _table_markers(size: int, marks: Marks, extent: tuple[float, float] = (LOW, HIGH),
                   test: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows' markers where they sit on a ``size`` tile of the square ``extent``."""
    at = tuple((_pixel(x1, size, extent), (size - 1) - _pixel(x2, size, extent)) for x1, x2, _ in marks)  # row 0: x2 = HIGH
    return _markers(size, at, tuple(t for *_, t in marks), test)


def _markers(size: int, at: tuple[tuple[float, float], ...], targets: tuple[float, ...],
             test: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows' markers at pixel centres ``at`` (one per row) on a ``size`` tile as (rows,
    columns, alpha, premultiplied colour) of the pixels they touch: marking is one vectorized blend."""
    many = len(at) > MANY
    radius = max(size / 90, 2.2) if many else min(max(size / 18, 4.5), 9.0)
    ring = 0.8 if many else 1.6
    box = int(2 * radius + 6)
    marked = []
    for (cx, cy), target in zip(at, targets):
        left, top = int(cx) - box // 2, int(cy) - box // 2
        patch_alpha, patch_colour = np.zeros((box, box)), np.zeros((box, box, 3))
        layers = _marker(target, radius, cx - left, cy - top, box, ring, TEST_RING if test else None)
        for alpha, colour in layers:  # paint layers in order
            patch_colour = patch_colour * (1 - alpha[..., None]) + np.asarray(colour) * alpha[..., None]
            patch_alpha = patch_alpha * (1 - alpha) + alpha
        ys, xs = np.nonzero(patch_alpha)
        inside = (ys + top >= 0) & (ys + top < size) & (xs + left >= 0) & (xs + left < size)
        ys, xs = ys[inside], xs[inside]
        marked.append((ys + top, xs + left, patch_alpha[ys, xs], patch_colour[ys, xs]))
    rows, cols, alpha, colour = (np.concatenate(parts) for parts in zip(*marked))
    return rows, cols, alpha[:, None], colour


def _mark_table(tile: np.ndarray, marks: Marks, at: tuple[tuple[float, float], ...] | None = None,
                extent: tuple[float, float] = (LOW, HIGH), test_marks: Marks = ()) -> np.ndarray:
    """The rows' markers, where they sit in the square ``extent``, or at pixel centres ``at`` (one
    per mark); then a point set's test points, ringed grey."""
    size = tile.shape[0]
    for group, test in ((marks, False), (test_marks, True)):
        if not group:
            continue
        rows, cols, alpha, colour = (_table_markers(size, group, extent, test) if at is None or test
                                     else _markers(size, at, tuple(t for *_, t in group)))
        tile[rows, cols] = (tile[rows, cols] * (1 - alpha) + colour + 0.5).astype(np.uint8)
    return tile


def _decision_line(logit: np.ndarray, width: float = 1.8) -> np.ndarray:
    """Antialiased mask of the p = 0.5 line. On the logit the distance to the line is about
    |z| / |grad z| pixels (exact where z is linear), however saturated the sigmoid is; a flat
    field (a member at p = 0.5 everywhere) has no line. A finite network with huge weights (a run
    about to diverge) can overflow the float32 field to +-inf, and inf - inf has no gradient: such
    pixels are far from the line anyway, so they are held at a bound whose differences stay finite."""
    if np.issubdtype(logit.dtype, np.floating):
        bound = np.finfo(logit.dtype).max / 4
        logit = np.clip(logit, -bound, bound)
    gy, gx = np.gradient(logit)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = width / 2 + 0.5 - np.abs(logit) / np.hypot(gx, gy)
    return np.fmin(np.fmax(alpha, 0.0), 1.0)  # fmax/fmin also turn NaN (0 / 0) into 0


def boundary_tile(field: np.ndarray, head: str = "logit", marks: Marks = (),
                  at: tuple[tuple[float, float], ...] | None = None, extent: tuple[float, float] = (LOW, HIGH),
                  test_marks: Marks = ()) -> np.ndarray:
    """p(y=1) of one ``[R, R]`` decision field (the logit, or a linear head's output - 1/2):
    colours, the p = 0.5 line, the rows ``marks`` (or at pixel centres ``at``), a frame."""
    z = field[::-1]  # field rows start at the plane's lowest value; picture rows start at the top
    prob = 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0))) if head == "logit" else np.clip(z + 0.5, 0.0, 1.0)
    tile = canvas.colourize(prob, PROB_CMAP, 0.0, 1.0)
    canvas.paint_sparse(tile, _decision_line(z), BLACK)
    return canvas.frame(_mark_table(tile, marks, at, extent, test_marks))


def unit_tile(activation: np.ndarray, limit: float, marks: Marks = (),
              extent: tuple[float, float] = (LOW, HIGH)) -> np.ndarray:
    """One unit's ``[R, R]`` activation on the symmetric scale [-limit, limit]: 0 is white."""
    tile = canvas.colourize(activation[::-1], UNIT_CMAP, -limit, limit)
    return canvas.frame(_mark_table(tile, marks, extent=extent))


def with_axes(tile: np.ndarray, ticks: tuple[float, ...] = (0, 1), low: float = LOW, high: float = HIGH,
              names: tuple[str, str] = ("x1", "x2")) -> np.ndarray:
    """Tick labels (the table's 0 and 1 by default) on a tile of the square [low, high]^2, and the
    axis names."""
    size, margin = tile.shape[0], 30
    left, below = canvas.blank(size, margin), canvas.blank(margin, size + margin)
    for value in ticks:
        label = text(f"{value:g}", 10)
        at = int(round((value - low) / (high - low) * (size - 1)))
        canvas.put(left, label, (size - 1) - at - label.shape[0] // 2, margin - 3 - label.shape[1])
        canvas.put(below, label, 1, margin + at - label.shape[1] // 2)
    canvas.put(left, text(names[1], 11), size // 2 - 7, 0)
    canvas.put(below, text(names[0], 11), 12, margin + size // 2 - 6)
    return canvas.vstack([canvas.hstack([left, tile]), below])


@lru_cache(maxsize=2)
def legend(test: bool = False) -> np.ndarray:
    """What the marks mean: circle target 1, square target 0, black line p = 0.5; with ``test``
    also the grey ring of a point set's test points."""
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
    if test:
        sign = canvas.blank(box, box)
        for alpha, colour in _marker(1.0, 6.0, box / 2 - 0.5, box / 2 - 0.5, box, ring_colour=TEST_RING):
            canvas.paint(sign, alpha, colour)
        pieces += [sign, canvas.pad(text("test point (grey ring; never trained on)", 11), top=2)]
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


# ---- a table without a plane (1 input, or 3 and more): each row's p(y=1), a column per member ----

MAX_DRAWN_ROWS = 1024  # rows drawn (a pixel line each at most): 2^16 rows would be a picture no one reads
WRONG_STRIP = 6        # on rows too thin for a frame, a wrong cell is marked by a black strip this wide


def row_height(rows: int) -> int:
    """Pixels per table row: 18 for a few rows, down to 1 for hundreds."""
    return max(1, min(18, 768 // min(rows, MAX_DRAWN_ROWS)))


def rows_tile(probs: np.ndarray, targets: np.ndarray, wrong: np.ndarray, cell_width: int = 44) -> np.ndarray:
    """``probs`` [R, M] (p(y=1) of R rows for M members) as a heat map on PROB_CMAP, its first column
    the targets; a wrong cell (``wrong`` [R, M]) framed black, or on thin rows marked by a black
    strip at its right edge. One cell per row and member, ``row_height(R)`` pixels tall."""
    height = row_height(len(targets))
    values = np.concatenate([targets[:, None].astype(np.float32), probs.astype(np.float32)], axis=1)
    tile = canvas.colourize(np.repeat(np.repeat(values, height, axis=0), cell_width, axis=1), PROB_CMAP, 0.0, 1.0)
    for r, m in zip(*np.nonzero(wrong)):
        top, left = r * height, (m + 1) * cell_width
        cell = tile[top:top + height, left:left + cell_width]
        if height >= 6:
            cell[:2], cell[-2:], cell[:, :2], cell[:, -2:] = BLACK, BLACK, BLACK, BLACK
        else:
            cell[:, -WRONG_STRIP:] = BLACK
    tile[:, cell_width - 1:cell_width + 1] = BLACK  # the targets apart from the members
    return canvas.frame(tile)


@lru_cache(maxsize=2)
def rows_legend(thin: bool = False) -> np.ndarray:
    """What the rows picture shows: the colour is p(y=1), the first column the target, a black
    frame (a black strip on thin rows) a row the member gets wrong."""
    sign = canvas.blank(14, 22)
    if thin:
        sign[:, -WRONG_STRIP:] = BLACK
    else:
        sign[:2], sign[-2:], sign[:, :2], sign[:, -2:] = BLACK, BLACK, BLACK, BLACK
    words = ("first column: the target; colour: p(y=1); black " + ("strip at a cell's right edge" if thin else "frame")
             + ": a row the member gets wrong (p = 0.5 counts as wrong)")
    out = canvas.hstack([canvas.frame(sign), canvas.pad(text(words, 11), top=1)], gap=6)
    out.flags.writeable = False
    return out
