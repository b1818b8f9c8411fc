"""The end-of-run picture (report.png) for people who never open TensorBoard.

Layout: the headline; the plot panels (left) beside the best member's decision boundary (right;
with 2 units in the last hidden layer, also the rows in that layer's space);
the best member's hidden units and output; the legend. A new plot panel is one more entry in
``plot_panels``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xor_lightning.core.evaluation import Evaluation
from xor_lightning.core.module import XORModule
from xor_lightning.core.stats import as_steps
from xor_lightning.views import canvas, figures
from xor_lightning.views.figures import History
from xor_lightning.views.numbers import epochs, percent
from xor_lightning.views.plots import Line, faint, line_plot

TRAIN_COLOUR = (31, 119, 180)
VAL_COLOUR = (214, 39, 40)
MEMBER_COLOUR = (255, 127, 14)
SURVIVAL_COLOUR = (44, 160, 44)
BUDGET_COLOUR = (148, 103, 189)


def _headline(ev: Evaluation, run_id: str) -> str:
    s = ev.summary()
    return (
        f"run {run_id}: {s['solved']}/{s['seeds']} seeds solved ({percent(s['success_rate'], 0)}), "
        f"median epochs to solve {epochs(s['epochs_to_solve']['median'])}, mean final loss {s['final_loss']:.3g}"
    )


def loss_plot(history: History) -> np.ndarray:
    """Mean train and val loss; faint lines: the val loss of the first few members."""
    per_member = np.asarray(history.val_members, dtype=np.float64)
    if per_member.ndim != 2:  # no epochs, or a single network (no per-member lines)
        per_member = np.empty((len(history.epochs), 0))
    lines = [
        Line(history.epochs, per_member[:, i], faint(MEMBER_COLOUR), 1.0,
             f"val/loss, members 0..{per_member.shape[1] - 1}" if i == 0 else None)
        for i in range(per_member.shape[1])
    ]
    lines += [
        Line(history.epochs, history.train_loss, TRAIN_COLOUR, 1.6, "train/loss (mean)"),
        Line(history.epochs, history.val_loss, VAL_COLOUR, 1.6, "val/loss (mean)"),
    ]
    return line_plot(lines, title="loss per epoch", x_label="epoch", y_label="loss (log)", log_y=True)


def survival_plot(ev: Evaluation) -> np.ndarray:
    """The fraction of members not yet solved against epochs: how fast *all* of them get there; with
    epoch budgets, beside it the fraction *not right at exactly* each budget (above the survival
    curve where members solved earlier are wrong again: an oscillating run)."""
    xs, ys = as_steps(*ev.survival())
    reached = [(int(e), 1 - r["rate"]) for e, r in ev.budget_rates().items() if r is not None]
    lines = [Line(xs, ys, SURVIVAL_COLOUR, 1.6, "not yet solved" if reached else None)]
    if reached:
        lines.append(Line([e for e, _ in reached], [f for _, f in reached], BUDGET_COLOUR, 2.4,
                          "not right at exactly the budget epoch"))
    return line_plot(lines, title="members not yet solved" + (" / not right at the budgets" if reached else ""),
                     x_label="epoch", y_label="fraction", y_range=(-0.02, 1.02), height=190)


def plot_panels(history: History, ev: Evaluation) -> list[np.ndarray]:
    """The report's plots, stacked top to bottom."""
    return [loss_plot(history), survival_plot(ev)]


def report_image(module: XORModule, ev: Evaluation, history: History, run_id: str, diagnosis=None) -> np.ndarray:
    net, member = module.net, ev.best_member()
    name = figures.who(member, ev.seed, best=True)
    if not ev.task.plane:  # no plane (x1, x2) to draw a boundary over: each row's p(y=1) instead
        return _rows_report(module, ev, history, run_id, diagnosis)
    boundary = canvas.titled(figures.boundary_panel(net, member, size=240, task=ev.task),
                             figures.title_line(name, bool(ev.solved[member]), 12))
    hidden = figures.hidden_space_panel(net, member, size=200, task=ev.task)  # with 2 units in the last hidden layer
    if hidden is not None:
        caption = canvas.text("the same rows in its last hidden layer's space", 12)
        boundary = canvas.vstack([boundary, canvas.titled(hidden, caption)], gap=14)
    top = canvas.hstack([canvas.vstack(plot_panels(history, ev), gap=12), boundary], gap=24)
    units = canvas.titled(figures.units_panel(net, member, task=ev.task), figures.title_line(f"units of {name}", None, 12))
    body = canvas.vstack([top, units], gap=22)
    return figures.with_legend(_title(ev, run_id, diagnosis), body, margin=14, test=ev.task.has_test)


def _title(ev: Evaluation, run_id: str, diagnosis=None) -> np.ndarray:
    title = figures.title_line(_headline(ev, run_id))
    if diagnosis is not None and diagnosis.summary():  # why the members that did not solve it failed
        title = canvas.vstack([title, canvas.text(f"not solved, by cause: {diagnosis.summary()}", 12)], gap=4)
    return title


def _rows_report(module: XORModule, ev: Evaluation, history: History, run_id: str, diagnosis=None) -> np.ndarray:
    """report.png of a table without a plane: the plots beside each row's p(y=1) for the best member
    and the first others (the evaluated weights), wrong rows framed."""
    best = ev.best_member()
    members = figures.shown_members(best, figures.ROW_MEMBERS, ev.members)
    others = f" and the first {len(members) - 1} others" if len(members) > 1 else ""
    rows = canvas.titled(figures.rows_panel(module.net, members, task=ev.task, seed=ev.seed, solved=ev.solved, best=best),
                         canvas.text(f"each row's p(y=1): the best member{others}", 12))
    top = canvas.hstack([canvas.vstack(plot_panels(history, ev), gap=12), rows], gap=24)
    legend = figures.rows_legend_for(ev.task)
    return canvas.pad(canvas.vstack([_title(ev, run_id, diagnosis), top, legend], gap=10), 14, 14, 14, 14)


def write_report(path: str | Path, module: XORModule, ev: Evaluation, history: History, run_id: str,
                 diagnosis=None) -> Path:
    """report.png; ``diagnosis`` (diagnosis.Diagnosis) adds why the members that failed failed."""
    return figures.save(report_image(module, ev, history, run_id, diagnosis), path)
