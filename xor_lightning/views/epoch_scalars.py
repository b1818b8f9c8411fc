"""Per-epoch scalars to every logger, one point per table epoch (TensorBoard steps = table epochs).

The module (core/, no I/O) records each block's epochs in ``module.block``; this callback writes
them at the block's end (the first of the run's callbacks, so every later one sees them written).
A block hands over all its epochs at once. TensorBoard gets ONE event per epoch holding all its
scalars: each event record costs ~50 us in tensorboard's pure-Python CRC, so four events per epoch
would cost more than a small population's training step. Other loggers get ``log_metrics``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytorch_lightning as pl
from pytorch_lightning.loggers import Logger, TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import Summary


def log_epochs(loggers: Iterable[Logger], epochs: Sequence[int], rows: Sequence[dict[str, float]]) -> None:
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            events = logger.experiment._get_file_writer()
            for epoch, row in zip(epochs, rows):
                events.add_summary(Summary(value=[Summary.Value(tag=k, simple_value=v) for k, v in row.items()]), epoch)
        else:
            for epoch, row in zip(epochs, rows):
                logger.log_metrics(row, step=epoch)


class EpochScalars(pl.Callback):
    """Each block's per-epoch scalars (``pl_module.block``) to every logger of the trainer."""

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_) -> None:
        block = pl_module.block
        log_epochs(trainer.loggers, block.epochs, block.scalars())
