"""Blocks of table epochs: Lightning's per-step machinery is paid once per block, not per epoch.

With the whole table as the batch an epoch is one optimizer step, far cheaper than Lightning's
per-step hooks, logging and checkpoint checks. So one Lightning training step runs a *block* of
table epochs back to back (docs/design.md, promise 7), and users still count table epochs everywhere.
A block ends at ``block_epochs`` epochs, at ``max_epochs``, at every multiple of the cadences
of what happens between blocks (TensorBoard pictures, last.ckpt), so those land on exact epochs,
and at each member's own ``trainer.max_epochs`` (``ends``, a packed grid's jobs), so a job's last
epoch ends a block too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from xor_lightning.core.facts import Seen, StopRule
from xor_lightning.core.nets import per_member


@dataclass(frozen=True)
class GradClip:
    """Gradient clipping per member, as ``torch.nn.utils.clip_grad_norm_``/``clip_grad_value_``
    would clip a lone network: one member's gradient never scales another's."""

    value: float
    algorithm: str = "norm"  # "norm" | "value"


@dataclass(frozen=True)
class LoopPlan:
    max_epochs: int = 1000
    block_epochs: int = 100
    cadences: tuple[int, ...] = ()   # a block also ends at every multiple of each (0: none)
    stop: StopRule | None = StopRule()
    clip: GradClip | None = None
    ends: tuple[int, ...] = ()       # members' own max_epochs (MemberTable): a block also ends at each
    engine: str = "auto"             # engines.py: auto | fused | torch (the full-batch epochs' engine)
    engine_threads: int = 1          # the fused kernel's threads (torch_threads when given; measured: docs/speed.md)

    def block_end(self, first: int) -> int:
        """The last epoch of the block that starts after ``first`` epochs."""
        end = min(first + self.block_epochs, self.max_epochs)
        for every in self.cadences:
            if every > 0:
                end = min(end, (first // every + 1) * every)
        for own in self.ends:
            if first < own < end:
                end = own
        return end


@dataclass
class BlockRecord:
    """What one block saw, epoch by epoch: the source of the loss curves, TensorBoard scalars,
    the report's history and the pictures (which reuse ``last`` instead of evaluating again)."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[torch.Tensor] = field(default_factory=list)  # 0-dim: mean training loss of the epoch
    seen: list[Seen] = field(default_factory=list)                # the weights after the epoch
    test: list[torch.Tensor] = field(default_factory=list)        # [2] test loss and accuracy (a held-out part only)
    # A packed grid's (module.job_of set): per epoch [4, jobs] each job's own mean training loss
    # (mini-batches; NaN with the whole table), val accuracy, test loss and test accuracy (NaN: no test part).
    jobs: list[torch.Tensor] = field(default_factory=list)
    _rows: list[dict[str, float]] | None = field(default=None, repr=False)

    def add(self, epoch: int, train_loss: torch.Tensor, seen: Seen) -> None:
        self.epochs.append(epoch)
        self.train_loss.append(train_loss)
        self.seen.append(seen)

    @property
    def last(self) -> Seen | None:
        return self.seen[-1] if self.seen else None

    def scalars(self) -> list[dict[str, float]]:
        """One dict of scalars per epoch (a single host sync for the whole block, made once)."""
        if self._rows is None:
            table = torch.stack([torch.stack([t.float(), s.val_loss.float(), s.acc, s.success])
                                 for t, s in zip(self.train_loss, self.seen)]).tolist() if self.epochs else []
            names = ("train/loss", "val/loss", "val/acc", "val/success_rate")
            self._rows = [dict(zip(names, row)) for row in table]
            if self.test and self.epochs:
                for row, (loss, acc) in zip(self._rows, torch.stack(self.test).tolist()):
                    row.update({"test/loss": loss, "test/acc": acc})
        return self._rows

    def member_losses(self, count: int) -> torch.Tensor:
        """[epochs, min(count, K)] the first members' losses, for the report's faint curves."""
        return torch.stack([s.losses[:count] for s in self.seen]).float().cpu()


def clip_per_member(params: list[torch.Tensor], clip: GradClip) -> None:
    """Clip each member's gradient (dim 0 of every parameter) as if it were alone."""
    grads = [p.grad for p in params if p.grad is not None]
    if clip.algorithm == "value":
        for g in grads:
            g.clamp_(-clip.value, clip.value)
        return
    squares = sum(g.pow(2).flatten(1).sum(dim=1) for g in grads)  # [K]
    # torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), clamped at 1, always applied.
    coef = (clip.value / (squares.sqrt() + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(per_member(coef, g))
