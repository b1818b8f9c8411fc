"""The LightningModule: a population of ``seeds`` networks trained side by side on the table.

One Lightning training step is one block of table epochs (block.py), run with manual optimization
and the raw optimizer: Lightning's per-step cost is paid per block. Each epoch is what it would be
alone (to float32 rounding: SIMD kernels on the population's tensors, see README): the whole
table (or that epoch's seeded mini-batches from the DataModule), one forward, the *sum* of
per-member losses, backward, optimizer step. Per-epoch facts are kept in
``facts`` (facts.py) and each block's scalars in ``block`` for the callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytorch_lightning as pl
import torch

from xor_lightning.core.block import BlockRecord, LoopPlan, clip_per_member
from xor_lightning.core.divergence import freeze
from xor_lightning.core.engine_choice import choose as choose_engine
from xor_lightning.core.facts import MemberFacts, healthy_mean
from xor_lightning.core.losses import member_losses
from xor_lightning.core.members import MemberTable
from xor_lightning.core.nets import Population, init_options, per_member
from xor_lightning.core.optim import PopulationOptimizer, make_optimizer
from xor_lightning.core.task import build as build_task
from xor_lightning.core.verdict import probability, right

__all__ = ["XORModule", "make_optimizer"]  # make_optimizer: also read from here (run/checkpoint_sections.py)


class XORModule(pl.LightningModule):
    """Member i is the network of seed ``seed + i``. The training loss is the *sum* of per-member
    mean losses, so each member's gradient (and elementwise optimizer update) is what it would be
    alone, to float32 rounding. Logged metrics are means over members, so they read the same for any K.

    Hyperparameters are plain containers (not OmegaConf objects) so checkpoints load with
    ``weights_only=True`` and carry everything ``evaluate`` needs, the task too (``data``, the data
    config; None, as in checkpoints older than tasks: xor). ``loop`` (how to train) is not one of
    them: it is given by the run, not read back from a checkpoint.
    """

    def __init__(
        self,
        model: dict[str, Any],
        loss: dict[str, Any],
        optimizer: dict[str, Any],
        seed: int = 0,
        seeds: int = 1,
        loop: LoopPlan | None = None,
        budgets: Sequence[int] = (),
        data: dict[str, Any] | None = None,
        members: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # members (MemberTable.to_lists()): members with seeds, init scales and optimizer arguments or
        # rules of their own (library use; the app's runs are uniform: None). Not recorded in
        # checkpoints yet: a table read from a file would need the checks a command line gets.
        self.save_hyperparameters(ignore=["loop", "members"], logger=False)
        self.automatic_optimization = False
        self.task = build_task(data)
        self.members = MemberTable.from_lists(members) if members is not None else None
        if self.members is not None:
            if len(self.members) != seeds:
                raise ValueError(f"members: {len(self.members)} rows for seeds={seeds}")
        self.net = Population(
            seeds, model["hidden"], model["activation"], model["init"], model["init_std"], seed,
            in_features=self.task.n_in, **init_options(model),
            per_member=self.members.population_columns() if self.members is not None else None,
        )
        self.loss_name = loss["name"]
        self.loss_kwargs = {k: v for k, v in loss.items() if k != "name"}
        runs = self.members.loss_runs() if self.members is not None else []
        self._loss_runs = runs if len(runs) > 1 else None  # members with losses of their own: a slice each
        self.facts = MemberFacts(self.net, self.task.solved, tuple(sorted(set(budgets))))
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))  # table epochs trained
        self.register_buffer("best_version", torch.zeros((), dtype=torch.long))  # blocks that changed a best
        self.loop = loop or LoopPlan()
        if self.members is not None and "margin" in self.members.numbers and self.loop.stop is not None:
            # each member's own early-stop margin, compared in float32 as a Python number would be
            margin = self.members.numbers["margin"].to(torch.float32).view(-1, 1)
            self.loop = replace(self.loop, stop=replace(self.loop.stop, margin=margin))
        self.block = BlockRecord()     # what the last block saw (callbacks read it at its end)
        # Called with the epoch after every epoch, inside a block: progress displays check the
        # clock there (a long block would otherwise show nothing until it ends). Must be cheap.
        self.epoch_hooks: list[Callable[[int], None]] = []
        self.run_over = False          # every member met the early stop or diverged
        self._frozen: list[torch.Tensor] | None = None  # weights of members that met the early stop
        self._stopped = torch.zeros(seeds, dtype=torch.bool)
        self.engine, self.engine_reason, self._fused = "torch", "", None  # on_train_start decides (engines.py)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Checkpoints older than epoch budgets have no ``facts.right_at``: none, as they had no budgets."""
        state = checkpoint.get("state_dict")
        if isinstance(state, dict) and "facts.right_at" not in state:
            state["facts.right_at"] = self.facts.right_at.clone()

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(x)
        if self._loss_runs is None:
            return logits, member_losses(self.loss_name, logits, y, self.net.output, **self.loss_kwargs)
        parts = [member_losses(spec["name"], logits[part], y[part] if y.dim() == 3 else y, self.net.output,
                               **{k: v for k, v in spec.items() if k != "name"}) for spec, part in self._loss_runs]
        return logits, torch.cat(parts)

    def configure_optimizers(self) -> PopulationOptimizer:
        parts = self.members.optimizer_parts() if self.members is not None else None
        return make_optimizer(self.hparams.optimizer, self.net.parameters(), parts=parts)

    def on_train_start(self) -> None:
        self._params = list(self.net.parameters())
        self.facts.begin(self.loop.max_epochs)
        # A resumed run: members that met the early stop hold their final weights (kept frozen).
        self._stopped = self.facts.stopped_at >= 0
        self._frozen = [p.detach().clone() for p in self._params] if bool(self._stopped.any()) else None
        self.run_over = self.facts.remaining == 0
        self._test = None  # the task's held-out part, on the device: each epoch's test/* scalars
        if self.task.has_test:
            dtype = self.net.weights[0].dtype
            self._test = (self.task.test_inputs.to(self.device, dtype),
                          self.task.test_targets.unsqueeze(-1).to(self.device, dtype))
        self.engine, self.engine_reason, self._fused = choose_engine(self)

    # -- one block of epochs ----------------------------------------------------------------------

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        dtype = self.net.weights[0].dtype
        x, y = (t.to(dtype) for t in batch)  # the whole table; float64 under 64-true precision
        first = int(self.epochs_done)
        end = self.loop.block_end(first)
        self.block = BlockRecord()
        self._opt = self.optimizers()
        best_before = self.facts.best_epoch.clone()
        # Under bf16-mixed the training forward's outputs are bf16: rounding would decide rows near
        # p = 0.5. Then every epoch is observed by a float32 forward of its own, as with mini-batches.
        reduced = "bf16" in str(self.trainer.precision)
        if self.trainer.datamodule.full_batch and not reduced:
            done = self._full_batch_block(x, y, first, end)
        else:
            done = self._mini_batch_block(x, y, first, end)
        self.epochs_done.fill_(done)  # the block's per-epoch scalars are written by views/epoch_scalars.py
        if bool((self.facts.best_epoch != best_before).any()):
            self.best_version += 1  # some member has a new best: best.ckpt is rewritten
        self.log("best/version", self.best_version.float(), on_step=False, on_epoch=True, logger=False)
        if self.run_over or done >= self.loop.max_epochs:
            self.trainer.should_stop = True

    def _full_batch_block(self, x: torch.Tensor, y: torch.Tensor, first: int, end: int) -> int:
        """Epochs first+1..end on the whole table: the forward of epoch e is also the full-table
        evaluation of the weights after epoch e-1, so observing costs no extra forward."""
        if self._fused is not None:
            return self._fused_block(x, y, first, end)
        targets = y.squeeze(-1)
        train_loss = None
        for epoch in range(first + 1, end + 1):
            logits, losses = self.losses(x, y)  # the weights after epoch - 1
            if epoch - 1 > first:  # the weights after `first` were observed at the end of the last block
                newly = self._observe(epoch - 1, logits, losses, targets, train_loss)
                if self.run_over:
                    return epoch - 1
                train_loss = self.block.last.val_loss  # the same losses, the same members
            else:
                newly = self.facts.mark_diverged(losses.detach(), epoch - 1)
                newly = newly if bool(newly.any()) else None
                train_loss = healthy_mean(losses.detach(), self.facts.diverged)
            self._step(losses, newly, via_lightning=epoch == first + 1)
        with torch.no_grad():
            logits, losses = self.losses(x, y)
        self._observe(end, logits, losses, targets, train_loss, freeze_now=True)
        return end

    def _fused_block(self, x: torch.Tensor, y: torch.Tensor, first: int, end: int) -> int:
        """The same epochs by the fused kernel, which updates the weights, the optimizer's state and
        the per-member facts in place; the block's per-epoch facts are recorded at once."""
        raw = self._opt.optimizer
        raw.zero_grad(set_to_none=True)
        self._opt.step()  # no gradients, so nothing changes: Lightning counts the block (global_step)
        seen = self._fused.run(raw, self._params, self.facts.best_params(), self.facts, x, y, first, end - first,
                               self.loop.stop)
        done, record = self.facts.observe_block(first, *(torch.from_numpy(seen[k]) for k in ("loss", "worst", "right")),
                                                rows=x.shape[0])
        self._fused.count_steps(done - first)
        for epoch, train_loss, epoch_seen in record:
            self.block.add(epoch, train_loss, epoch_seen)
        for hook in self.epoch_hooks:
            hook(done)
        self._stopped = self.facts.stopped_at >= 0
        self.run_over = self.facts.remaining == 0
        return done

    def _mini_batch_block(self, x: torch.Tensor, y: torch.Tensor, first: int, end: int) -> int:
        """Each epoch's batches in each member's own seeded row order, then the whole table to observe."""
        datamodule = self.trainer.datamodule
        targets = y.squeeze(-1)
        steps = datamodule.step_slices()
        for epoch in range(first + 1, end + 1):
            order = datamodule.epoch_rows(epoch - 1)  # [K, rows] or None (every member in table order)
            if order is not None:
                order = order.to(x.device)
            total = 0.0
            for s, part in enumerate(steps):
                # [K, b, n_in] rows per member when shuffled, else [b, n_in] shared by all
                xb, yb = (x[part], y[part]) if order is None else (x[order[:, part]], y[order[:, part]])
                _, losses = self.losses(xb, yb)
                newly = self.facts.mark_diverged(losses.detach(), epoch)
                total = total + healthy_mean(losses.detach(), self.facts.diverged) * xb.shape[-2]
                self._step(losses, newly if bool(newly.any()) else None, via_lightning=epoch == first + 1 and s == 0)
            with torch.no_grad(), torch.autocast(x.device.type, enabled=False):  # float32, also under bf16-mixed
                logits, losses = self.losses(x, y)
            self._observe(epoch, logits, losses, targets, total / len(x), freeze_now=True)
            if self.run_over:
                return epoch
        return end

    def _observe(self, epoch: int, logits, losses, targets, train_loss, freeze_now: bool = False) -> torch.Tensor | None:
        """Record the facts of the weights after ``epoch``; sets ``run_over`` once every member is done
        (met the early stop or diverged). Returns the newly diverged (or None): their weights are
        zeroed now when no backward of this forward follows (``freeze_now``, or the run is over),
        else by the step after its backward."""
        seen, newly_diverged, newly_stopped = self.facts.observe(
            epoch, logits.detach(), losses.detach(), targets, self._params, self.loop.stop
        )
        self.block.add(epoch, train_loss if train_loss is not None else seen.val_loss, seen)
        for hook in self.epoch_hooks:
            hook(epoch)
        if self._test is not None:
            self.block.test.append(self._test_scalars())
        self.run_over = self.facts.remaining == 0
        if newly_diverged is not None and (freeze_now or self.run_over):  # keep NaN out of the weights now
            freeze(self._params, [self._opt.optimizer], newly_diverged)
        if newly_stopped is not None:
            self._freeze_stopped(newly_stopped)
        return newly_diverged

    @torch.no_grad()
    def _test_scalars(self) -> torch.Tensor:
        """[2] the mean test loss (members that have not diverged) and the fraction of (member,
        test point) pairs right: the weights after this epoch on points never trained on."""
        x, y = self._test
        with torch.autocast(x.device.type, enabled=False):
            logits, losses = self.losses(x, y)
        rows = right(probability(logits.squeeze(-1).float(), self.net.output), y.squeeze(-1), head=self.net.output)
        return torch.stack([healthy_mean(losses.float(), self.facts.diverged), rows.float().mean()])

    @torch.no_grad()
    def _freeze_stopped(self, newly: torch.Tensor) -> None:
        """Members that met the early stop keep the weights they have now, as a lone run would end."""
        if self._frozen is None:
            self._frozen = [p.detach().clone() for p in self._params]
        for keep, p in zip(self._frozen, self._params):
            torch.where(per_member(newly, p), p, keep, out=keep)
        self._stopped = self.facts.stopped_at >= 0

    def _step(self, losses: torch.Tensor, newly_diverged: torch.Tensor | None, via_lightning: bool) -> None:
        """One optimizer step on the sum of the members' losses. Diverged members add 0 and stay at 0;
        members that met the early stop are put back to their final weights after the step."""
        raw = self._opt.optimizer
        raw.zero_grad(set_to_none=True)
        if self.facts.remaining < self.hparams.seeds:  # someone stopped or diverged
            losses = torch.where(self.facts.diverged, 0.0, losses)
        losses.sum().backward()
        params = self._params
        if newly_diverged is not None:
            freeze(params, [raw], newly_diverged)  # its NaN gradient and any state it reached
        if self.loop.clip is not None:
            clip_per_member(params, self.loop.clip)
        # The raw optimizer inside a block; its first step through Lightning's wrapper, so that
        # trainer.global_step counts blocks (ModelCheckpoint saves once per step) and
        # on_before_optimizer_step hooks see every block.
        (self._opt.step if via_lightning else raw.step)()
        if self._frozen is not None:
            with torch.no_grad():
                for keep, p in zip(self._frozen, params):
                    torch.where(per_member(self._stopped, p), keep, p, out=p)

