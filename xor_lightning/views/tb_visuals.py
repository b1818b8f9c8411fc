"""What the population learns, shown in TensorBoard as it learns it.

Images (one PNG per tag and step, drawn from arrays by figures.py):
- ``boundary/member``, ``units/member``: one fixed member (``visuals.member``) for the whole run, so
  the step slider shows one network learning;
- ``boundary/members``: the decision boundaries of the first ``visuals.members`` members;
- ``boundary/best``, ``units/best``: once, at the end, for the best member (only known then).
A table without a plane (1 input, or 3 and more: parity of N bits) has no boundary to draw; instead
- ``rows/members``: each row's p(y=1) for ``visuals.member`` and the first members beside it
  (figures.rows_image: the target marked, every wrong row framed);
- ``rows/best``: the same for the best member and the first others, once, at the end.
Histograms: every layer's weights and biases, all members pooled.

The module-level functions draw and log; a callback decides when (start, every N epochs, end) and
passes what it already knows (which members solve the table), so nothing here re-evaluates the
population. After each block of epochs the callback also keeps the loss history run_report draws.
"""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import Summary

from xor_lightning.core.module import XORModule
from xor_lightning.core.nets import Population
from xor_lightning.core.task import Task
from xor_lightning.views import canvas, figures
from xor_lightning.views.figures import History

HISTOGRAM_BUCKETS = 64


class VisualsCallback(pl.Callback):
    """Pictures before training (step 0 of a fresh run), every ``every_n_epochs`` table epochs (blocks
    end there) and when training ends, of one fixed ``member``; the best member's once the run is
    evaluated (``log_best``); the report's loss history from each block's record."""

    def __init__(self, every_n_epochs: int = 0, members: int = 9, images: bool = True, histograms: bool = True,
                 member: int = 0) -> None:
        self.every_n_epochs = every_n_epochs  # 0: only at the start and the end
        self.members = members
        self.member = member
        self.images = images
        self.histograms = histograms
        self.history = History()
        self._last_step: int | None = None
        self.seconds = 0.0  # spent drawing and logging, so a run can report it apart from training

    def on_train_start(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        self.log_visuals(trainer, pl_module)  # where learning starts (or resumes)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        block = pl_module.block  # a Lightning epoch is one block of table epochs
        if block.epochs:
            self.history.extend(block)
        epoch = int(pl_module.epochs_done)
        if self.every_n_epochs and epoch % self.every_n_epochs == 0:
            self.log_visuals(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        if self._last_step != int(pl_module.epochs_done):
            self.log_visuals(trainer, pl_module)

    def log_visuals(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        if not isinstance(trainer.logger, TensorBoardLogger):
            return
        start = time.perf_counter()
        writer, step = trainer.logger.experiment, int(pl_module.epochs_done)
        self._last_step = step
        if self.histograms:
            log_histograms(writer, pl_module.net, step)
        if self.images:
            seen = pl_module.block.last  # which members solve the table now (None before any epoch)
            shown = {"task": pl_module.task, "seed": int(pl_module.hparams.seed), "member": self.member,
                     "solved": None if seen is None else seen.solved}
            if pl_module.task.plane:  # boundaries are pictures of a plane (x1, x2)
                log_member_images(writer, pl_module.net, step, grid=self.members, **shown)
            else:
                log_row_images(writer, pl_module.net, step, "rows/members", count=self.members, **shown)
        self.seconds += time.perf_counter() - start

    def log_best(self, logger, module: XORModule, step: int, member: int, solved: torch.Tensor) -> None:
        """The best member of the evaluated run (its best weights), once, at the last step."""
        if self.images and isinstance(logger, TensorBoardLogger):
            start = time.perf_counter()
            shown = {"task": module.task, "seed": int(module.hparams.seed), "member": member, "solved": solved}
            if module.task.plane:
                log_best_images(logger.experiment, module.net, step, **shown)
            else:
                log_row_images(logger.experiment, module.net, step, "rows/best", count=self.members, best=True, **shown)
            self.seconds += time.perf_counter() - start


def _layer_name(j: int, layers: int) -> str:
    return "output" if j == layers - 1 else f"hidden{j + 1}"


def log_histograms(writer, net: Population, step: int) -> None:
    """One histogram per layer over all members: ``weights/hidden1`` ... ``biases/output``."""
    for j, (w, b) in enumerate(zip(net.weights, net.biases)):
        name = _layer_name(j, len(net.weights))
        _add_histogram(writer, f"weights/{name}", w, step)
        _add_histogram(writer, f"biases/{name}", b, step)


def _add_histogram(writer, tag: str, values: torch.Tensor, step: int) -> None:
    """``add_histogram`` bins with numpy over ~1,500 exponential edges (~100 ms for 1.3M values).
    Uniform buckets between min and max, counted with bincount (~4x faster than torch.histc), take
    ~2 ms; TensorBoard re-bins for display anyway."""
    v = values.detach().flatten().float().cpu()
    low, high = torch.aminmax(v)
    if not bool(torch.isfinite(low + high)):  # a diverging member: show the finite values
        v = v[torch.isfinite(v)]
        if not v.numel():
            return
        low, high = torch.aminmax(v)
    low, high = float(low), float(high)
    top = high if high > low else low + max(abs(low), 1.0) * 1e-6  # all equal: one thin bucket
    bucket = ((v - low) * (HISTOGRAM_BUCKETS / (top - low))).to(torch.int32).clamp_(max=HISTOGRAM_BUCKETS - 1)
    counts = torch.bincount(bucket, minlength=HISTOGRAM_BUCKETS)  # the maximum joins the last bucket
    limits = torch.linspace(low, top, HISTOGRAM_BUCKETS + 1)
    # TensorBoard reads right edges; the empty first bucket gives it the leftmost edge.
    writer.add_histogram_raw(
        tag, min=low, max=high, num=v.numel(), sum=float(v.sum()), sum_squares=float(v.dot(v)),
        bucket_limits=limits.tolist(), bucket_counts=[0, *counts.tolist()], global_step=step,
    )


def _add_png(writer, tag: str, picture, step: int) -> None:
    """``add_image`` would turn the uint8 picture into float32 and back and encode it at zlib
    level 6; the summary it builds is this one, with the PNG encoded once at level 1."""
    height, width = picture.shape[:2]
    image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=canvas.png(picture))
    writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)


def log_member_images(
    writer, net: Population, step: int, *, task: Task, seed: int, member: int, grid: int, solved: torch.Tensor | None,
) -> None:
    """``boundary/member`` and ``units/member`` of ``member`` (the same member at every step), and
    ``boundary/members``: the first ``grid`` members (none for a single network). ``seed`` is member
    0's seed, ``solved`` a bool tensor [K] (which members solve the table now); ``step`` counts epochs."""
    solved = None if solved is None else solved.cpu()
    shown = {"task": task, "seed": seed, "solved": solved, "step": step}
    _add_png(writer, "boundary/member", figures.boundary_image(net, member, **shown), step)
    _add_png(writer, "units/member", figures.units_image(net, member, **shown), step)
    if grid > 0 and net.members > 1:
        _add_png(writer, "boundary/members", figures.members_image(net, grid, **shown), step)


def log_best_images(writer, net: Population, step: int, *, task: Task, seed: int, member: int,
                    solved: torch.Tensor | bool | None) -> None:
    """``boundary/best`` and ``units/best`` of the best member ``member``, logged once at the end."""
    solved = solved.cpu() if isinstance(solved, torch.Tensor) else solved
    shown = {"task": task, "seed": seed, "solved": solved, "step": step, "best": True}
    _add_png(writer, "boundary/best", figures.boundary_image(net, member, **shown), step)
    _add_png(writer, "units/best", figures.units_image(net, member, **shown), step)


def log_row_images(writer, net: Population, step: int, tag: str, *, task: Task, seed: int, member: int, count: int,
                   solved: torch.Tensor | bool | None, best: bool = False) -> None:
    """``tag``: each row's p(y=1) of ``member`` and the first others, ``count`` members in all (at
    least one, at most figures.ROW_MEMBERS), for a table without a plane."""
    solved = solved.cpu() if isinstance(solved, torch.Tensor) else solved
    members = figures.shown_members(member, min(count, figures.ROW_MEMBERS) or 1, net.members)
    picture = figures.rows_image(net, members, task=task, seed=seed, solved=solved, step=step,
                                 best=member if best else None)
    _add_png(writer, tag, picture, step)
