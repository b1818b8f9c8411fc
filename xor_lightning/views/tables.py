"""The text a person reads after training or evaluating: the population's summary and one member's
truth table."""

from __future__ import annotations

from xor_lightning.core.evaluation import Evaluation
from xor_lightning.core.verdict import prediction, right
from xor_lightning.views.numbers import epochs, percent

SHOWN_WRONG = 16  # beyond 2 inputs the table lists only its wrong rows, at most this many


def truth_table(ev: Evaluation, member: int) -> list[str]:
    """The table of one member as printable lines: every row of a 2-input table; beyond 2 inputs
    only the rows it gets wrong (at most SHOWN_WRONG); for a point set, its accuracies."""
    task = ev.task
    if task.points is not None:
        return _point_lines(ev, member)
    names = [f"x{j + 1}" for j in range(task.n_in)]
    prefix = " " + "  ".join(names)
    lines = [f"{prefix} | target  p(y=1)  pred", "-" * (len(prefix) + 1) + "+----------------------------"]
    rows = right(ev.probs[member], task.targets, head=ev.head).tolist()
    wrong_only = task.n_in > 2
    shown = 0
    for x, t, p, ok in zip(task.inputs.tolist(), task.targets.tolist(), ev.probs[member].tolist(), rows):
        if wrong_only and ok:
            continue
        mark = "right" if ok else ("undecided (p = 0.5)" if prediction(p, ev.head) == "?" else "WRONG")
        if p != p:  # NaN (weights from a damaged or crafted checkpoint): no prediction, never right
            mark = "NaN"
        shown += 1
        if shown > SHOWN_WRONG:
            continue
        cells = "  ".join(f"{v:>{len(n)}.0f}" for v, n in zip(x, names))
        lines.append(f" {cells} |   {t:>4.0f}  {p:6.3f}  {prediction(p, ev.head):>4}  {mark}")
    if wrong_only:
        if not shown:
            return []
        more = f", the first {SHOWN_WRONG} shown" if shown > SHOWN_WRONG else ""
        lines.insert(0, f"the {shown} wrong rows of {task.rows}{more}:")
    return lines


def _point_lines(ev: Evaluation, member: int) -> list[str]:
    task = ev.task
    right_now = int(right(ev.probs[member], task.targets, head=ev.head).sum())
    lines = [f"training: {right_now}/{task.rows} points right ({right_now / task.rows:.1%}), "
             f"solved from {task.solved_accuracy:.0%}"]
    if ev.test_probs is not None:
        test_right = int(right(ev.test_probs[member], task.test_targets, head=ev.head).sum())
        m = len(task.test_targets)
        lines.append(f"test: {test_right}/{m} points right ({test_right / m:.1%}); "
                     f"test loss {float(ev.test_losses[member]):.4g}")
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
    lines = [] if ev.task.name == "xor" else [f"task: {ev.task.description}"]
    if ev.members > 1:
        lo, hi = s["success_rate_ci95"]
        e = s["epochs_to_solve"]
        who = (f"{ev.members} seeds ({ev.seed}..{ev.seed + ev.members - 1})" if ev.seeds_in_order else
               f"{ev.members} members with seeds and settings of their own (members.csv lists them)")
        lines.append(
            f"population: {who}: "
            f"solved {s['solved']}/{ev.members} = {percent(s['success_rate'])} "
            f"(95% CI {percent(lo)}-{percent(hi)}); epochs to solve: median {epochs(e['median'])}, "
            f"p90 {epochs(e['p90'])}, max {epochs(e['max'])}; mean loss {s['final_loss']:.4g}"
            + (f"; diverged {s['diverged']} (loss became non-finite; counted as not solved)" if s["diverged"] else "")
        )
        if ev.test_probs is not None:
            t = s["test_accuracy"]
            lines.append(f"test ({len(ev.task.test_targets)} held-out points): accuracy mean {t['mean']:.1%}, "
                         f"median {t['median']:.1%}"
                         + (f", of the solved members {t['of_solved']:.1%}" if t["of_solved"] is not None else "")
                         + f"; training accuracy mean {s['train_accuracy']:.1%}; test loss mean {s['test_loss']:.4g}")
        if diagnosis is not None and diagnosis.summary():
            lines.append(f"not solved, by cause: {diagnosis.summary()}")
        lines += budget_lines(ev)
        best = " (the best member)" if member == ev.best_member() else ""
        lines.append(f"member {member} (seed {ev.member_seed(member)}){best}:")
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
        at = int(ev.diverged_at[member])
        verdict = f"DIVERGED in epoch {at} (loss became non-finite; its training ended there), NOT SOLVED"
    lines.append(f"{verdict}: {rows_right}/{ev.task.rows} {ev.task.unit} right{when}; loss {float(ev.losses[member]):.4g}")
    return lines + (budget_lines(ev) if ev.members == 1 else [])
