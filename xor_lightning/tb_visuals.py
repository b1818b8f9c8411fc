"""What the population learns, shown in TensorBoard as it learns it.

Images (one PNG per tag and step, drawn from arrays by figures.py):
- ``boundary/member``, ``units/member``: one fixed member (``visuals.member``) for the whole run, so
  the step slider shows one network learning;
- ``boundary/members``: the decision boundaries of the first ``visuals.members`` members;
- ``boundary/best``, ``units/best``: once, at the end, for the best member (only known then).
Histograms: every layer's weights and biases, all members pooled.

The module-level functions draw and log; a callback decides when (start, every N epochs, end) and
passes what it already knows (which members solve the table), so nothing here re-evaluates the
population. Each epoch the callback also records the per-member losses that run_report draws.
"""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import Summary

from xor_lightning import canvas, figures
from xor_lightning.data import INPUTS, TARGETS
from xor_lightning.evaluation import evaluate_module
from xor_lightning.figures import History
from xor_lightning.module import XORModule
from xor_lightning.nets import Population

HISTOGRAM_BUCKETS = 64


class VisualsCallback(pl.Callback):
    def __init__(self, every_n_epochs: int = 0, members: int = 9, images: bool = True, histograms: bool = True) -> None:
        self.every_n_epochs = every_n_epochs  # 0: only at the end
        self.members = members
        self.images = images
        self.histograms = histograms
        self.history = History()
        self._last_step: int | None = None
        self.seconds = 0.0  # spent drawing and logging, so a run can report it apart from training

    def on_train_start(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        self.log_visuals(trainer, pl_module)  # the untrained population: where learning starts

    @torch.no_grad()
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        epoch = trainer.current_epoch + 1  # epochs completed
        x, y = INPUTS.to(pl_module.device), TARGETS.to(pl_module.device)
        _, losses = pl_module.losses(x, y)
        train_loss = trainer.callback_metrics.get("train/loss")
        self.history.add(epoch, float("nan") if train_loss is None else float(train_loss), losses.float().cpu())
        if self.every_n_epochs and epoch % self.every_n_epochs == 0:
            self.log_visuals(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        if self._last_step != trainer.global_step:
            self.log_visuals(trainer, pl_module)

    def log_visuals(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        if not isinstance(trainer.logger, TensorBoardLogger):
            return
        start = time.perf_counter()
        writer, step = trainer.logger.experiment, trainer.global_step
        self._last_step = step
        if self.histograms:
            log_histograms(writer, pl_module, step)
        if self.images:
            log_images(writer, pl_module, step, self.members)
        self.seconds += time.perf_counter() - start


def _layer_name(j: int, layers: int) -> str:
    return "output" if j == layers - 1 else f"hidden{j + 1}"


def log_histograms(writer, net: Population, step: int) -> None:
    """One histogram per layer over all members: ``weights/hidden1`` ... ``biases/output``."""
    net = getattr(net, "net", net)  # today's VisualsCallback passes the LightningModule
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
    writer, net: Population, step: int, *, seed: int, member: int, grid: int, solved: torch.Tensor | None,
) -> None:
    """``boundary/member`` and ``units/member`` of ``member`` (the same member at every step), and
    ``boundary/members``: the first ``grid`` members (none for a single network). ``seed`` is member
    0's seed, ``solved`` a bool tensor [K] (which members solve the table now); ``step`` counts epochs."""
    solved = None if solved is None else solved.cpu()
    _add_png(writer, "boundary/member", figures.boundary_image(net, member, seed=seed, solved=solved, step=step), step)
    _add_png(writer, "units/member", figures.units_image(net, member, seed=seed, solved=solved, step=step), step)
    if grid > 0 and net.members > 1:
        _add_png(writer, "boundary/members", figures.members_image(net, grid, seed=seed, solved=solved, step=step), step)


def log_best_images(writer, net: Population, step: int, *, seed: int, member: int, solved: torch.Tensor | bool | None) -> None:
    """``boundary/best`` and ``units/best`` of the best member ``member``, logged once at the end."""
    solved = solved.cpu() if isinstance(solved, torch.Tensor) else solved
    _add_png(writer, "boundary/best", figures.boundary_image(net, member, seed=seed, solved=solved, step=step, best=True), step)
    _add_png(writer, "units/best", figures.units_image(net, member, seed=seed, solved=solved, step=step, best=True), step)


def log_images(writer, pl_module: XORModule, step: int, members: int) -> None:
    """Transitional, for today's VisualsCallback: it passes neither ``visuals.member`` (member 0,
    the default, is drawn) nor what validation knows, so the population is evaluated here. The
    block-of-epochs callback calls log_member_images/log_best_images directly instead."""
    was_training = pl_module.training
    ev = evaluate_module(pl_module)  # switches to eval mode; restored below
    pl_module.train(was_training)
    log_member_images(writer, pl_module.net, step, seed=ev.seed, member=0, grid=members, solved=ev.solved)
    if _run_ends(pl_module.trainer):
        log_best_images(writer, pl_module.net, step, seed=ev.seed, member=ev.best_member(), solved=ev.solved)


def _run_ends(trainer: pl.Trainer) -> bool:
    """True in the last round: after the last epoch or once something asked the run to stop."""
    return trainer.should_stop or trainer.fit_loop.epoch_progress.current.processed >= trainer.max_epochs
