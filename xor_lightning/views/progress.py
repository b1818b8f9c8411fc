"""Signs of life while a run trains, counted in table epochs (not Lightning's batches).

- On a terminal: a progress bar built on Lightning's TQDMProgressBar: epochs done of
  ``trainer.max_epochs``, the fraction of members solved, the mean loss, tqdm's ETA. It moves at
  the end of every block and, inside a long block (10,000 seeds: ~0.3 s an epoch on a busy
  machine), about once a second: the module calls ``epoch_hooks`` after every epoch, and the bar
  only redraws when a second has passed (one clock read per epoch otherwise). In a multirun its
  label is ``job <folder number> (k of N)``, with the sweep's ETA.
- In train.log, and on the console when it is not a terminal: a line every ``every_seconds``, also
  from inside a block.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import pytorch_lightning as pl
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.callbacks.progress.tqdm_progress import Tqdm

from xor_lightning.views.numbers import percent

log = logging.getLogger("xor_lightning.views.progress")

SWEEP_JOBS = "XOR_LIGHTNING_SWEEP_JOBS"    # set by the command line for a multirun: how many jobs
SWEEP_START = "XOR_LIGHTNING_SWEEP_START"  # and when the sweep started (time.time())


def job_label() -> str:
    """``job 3 (4 of 9)`` inside a multirun, named by its folder (``<sweep dir>/3``), with the
    sweep's ETA from the jobs done so far; else ''."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return ""
    num = int(HydraConfig.get().job.num)  # the job's folder: <sweep dir>/<num>, counted from 0
    k = num + 1
    total = os.environ.get(SWEEP_JOBS)
    label = f"job {num} ({k} of {total})" if total else f"job {num}"
    start = os.environ.get(SWEEP_START)
    if total and start and k > 1:
        per_job = (time.time() - float(start)) / (k - 1)
        label += f", sweep ETA {_clock(per_job * (int(total) - k + 1))}"
    return label


def parallel_job() -> bool:
    """A multirun job launched next to others (joblib, submitit), not one after another in this process."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return False
    from xor_lightning.base.launchers import in_process

    return not in_process(HydraConfig.get().launcher.get("_target_", ""))


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _state(pl_module: pl.LightningModule, epoch: int | None = None) -> tuple[int, float, float] | None:
    """(epochs done, fraction solved, mean loss) after the last epoch seen, or None before the
    first. ``epoch``: the epoch just seen inside a block (``epochs_done`` counts whole blocks)."""
    seen = pl_module.block.last
    if seen is None:
        return None
    return int(pl_module.epochs_done) if epoch is None else epoch, float(seen.success), float(seen.val_loss)


class _InBlock:
    """Calls ``draw(epoch)`` from inside a block at most once every ``seconds`` (module.epoch_hooks)."""

    def __init__(self, draw, seconds: float) -> None:
        self.draw, self.seconds = draw, seconds
        self.last = time.monotonic()

    def __call__(self, epoch: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.seconds:
            self.last = now
            self.draw(epoch)

    def attach(self, pl_module: pl.LightningModule) -> None:
        self.last = time.monotonic()
        hooks = getattr(pl_module, "epoch_hooks", None)
        if hooks is not None and self not in hooks:
            hooks.append(self)

    def detach(self, pl_module: pl.LightningModule) -> None:
        hooks = getattr(pl_module, "epoch_hooks", None)
        if hooks is not None and self in hooks:
            hooks.remove(self)


class EpochProgressBar(TQDMProgressBar):
    IN_BLOCK_SECONDS = 1.0  # inside a block, the bar redraws at most this often

    def __init__(self, max_epochs: int, label: str = "", in_block_seconds: float | None = None) -> None:
        super().__init__(refresh_rate=1, leave=True)
        self.max_epochs, self.label = max_epochs, label
        seconds = self.IN_BLOCK_SECONDS if in_block_seconds is None else in_block_seconds
        self._in_block = _InBlock(self._draw_in_block, seconds)
        self._module: pl.LightningModule | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Made with its label, total and start at once: Lightning's init_train_tqdm, then reset and
        # set_description, printed "Training: 0/?" and "Training: 0/300" before it.
        # tqdm draws nothing on a terminal that reports 0 columns and 0 rows: give it a size.
        width = {} if _columns() > 0 else {"dynamic_ncols": False, "ncols": FALLBACK_COLUMNS, "nrows": FALLBACK_ROWS}
        self.train_progress_bar = Tqdm(
            desc=self.label or "train", total=self.max_epochs, initial=int(pl_module.epochs_done),  # a resumed run
            unit="epoch", position=2 * self.process_position, disable=self.is_disabled, leave=True,  # starts there
            file=sys.stdout, smoothing=0, bar_format=self.BAR_FORMAT, **{"dynamic_ncols": True, **width},
        )
        self._module = pl_module
        self._in_block.attach(pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._in_block.detach(pl_module)
        super().on_train_end(trainer, pl_module)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._in_block.detach(pl_module)  # no hook into a closed bar is left on the module
        super().on_exception(trainer, pl_module, exception)

    def _draw_in_block(self, epoch: int) -> None:
        state = _state(self._module, epoch) if self._module is not None else None
        if state is not None:
            self._show(*state)

    def _show(self, epochs: int, solved: float, loss: float) -> None:
        self.train_progress_bar.n = epochs
        one = self._module is not None and self._module.hparams.seeds == 1
        shown = ("yes" if solved else "not yet") if one else percent(solved)
        self.train_progress_bar.set_postfix(solved=shown, loss=f"{loss:.4g}", refresh=True)

    def on_train_epoch_start(self, trainer: pl.Trainer, *_) -> None:
        pass  # a Lightning epoch is one block: the bar counts table epochs for the whole run

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_) -> None:
        state = _state(pl_module)
        if state is not None:
            self._show(*state)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pass


class ProgressLines(pl.Callback):
    """A line every ``every_seconds`` (at the end of a block or inside one), and one when training ends."""

    def __init__(self, max_epochs: int, every_seconds: float, label: str = "") -> None:
        self.max_epochs, self.every, self.label = max_epochs, every_seconds, label
        self._start = 0.0
        self._first_epoch = self._said = 0
        self._ticker = _InBlock(self._line_at, every_seconds)
        self._module: pl.LightningModule | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()
        self._first_epoch = int(pl_module.epochs_done)
        self._module = pl_module
        self._ticker.attach(pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._ticker(int(pl_module.epochs_done))  # a block's end: the same clock as inside blocks

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._ticker.detach(pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._ticker.detach(pl_module)
        if self._said != int(pl_module.epochs_done):
            self._line(pl_module, time.perf_counter(), final=True)

    def _line_at(self, epoch: int) -> None:
        if self._module is not None:
            self._line(self._module, time.perf_counter(), epoch=epoch)

    def _line(self, pl_module: pl.LightningModule, now: float, final: bool = False, epoch: int | None = None) -> None:
        state = _state(pl_module, epoch)
        if state is None:
            return
        epochs, solved, loss = state
        self._said = epochs
        elapsed = now - self._start
        rate = (epochs - self._first_epoch) / elapsed if elapsed > 0 else 0.0
        going = rate > 0 and epochs < self.max_epochs and not final  # an early stop ends before max_epochs
        left = f", about {_clock((self.max_epochs - epochs) / rate)} to go" if going else ""
        prefix = f"{self.label}: " if self.label else ""
        solved_words = (("solved" if solved else "not solved yet") + ", loss" if pl_module.hparams.seeds == 1
                        else f"{percent(solved)} of members solved, mean loss")
        log.info(f"{prefix}epoch {epochs}/{self.max_epochs}: {solved_words} {loss:.4g}; {_clock(elapsed)} elapsed{left}")


FALLBACK_COLUMNS, FALLBACK_ROWS = 80, 24  # a bar forced on (progress.bar=true) where the terminal reports no size


def _columns() -> int:
    """The width the bar's terminal (stdout) reports; 0 where it reports none (some pseudo-terminals)."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


def on_terminal() -> bool:
    """A terminal a bar can be drawn on: one that reports its width (tqdm draws nothing in 0 columns)."""
    return sys.stderr.isatty() and _columns() > 0


def keep_lines_off_the_terminal() -> None:
    """With a bar on the terminal, progress lines go to train.log only (the bar says the same)."""
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and stream is not None and _is_terminal(stream):
            handler.addFilter(lambda record: record.name != log.name)


def progress_callbacks(progress_cfg, max_epochs: int) -> list[pl.Callback]:
    """What ``progress.*`` asks for: a bar (``bar: auto`` means on a terminal) and/or lines."""
    label = job_label()
    # Jobs side by side (joblib, submitit) would draw their bars over each other: lines instead.
    bar = on_terminal() and not parallel_job() if progress_cfg.bar == "auto" else bool(progress_cfg.bar)
    callbacks: list[pl.Callback] = []
    if bar:
        callbacks.append(EpochProgressBar(max_epochs, label))
        keep_lines_off_the_terminal()
    if progress_cfg.every_seconds:
        callbacks.append(ProgressLines(max_epochs, float(progress_cfg.every_seconds), label))
    return callbacks


def _is_terminal(stream) -> bool:
    """A closed stream (a handler left behind by an embedding program or a test) is no terminal."""
    try:
        return stream.isatty()
    except ValueError:
        return False
