"""Ctrl-C during training: finish the epoch, save last.ckpt, stop, and say how to resume.

Lightning's own KeyboardInterrupt handling stops mid-step and exits without a checkpoint. Here the
first SIGINT only asks the trainer to stop at the end of the current epoch (a few milliseconds on
a 4-row table), so ``last.ckpt`` holds a consistent end-of-epoch state that resumes bit-identically.
A second Ctrl-C aborts at once (last.ckpt then holds the previous epoch, still complete).
"""

from __future__ import annotations

import logging
import signal
import threading

import pytorch_lightning as pl

from xor_lightning.errors import RunStopped

log = logging.getLogger(__name__)


class Interrupted(RunStopped):
    exit_code = 130  # the shell's convention for "ended by SIGINT"
    label = "interrupted"


class StopOnInterrupt(pl.Callback):
    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("Ctrl-C: stopping at the end of this epoch and saving last.ckpt (press again to abort at once)")

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():  # signals only reach the main thread
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Runs after the epoch's validation, when ModelCheckpoint has already saved last.ckpt.
        if self.requested:
            trainer.should_stop = True

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
