"""The end-of-run picture (report.png) for people who never open TensorBoard."""

from __future__ import annotations

from pathlib import Path

from xor_lightning import figures
from xor_lightning.evaluation import Evaluation
from xor_lightning.figures import History
from xor_lightning.module import XORModule


def _headline(ev: Evaluation, run_id: str) -> str:
    s = ev.summary()
    median = s["epochs_to_solve"]["median"]
    solve = "-" if median is None else f"{median:g}"
    return (
        f"run {run_id}: {s['solved']}/{s['seeds']} seeds solved ({s['success_rate']:.0%}), "
        f"median epochs to solve {solve}, mean final loss {s['final_loss']:.3g}"
    )


def report_figure(module: XORModule, ev: Evaluation, history: History, run_id: str):
    """Top row: loss curves and the best member's boundary; bottom row: its hidden units + output."""
    plt = figures.pyplot()
    net, member = module.net, ev.best_member()
    units = net.widths[1] if len(net.widths) > 2 else 0
    cols = max(4, min(units + 1, 9))
    unit_rows = -(-(units + 1) // cols)
    fig = plt.figure(figsize=(2.0 * cols, 4.2 + 2.0 * unit_rows), dpi=80)
    spec = fig.add_gridspec(2 + unit_rows, cols, height_ratios=[1.05, 1.05] + [1.0] * unit_rows)
    figures.draw_losses(fig.add_subplot(spec[:2, : cols - 2]), history)
    figures.draw_boundary(
        fig.add_subplot(spec[:2, cols - 2:]), figures.output_fields(net, [member])[0],
        f"best member {member} (seed {ev.seed + member})" + (" solved" if bool(ev.solved[member]) else " not solved"),
    )
    axes = [fig.add_subplot(spec[2 + k // cols, k % cols]) for k in range(units + 1)]
    figures.draw_units(axes, net, member)
    fig.suptitle(_headline(ev, run_id), fontsize=10)
    fig.tight_layout()
    return fig


def write_report(path: str | Path, module: XORModule, ev: Evaluation, history: History, run_id: str) -> Path:
    return figures.save(report_figure(module, ev, history, run_id), path)
