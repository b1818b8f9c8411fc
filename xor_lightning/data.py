"""The XOR truth table as tensors, and the LightningDataModule that serves it."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

# float32 on purpose: MPS has no float64.
INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGETS = torch.tensor([[0.0], [1.0], [1.0], [0.0]])


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
        # Own generator: the data order is reproducible from the run's seed alone.
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=self.shuffle, generator=gen)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=len(INPUTS))
