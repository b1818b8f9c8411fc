"""The LightningDataModule that owns a task's rows (task.py) and their order in each epoch.

One Lightning training step trains a block of table epochs (block.py), so the train loader yields
the whole table once per block, and the module asks ``epoch_rows`` for each epoch's row order.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from xor_lightning.core.task import XOR, Task

# The XOR table as [4, 2] inputs and [4, 1] targets, for tests and benchmarks; the app reads its Task.
INPUTS, TARGETS = XOR.inputs, XOR.column


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


def epoch_order(keys: torch.Tensor, epoch: int, rows: int) -> torch.Tensor:
    """[K, rows] each member's row order in the 0-based ``epoch``, from its key and the epoch alone:
    member i of a population sees the order its lone run sees, and a resumed run the order an
    uninterrupted one would. Stateless, so a whole population's orders cost a few tensor ops."""
    salt = _mix32(torch.tensor(epoch & _MASK32, dtype=torch.long) ^ (epoch >> 32))
    row_salt = _mix32(torch.arange(rows, dtype=torch.long) + 0x9E3779B9)
    scores = _mix32(_mix32(keys ^ salt).unsqueeze(1) ^ row_salt)
    return torch.argsort(scores, dim=1, stable=True)


class _TableOnce(Dataset):
    """One item, the whole table: one Lightning training step (a block of epochs) per pass."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.task.inputs, self.task.column


class TruthTableDataModule(pl.LightningDataModule):
    """The task's rows, and which rows each step of each epoch trains on: the whole table by default;
    with ``batch_size`` < its rows, batches of that many rows in order, or reshuffled every epoch in
    each member's own order: from its own seed (the module's member seeds, a MemberTable's; else
    member i of ``members`` has seed ``seed + i``)."""

    def __init__(self, task: Task, batch_size: int | None = None, shuffle: bool = False, seed: int = 0,
                 members: int = 1) -> None:
        super().__init__()
        self.task = task
        self.rows = task.rows
        self.batch_size = batch_size or self.rows
        self.shuffle = shuffle
        self.seed = seed
        self.members = members
        self._keys: torch.Tensor | None = None
        self._keys_of: torch.Tensor | None = None  # the seeds the keys were made from

    @property
    def full_batch(self) -> bool:
        """Every epoch is one step on the whole table (row order does not matter then)."""
        return self.batch_size >= self.rows

    def step_slices(self) -> list[slice]:
        """The positions in an epoch's row order that each step takes (the last may be shorter)."""
        return [slice(start, min(start + self.batch_size, self.rows)) for start in range(0, self.rows, self.batch_size)]

    def epoch_rows(self, epoch: int, seeds: torch.Tensor | None = None) -> torch.Tensor | None:
        """[K, rows] each member's row order in the 0-based ``epoch``; None when not shuffled (in order).
        ``seeds`` [K]: the members' own seeds (the module's), else ``seed + i``."""
        if not self.shuffle:
            return None
        if seeds is None:
            seeds = torch.arange(self.seed, self.seed + self.members, dtype=torch.long)
        if self._keys is None or (self._keys_of is not seeds and not torch.equal(self._keys_of, seeds)):
            self._keys, self._keys_of = member_keys(seeds), seeds
        return epoch_order(self._keys, epoch, self.rows)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_TableOnce(self.task), batch_size=None)
