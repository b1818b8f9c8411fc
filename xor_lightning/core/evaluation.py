"""Evaluate a population on its task's rows: per-member results and the summary (views/tables.py prints them)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from xor_lightning.core.facts import NOT_MINE, MemberFacts
from xor_lightning.core.module import XORModule
from xor_lightning.core.stats import percentile, survival, wilson_interval
from xor_lightning.core.task import Task
from xor_lightning.core.verdict import probability, right


@dataclass
class Evaluation:
    seed: int               # seed of member 0; member i has seed + i
    probs: torch.Tensor     # [K, N] p(y=1) per row (verdict.probability of the output)
    losses: torch.Tensor    # [K] mean loss per member
    solved: torch.Tensor    # [K] the task's solved rule (rows right: verdict.right) and never diverged
    first_solved: torch.Tensor    # [K] epochs trained when first solved, -1 if never
    diverged_at: torch.Tensor     # [K] epoch its loss became non-finite, -1 if never
    best_epoch: torch.Tensor      # [K] epoch of the evaluated weights' lowest loss, -1 if none
    epochs_trained: torch.Tensor  # [K] epochs the member trained (its own early stop, divergence, or the run's)
    task: Task                    # the rows evaluated (and printed)
    head: str = "logit"           # how the output reads (verdict.probability): probs are sigmoid(logit) or the output
    test_probs: torch.Tensor | None = None   # [K, M] p(y=1) on the task's held-out part (None without one)
    test_losses: torch.Tensor | None = None  # [K] mean loss there
    budgets: tuple[int, ...] = ()  # epoch budgets (increasing)
    right_at: torch.Tensor | None = None  # [budgets, K] int8: right at exactly that epoch (1/0), -1 not reached,
    #                                       facts.NOT_MINE not one of the member's own budgets
    member_seeds: torch.Tensor | None = None  # [K] each member's seed (None: seed + i)
    columns: dict[str, list] | None = None    # what differs per member (a packed grid): name -> value per member

    def budget_rates(self) -> dict[str, dict | None]:
        """Per budget (its epoch as the key): how many members were right at exactly that epoch, the
        rate and its Wilson interval; None for a budget the run never reached (it ended sooner with
        members still training: trainer.max_time, a callback)."""
        out: dict[str, dict | None] = {}
        for e, row in zip(self.budgets, [] if self.right_at is None else self.right_at):
            row = row[row != NOT_MINE]  # members with budgets of their own: only those whose budget it is
            if bool((row < 0).any()) or not len(row):
                out[str(e)] = None
                continue
            k = int((row == 1).sum())
            lo, hi = wilson_interval(k, len(row))
            out[str(e)] = {"right": k, "rate": k / len(row), "rate_ci95": [lo, hi]}
        return out

    @property
    def diverged(self) -> torch.Tensor:
        return self.diverged_at >= 0

    def take(self, members: slice, budget_rows: list[int] | None = None) -> Evaluation:
        """The evaluation of ``members`` alone (a packed grid's job): their rows, and of the budgets
        only their own (``budget_rows``, indices into ``budgets``; None: all)."""
        rows = list(range(len(self.budgets))) if budget_rows is None else list(budget_rows)
        seeds = self.member_seeds[members] if self.member_seeds is not None else None

        def cut(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[members]

        return Evaluation(
            seed=self.member_seed(members.start), probs=self.probs[members], losses=self.losses[members],
            solved=self.solved[members], first_solved=self.first_solved[members], diverged_at=self.diverged_at[members],
            best_epoch=self.best_epoch[members], epochs_trained=self.epochs_trained[members], task=self.task, head=self.head,
            test_probs=cut(self.test_probs), test_losses=cut(self.test_losses),
            budgets=tuple(self.budgets[r] for r in rows),
            right_at=None if self.right_at is None else self.right_at[rows][:, members],
            member_seeds=seeds, columns=None,
        )

    def member_seed(self, i: int) -> int:
        """Member i's seed: its own (a member table's), else seed + i."""
        return int(self.member_seeds[i]) if self.member_seeds is not None else self.seed + i

    @property
    def seeds_in_order(self) -> bool:
        """Member i has seed + i (not so in a member table of several jobs)."""
        return self.member_seeds is None or torch.equal(
            self.member_seeds, torch.arange(self.seed, self.seed + self.members, dtype=self.member_seeds.dtype))

    @property
    def members(self) -> int:
        return len(self.losses)

    @property
    def accuracy(self) -> torch.Tensor:
        """[K] the fraction of training rows right."""
        return right(self.probs, self.task.targets, head=self.head).float().mean(dim=1)

    @property
    def test_accuracy(self) -> torch.Tensor | None:
        """[K] the fraction of held-out rows right (None without a held-out part)."""
        if self.test_probs is None:
            return None
        return right(self.test_probs, self.task.test_targets, head=self.head).float().mean(dim=1)

    def survival(self) -> tuple[list[int], list[float]]:
        """The fraction of members not yet solved against epochs (stats.survival): drops at each
        solved member's first solved epoch and ends at the failure rate."""
        solved_at = self.first_solved[self.solved & (self.first_solved > 0)].tolist()
        return survival(solved_at, self.members, int(self.epochs_trained.max()))

    def best_member(self) -> int:
        """A solved member with the lowest loss (else the lowest loss overall)."""
        key = torch.where(self.solved, self.losses, self.losses + float("inf"))
        if not bool(self.solved.any()):
            key = torch.where(self.diverged, float("inf"), self.losses)
        return int(torch.argmin(torch.nan_to_num(key, nan=float("inf"))))

    def summary(self) -> dict:
        k, n = int(self.solved.sum()), self.members
        epochs = [float(e) for e in self.first_solved[self.solved & (self.first_solved > 0)].tolist()]
        lo, hi = wilson_interval(k, n)
        healthy = self.losses[~self.diverged]
        out = {
            "seeds": n,
            "seed": self.seed,
            "solved": k,
            "success_rate": k / n,
            "success_rate_ci95": [lo, hi],
            "epochs_to_solve": {
                "median": percentile(epochs, 50),
                "p90": percentile(epochs, 90),
                "max": max(epochs) if epochs else None,
            },
            "final_loss": float(healthy.mean()) if len(healthy) else float("nan"),  # diverged members left out
            "diverged": int(self.diverged.sum()),
            "right_at_budget": self.budget_rates(),  # {epoch: {right, rate, rate_ci95} or null: not reached}
        }
        if self.test_probs is not None:  # the generalization question: how the members do on points never trained on
            ok = ~self.diverged
            test_acc, acc = self.test_accuracy[ok], self.accuracy[ok]
            out["train_accuracy"] = float(acc.mean()) if len(acc) else float("nan")
            out["test_accuracy"] = {"mean": float(test_acc.mean()) if len(test_acc) else float("nan"),
                                    "median": percentile(test_acc.tolist(), 50),
                                    "of_solved": float(self.test_accuracy[self.solved].mean()) if k else None}
            out["test_loss"] = float(self.test_losses[ok].mean()) if len(test_acc) else float("nan")
        return out


@torch.no_grad()
def evaluate_module(module: XORModule, facts: MemberFacts | None = None, epochs_done: int | None = None) -> Evaluation:
    """Evaluate the module's weights on its task's rows. The per-epoch facts come from ``facts`` (the
    run's final ones, when evaluating a best.ckpt written earlier) or else from the module itself."""
    module.eval()
    facts = module.facts if facts is None else facts
    done = int(module.epochs_done) if epochs_done is None else epochs_done
    task = module.task
    x, y = task.inputs.to(module.device), task.column.to(module.device)
    logits, losses = module.losses(x.to(module.net.weights[0].dtype), y.to(module.net.weights[0].dtype))
    head = module.net.output
    probs = probability(logits, head).squeeze(-1).float().cpu()
    diverged_at = facts.diverged_at.cpu()
    solved = task.solved(right(probs, task.targets, head=head)) & (diverged_at < 0)
    test_probs = test_losses = None
    if task.has_test:
        dtype = module.net.weights[0].dtype
        test_logits, test_losses = module.losses(task.test_inputs.to(module.device, dtype),
                                                 task.test_targets.unsqueeze(-1).to(module.device, dtype))
        test_probs, test_losses = probability(test_logits, head).squeeze(-1).float().cpu(), test_losses.float().cpu()
    trained = facts.trained(done).cpu()  # each member's own: early stop, divergence, own max_epochs, the run's
    return Evaluation(
        seed=int(module.hparams.seed), probs=probs, losses=losses.float().cpu(), solved=solved,
        first_solved=facts.first_solved.cpu(), diverged_at=diverged_at, best_epoch=facts.best_epoch.cpu(),
        epochs_trained=trained, task=task, head=head, test_probs=test_probs, test_losses=test_losses,
        budgets=facts.budgets, right_at=facts.right_at.cpu(), member_seeds=module.member_seeds.cpu(),
        columns=module.members.differing() if module.members is not None else None,
    )
