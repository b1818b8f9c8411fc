"""The text a person reads after training or evaluating: the population's summary and one member's
truth table."""

from __future__ import annotations

from xor_lightning.core.data import INPUTS, TARGETS
from xor_lightning.core.evaluation import Evaluation
from xor_lightning.core.verdict import prediction, right
from xor_lightning.views.numbers import epochs, percent


def truth_table(ev: Evaluation, member: int) -> list[str]:
    """The table of one member as printable lines."""
    lines = [" x1  x2 | target  p(y=1)  pred", "--------+----------------------------"]
    rows = right(ev.probs[member], TARGETS.squeeze(-1), head=ev.head).tolist()
    for (a, b), t, p, ok in zip(INPUTS.tolist(), TARGETS.squeeze(-1).tolist(), ev.probs[member].tolist(), rows):
        mark = "right" if ok else ("undecided (p = 0.5)" if prediction(p, ev.head) == "?" else "WRONG")
        if p != p:  # NaN (weights from a damaged or crafted checkpoint): no prediction, never right
            mark = "NaN"
        lines.append(f" {a:>2.0f}  {b:>2.0f} |   {t:>4.0f}  {p:6.3f}  {prediction(p, ev.head):>4}  {mark}")
    return lines


def budget_lines(ev: Evaluation) -> list[str]:
    """'right at epoch 10: 3/100 = 3.0% (95% CI ...); 100: ...' for the budgets (none: no line)."""
    parts = []
    for e, r in ev.budget_rates().items():
        if r is None:
            parts.append(f"{e}: not reached (the run ended sooner)")
        elif ev.members == 1:  # a lone network: right or not
            parts.append(f"{e}: {'yes' if r['right'] else 'no'}")
        else:
            lo, hi = r["rate_ci95"]
            parts.append(f"{e}: {r['right']}/{ev.members} = {percent(r['rate'])} (95% CI {percent(lo)}-{percent(hi)})")
    return [f"right at epoch {'; '.join(parts)}"] if parts else []


def summary_lines(ev: Evaluation, member: int | None = None, diagnosis=None) -> list[str]:
    """What a person reads after training or evaluating: population summary (with why members failed,
    given a diagnosis.Diagnosis), one member's table."""
    s = ev.summary()
    member = ev.best_member() if member is None else member
    lines = []
    if ev.members > 1:
        lo, hi = s["success_rate_ci95"]
        e = s["epochs_to_solve"]
        lines.append(
            f"population: {ev.members} seeds ({ev.seed}..{ev.seed + ev.members - 1}): "
            f"solved {s['solved']}/{ev.members} = {percent(s['success_rate'])} "
            f"(95% CI {percent(lo)}-{percent(hi)}); epochs to solve: median {epochs(e['median'])}, "
            f"p90 {epochs(e['p90'])}, max {epochs(e['max'])}; mean loss {s['final_loss']:.4g}"
            + (f"; diverged {s['diverged']} (loss became non-finite; counted as not solved)" if s["diverged"] else "")
        )
        if diagnosis is not None and diagnosis.summary():
            lines.append(f"not solved, by cause: {diagnosis.summary()}")
        lines += budget_lines(ev)
        best = " (the best member)" if member == ev.best_member() else ""
        lines.append(f"member {member} (seed {ev.seed + member}){best}:")
    lines += truth_table(ev, member)
    rows_right = int(right(ev.probs[member], TARGETS.squeeze(-1), head=ev.head).sum())
    first = int(ev.first_solved[member])
    when = f", first solved after {first} epoch{'' if first == 1 else 's'}" if bool(ev.solved[member]) and first > 0 else ""
    verdict = "SOLVED" if bool(ev.solved[member]) else "NOT SOLVED"
    cause = diagnosis.causes[member] if diagnosis is not None else ""
    if cause and cause != "diverged":
        more = diagnosis.more_epochs[member]
        verdict += f" ({cause}{f': about {more} more epochs' if more is not None else ''})"
    if bool(ev.diverged[member]):
        at = int(ev.diverged_at[member])
        verdict = f"DIVERGED in epoch {at} (loss became non-finite; its training ended there), NOT SOLVED"
    lines.append(f"{verdict}: {rows_right}/4 rows right{when}; loss {float(ev.losses[member]):.4g}")
    return lines + (budget_lines(ev) if ev.members == 1 else [])
