"""The text a person reads after training or evaluating: the population's summary and one member's
truth table."""

from __future__ import annotations

from xor_lightning.core.evaluation import Evaluation
from xor_lightning.core.verdict import prediction, right


def truth_table(ev: Evaluation, member: int) -> list[str]:
    """The table of one member as printable lines."""
    lines = [" x1  x2 | target  p(y=1)  pred", "--------+----------------------------"]
    task = ev.task
    rows = right(ev.probs[member], task.targets, head=ev.head).tolist()
    for (a, b), t, p, ok in zip(task.inputs.tolist(), task.targets.tolist(), ev.probs[member].tolist(), rows):
        mark = "right" if ok else ("undecided (p = 0.5)" if prediction(p, ev.head) == "?" else "WRONG")
        if p != p:  # NaN (weights from a damaged or crafted checkpoint): no prediction, never right
            mark = "NaN"
        lines.append(f" {a:>2.0f}  {b:>2.0f} |   {t:>4.0f}  {p:6.3f}  {prediction(p, ev.head):>4}  {mark}")
    return lines


def _fmt_epochs(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


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
            f"solved {s['solved']}/{ev.members} = {s['success_rate']:.1%} "
            f"(95% CI {lo:.1%}-{hi:.1%}); epochs to solve: median {_fmt_epochs(e['median'])}, "
            f"p90 {_fmt_epochs(e['p90'])}, max {_fmt_epochs(e['max'])}; mean loss {s['final_loss']:.4g}"
            + (f"; diverged {s['diverged']} (loss became non-finite; counted as not solved)" if s["diverged"] else "")
        )
        if diagnosis is not None and diagnosis.summary():
            lines.append(f"not solved, by cause: {diagnosis.summary()}")
        best = " (the best member)" if member == ev.best_member() else ""
        lines.append(f"member {member} (seed {ev.seed + member}){best}:")
    lines += truth_table(ev, member)
    rows_right = int(right(ev.probs[member], ev.task.targets, head=ev.head).sum())
    first = int(ev.first_solved[member])
    when = f", first solved after {first} epoch{'' if first == 1 else 's'}" if bool(ev.solved[member]) and first > 0 else ""
    verdict = "SOLVED" if bool(ev.solved[member]) else "NOT SOLVED"
    cause = diagnosis.causes[member] if diagnosis is not None else ""
    if cause and cause != "diverged":
        more = diagnosis.more_epochs[member]
        verdict += f" ({cause}{f': about {more} more epochs' if more is not None else ''})"
    if bool(ev.diverged[member]):
        verdict = f"DIVERGED in epoch {int(ev.diverged_at[member])} (loss became non-finite; weights reset to 0), NOT SOLVED"
    lines.append(f"{verdict}: {rows_right}/{ev.task.rows} rows right{when}; loss {float(ev.losses[member]):.4g}")
    return lines
