"""What each member's own run has seen, kept per table epoch inside a block of epochs.

Every fact is a buffer, so checkpoints carry it and a resumed run continues it exactly:
when each member first solved the table, when its loss became non-finite, when it met the early
stop (solved by the margin), and its own best: the lowest full-table loss it reached, the epoch
of it, and its weights then. ``observe`` is called once per epoch with the full-table forward of
the weights after that epoch, which the training loop already has at hand (with the whole table
as the batch, the forward of epoch e+1 evaluates the weights after epoch e).

Each fact is about one member alone (promise 8): member i of ``seeds=K seed=s`` records exactly
what a lone run ``seeds=1 seed=s+i`` records. A member that met the early stop is done, as a lone
run would be: nothing about it changes afterwards (the loop keeps its weights frozen too). So is a
member at its own max_epochs (``ends_at``, members.MemberTable): its loss trail, verdicts and best
stop there while the others train on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from xor_lightning.core.nets import Population, per_member
from xor_lightning.core.verdict import probability, right_by, signed_confidence


@dataclass(frozen=True)
class StopRule:
    """A member is done once every row is right by ``margin`` (in probability), not before
    ``min_epochs``; the run stops when every member is done or diverged."""

    margin: float | torch.Tensor = 0.4  # or [K, 1] float32, one per member (members.MemberTable)
    min_epochs: int = 1


@dataclass
class Seen:
    """One epoch's full-table view of the population, as 0-dim tensors (no host sync)."""

    val_loss: torch.Tensor   # mean loss over members that have not diverged
    acc: torch.Tensor        # fraction of (member, row) pairs right
    success: torch.Tensor    # fraction of members solving the table
    losses: torch.Tensor     # [K] each member's loss
    solved: torch.Tensor     # [K] bool


TRAIL = 8  # loss samples kept per member for the diagnosis
NOT_MINE = -2  # right_at of a member at a budget that is not one of its own (a packed grid's other jobs)


def trail_every(max_epochs: int) -> int:
    """Sample the loss trail about 20 times over a run, so 8 samples span its last ~40%."""
    return max(1, max_epochs // 20)


def healthy_mean(values: torch.Tensor, diverged: torch.Tensor) -> torch.Tensor:
    """Mean over members that have not diverged, NaN once all have; no host sync."""
    healthy = ~diverged
    return torch.where(healthy, values, 0.0).sum() / healthy.sum()


class MemberFacts(nn.Module):
    """``solved`` is the task's rule (task.Task.solved): [K, N] rows right -> [K] solved."""

    def __init__(self, net: Population, solved: Callable[[torch.Tensor], torch.Tensor], budgets: tuple[int, ...] = (),
                 own: torch.Tensor | None = None, ends_at: torch.Tensor | None = None) -> None:
        super().__init__()
        self.solved_rule = solved
        k = net.members
        # Whether each member was right at exactly each budget (epochs, increasing): its weights after
        # that epoch (a member done earlier: its final ones; diverged: wrong). -1: not reached yet;
        # NOT_MINE: a budget of other members only (``own`` [budgets, K]: members with budgets of their own).
        self.budgets = tuple(budgets)
        self._budget_row = {e: i for i, e in enumerate(self.budgets)}
        self.register_buffer("right_at", torch.full((len(self.budgets), k), -1, dtype=torch.int8))
        own = torch.ones((len(self.budgets), k), dtype=torch.bool) if own is None else own.to(torch.bool)
        self.right_at.masked_fill_(~own, NOT_MINE)
        self.register_buffer("own_budget", own, persistent=False)
        # Each member's own trainer.max_epochs (a member table's; None: the run's, set by ``begin``).
        # Not state: given by the member table, as the run's max_epochs is by the run.
        self.own_ends = ends_at is not None
        self.register_buffer("ends_at", (ends_at if ends_at is not None else torch.zeros(k)).to(torch.long), persistent=False)
        never = torch.full((k,), -1, dtype=torch.long)
        self.register_buffer("first_solved", never.clone())  # epochs trained when first solved
        self.register_buffer("diverged_at", never.clone())   # 1-based epoch its loss became NaN/inf
        self.register_buffer("stopped_at", never.clone())    # epoch it met the early stop
        self.register_buffer("best_epoch", never.clone())    # epoch of its lowest loss
        self.register_buffer("best_loss", torch.full((k,), float("inf")))
        # Each member's loss at the last TRAIL sampled epochs (oldest first; NaN: not yet), so the
        # diagnosis can tell a loss still falling steadily from one that has stopped moving.
        self.register_buffer("trail_loss", torch.full((TRAIL, k), float("nan")))
        self.register_buffer("trail_epoch", torch.full((TRAIL, k), -1, dtype=torch.long))  # each member's own samples
        # ... and its worst row's signed confidence (verdict.signed_confidence): solved once it is > 0.
        self.register_buffer("trail_margin", torch.full((TRAIL, k), float("nan")))
        self.layers = len(net.weights)
        self.head = net.output
        for j, (w, b) in enumerate(zip(net.weights, net.biases)):
            self.register_buffer(f"best_weight{j}", w.detach().clone())
            self.register_buffer(f"best_bias{j}", b.detach().clone())

    def best_params(self) -> list[torch.Tensor]:
        """The best copies in the order of ``Population.parameters()`` (weights, then biases)."""
        return [getattr(self, f"best_weight{j}") for j in range(self.layers)] + [
            getattr(self, f"best_bias{j}") for j in range(self.layers)
        ]

    @property
    def diverged(self) -> torch.Tensor:
        return self.diverged_at >= 0

    @property
    def done(self) -> torch.Tensor:
        """Members whose run is over: met the early stop, or diverged."""
        return (self.stopped_at >= 0) | (self.diverged_at >= 0)

    def begin(self, max_epochs: int, epochs_done: int = 0) -> None:
        """Derive the masks ``observe`` keeps up to date (after loading or moving the buffers)."""
        if not self.own_ends:  # every member ends with the run
            self.ends_at.fill_(max_epochs)
        ends = self.ends_at
        self._every = (ends // 20).clamp(min=1)  # trail_every of each member's own max_epochs
        self._everies = sorted(set(self._every.tolist()))
        self.trail_every = self._everies[0]
        self._end_epochs = set(self.ends_at.tolist()) if self.own_ends else set()
        self._diverged = self.diverged
        ended = ~self.done & (self.ends_at <= epochs_done) if self.own_ends else torch.zeros_like(self._diverged)
        self._active = ~self.done & ~ended
        self._remaining = int(self._active.sum())
        self._ended, self._ended_mask = int(ended.sum()), ended
        self._best = self.best_params()

    @property
    def remaining(self) -> int:
        """Members still training: neither stopped early, diverged nor at their own max_epochs (known
        without a host sync)."""
        return self._remaining

    @property
    def all_done(self) -> bool:
        """Every member met the early stop or diverged (none merely reached its own max_epochs)."""
        return self._remaining == 0 and self._ended == 0

    @property
    def held(self) -> torch.Tensor:
        """[K] members whose weights are kept as they are: met the early stop or reached their own
        max_epochs (diverged members are zeroed instead)."""
        return ~self._active & ~self._diverged

    def trained(self, epochs_done: int) -> torch.Tensor:
        """[K] the epochs each member trained: its early stop, divergence, own max_epochs, or the run's."""
        done = torch.full_like(self.stopped_at, epochs_done)
        if self.own_ends:
            done = torch.minimum(done, self.ends_at)
        return torch.where(self.stopped_at >= 0, self.stopped_at, torch.where(self.diverged_at >= 0, self.diverged_at, done))

    @torch.no_grad()
    def mark_diverged(self, losses: torch.Tensor, epoch: int) -> torch.Tensor:
        """Record ``epoch`` (at least 1) for members whose loss is not finite; returns the newly diverged."""
        newly = ~torch.isfinite(losses) & ~self.done
        self.diverged_at.masked_fill_(newly, max(epoch, 1))
        return newly

    @torch.no_grad()
    def observe(
        self, epoch: int, logits: torch.Tensor, losses: torch.Tensor, targets: torch.Tensor,
        params: list[torch.Tensor], stop: StopRule | None,
    ) -> tuple[Seen, torch.Tensor, torch.Tensor]:
        """Record what the weights after ``epoch`` epochs show (``logits`` [K, N, 1] and ``losses``
        [K] on the whole table). Returns the epoch's view, the newly diverged and the newly held (met
        the early stop, or reached their own max_epochs). Only the members that trained this epoch
        change. Called once per epoch, so it keeps to few tensor ops and one host sync."""
        finite = torch.isfinite(losses)
        newly_diverged = self._active & ~finite
        self.diverged_at.masked_fill_(newly_diverged, epoch)
        diverged = self._diverged | newly_diverged
        active = self._active & finite
        signed = signed_confidence(probability(logits.squeeze(-1).float(), self.head), targets)
        # Rows of diverged members are never right: their logits are NaN, or 0 once frozen (p = 0.5).
        rows = right_by(signed, head=self.head)
        solved = self.solved_rule(rows)
        self.first_solved.masked_fill_(solved & (self.first_solved < 0), epoch)
        improved = (losses < self.best_loss) & active  # NaN never improves; ties keep the earlier epoch
        torch.where(improved, losses, self.best_loss, out=self.best_loss)
        self.best_epoch.masked_fill_(improved, epoch)
        for best, p in zip(self._best, params):
            torch.where(per_member(improved, p), p, best, out=best)
        newly_stopped = torch.zeros_like(solved)
        if stop is not None and epoch >= stop.min_epochs:
            if torch.is_tensor(stop.margin):  # [K, 1] in the logits' dtype: each member's own margin
                margin = stop.margin.to(signed)
                by_margin = rows & ((margin <= 0) | (signed >= margin))
            else:
                by_margin = rows if stop.margin <= 0 else right_by(signed, stop.margin, self.head)
            newly_stopped = self.solved_rule(by_margin) & active
            self.stopped_at.masked_fill_(newly_stopped, epoch)
        if any(epoch % every == 0 for every in self._everies):
            # (a member diverging now records no NaN sample: its weights are zeroed, its trail stops)
            due = active if len(self._everies) == 1 else active & (epoch % self._every == 0)
            self._sample(epoch, losses, signed.min(dim=1).values, due)
        seen = Seen(healthy_mean(losses, diverged), rows.float().mean(), solved.float().mean(), losses, solved)
        ending = epoch in self._end_epochs
        newly_ended = active & ~newly_stopped & (self.ends_at == epoch) if ending else newly_stopped
        counted = [newly_diverged.sum(), newly_stopped.sum(), *([newly_ended.sum()] if ending else [])]
        counts = torch.stack(counted).tolist() + ([] if ending else [0])  # the epoch's one host sync
        if epoch in self._budget_row:
            row = self._budget_row[epoch]
            # (members done earlier are written their final verdict again; those past their own max_epochs never are)
            mine = self.own_budget[row] & ~self._ended_mask if self._ended else self.own_budget[row]
            self.right_at[row] = torch.where(mine, solved.to(torch.int8), self.right_at[row])
        if counts[0] or counts[1]:
            self._diverged, self._active = diverged, active & ~newly_stopped
            self._remaining -= counts[0] + counts[1]
            # A member done now is done for good, as its lone run ends here: it keeps this verdict at its budgets after.
            later = [i for i, e in enumerate(self.budgets) if e > epoch]
            if later:
                mine = self.own_budget[later] & (newly_diverged | newly_stopped)
                self.right_at[later] = torch.where(mine, solved.to(torch.int8), self.right_at[later])
        if counts[2]:  # at their own max_epochs: kept as they are, as their lone runs end here
            self._active = self._active & ~newly_ended
            self._remaining -= counts[2]
            self._ended, self._ended_mask = self._ended + counts[2], self._ended_mask | newly_ended
        held = newly_stopped | newly_ended if counts[2] else newly_stopped
        return seen, (newly_diverged if counts[0] else None), (held if counts[1] or counts[2] else None)

    @torch.no_grad()
    def observe_block(self, first: int, losses: torch.Tensor, worst: torch.Tensor, right: torch.Tensor,
                      rows: int) -> tuple[int, list[tuple[int, torch.Tensor, Seen]]]:
        """``observe`` for a whole block at once, from the fused kernel (fused_engine.py), which has
        already recorded divergence, the early stop and each member's best (it holds the weights).
        ``losses``, ``worst`` (the worst row's signed confidence) and ``right`` (rows right) are
        [epochs + 1, K]; row 0 is the weights after ``first``, seen by the previous block. Solved is
        every row right, and members end with the run (the engine covers no other rule). Returns the
        last epoch of the block (earlier once every member is done) and (epoch, training loss, seen)
        for each of its epochs, as the epoch-by-epoch loop records them."""
        t = torch.arange(first, first + losses.shape[0]).unsqueeze(1)
        diverged = (self.diverged_at >= 0) & (self.diverged_at <= t)
        diverged[0] = self._diverged | (~torch.isfinite(losses[0]) & self._active)
        done = diverged | ((self.stopped_at >= 0) & (self.stopped_at <= t))
        over = done[1:].all(dim=1)
        last = 1 + int(over.int().argmax()) if bool(over.any()) else losses.shape[0] - 1
        solved = right[: last + 1] == rows
        later = solved[1:]
        hit = later.any(dim=0) & (self.first_solved < 0)
        self.first_solved[hit] = first + 1 + later.int().argmax(dim=0)[hit]
        for e in range(1, last + 1):
            if (first + e) % self.trail_every == 0:  # members that trained epoch e, with a finite loss after it
                self._sample(first + e, losses[e], worst[e], ~done[e - 1] & ~diverged[e])
        self._block_budgets(first, last, solved, done)
        healthy = ~diverged[: last + 1]
        means = torch.where(healthy, losses[: last + 1], 0.0).sum(dim=1) / healthy.sum(dim=1)
        acc = right[: last + 1].float().mean(dim=1) / rows
        success = solved.float().mean(dim=1)
        record = [(first + e, means[e - 1], Seen(means[e], acc[e], success[e], losses[e], solved[e]))
                  for e in range(1, last + 1)]
        self._diverged, self._active = diverged[last], ~done[last]
        self._remaining = int(self._active.sum())
        return first + last, record

    def _block_budgets(self, first: int, last: int, solved: torch.Tensor, done: torch.Tensor) -> None:
        """The verdicts at the budgets in the block (each member's own), and, for a member done in it,
        its verdict then at its budgets after (its lone run ends there), as ``observe`` writes them."""
        for b, epoch in enumerate(self.budgets):
            if first < epoch <= first + last:
                self.right_at[b] = torch.where(self.own_budget[b], solved[epoch - first].to(torch.int8), self.right_at[b])
        newly = done[last] & ~done[0]
        if not self.budgets or not bool(newly.any()):
            return
        at = torch.where((self.stopped_at > first) & (self.stopped_at <= first + last), self.stopped_at, self.diverged_at)
        row = (at - first).clamp(0, last)
        then = solved.gather(0, row.unsqueeze(0)).squeeze(0).to(torch.int8)
        for b, epoch in enumerate(self.budgets):
            mine = self.own_budget[b] & newly & (epoch > at)
            self.right_at[b] = torch.where(mine, then, self.right_at[b])

    def _sample(self, epoch: int, losses: torch.Tensor, worst: torch.Tensor, due: torch.Tensor) -> None:
        """Append this epoch's sample to the trails of the ``due`` members (those done keep theirs)."""
        stamp = torch.full_like(self.trail_epoch[:1], epoch)
        for trail, value in ((self.trail_loss, losses), (self.trail_margin, worst), (self.trail_epoch, stamp)):
            shifted = torch.cat([trail[1:], value.detach().to(trail.dtype).view(1, -1)])
            torch.where(due, shifted, trail, out=trail)

    @contextmanager
    def best_in_place(self, net: Population) -> Iterator[None]:
        """Within the block, ``net`` holds each member's best weights (to save best.ckpt)."""
        params = list(net.parameters())
        current = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, best in zip(params, self.best_params()):
                p.copy_(best)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, now in zip(params, current):
                    p.copy_(now)

