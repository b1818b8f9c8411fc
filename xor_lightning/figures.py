"""Matplotlib pictures of what a population learned: decision boundaries, hidden units, loss curves.

matplotlib is imported inside the functions (Agg backend, no display needed), so importing this
module costs nothing and runs that draw no picture never load it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from xor_lightning.data import INPUTS, TARGETS
from xor_lightning.nets import Population

LOW, HIGH = -0.5, 1.5  # the square shown around the unit square of the truth table
RESOLUTION = 81        # grid points per axis: smooth enough, cheap for 100s of members
MEMBER_LINES = 20      # members whose own loss curve the report draws


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


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def grid_points(resolution: int = RESOLUTION) -> torch.Tensor:
    """``[R*R, 2]`` points of the square, row-major with x2 as the row (what imshow expects)."""
    axis = torch.linspace(LOW, HIGH, resolution)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x1.flatten(), x2.flatten()], dim=1)


@torch.no_grad()
def output_fields(net: Population, members: list[int], resolution: int = RESOLUTION) -> torch.Tensor:
    """``[len(members), R, R]`` sigmoid(logit) over the square for the chosen members."""
    x = grid_points(resolution).to(net.weights[0].device, net.weights[0].dtype)
    probs = torch.sigmoid(net(x, members=members)[:, :, 0]).float().cpu()
    return probs.reshape(len(members), resolution, resolution)


@torch.no_grad()
def unit_fields(net: Population, member: int, resolution: int = RESOLUTION) -> torch.Tensor:
    """``[units, R, R]`` activations of the first hidden layer of one member (empty without one)."""
    if len(net.widths) < 3:
        return torch.empty(0, resolution, resolution)
    x = grid_points(resolution).to(net.weights[0].device, net.weights[0].dtype)
    acts = net(x, upto=0, members=[member])[0].float().cpu()  # [R*R, units]
    return acts.T.reshape(-1, resolution, resolution)


def _mark_table(ax) -> None:
    """The four rows of the table: filled circles for target 1, open squares for target 0."""
    ones = TARGETS.squeeze(-1) > 0.5
    for rows, face, edge, marker in ((ones, "white", "black", "o"), (~ones, "black", "white", "s")):
        pts = INPUTS[rows].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=60, c=face, edgecolors=edge, marker=marker, linewidths=1.5, zorder=3)


def _square(ax, field: torch.Tensor, title: str, cmap: str, vmin: float, vmax: float, boundary: bool) -> None:
    ax.imshow(field.numpy(), origin="lower", extent=(LOW, HIGH, LOW, HIGH), cmap=cmap, vmin=vmin, vmax=vmax)
    if boundary and float(field.min()) < 0.5 < float(field.max()):
        ax.contour(field.numpy(), levels=[0.5], colors="black", linewidths=1.2, origin="lower", extent=(LOW, HIGH, LOW, HIGH))
    _mark_table(ax)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([0, 1])
    ax.set_yticks([0, 1])
    ax.tick_params(labelsize=7)


def draw_boundary(ax, prob: torch.Tensor, title: str) -> None:
    """p(y=1) over the square (blue 0 .. red 1), the 0.5 contour, the four table points."""
    _square(ax, prob, title, "RdBu_r", 0.0, 1.0, boundary=True)


def draw_unit(ax, act: torch.Tensor, title: str) -> None:
    """One hidden unit's activation, coloured symmetrically around 0 like Playground's thumbnails."""
    lim = max(float(act.abs().max()), 1e-6)
    _square(ax, act, title, "PuOr_r", -lim, lim, boundary=False)


def _label(member: int, seed: int, solved: bool | None) -> str:
    state = "" if solved is None else (" solved" if solved else " not solved")
    return f"member {member} (seed {seed}){state}"


def _thumbnail_spacing(fig) -> None:
    # Fixed margins instead of tight_layout, which measures every label and costs more than drawing.
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.9, wspace=0.35, hspace=0.45)


def boundary_figure(net: Population, member: int, seed: int, solved: bool | None = None):
    """One member's decision boundary, large."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    draw_boundary(ax, output_fields(net, [member])[0], _label(member, seed + member, solved))
    ax.set_xlabel("x1   (circles: y=1, squares: y=0, line: p=0.5)", fontsize=8)
    ax.set_ylabel("x2")
    fig.tight_layout()
    return fig


def members_figure(net: Population, count: int, seed: int, solved: torch.Tensor | None = None):
    """The boundaries of the first ``count`` members in a near-square grid."""
    plt = pyplot()
    members = list(range(min(count, net.members)))
    cols = max(1, round(len(members) ** 0.5 + 0.49))
    rows = -(-len(members) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.2 * rows), dpi=80, squeeze=False)
    fields = output_fields(net, members)
    for ax in axes.flat[len(members):]:
        ax.axis("off")
    for i, ax in zip(members, axes.flat):
        ok = None if solved is None else bool(solved[i])
        draw_boundary(ax, fields[i], f"seed {seed + i}" + ("" if ok is None else (" ok" if ok else " FAIL")))
    _thumbnail_spacing(fig)
    return fig


def draw_units(axes, net: Population, member: int) -> None:
    """First-hidden-layer units then the output (p(y=1)) into ``axes`` (one per unit + 1)."""
    units = unit_fields(net, member)
    for u, ax in enumerate(axes[: len(units)]):
        draw_unit(ax, units[u], f"hidden 1, unit {u}")
    draw_boundary(axes[len(units)], output_fields(net, [member])[0], "output p(y=1)")


def units_figure(net: Population, member: int, max_cols: int = 9):
    """Playground-style thumbnails: every unit of the first hidden layer, then the output."""
    plt = pyplot()
    n = (net.widths[1] if len(net.widths) > 2 else 0) + 1  # first hidden layer's units + the output
    cols = min(n, max_cols)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.0 * rows), dpi=80, squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    draw_units(list(axes.flat), net, member)
    _thumbnail_spacing(fig)
    return fig


def draw_losses(ax, history: History) -> None:
    """Mean train and val loss; faint lines: the val loss of the first few members."""
    if not history.epochs:
        ax.text(0.5, 0.5, "no epochs recorded", ha="center", va="center", transform=ax.transAxes)
        return
    per_member = torch.tensor(history.val_members)  # [epochs, shown]
    shown = per_member.shape[1] if per_member.dim() == 2 else 0
    for i in range(shown):
        label = f"val/loss, members 0..{shown - 1}" if i == 0 else None
        ax.plot(history.epochs, per_member[:, i].numpy(), color="tab:orange", alpha=0.3, linewidth=0.8, label=label)
    ax.plot(history.epochs, history.train_loss, color="tab:blue", label="train/loss (mean)")
    ax.plot(history.epochs, history.val_loss, color="tab:red", label="val/loss (mean)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG (creating folders) and free it."""
    plt = pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
