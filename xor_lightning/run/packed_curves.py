"""Each job's per-epoch curves out of a packed population's blocks (hydra/launcher=population).

A job alone logs the means over its own members; a packed population's block records every
member's loss and verdict per epoch (core/block.BlockRecord), so each job's means are taken over
its slice: ``val/loss`` (mean over its members not diverged by then), ``val/success_rate``, and,
with the whole table as the batch, ``train/loss`` (an epoch's training loss is the loss of the
weights it started from, so the previous epoch's ``val/loss``). What the block does not keep per
member (mini-batch ``train/loss``, ``val/acc``, ``test/*``) the module takes per job when its
``job_of`` is set (BlockRecord.jobs); the fused engine keeps no per-job ``val/acc``. A population
of one job logs its block's own scalars. Every ``every``-th epoch is kept
(run/packed.thinning: thousands of jobs would otherwise cost more to log than to train).
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch

from xor_lightning.views.figures import MEMBER_LINES, History


class JobCurves(pl.Callback):
    def __init__(self, slices: list[slice], every: int = 1, lines: bool = True) -> None:
        total = slices[-1].stop
        self.slices, self.every, self.lines = slices, every, lines
        self.owner = torch.zeros(total, dtype=torch.long)  # [K] the job of each member
        for j, part in enumerate(slices):
            self.owner[part] = j
        self.first = [part.start + i for part in slices for i in range(min(MEMBER_LINES, part.stop - part.start))]
        self.epochs: list[int] = []
        self.rows: list[torch.Tensor] = []     # per kept epoch: [6, jobs] train loss, val loss, success,
        #                                        val acc, test loss, test acc (NaN: not kept)
        self.members: list[torch.Tensor] = []  # per kept epoch: the first members' losses of every job
        self.whole: list[dict[str, float]] = []  # one job: the block's own scalars
        self._previous: torch.Tensor | None = None  # [jobs] val/loss of the epoch before (full batch)

    def _means(self, values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """[E, jobs] each job's mean of ``values`` [E, K] over the members ``keep`` [E, K]."""
        sums = values.new_zeros(values.shape[0], len(self.slices))
        counts = values.new_zeros(values.shape[0], len(self.slices))
        sums.index_add_(1, self.owner, torch.where(keep, values, 0.0))
        counts.index_add_(1, self.owner, keep.to(values.dtype))
        return sums / counts

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        if len(self.slices) > 1:
            pl_module.job_of = self.owner  # the module keeps each job's means of what it cannot keep per member

    @torch.no_grad()
    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        self.owner = self.owner.to(pl_module.device)
        task = pl_module.task
        dtype = pl_module.net.weights[0].dtype
        _, losses = pl_module.losses(task.inputs.to(pl_module.device, dtype), task.column.to(pl_module.device, dtype))
        healthy = (pl_module.facts.diverged_at < 0).unsqueeze(0)
        self._previous = self._means(losses.float().unsqueeze(0), healthy)[0]  # the weights training starts from

    @torch.no_grad()
    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, *_) -> None:
        block = pl_module.block
        if not block.epochs:
            return
        epochs = torch.tensor(block.epochs, device=self.owner.device)
        losses = torch.stack([s.losses for s in block.seen]).float()
        solved = torch.stack([s.solved for s in block.seen])
        at = pl_module.facts.diverged_at
        healthy = ~((at >= 0) & (at.unsqueeze(0) <= epochs.unsqueeze(1)))
        val = self._means(losses, healthy)
        success = self._means(solved.float(), torch.ones_like(solved))
        full = trainer.datamodule.full_batch
        train = torch.cat([self._previous.unsqueeze(0), val[:-1]]) if full else torch.full_like(val, math.nan)
        extra = torch.stack(block.jobs).float() if block.jobs else torch.full((len(val), 4, val.shape[1]), math.nan,
                                                                               device=val.device)
        if not full:
            train = extra[:, 0]
        self._previous = val[-1]
        kept = [i for i, e in enumerate(block.epochs) if e % self.every == 0]
        if not kept:
            return
        index = torch.tensor(kept, device=val.device)
        self.epochs.extend(block.epochs[i] for i in kept)
        self.rows.extend(torch.cat([torch.stack([train[index], val[index], success[index]], 1), extra[index, 1:]], 1).cpu())
        if self.lines:
            self.members.extend(losses[index][:, self.first].cpu())
        if len(self.slices) == 1:
            scalars = block.scalars()
            self.whole.extend(scalars[i] for i in kept)

    def rows_of(self, j: int, last: int) -> tuple[list[int], list[dict[str, float]]]:
        """Job ``j``'s kept epochs up to its ``last`` and one dict of scalars per epoch."""
        steps = [e for e in self.epochs if e <= last]
        if len(self.slices) == 1:
            return steps, self.whole[:len(steps)]
        out = []
        for row in self.rows[:len(steps)]:
            train, val, success, acc, test_loss, test_acc = row[:, j].tolist()
            named = {"train/loss": train, "val/loss": val, "val/acc": acc, "val/success_rate": success,
                     "test/loss": test_loss, "test/acc": test_acc}
            out.append({k: v for k, v in named.items() if not math.isnan(v) or k in ("val/loss", "val/success_rate")})
        return steps, out

    def history(self, j: int, last: int) -> History:
        """Job ``j``'s loss history for its report.png (its first members' own curves too)."""
        steps, rows = self.rows_of(j, last)
        part = self.slices[j]
        count = min(MEMBER_LINES, part.stop - part.start)
        offset = sum(min(MEMBER_LINES, s.stop - s.start) for s in self.slices[:j])
        history = History()
        for n, (epoch, row) in enumerate(zip(steps, rows)):
            history.epochs.append(epoch)
            history.train_loss.append(row.get("train/loss", math.nan))
            history.val_loss.append(row["val/loss"])
            lines = self.members[n][offset:offset + count].tolist() if self.members else []
            history.val_members.append(lines if count > 1 else [])
        return history
