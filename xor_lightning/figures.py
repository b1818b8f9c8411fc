"""Pictures of what a population learned: decision boundaries, every hidden layer's units, the losses.

A picture is computed for the members it shows only (``Population.forward(x, members=[...])``), as
fields over the square around the truth table, coloured by a colormap lookup and composed as
arrays (canvas.py). TensorBoard rounds, report.png and ``evaluate ... boundary=PATH.png`` all use
these functions, so they look alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from xor_lightning import canvas
from xor_lightning.atomic_io import atomic_write_bytes
from xor_lightning.canvas import BLACK, PROB_CMAP, UNIT_CMAP, text
from xor_lightning.data import INPUTS, TARGETS
from xor_lightning.nets import Population

LOW, HIGH = -0.5, 1.5  # the square shown around the unit square of the truth table
RESOLUTION = 81        # grid points per axis of output_fields/unit_fields when no size is asked
MEMBER_LINES = 20      # members whose own loss curve the report draws
UNITS_PER_ROW = 8      # unit thumbnails per row; wider layers wrap
MAX_UNITS = 64         # thumbnails per layer: a [512] layer would make a picture no one can read
SOLVED_COLOUR = (0, 110, 40)
FAILED_COLOUR = (180, 20, 20)


@dataclass
class History:
    """Per-epoch losses a callback collects during fit, for the report's loss curves. Only the
    mean and the first ``MEMBER_LINES`` members are kept, so 10,000 seeds cost no more memory."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean over members
    val_loss: list[float] = field(default_factory=list)    # mean over members
    val_members: list[list[float]] = field(default_factory=list)  # the first members, one list per epoch

    def add(self, epoch: int, train_loss: float, val_losses: torch.Tensor) -> None:
        self.epochs.append(epoch)
        self.train_loss.append(train_loss)
        self.val_loss.append(float(val_losses.mean()))
        self.val_members.append(val_losses[:MEMBER_LINES].tolist() if len(val_losses) > 1 else [])


# ---- fields: values over the square, only for the members drawn ---------------------------------

def grid_points(resolution: int = RESOLUTION) -> torch.Tensor:
    """``[R*R, 2]`` points of the square, row-major with x2 as the row (row 0: x2 = LOW)."""
    axis = torch.linspace(LOW, HIGH, resolution)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x1.flatten(), x2.flatten()], dim=1)


def _points(net: Population, resolution: int) -> torch.Tensor:
    return grid_points(resolution).to(net.weights[0].device, net.weights[0].dtype)


@torch.no_grad()
def logit_fields(net: Population, members: list[int], resolution: int = RESOLUTION) -> torch.Tensor:
    """``[len(members), R, R]`` logits over the square for the chosen members."""
    logits = net(_points(net, resolution), members=members)[:, :, 0].float().cpu()
    return logits.reshape(len(members), resolution, resolution)


def output_fields(net: Population, members: list[int], resolution: int = RESOLUTION) -> torch.Tensor:
    """``[len(members), R, R]`` sigmoid(logit) over the square for the chosen members."""
    return torch.sigmoid(logit_fields(net, members, resolution))


@torch.no_grad()
def layer_fields(net: Population, member: int, resolution: int = RESOLUTION) -> list[torch.Tensor]:
    """One ``[units, R, R]`` tensor of activations per hidden layer of one member (none without)."""
    x = _points(net, resolution)
    return [
        net(x, upto=j, members=[member])[0].float().cpu().T.reshape(-1, resolution, resolution)
        for j in range(len(net.widths) - 2)
    ]


def unit_fields(net: Population, member: int, resolution: int = RESOLUTION) -> torch.Tensor:
    """``[units, R, R]`` activations of the first hidden layer of one member (empty without one)."""
    layers = layer_fields(net, member, resolution)
    return layers[0] if layers else torch.empty(0, resolution, resolution)


def tile_logits(net: Population, members: list[int], size: int) -> np.ndarray:
    """``[len(members), size, size]`` logits for tiles: computed on a grid of half the pixels and
    interpolated (bilinear), ~3-4x cheaper and indistinguishable on screen: the logit is smooth."""
    coarse = logit_fields(net, members, size // 2 + 1)
    return F.interpolate(coarse[:, None], size=(size, size), mode="bilinear", align_corners=True)[:, 0].numpy()


# ---- tiles: one field as a square picture --------------------------------------------------------

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


def _with_axes(tile: np.ndarray) -> np.ndarray:
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


# ---- legends, bars, titles -----------------------------------------------------------------------

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


def _is_solved(solved: torch.Tensor | bool | None, member: int) -> bool | None:
    if solved is None or isinstance(solved, bool):
        return solved
    return bool(solved[member])


def _state(solved: bool | None, size: int = 11) -> np.ndarray | None:
    if solved is None:
        return None
    return text("solved" if solved else "not solved", size, SOLVED_COLOUR if solved else FAILED_COLOUR)


def _when(step: int | None) -> str:
    return "" if step is None else f", epoch {step}"


def title_line(words: str, solved: bool | None = None, size: int = 14) -> np.ndarray:
    """A title, with ", solved" (green) or ", not solved" (red) after it when known."""
    state = _state(solved, size)
    return text(words, size) if state is None else canvas.hstack([text(words + ", ", size), state])


def who(member: int, seed: int, best: bool = False) -> str:
    """"member 3 (seed 3)"; ``seed`` is member 0's seed."""
    return f"{'best member' if best else 'member'} {member} (seed {seed + member})"


def with_legend(title: np.ndarray, body: np.ndarray, margin: int = 10) -> np.ndarray:
    """Title, body and the legend of the marks, with white margins."""
    return canvas.pad(canvas.vstack([title, body, legend()], gap=10), margin, margin, margin, margin)


# ---- pictures ------------------------------------------------------------------------------------

def boundary_panel(net: Population, member: int, size: int = 240) -> np.ndarray:
    """One member's p(y=1) with axes and the colour bar."""
    tile = boundary_tile(tile_logits(net, [member], size)[0])
    return canvas.hstack([_with_axes(tile), prob_bar(size)], gap=8)


def boundary_image(
    net: Population, member: int, *, seed: int, solved: torch.Tensor | bool | None = None,
    step: int | None = None, best: bool = False, size: int = 240,
) -> np.ndarray:
    """One member's decision boundary, titled with member, seed, solved state and epoch."""
    title = title_line(f"{who(member, seed, best)}{_when(step)}", _is_solved(solved, member))
    return with_legend(title, boundary_panel(net, member, size))


def members_image(
    net: Population, count: int, *, seed: int, solved: torch.Tensor | None = None,
    step: int | None = None, size: int = 112,
) -> np.ndarray:
    """The boundaries of the first ``count`` members in a near-square grid, one colour bar."""
    members = list(range(min(count, net.members)))
    logits = tile_logits(net, members, size)
    panels = []
    for i in members:
        caption = [text(f"member {i} (seed {seed + i})", 10)]
        state = _state(_is_solved(solved, i))
        panels.append(canvas.titled(boundary_tile(logits[i]), *caption, *([] if state is None else [state])))
    cols = max(1, int(np.ceil(np.sqrt(len(panels)))))
    rows = [canvas.hstack(panels[r:r + cols], gap=10) for r in range(0, len(panels), cols)]
    grid = canvas.vstack(rows, gap=10)
    body = canvas.hstack([grid, prob_bar(min(grid.shape[0], 2 * size))], gap=12)
    title = f"first {len(members)} members{_when(step)}"
    if solved is not None:
        title += f": {sum(bool(solved[i]) for i in members)} of {len(members)} solved"
    return with_legend(title_line(title), body)


def units_panel(net: Population, member: int, size: int = 88, max_width: int = 1100) -> np.ndarray:
    """Every hidden layer's units (one shared symmetric scale per layer), then the output."""
    blocks = []
    for j, acts in enumerate(layer_fields(net, member, size)):
        shown = acts[:MAX_UNITS].numpy()
        # One scale for the whole layer: strengths compare, and a dead unit (0 everywhere) is white.
        limit = float(np.nan_to_num(np.abs(shown)).max()) or 1.0
        tiles = [canvas.titled(unit_tile(a, limit), text(f"hidden {j + 1}, unit {u}", 10)) for u, a in enumerate(shown)]
        rows = [canvas.hstack(tiles[r:r + UNITS_PER_ROW], gap=6) for r in range(0, len(tiles), UNITS_PER_ROW)]
        grid = canvas.vstack(rows, gap=6)
        more = f", the first {MAX_UNITS} shown" if len(acts) > MAX_UNITS else ""
        header = text(f"hidden layer {j + 1}: {len(acts)} units{more}", 12)
        blocks.append(canvas.titled(canvas.hstack([grid, unit_bar(limit, size * min(len(rows), 2))], gap=8), header))
    out = canvas.titled(boundary_tile(tile_logits(net, [member], size)[0]), text("p(y=1)", 10))
    blocks.append(canvas.titled(canvas.hstack([out, prob_bar(size)], gap=8), text("output", 12)))
    return canvas.wrap(blocks, max_width, gap=24)


def units_image(
    net: Population, member: int, *, seed: int, solved: torch.Tensor | bool | None = None,
    step: int | None = None, best: bool = False, size: int = 88,
) -> np.ndarray:
    """Playground-style thumbnails of one member: every hidden unit, then the output."""
    title = title_line(f"units of {who(member, seed, best)}{_when(step)}", _is_solved(solved, member))
    return with_legend(title, units_panel(net, member, size))


def save(picture: np.ndarray, path: str | Path) -> Path:
    """Write ``picture`` as a PNG, whole or not at all (creating folders)."""
    return atomic_write_bytes(path, canvas.png(picture, level=6))
