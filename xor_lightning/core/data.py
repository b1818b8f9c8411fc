"""The XOR truth table as tensors, and the LightningDataModule that owns it and its row order.

One Lightning training step trains a block of table epochs (block.py), so the train loader yields
the whole table once per block, and the module asks ``epoch_rows`` for each epoch's row order.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

# float32 on purpose: MPS has no float64.
INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGETS = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
ROWS = len(INPUTS)


_MASK32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (two multiply-xorshift rounds), in int64 so no product overflows."""
    x = ((x >> 16) ^ x) * 0x45D9F3B & _MASK32
    x = ((x >> 16) ^ x) * 0x45D9F3B & _MASK32
    return (x >> 16) ^ x


def member_keys(seeds: torch.Tensor) -> torch.Tensor:
    """[K] a shuffling key per member from its seed alone (seeds up to 2**63 - 1)."""
    seeds = seeds.to(torch.long)
    return _mix32(_mix32(seeds & _MASK32) ^ (seeds >> 32))


def epoch_order(keys: torch.Tensor, epoch: int, rows: int = ROWS) -> torch.Tensor:
    """[K, rows] each member's row order in the 0-based ``epoch``, from its key and the epoch alone:
    member i of a population sees the order its lone run sees, and a resumed run the order an
    uninterrupted one would. Stateless, so a whole population's orders cost a few tensor ops."""
    salt = _mix32(torch.tensor(epoch & _MASK32, dtype=torch.long) ^ (epoch >> 32))
    row_salt = _mix32(torch.arange(rows, dtype=torch.long) + 0x9E3779B9)
    scores = _mix32(_mix32(keys ^ salt).unsqueeze(1) ^ row_salt)
    return torch.argsort(scores, dim=1, stable=True)


class _TableOnce(Dataset):
    """One item, the whole table: one Lightning training step (a block of epochs) per pass."""

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return INPUTS, TARGETS


class TruthTableDataModule(pl.LightningDataModule):
    """The table, and which rows each step of each epoch trains on: the whole table by default;
    with ``batch_size`` < 4, batches of that many rows in order, or reshuffled every epoch in each
    member's own order (member i of ``seeds`` members has seed ``seed + i``)."""

    def __init__(self, batch_size: int | None = None, shuffle: bool = False, seed: int = 0, members: int = 1) -> None:
        super().__init__()
        self.batch_size = batch_size or ROWS
        self.shuffle = shuffle
        self.seed = seed
        self.members = members
        self._keys: torch.Tensor | None = None

    @property
    def full_batch(self) -> bool:
        """Every epoch is one step on the whole table (row order does not matter then)."""
        return self.batch_size >= ROWS

    def step_slices(self) -> list[slice]:
        """The positions in an epoch's row order that each step takes (the last may be shorter)."""
        return [slice(start, min(start + self.batch_size, ROWS)) for start in range(0, ROWS, self.batch_size)]

    def epoch_rows(self, epoch: int) -> torch.Tensor | None:
        """[K, 4] each member's row order in the 0-based ``epoch``; None when not shuffled (in order)."""
        if not self.shuffle:
            return None
        if self._keys is None:
            self._keys = member_keys(torch.arange(self.seed, self.seed + self.members, dtype=torch.long))
        return epoch_order(self._keys, epoch)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_TableOnce(), batch_size=None)
