"""Pictures of what a population learned: decision boundaries and every hidden layer's units.

A picture is computed for the members it shows only (``Population.forward(x, only=[...])``), as
fields over the square around the truth table, drawn as tiles (tiles.py) and composed as arrays
(canvas.py). TensorBoard rounds, report.png and ``evaluate ... boundary=PATH.png`` all use these
functions, so they look alike. History holds the per-epoch losses report.png plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from xor_lightning.base.atomic_io import atomic_write_bytes
from xor_lightning.core.nets import Population
from xor_lightning.core.task import XOR, Task
from xor_lightning.core.verdict import decision, probability, right
from xor_lightning.views import canvas
from xor_lightning.views.canvas import text
from xor_lightning.views.plots import nice_ticks
from xor_lightning.views.tiles import (
    HIGH,
    LOW,
    MAX_DRAWN_ROWS,
    boundary_tile,
    legend,
    prob_bar,
    row_height,
    rows_legend,
    rows_tile,
    unit_bar,
    unit_tile,
    with_axes,
)

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

    def extend(self, block) -> None:
        """Every epoch of a block (block.BlockRecord) at once: one host sync, not one per epoch."""
        rows = block.scalars()
        self.epochs.extend(block.epochs)
        self.train_loss.extend(r["train/loss"] for r in rows)
        self.val_loss.extend(r["val/loss"] for r in rows)
        members = block.member_losses(MEMBER_LINES)
        self.val_members.extend(members.tolist() if members.shape[1] > 1 else [[] for _ in rows])

    def add(self, epoch: int, train_loss: float, val_losses: torch.Tensor) -> None:
        self.epochs.append(epoch)
        self.train_loss.append(train_loss)
        self.val_loss.append(float(val_losses.mean()))
        self.val_members.append(val_losses[:MEMBER_LINES].tolist() if len(val_losses) > 1 else [])


# ---- fields: values over the square, only for the members drawn ---------------------------------

def grid_points(resolution: int = RESOLUTION, extent: tuple[float, float] = (LOW, HIGH)) -> torch.Tensor:
    """``[R*R, 2]`` points of the square, row-major with x2 as the row (row 0: x2 = LOW)."""
    axis = torch.linspace(extent[0], extent[1], resolution)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x1.flatten(), x2.flatten()], dim=1)


def _points(net: Population, resolution: int, task: Task) -> torch.Tensor:
    """The network's inputs at the grid over the task's square (its features of (x1, x2))."""
    return task.featurize(grid_points(resolution, task.extent)).to(net.weights[0].device, net.weights[0].dtype)


@torch.no_grad()
def decision_fields(net: Population, members: list[int], resolution: int = RESOLUTION, task: Task = XOR) -> torch.Tensor:
    """``[len(members), R, R]`` decision values over the task's square for the chosen members: the
    logit, or a linear head's output - 1/2 (verdict.decision); 0 is the decision line."""
    outputs = net(_points(net, resolution, task), only=members)[:, :, 0].float().cpu()
    return decision(outputs, net.output).reshape(len(members), resolution, resolution)


def output_fields(net: Population, members: list[int], resolution: int = RESOLUTION, task: Task = XOR) -> torch.Tensor:
    """``[len(members), R, R]`` p(y=1) over the square for the chosen members."""
    fields = decision_fields(net, members, resolution, task)
    return probability(fields, "logit") if net.output == "logit" else fields + 0.5


@torch.no_grad()
def layer_fields(net: Population, member: int, resolution: int = RESOLUTION, task: Task = XOR) -> list[torch.Tensor]:
    """One ``[units, R, R]`` tensor of activations per hidden layer of one member (none without)."""
    x = _points(net, resolution, task)
    return [
        net(x, upto=j, only=[member])[0].float().cpu().T.reshape(-1, resolution, resolution)
        for j in range(len(net.widths) - 2)
    ]


def unit_fields(net: Population, member: int, resolution: int = RESOLUTION, task: Task = XOR) -> torch.Tensor:
    """``[units, R, R]`` activations of the first hidden layer of one member (empty without one)."""
    layers = layer_fields(net, member, resolution, task)
    return layers[0] if layers else torch.empty(0, resolution, resolution)


def tile_decisions(net: Population, members: list[int], size: int, task: Task = XOR) -> np.ndarray:
    """``[len(members), size, size]`` decision values for tiles: computed on a grid of half the pixels
    and interpolated (bilinear), ~3-4x cheaper and indistinguishable on screen: they are smooth."""
    coarse = decision_fields(net, members, size // 2 + 1, task)
    return F.interpolate(coarse[:, None], size=(size, size), mode="bilinear", align_corners=True)[:, 0].numpy()


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


def with_legend(title: np.ndarray, body: np.ndarray, margin: int = 10, test: bool = False) -> np.ndarray:
    """Title, body and the legend of the marks, with white margins."""
    return canvas.pad(canvas.vstack([title, body, legend(test)], gap=10), margin, margin, margin, margin)


# ---- pictures ------------------------------------------------------------------------------------

def boundary_panel(net: Population, member: int, size: int = 240, *, task: Task) -> np.ndarray:
    """One member's p(y=1) with axes and the colour bar."""
    tile = boundary_tile(tile_decisions(net, [member], size, task)[0], net.output, task.marks, extent=task.extent,
                         test_marks=task.test_marks)
    return canvas.hstack([with_axes(tile, task.ticks, *task.extent), prob_bar(size)], gap=8)


def boundary_image(
    net: Population, member: int, *, task: Task, seed: int, solved: torch.Tensor | bool | None = None,
    step: int | None = None, best: bool = False, size: int = 240,
) -> np.ndarray:
    """One member's decision boundary, titled with member, seed, solved state and epoch."""
    title = title_line(f"{who(member, seed, best)}{_when(step)}", _is_solved(solved, member))
    return with_legend(title, boundary_panel(net, member, size, task=task), test=task.has_test)


def members_image(
    net: Population, count: int, *, task: Task, seed: int, solved: torch.Tensor | None = None,
    step: int | None = None, size: int = 112,
) -> np.ndarray:
    """The boundaries of the first ``count`` members in a near-square grid, one colour bar."""
    members = list(range(min(count, net.members)))
    fields = tile_decisions(net, members, size, task)
    panels = []
    for i in members:
        caption = [text(f"member {i} (seed {seed + i})", 10)]
        state = _state(_is_solved(solved, i))
        tile = boundary_tile(fields[i], net.output, task.marks, extent=task.extent)
        panels.append(canvas.titled(tile, *caption, *([] if state is None else [state])))
    cols = max(1, int(np.ceil(np.sqrt(len(panels)))))
    rows = [canvas.hstack(panels[r:r + cols], gap=10) for r in range(0, len(panels), cols)]
    grid = canvas.vstack(rows, gap=10)
    body = canvas.hstack([grid, prob_bar(min(grid.shape[0], 2 * size))], gap=12)
    title = f"first {len(members)} members{_when(step)}"
    if solved is not None:
        title += f": {sum(bool(solved[i]) for i in members)} of {len(members)} solved"
    return with_legend(title_line(title), body)


def units_panel(net: Population, member: int, size: int = 88, max_width: int = 1100, *, task: Task) -> np.ndarray:
    """Every hidden layer's units (one shared symmetric scale per layer), then the output."""
    blocks = []
    for j, acts in enumerate(layer_fields(net, member, size, task)):
        shown = acts[:MAX_UNITS].numpy()
        # One scale for the whole layer: strengths compare, and a dead unit (0 everywhere) is white.
        limit = float(np.nan_to_num(np.abs(shown)).max()) or 1.0
        tiles = [canvas.titled(unit_tile(a, limit, task.marks, task.extent), text(f"hidden {j + 1}, unit {u}", 10))
                 for u, a in enumerate(shown)]
        rows = [canvas.hstack(tiles[r:r + UNITS_PER_ROW], gap=6) for r in range(0, len(tiles), UNITS_PER_ROW)]
        grid = canvas.vstack(rows, gap=6)
        more = f", the first {MAX_UNITS} shown" if len(acts) > MAX_UNITS else ""
        header = text(f"hidden layer {j + 1}: {len(acts)} units{more}", 12)
        blocks.append(canvas.titled(canvas.hstack([grid, unit_bar(limit, size * min(len(rows), 2))], gap=8), header))
    out = boundary_tile(tile_decisions(net, [member], size, task)[0], net.output, task.marks, extent=task.extent)
    out = canvas.titled(out, text("p(y=1)", 10))
    blocks.append(canvas.titled(canvas.hstack([out, prob_bar(size)], gap=8), text("output", 12)))
    return canvas.wrap(blocks, max_width, gap=24)


def units_image(
    net: Population, member: int, *, task: Task, seed: int, solved: torch.Tensor | bool | None = None,
    step: int | None = None, best: bool = False, size: int = 88,
) -> np.ndarray:
    """Playground-style thumbnails of one member: every hidden unit, then the output."""
    title = title_line(f"units of {who(member, seed, best)}{_when(step)}", _is_solved(solved, member))
    return with_legend(title, units_panel(net, member, size, task=task))


@torch.no_grad()
def hidden_space_panel(net: Population, member: int, size: int = 240, *, task: Task) -> np.ndarray | None:
    """The task's rows where the last hidden layer puts them, (h1, h2), over the output's p(y=1) in
    that plane with its decision line: where XOR has become linearly separable (the Deep Learning
    book's figure 6.1). None unless the last hidden layer has exactly 2 units."""
    if len(net.widths) < 3 or net.widths[-2] != 2:
        return None
    dtype, device = net.weights[0].dtype, net.weights[0].device
    h = net(task.inputs.to(device, dtype), upto=len(net.widths) - 3, only=[member])[0].float().cpu()  # [N, 2]
    w, b = net.weights[-1][member, :, 0].float().cpu(), float(net.biases[-1][member, 0, 0])
    lo, hi = float(h.min()), float(h.max())
    pad = max((hi - lo) * 0.35, 0.5)  # one range for h1 and h2, with room around the points
    low, high = lo - pad, hi + pad
    axis = torch.linspace(low, high, size)
    h2, h1 = torch.meshgrid(axis, axis, indexing="ij")  # field row 0: h2 = low
    field = decision(h1 * w[0] + h2 * w[1] + b, net.output).numpy()
    to_pixel = (size - 1) / (high - low)
    at = tuple(((a - low) * to_pixel, (size - 1) - (c - low) * to_pixel) for a, c in h.tolist())
    ticks = tuple(t for t in nice_ticks(low, high) if low <= t <= high)
    tile = with_axes(boundary_tile(field, net.output, task.marks, at), ticks, low, high, ("h1", "h2"))
    return canvas.hstack([tile, prob_bar(size)], gap=8)


def spaces_image(
    net: Population, member: int, *, task: Task, seed: int, solved: torch.Tensor | bool | None = None, best: bool = False,
) -> np.ndarray:
    """The table in input space (the decision boundary) beside the table in the last hidden layer's
    space, where a linear output separates it."""
    left = canvas.titled(boundary_panel(net, member, task=task), text("input space (x1, x2)", 12))
    hidden = hidden_space_panel(net, member, task=task)
    if hidden is None:
        widths = net.widths[1:-1] or "none"
        right = text(f"the hidden layer's space is drawn for a last hidden layer of 2 units (hidden: {widths})", 11)
    else:
        right = canvas.titled(hidden, text("the last hidden layer's space (h1, h2): XOR is linearly separable here", 12))
    title = title_line(f"{who(member, seed, best)}", _is_solved(solved, member))
    return with_legend(title, canvas.hstack([left, right], gap=30), test=task.has_test)


# ---- a table without a plane (1 input, or 3 and more): each row's p(y=1) per member --------------

ROW_MEMBERS = 8  # members a rows picture shows beside each other: the best (or a fixed one) and the first others


def shown_members(first: int, count: int, members: int) -> list[int]:
    """``first``, then members 0, 1, ... (``first`` once), ``count`` in all (at most ``members``)."""
    return list(dict.fromkeys([first, *range(members)]))[:max(1, min(count, members))]


@torch.no_grad()
def row_probs(net: Population, members: list[int], task: Task) -> torch.Tensor:
    """``[len(members), rows]`` p(y=1) of every row of the task for the chosen members."""
    x = task.inputs.to(net.weights[0].device, net.weights[0].dtype)
    return probability(net(x, only=members)[:, :, 0].float().cpu(), net.output)


def _column_header(lines: list[np.ndarray], width: int) -> np.ndarray:
    head = canvas.vstack(lines, gap=1, align="center")
    left = (width - head.shape[1]) // 2
    return canvas.pad(head, right=width - head.shape[1] - left, left=left)


def _row_labels(task: Task, drawn: int, height: int, min_width: int = 0) -> np.ndarray:
    """Each row's inputs (x1 first) beside it; on rows too thin for a label, every few rows labelled."""
    size = 10 if height >= 14 else 9
    every = 1 if height >= 11 else 1 << max(0, int(np.ceil(np.log2(16 / height))))
    labels = [(r, text("".join(f"{v:.0f}" for v in task.inputs[r].tolist()), size)) for r in range(0, drawn, every)]
    width = max(min_width, max(piece.shape[1] for _, piece in labels) + 8)
    column = canvas.blank(drawn * height, width)
    for r, piece in labels:
        canvas.put(column, piece, r * height + height // 2 - piece.shape[0] // 2, width - 6 - piece.shape[1])
        if every > 1:
            column[r * height, width - 4:] = canvas.BLACK  # the tick at the row labelled
    return column


def rows_panel(net: Population, members: list[int], *, task: Task, seed: int,
               solved: torch.Tensor | bool | None = None, best: int | None = None) -> np.ndarray:
    """A heat map of p(y=1): a line per row of the table (its inputs at the left), the target, then a
    column per member with its seed, state and how many rows it gets wrong; wrong cells framed black.
    Beyond MAX_DRAWN_ROWS rows the first are drawn and the counts still cover every row."""
    probs = row_probs(net, members, task)
    wrong = ~right(probs, task.targets, head=net.output)
    drawn, height = min(task.rows, MAX_DRAWN_ROWS), row_height(task.rows)
    heads = [[text("target", 10), text("", 10)]]
    for i, m in zip(range(len(members)), members):
        state = _state(_is_solved(solved, m), 10)
        n = int(wrong[i].sum())
        heads.append([text(f"{'best ' if m == best else ''}member {m}", 10), text(f"seed {seed + m}", 10),
                      *([] if state is None else [state]),
                      text(f"{n:,} wrong", 10, FAILED_COLOUR if n else SOLVED_COLOUR)])
    width = max(44, max(piece.shape[1] for lines in heads for piece in lines) + 8)
    tile = rows_tile(probs[:, :drawn].T.numpy(), task.targets[:drawn].numpy(), wrong[:, :drawn].T.numpy(), width)
    names = text(f"x1..x{task.n_in}" if task.n_in > 1 else "x1", 10)
    labels = _row_labels(task, drawn, height, names.shape[1] + 8)
    header = canvas.hstack([_column_header(lines, width) for lines in heads], align="bottom")
    header = canvas.hstack([_column_header([names], labels.shape[1]), header], align="bottom")
    body = canvas.vstack([header, canvas.hstack([labels, tile])], gap=4)
    if drawn < task.rows:
        body = canvas.vstack([body, text(f"the first {drawn:,} of {task.rows:,} rows drawn; "
                                         "the wrong counts cover every row", 10)], gap=6)
    return canvas.hstack([body, prob_bar(min(240, max(120, tile.shape[0])))], gap=12)


def rows_image(net: Population, members: list[int], *, task: Task, seed: int,
               solved: torch.Tensor | bool | None = None, step: int | None = None, best: int | None = None) -> np.ndarray:
    """The rows picture of ``members`` (rows_panel), titled with the step and how many of them solve the table."""
    title = f"p(y=1) of each of the {task.rows:,} rows{_when(step)}"
    if isinstance(solved, torch.Tensor):
        title += f": {sum(bool(solved[m]) for m in members)} of {len(members)} members shown solved"
    panel = rows_panel(net, members, task=task, seed=seed, solved=solved, best=best)
    return canvas.pad(canvas.vstack([title_line(title), panel, rows_legend_for(task)], gap=10), 10, 10, 10, 10)


def rows_legend_for(task: Task) -> np.ndarray:
    """The rows picture's legend, for the task's row height (a frame, or a strip on thin rows)."""
    return rows_legend(row_height(task.rows) < 6)


def save(picture: np.ndarray, path: str | Path) -> Path:
    """Write ``picture`` as a PNG, whole or not at all (creating folders)."""
    return atomic_write_bytes(path, canvas.png(picture, level=6))
