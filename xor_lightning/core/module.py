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

from xor_lightning.base.errors import UserError
from xor_lightning.core.block import BlockRecord, LoopPlan, clip_per_member
from xor_lightning.core.divergence import freeze
from xor_lightning.core.engine_choice import choose as choose_engine
from xor_lightning.core.facts import MemberFacts, healthy_mean
from xor_lightning.core.losses import member_losses
from xor_lightning.core.members import MemberTable, budget_union
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
        # members (MemberTable.to_lists()): members with seeds, init scales, optimizer arguments or
        # rules, losses, margins, max_epochs and budgets of their own (a packed grid; the app's own
        # runs are uniform: None). Recorded in checkpoints as these plain lists, which the reader
        # checks as untrusted data (run/member_checks.py).
        self.save_hyperparameters(ignore=["loop"], logger=False)
        self.automatic_optimization = False
        self.task = build_task(data)
        self.members = MemberTable.from_lists(members) if members is not None else None
        if self.members is not None:
            if len(self.members) != seeds:
                raise ValueError(f"members: {len(self.members)} rows for seeds={seeds}")
        # Member i's seed: its shuffled batch order derives from it (data.py), as its lone run's does.
        self.member_seeds = self.members.seed.clone() if self.members is not None else torch.arange(seed, seed + seeds)
        self.net = Population(
            seeds, model["hidden"], model["activation"], model["init"], model["init_std"], seed,
            in_features=self.task.n_in, **init_options(model),
            per_member=self.members.population_columns() if self.members is not None else None,
        )
        self.loss_name = loss["name"]
        self.loss_kwargs = {k: v for k, v in loss.items() if k != "name"}
        runs = self.members.loss_runs() if self.members is not None else []
        self._loss_runs = runs if len(runs) > 1 else None  # members with losses of their own: a slice each
        union, own = budget_union(budgets, self.members)
        ends = self.members.ends((loop or LoopPlan()).max_epochs) if self.members is not None else None
        self.facts = MemberFacts(self.net, self.task.solved, union, own, ends)
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))  # table epochs trained
        self.register_buffer("best_version", torch.zeros((), dtype=torch.long))  # blocks that changed a best
        self.loop = loop or LoopPlan()
        if ends is not None:  # each member's last epoch ends a block; the run ends when every member has
            self.loop = replace(self.loop, ends=tuple(sorted(set(ends.tolist()))))
        if self.members is not None and "margin" in self.members.numbers and self.loop.stop is not None:
            # each member's own early-stop margin, compared in float32 as a Python number would be
            margin = self.members.numbers["margin"].to(torch.float32).view(-1, 1)
            self.loop = replace(self.loop, stop=replace(self.loop.stop, margin=margin))
        self.block = BlockRecord()     # what the last block saw (callbacks read it at its end)
        # [K] each member's job in a packed grid (run/packed.py sets it): the block then also keeps
        # each job's own means of what lone runs log (BlockRecord.jobs); None: one run.
        self.job_of: torch.Tensor | None = None
        # Called with the epoch after every epoch, inside a block: progress displays check the
        # clock there (a long block would otherwise show nothing until it ends). Must be cheap.
        self.epoch_hooks: list[Callable[[int], None]] = []
        self.run_over = False          # every member met the early stop or diverged
        self._frozen: list[torch.Tensor] | None = None  # weights of members held (early stop, own max_epochs)
        self._held_state: dict[tuple[int, str], torch.Tensor] = {}  # their optimizer state when they were held
        self._stopped = torch.zeros(seeds, dtype=torch.bool)
        self.engine, self.engine_reason, self._fused = "torch", "", None  # on_train_start decides (engines.py)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint of other members (a member table, or none where this module has one) is
        refused. Checkpoints older than epoch budgets have no ``facts.right_at``: none, as they had
        no budgets; older than per-member trails, one ``facts.trail_epoch`` for all members: each
        member's the same."""
        given = (checkpoint.get("hyper_parameters") or {}).get("members")
        theirs = MemberTable.from_lists(given) if given is not None else None
        if (self.members is None) != (theirs is None) or (theirs is not None and not theirs.same_as(self.members)):
            raise UserError("this checkpoint's members differ from this run's (a member table: a packed grid's jobs); "
                            "resume it as it was trained, with the same member table")
        state = checkpoint.get("state_dict")
        if isinstance(state, dict) and "facts.right_at" not in state:
            state["facts.right_at"] = self.facts.right_at.clone()
        trail = state.get("facts.trail_epoch") if isinstance(state, dict) else None
        if isinstance(trail, torch.Tensor) and trail.dim() == 1:
            state["facts.trail_epoch"] = trail.unsqueeze(1).expand(-1, self.hparams.seeds).clone()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Held members' optimizer state as it was when they were held (their lone runs ended there;
        inside the run it kept moving, harmlessly: their weights are put back after every step)."""
        states = checkpoint.get("optimizer_states")
        if not self._held_state or not states:
            return
        held = self._stopped.to(self.device)
        entries = states[0]["state"]
        for (index, name), kept in self._held_state.items():
            entry = entries.get(index)
            if entry is not None and name in entry:  # a new dict: the live optimizer's stays as it is
                entries[index] = {**entry, name: torch.where(per_member(held, kept), kept, entry[name])}

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(x)
        return logits, self.loss_of(logits, y)

    def loss_of(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[K] each member's mean loss of ``logits`` (by its own loss, members with losses of their own)."""
        if self._loss_runs is None:
            return member_losses(self.loss_name, logits, y, self.net.output, **self.loss_kwargs)
        parts = [member_losses(spec["name"], logits[part], y[part] if y.dim() == 3 else y, self.net.output,
                               **{k: v for k, v in spec.items() if k != "name"}) for spec, part in self._loss_runs]
        return torch.cat(parts)

    def configure_optimizers(self) -> PopulationOptimizer:
        parts = self.members.optimizer_parts() if self.members is not None else None
        return make_optimizer(self.hparams.optimizer, self.net.parameters(), parts=parts)

    def on_train_start(self) -> None:
        self._params = list(self.net.parameters())
        self.facts.begin(self.loop.max_epochs, int(self.epochs_done))
        # A resumed run: members that met the early stop or their own max_epochs hold their final
        # weights and optimizer state (kept frozen).
        self._stopped = self.facts.held
        self._frozen = None
        if bool(self._stopped.any()):
            self._frozen = [p.detach().clone() for p in self._params]
            self._hold_state(self._stopped)
        self.run_over = self.facts.all_done
        self._test = None  # the task's held-out part, on the device: each epoch's test/* scalars
        if self.task.has_test:
            dtype = self.net.weights[0].dtype
            self._test = (self.task.test_inputs.to(self.device, dtype),
                          self.task.test_targets.unsqueeze(-1).to(self.device, dtype))
        if self.job_of is not None:
            self.job_of = self.job_of.to(self.device)
        self.engine, self.engine_reason, self._fused = choose_engine(self)

    # -- one block of epochs ----------------------------------------------------------------------

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        dtype = self.net.weights[0].dtype
        x, y = (t.to(dtype) for t in batch)  # the whole table; float64 under 64-true precision
        first = int(self.epochs_done)
        end = self.loop.block_end(first)
        self.block = BlockRecord()
        if self.run_over or first >= self.loop.max_epochs or self.facts.remaining == 0:
            # A resumed run that had already ended (every member done, or its epochs trained): its
            # members' lone runs are over too, so nothing trains, not even one more epoch.
            self.trainer.should_stop = True
            return
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
        if self.run_over or done >= self.loop.max_epochs or self.facts.remaining == 0:
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
                if self.facts.remaining == 0:
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
        newly = self.facts.held & ~self._stopped
        if bool(newly.any()):
            self._hold_state(newly)  # what checkpoints write for them (the kernel leaves it as it is, too)
        self._stopped = self.facts.held
        self.run_over = self.facts.all_done
        return done

    def _mini_batch_block(self, x: torch.Tensor, y: torch.Tensor, first: int, end: int) -> int:
        """Each epoch's batches in each member's own seeded row order, then the whole table to observe."""
        datamodule = self.trainer.datamodule
        targets = y.squeeze(-1)
        steps = datamodule.step_slices()
        for epoch in range(first + 1, end + 1):
            # [K, rows] each member's order from its own seed, or None (every member in table order)
            order = datamodule.epoch_rows(epoch - 1, self.member_seeds)
            if order is not None:
                order = order.to(x.device)
            total, per_job = 0.0, 0.0
            for s, part in enumerate(steps):
                # [K, b, n_in] rows per member when shuffled, else [b, n_in] shared by all
                xb, yb = (x[part], y[part]) if order is None else (x[order[:, part]], y[order[:, part]])
                _, losses = self.losses(xb, yb)
                newly = self.facts.mark_diverged(losses.detach(), epoch)
                total = total + healthy_mean(losses.detach(), self.facts.diverged) * xb.shape[-2]
                if self.job_of is not None:  # each job's mean as its lone run takes it, step by step
                    per_job = per_job + self._job_means(losses.detach(), ~self.facts.diverged) * xb.shape[-2]
                self._step(losses, newly if bool(newly.any()) else None, via_lightning=epoch == first + 1 and s == 0)
            with torch.no_grad(), torch.autocast(x.device.type, enabled=False):  # float32, also under bf16-mixed
                logits, losses = self.losses(x, y)
            self._observe(epoch, logits, losses, targets, total / len(x), freeze_now=True,
                          job_train=per_job / len(x) if self.job_of is not None else None)
            if self.facts.remaining == 0:
                return epoch
        return end

    def _observe(self, epoch: int, logits, losses, targets, train_loss, freeze_now: bool = False,
                 job_train: torch.Tensor | None = None) -> torch.Tensor | None:
        """Record the facts of the weights after ``epoch``; sets ``run_over`` once every member is done
        (met the early stop or diverged). Members that met the early stop or their own max_epochs
        are held from now on. Returns the newly diverged (or None): their weights are
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
        if self.job_of is not None:
            self.block.jobs.append(self._job_scalars(logits.detach(), losses.detach(), targets, job_train))
        self.run_over = self.facts.all_done
        if newly_diverged is not None and (freeze_now or self.facts.remaining == 0):  # keep NaN out of the weights now
            freeze(self._params, [self._opt.optimizer], newly_diverged)
        if newly_stopped is not None:
            self._freeze_stopped(newly_stopped)
        return newly_diverged

    def _job_means(self, values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """[jobs] each job's mean of ``values`` [K] over its members ``keep`` [K] (NaN where none)."""
        jobs = int(self.job_of.max()) + 1
        sums = values.new_zeros(jobs).index_add_(0, self.job_of, torch.where(keep, values, 0.0))
        return sums / values.new_zeros(jobs).index_add_(0, self.job_of, keep.to(values.dtype))

    @torch.no_grad()
    def _job_scalars(self, logits, losses, targets, job_train: torch.Tensor | None) -> torch.Tensor:
        """[4, jobs]: each job's training loss (mini-batches), val accuracy, test loss and accuracy."""
        everyone = torch.ones_like(self.facts.diverged)
        rows = right(probability(logits.squeeze(-1).float(), self.net.output), targets, head=self.net.output)
        acc = self._job_means(rows.float().mean(dim=-1), everyone)
        nan = torch.full_like(acc, float("nan"))
        test = [nan, nan]
        if self._test is not None:
            x, y = self._test
            with torch.autocast(x.device.type, enabled=False):
                test_logits, test_losses = self.losses(x, y)
            test_rows = right(probability(test_logits.squeeze(-1).float(), self.net.output), y.squeeze(-1),
                              head=self.net.output)
            test = [self._job_means(test_losses.float(), ~self.facts.diverged),
                    self._job_means(test_rows.float().mean(dim=-1), everyone)]
        return torch.stack([job_train.float() if job_train is not None else nan, acc, *test])

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
        """Members that met the early stop or their own max_epochs keep the weights (and optimizer
        state) they have now, as a lone run would end."""
        if self._frozen is None:
            self._frozen = [p.detach().clone() for p in self._params]
        for keep, p in zip(self._frozen, self._params):
            torch.where(per_member(newly, p), p, keep, out=keep)
        self._hold_state(newly)
        self._stopped = self.facts.held

    @torch.no_grad()
    def _hold_state(self, newly: torch.Tensor) -> None:
        """Copy the ``newly`` held members' per-member optimizer state (written back at every save)."""
        optimizers = self._trainer.optimizers if self._trainer is not None else []
        if not optimizers:
            return
        raw = optimizers[0]
        for index, p in enumerate(self._params):
            for name, value in raw.state.get(p, {}).items():
                if torch.is_tensor(value) and value.dim() and value.shape[0] == newly.shape[0]:
                    kept = self._held_state.setdefault((index, name), value.detach().clone())
                    torch.where(per_member(newly, value), value, kept, out=kept)

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

