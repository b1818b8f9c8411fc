"""The two checkpoints a run writes while it trains, both between blocks of epochs.

- ``best.ckpt``: each member's own best weights (lowest own full-table loss, checked every epoch)
  as the network's weights, so loading it gives the networks to evaluate. Written by Lightning's
  ModelCheckpoint together with last.ckpt and when training ends, if some member found a new best
  since (the module counts such blocks in ``best/version``), not once per improving epoch. Weights only: its members come
  from different epochs, so it is no state to continue training from.
- ``last.ckpt``: the whole training state (optimizer too) every ``every`` table epochs, so a kill -9
  loses at most that many; ``train()`` writes the final one after fit.
Every write goes through AtomicCheckpointIO: a file is complete or untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint


class BestCheckpoint(ModelCheckpoint):
    def __init__(self, dirpath: str | Path, every: int) -> None:
        super().__init__(
            dirpath=dirpath, filename="best", monitor="best/version", mode="max", save_top_k=1,
            save_weights_only=True, auto_insert_metric_name=False, enable_version_counter=False,
            save_on_train_epoch_end=True,
        )
        self.every = every

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # With last.ckpt (every `every` epochs) and when training ends; last.ckpt holds every
        # member's best too, so nothing is lost in between.
        if int(pl_module.epochs_done) % self.every == 0 or trainer.should_stop:
            super().on_train_epoch_end(trainer, pl_module)

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        module = trainer.lightning_module
        with module.facts.best_in_place(module.net):
            super()._save_checkpoint(trainer, filepath)


class LastCheckpoint(pl.Callback):
    def __init__(self, path: str | Path, every: int) -> None:
        self.path, self.every = Path(path), every

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Blocks end on multiples of `every` (block.LoopPlan cadences), so this is exact.
        if int(pl_module.epochs_done) % self.every == 0 and not trainer.fast_dev_run:
            trainer.save_checkpoint(self.path)
