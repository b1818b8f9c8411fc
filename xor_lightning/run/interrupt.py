"""Ctrl-C and SIGTERM during training: finish the current block of epochs, save last.ckpt, stop, say
how to resume, and exit with 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM), as a shell
reports a process ended by that signal.

SIGTERM is what SLURM and most schedulers send before they kill a job. Lightning's own handler
turns it into ``SIGTERMException``, a SystemExit without a code: exit 0, no final save. Lightning's
KeyboardInterrupt handling stops mid-step and exits 1. Here the first signal only asks the trainer
to stop at the end of the current block (``on_train_epoch_end``), so ``last.ckpt`` holds a
consistent state that resumes bit-identically. A second signal aborts at once (``last.ckpt`` then
holds the last periodic save, still complete).

Inside a submitit job (``hydra/launcher=submitit_slurm`` or ``submitit_local``) submitit ignores
SIGTERM and, on its preemption signal (SIGUSR2 unless ``SUBMITIT_PREEMPT_SIGNAL`` says otherwise),
requeues the job to start again from scratch, which would find its own checkpoints and be refused.
So there both signals are handled as above too: the job stops, saves, and is recorded as
interrupted with the command that resumes it (the sweep's summary shows it).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import pytorch_lightning as pl

from xor_lightning.base.errors import RunStopped

log = logging.getLogger(__name__)

_received: list[int] = []  # the stop signals this process received, latest last


def stop_signals() -> list[int]:
    """The signals that stop a run gracefully in this process."""
    signums = [signal.SIGINT, signal.SIGTERM]
    if "SUBMITIT_FOLDER" in os.environ:  # set by submitit in its job processes
        preempt = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)
        signums += [preempt] if preempt is not None else []
    return signums


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class Interrupted(RunStopped):
    """The run stopped on a signal; the exit code follows the signal (128 + its number)."""

    label = "interrupted"

    def __init__(self, message: str, signum: int | None = None) -> None:
        super().__init__(message)
        self.signum = int(signum or (_received[-1] if _received else signal.SIGINT))

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        return 128 + self.signum


class StopOnInterrupt(pl.Callback):
    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None  # the signal that asked for the stop
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:
            print(f"interrupted: {signal_name(signum)} again: aborted at once; the run's last.ckpt holds its last "
                  "periodic save (resume from it with ckpt_path=)", file=sys.stderr, flush=True)
            raise SystemExit(128 + signum)
        self.requested, self.signum = True, signum
        _received.append(signum)
        log.warning(f"{signal_name(signum)}: stopping at the end of this block of epochs and saving last.ckpt "
                    "(send it again to abort at once)")

    def _install(self) -> None:
        if threading.current_thread() is threading.main_thread():  # signals only reach the main thread
            for signum in stop_signals():
                self._previous.setdefault(signum, signal.getsignal(signum))
                signal.signal(signum, self._handle)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.requested, self.signum = False, None
        self._install()  # before Lightning registers its handlers, so it records the previous ones

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning has replaced SIGTERM's handler since on_fit_start: take it back.
        self._install()
        connector = getattr(trainer, "_signal_connector", None)
        if getattr(connector, "received_sigterm", False):  # a SIGTERM in between reached both handlers
            connector.received_sigterm = False

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # At the end of a block of epochs (Lightning's epoch); train() then writes the final last.ckpt.
        if self.requested:
            trainer.should_stop = True

    def _restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()  # Lightning skips teardown hooks after an exception
