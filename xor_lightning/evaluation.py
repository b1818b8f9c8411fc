"""Evaluate a population on the truth table: per-member results, the summary, the printed table."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from xor_lightning.data import INPUTS, TARGETS
from xor_lightning.module import XORModule
from xor_lightning.stats import percentile, wilson_interval


@dataclass
class Evaluation:
    seed: int               # seed of member 0; member i has seed + i
    probs: torch.Tensor     # [K, 4] sigmoid(logit) per row
    losses: torch.Tensor    # [K] mean loss per member
    solved: torch.Tensor    # [K] every row right (sigmoid > 0.5 == target)
    first_solved: torch.Tensor  # [K] epochs trained when first solved, -1 if never
    diverged_at: torch.Tensor | None = None  # [K] epoch its loss became non-finite, -1 if never

    @property
    def diverged(self) -> torch.Tensor:
        return torch.zeros_like(self.solved) if self.diverged_at is None else self.diverged_at >= 0

    @property
    def members(self) -> int:
        return len(self.losses)

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
        return {
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
        }


@torch.no_grad()
def evaluate_module(module: XORModule) -> Evaluation:
    module.eval()
    x, y = INPUTS.to(module.device), TARGETS.to(module.device)
    logits, losses = module.losses(x, y)
    probs = torch.sigmoid(logits).squeeze(-1).float().cpu()
    diverged_at = getattr(module, "diverged_at", torch.full_like(module.first_solved, -1)).cpu()
    solved = ((probs > 0.5) == (y.squeeze(-1).cpu() > 0.5)).all(dim=1) & (diverged_at < 0)
    return Evaluation(
        seed=int(module.hparams.seed),
        probs=probs,
        losses=losses.float().cpu(),
        solved=solved,
        first_solved=module.first_solved.cpu(),
        diverged_at=diverged_at,
    )


def truth_table(ev: Evaluation, member: int) -> list[str]:
    """The table of one member as printable lines."""
    lines = [" x1  x2 | target  p(y=1)  pred", "--------+----------------------------"]
    for (a, b), t, p in zip(INPUTS.tolist(), TARGETS.squeeze(-1).tolist(), ev.probs[member].tolist()):
        pred = int(p > 0.5)
        mark = "right" if pred == int(t) else "WRONG"
        if p != p:  # NaN (weights from a damaged or crafted checkpoint): no prediction, not "right"
            pred, mark = "-", "NaN"
        lines.append(f" {a:>2.0f}  {b:>2.0f} |   {t:>4.0f}  {p:6.3f}  {pred:>4}  {mark}")
    return lines


def _fmt_epochs(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def report(ev: Evaluation, member: int | None = None) -> list[str]:
    """What a person reads after training or evaluating: population summary, one member's table."""
    s = ev.summary()
    member = ev.best_member() if member is None else member
    lines = []
    if ev.members > 1:
        lo, hi = s["success_rate_ci95"]
        e = s["epochs_to_solve"]
        lines.append(
            f"population: {ev.members} seeds ({ev.seed}..{ev.seed + ev.members - 1}): "
            f"solved {s['solved']}/{ev.members} = {s['success_rate']:.1%} "
            f"(95% CI {lo:.1%}-{hi:.1%}); epochs to solve: median {_fmt_epochs(e['median'])}, "
            f"p90 {_fmt_epochs(e['p90'])}, max {_fmt_epochs(e['max'])}; mean loss {s['final_loss']:.4g}"
            + (f"; diverged {s['diverged']} (loss became non-finite; counted as not solved)" if s["diverged"] else "")
        )
        best = " (the best member)" if member == ev.best_member() else ""
        lines.append(f"member {member} (seed {ev.seed + member}){best}:")
    lines += truth_table(ev, member)
    right = int((((ev.probs[member] > 0.5).float() == TARGETS.squeeze(-1)) & ~ev.probs[member].isnan()).sum())
    first = int(ev.first_solved[member])
    when = f", first solved after {first} epochs" if bool(ev.solved[member]) and first > 0 else ""
    verdict = "SOLVED" if bool(ev.solved[member]) else "NOT SOLVED"
    if bool(ev.diverged[member]):
        verdict = f"DIVERGED in epoch {int(ev.diverged_at[member])} (loss became non-finite; weights reset to 0), NOT SOLVED"
    lines.append(f"{verdict}: {right}/4 rows right{when}; loss {float(ev.losses[member]):.4g}")
    return lines
