"""The XOR truth table as tensors, and the LightningDataModule that serves it."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

# float32 on purpose: MPS has no float64.
INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGETS = torch.tensor([[0.0], [1.0], [1.0], [0.0]])


class EpochShuffle(Sampler[int]):
    """Row order of epoch e drawn from (seed, e) alone: a resumed run sees the order an
    uninterrupted one would (Lightning calls ``set_epoch`` before every epoch)."""

    def __init__(self, rows: int, seed: int) -> None:
        self.rows, self.seed, self.epoch = rows, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        gen = torch.Generator().manual_seed((self.seed << 24) + self.epoch)
        return iter(torch.randperm(self.rows, generator=gen).tolist())

    def __len__(self) -> int:
        return self.rows


class TruthTableDataModule(pl.LightningDataModule):
    """Training batches of the table (whole table by default); validation is always the whole
    table in one batch, so every epoch ends with an exact evaluation of every member."""

    def __init__(self, batch_size: int | None = None, shuffle: bool = False, seed: int = 0) -> None:
        super().__init__()
        self.batch_size = batch_size or len(INPUTS)
        self.shuffle = shuffle
        self.seed = seed
        self.dataset = TensorDataset(INPUTS, TARGETS)

    def train_dataloader(self) -> DataLoader:
        # The data order is reproducible from the run's seed and the epoch alone.
        sampler = EpochShuffle(len(self.dataset), self.seed) if self.shuffle else None
        return DataLoader(self.dataset, batch_size=self.batch_size, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=len(INPUTS))
