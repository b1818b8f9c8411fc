"""A Lightning callback that shows in TensorBoard what the population learns, as it learns it.

Before the first epoch (step 0), every ``every_n_epochs`` epochs and once at the end: the best member's decision boundary
(``boundary/best``), the first members' boundaries (``boundary/members``), the best member's
hidden units (``units/best``), and histograms of every layer's weights and biases over all
members. After each block it also keeps the loss history that run_report draws.
"""

from __future__ import annotations

import time

import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger

from xor_lightning import figures
from xor_lightning.evaluation import evaluate_module
from xor_lightning.figures import History
from xor_lightning.module import XORModule


class VisualsCallback(pl.Callback):
    """Pictures before training (step 0 of a fresh run), every ``every_n_epochs`` table epochs (blocks
    end there), and once at the end; the report's loss history from each block's record."""

    def __init__(self, every_n_epochs: int = 0, members: int = 9, images: bool = True, histograms: bool = True) -> None:
        self.every_n_epochs = every_n_epochs  # 0: only at the start and the end
        self.members = members
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
            log_histograms(writer, pl_module, step)
        if self.images:
            log_images(writer, pl_module, step, self.members)
        self.seconds += time.perf_counter() - start


def _layer_name(j: int, layers: int) -> str:
    return "output" if j == layers - 1 else f"hidden{j + 1}"


def log_histograms(writer, pl_module: XORModule, step: int) -> None:
    """One histogram per layer over all members: ``weights/hidden1`` ... ``biases/output``."""
    net = pl_module.net
    for j, (w, b) in enumerate(zip(net.weights, net.biases)):
        name = _layer_name(j, len(net.weights))
        writer.add_histogram(f"weights/{name}", w.detach().float().cpu(), step)
        writer.add_histogram(f"biases/{name}", b.detach().float().cpu(), step)


def log_images(writer, pl_module: XORModule, step: int, members: int) -> None:
    was_training = pl_module.training
    ev = evaluate_module(pl_module)  # switches to eval mode; restored below
    pl_module.train(was_training)
    best, net = ev.best_member(), pl_module.net
    writer.add_figure("boundary/best", figures.boundary_figure(net, best, ev.seed, bool(ev.solved[best])), step, close=True)
    if members > 0 and net.members > 1:
        writer.add_figure("boundary/members", figures.members_figure(net, members, ev.seed, ev.solved), step, close=True)
    writer.add_figure("units/best", figures.units_figure(net, best), step, close=True)
