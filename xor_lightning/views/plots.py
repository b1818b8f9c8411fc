"""Line plots as arrays (Pillow), for report.png: axes, ticks, grid, lines and a legend.

One plot costs a few milliseconds; a matplotlib axes costs ~25 ms plus the figure around it.
Lines are drawn at twice the size and shrunk, so they are smooth; text is drawn at full size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from xor_lightning.views import canvas
from xor_lightning.views.canvas import BLACK, text

GRID = (222, 222, 222)
MINOR_GRID = (242, 242, 242)
SCALE = 2  # supersampling of the lines


@dataclass
class Line:
    xs: Sequence[float]
    ys: Sequence[float]
    colour: tuple[int, int, int]
    width: float = 1.5
    label: str | None = None  # shown in the legend when given


def faint(colour: tuple[int, int, int], keep: float = 0.35) -> tuple[int, int, int]:
    """``colour`` mixed with white: many thin lines stay readable under the mean lines."""
    return tuple(int(255 - (255 - c) * keep) for c in colour)


def _nice_step(span: float, ticks: int = 6) -> float:
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def nice_ticks(low: float, high: float) -> list[float]:
    step = _nice_step(high - low)
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if value != 0 else "0"


def _log_ticks(low: float, high: float, mantissas: tuple[int, ...]) -> list[float]:
    """log10 of m * 10^k (m in ``mantissas``) between ``low`` and ``high`` (log10 units)."""
    return [e + math.log10(m) for e in range(math.floor(low), math.ceil(high) + 1) for m in mantissas
            if low - 1e-9 <= e + math.log10(m) <= high + 1e-9]


def _y_scale(ys: np.ndarray, log_y: bool, y_range: tuple[float, float] | None) -> tuple[float, float, list[float]]:
    """(low, high, tick values) of the y axis from finite ``ys`` in axis units (log10 y on a log axis)."""
    if y_range is not None:
        return y_range[0], y_range[1], nice_ticks(*y_range)
    low, high = float(ys.min()), float(ys.max())
    if log_y:
        if high - low >= 1:  # whole decades
            low, high = math.floor(low), math.ceil(high)
            return low, high, _log_ticks(low, high, (1,))
        pad = max(0.05 * (high - low), 0.02)  # less than a decade: a tight axis at 1, 2, 5, or 1..9, or finer
        low, high = low - pad, high + pad
        for ticks in (_log_ticks(low, high, (1, 2, 5)), _log_ticks(low, high, tuple(range(1, 10)))):
            if len(ticks) >= 2:
                return low, high, ticks
        in_range = [v for v in nice_ticks(10 ** low, 10 ** high) if 10 ** low <= v <= 10 ** high and v > 0]
        return low, high, [math.log10(v) for v in in_range]
    if high <= low:
        low, high = low - 1, high + 1
    ticks = nice_ticks(low, high)
    return min(low, ticks[0]), max(high, ticks[-1]), ticks


def _segments(xs: np.ndarray, ys: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Runs of consecutive plottable points (a NaN or, on a log axis, a 0 breaks the line)."""
    ok = np.isfinite(ys)
    breaks = np.flatnonzero(np.diff(ok.astype(np.int8))) + 1
    return [(xs[a:b], ys[a:b]) for a, b in zip([0, *breaks], [*breaks, len(ys)]) if ok[a]]


def line_plot(
    lines: list[Line], *, title: str, x_label: str, y_label: str, log_y: bool = False,
    y_range: tuple[float, float] | None = None, width: int = 620, height: int = 300,
) -> np.ndarray:
    """A framed plot of ``lines`` (drawn in order, so put faint ones first) with a legend."""
    left, bottom, top = 54, 38, 26
    plot_w, plot_h = width - left - 12, height - bottom - top
    data = [(np.asarray(ln.xs, dtype=np.float64), np.asarray(ln.ys, dtype=np.float64), ln) for ln in lines]
    if log_y:  # only positive values have a place on a log axis
        data = [(x, np.log10(np.where(y > 0, y, np.nan)), ln) for x, y, ln in data]
    all_x = np.concatenate([x for x, _, _ in data]) if data else np.empty(0)
    all_y = np.concatenate([y for _, y, _ in data]) if data else np.empty(0)
    all_y = all_y[np.isfinite(all_y)]
    out = canvas.blank(height, width)
    canvas.put(out, text(title, 12), 4, left)
    if not all_y.size:
        canvas.put(out, text("nothing recorded", 12), top + plot_h // 2, left + plot_w // 2 - 50)
        return out
    x0, x1 = float(all_x.min()), float(all_x.max())
    x1 = x1 if x1 > x0 else x0 + 1
    y0, y1, y_ticks = _y_scale(all_y, log_y, y_range)

    def px(x, y):  # data to supersampled pixel coordinates
        return ((x - x0) / (x1 - x0) * (plot_w - 1) * SCALE, (1 - (y - y0) / (y1 - y0)) * (plot_h - 1) * SCALE)

    image = Image.new("RGB", (plot_w * SCALE, plot_h * SCALE), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    x_ticks = [x for x in nice_ticks(x0, x1) if x0 <= x <= x1]
    minor = _log_ticks(y0, y1, tuple(range(2, 10))) if log_y else []
    for y in minor:
        draw.line([px(x0, y), px(x1, y)], fill=MINOR_GRID, width=SCALE)
    for y in y_ticks:
        draw.line([px(x0, y), px(x1, y)], fill=GRID, width=SCALE)
    for x in x_ticks:
        draw.line([px(x, y0), px(x, y1)], fill=GRID, width=SCALE)
    for xs, ys, ln in data:
        for sx, sy in _segments(xs, ys):
            points = list(zip(*px(sx, sy))) if len(sx) > 1 else [px(sx[0], sy[0])] * 2
            line_width = max(1, round(ln.width * SCALE))
            draw.line([(float(a), float(b)) for a, b in points], fill=ln.colour, width=line_width, joint="curve")
    area = canvas.frame(np.asarray(image.reduce(SCALE)), BLACK)
    canvas.put(out, area, top, left)
    for y in y_ticks:
        label = text(_label(10 ** y if log_y else y), 10)
        row = top + int(round(px(x0, y)[1] / SCALE))
        canvas.put(out, label, row - label.shape[0] // 2, left - 5 - label.shape[1])
    for x in x_ticks:
        label = text(_label(x), 10)
        canvas.put(out, label, top + plot_h + 3, left + int(round(px(x, y0)[0] / SCALE)) - label.shape[1] // 2)
    canvas.put(out, text(x_label, 11), height - 17, left + plot_w // 2 - 15)
    canvas.put(out, np.rot90(text(y_label, 11)), top + plot_h // 2 - 30, 2)
    key = _legend([ln for ln in lines if ln.label])
    if key is not None:
        canvas.put(out, key, top + 6, left + plot_w - key.shape[1] - 6)
    return out


def _legend(lines: list[Line]) -> np.ndarray | None:
    if not lines:
        return None
    rows = []
    for ln in lines:
        sample = canvas.blank(12, 22)
        sample[5:5 + max(1, round(ln.width)), 1:21] = ln.colour
        rows.append(canvas.hstack([sample, text(ln.label, 10)], gap=4, align="center"))
    return canvas.frame(canvas.pad(canvas.vstack(rows, gap=2), 4, 6, 4, 6))
