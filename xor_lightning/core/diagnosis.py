"""Why a member failed: one cause for every member that did not solve the table.

Computed once at the end of a run from each member's final weights (its pre-activations and
activation derivatives on the four rows, the gradient of its own loss, its outputs) and its loss
trail (facts.py). The causes, checked in this order (the first that applies is the member's):

  diverged        its loss became NaN/inf (then it was frozen at zero).
  linear          no non-linearity (no hidden layer, or activation=identity) on a task that is not
                  linearly separable (xor, parity, xnor): no affine function gets every row right,
                  whatever the training. Never the cause on a linearly separable task (and, or, ...).
  dead            units off where they are needed, for good (relu, relu6 below 0, softshrink on
                  [-0.5, 0.5]: output 0, derivative 0): fewer than 2 units of the first hidden layer
                  (1 of a later one) pass gradient on any row (an off unit cannot revive; one live unit
                  cannot separate XOR), or a layer maps two rows of different targets to the same
                  vector (every unit off on both: the output is the same on both).
  saturated units the same with the other activations: hidden units pinned in a flat part (the
                  derivative of a unit's output by its own input below 1% of its peak on every row:
                  tanh |z| > ~3.7, sigmoid |z| > ~6, hardtanh |z| > 1, tanhshrink |z| < ~0.1,
                  softmax/softmin when one unit takes (or loses) the whole row).
  saturated output
                  the hidden units are fine, but the output is pinned at the wrong end of a row
                  (p < 0.0025 or > 0.9975, a logit beyond ~6) while the loss consumes probabilities
                  (mse, l1, bce, ...): the sigmoid's own derivative then kills that row's gradient.
  plateau         the output sits at the constant guess (every p within 0.05 of 1/2) with a tiny
                  gradient (norm < 1e-3): symmetry is not broken yet; more epochs alone take long.
  still learning  the loss fell steadily over the last samples of its trail (each interval by at
                  least 0.5%). ``more_epochs`` extrapolates the same samples: the sooner of its worst
                  row's p crossing 1/2 (linear) and its loss reaching the level below which every row
                  must be right (log-linear). Rough by nature: docs/why-seeds-fail.md measures it.
  local minimum   the loss no longer moves (under 0.5% over the last trail interval; or a tiny
                  gradient), above a solution: typically three rows right.
  other           none of these: the loss moves, but not steadily (oscillating, noisy batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from xor_lightning.core.causes import CAUSES
from xor_lightning.core.losses import consumes, row_losses
from xor_lightning.core.nets import ACROSS_UNITS, ACTIVATIONS
from xor_lightning.core.verdict import probability, signed_confidence


@dataclass(frozen=True)
class Thresholds:
    flat: float = 0.01        # a unit passes no gradient on a row below this fraction of its peak derivative
    near_guess: float = 0.05  # plateau: every p within this of 1/2
    tiny_grad: float = 1e-3   # gradient norm of the member's own mean loss
    steady: float = 0.005     # still learning: each of the last trail intervals cut the loss by at least
    intervals: int = 3        # this fraction, for this many intervals; local minimum: the last one moved it less


THRESHOLDS = Thresholds()


@dataclass
class Diagnosis:
    causes: list[str]            # per member; "" for a member that solved the table
    more_epochs: list[int | None]  # per member: the estimate for "still learning", else None

    def take(self, members: slice) -> Diagnosis:
        """The diagnosis of ``members`` alone (a packed grid's job)."""
        return Diagnosis(self.causes[members], self.more_epochs[members])

    def counts(self) -> dict[str, int]:
        return {cause: self.causes.count(cause) for cause in CAUSES}

    def summary(self) -> str:
        """'3 dead, 2 still learning (about 400 more epochs)', or '' when every member solved."""
        parts = []
        for cause, n in self.counts().items():
            if n:
                text = f"{n} {cause}"
                more = sorted(m for c, m in zip(self.causes, self.more_epochs) if c == cause and m is not None)
                if more:
                    text += f" (about {more[len(more) // 2]} more epochs{', median' if len(more) > 1 else ''})"
                parts.append(text)
        return ", ".join(parts)


def solve_bound(loss: str, targets: list[float], allowed_wrong: int = 0, head: str = "logit", **kwargs) -> float | None:
    """A mean loss below which the member must be solved: with ``allowed_wrong`` + 1 rows wrong (each at
    its cheapest wrong output) and the others at their cheapest, the mean loss over the task's rows
    ``targets`` is at least this, so below it at most ``allowed_wrong`` rows (what the task's solved rule
    allows) are wrong. Found on a grid of outputs, so it holds for every loss and input; None when it
    is not positive (a loss that can go negative, such as kl_div with a 1 target: no level says "solved")."""
    d = torch.cat([torch.linspace(-30, 30, 6001), torch.zeros(1)])  # the decision value; 0 exactly
    outputs = d if head == "logit" else d + 0.5
    costs = {}
    for t in (0.0, 1.0):
        row = row_losses(loss, outputs.view(1, -1, 1), torch.full((d.numel(), 1), t), head, **kwargs).flatten()
        wrong = d <= 0 if t == 1.0 else d >= 0
        costs[t] = (float(row.min()), float(row[wrong].min()))
    rows = [float(t) for t in targets]
    cheapest = sum(costs[t][0] for t in rows)
    extra = sorted(costs[t][1] - costs[t][0] for t in rows)[:allowed_wrong + 1]  # the cheapest rows to get wrong
    bound = (cheapest + sum(extra)) / len(rows)
    return bound if bound > 0 and math.isfinite(bound) else None


# Activations whose flat region outputs exactly 0 (a unit there is "dead", as ReLU's off side):
# relu6 below 0 (its other flat side, above 6, is far from where training starts), softshrink on
# [-0.5, 0.5]. A flat region of the others (tanh, sigmoid, hardtanh beyond +-1, tanhshrink near 0,
# the softmax family when one unit takes the whole row) is "saturated".
OFF_AT_ZERO = ("relu", "relu6", "softshrink")
# The peak of each across-units activation's own derivative d out_j / d z_j: softmax s_j (1 - s_j)
# peaks at 1/4 (s_j = 1/2), softmin the same, log_softmax 1 - s_j approaches 1.
_ACROSS_PEAK = {"softmax": 0.25, "softmin": 0.25, "log_softmax": 1.0}


def unit_derivative(activation: str, z: torch.Tensor) -> torch.Tensor:
    """d out_j / d z_j of every unit j on every row (``z`` [..., units]): the gradient a unit passes
    from its own output. Elementwise activations by autograd; the softmax family in closed form
    (softmax s_j (1 - s_j), softmin -s_j (1 - s_j) with s = softmin(z), log_softmax 1 - softmax_j)."""
    z = z.detach()
    if activation in ACROSS_UNITS:
        s = torch.softmax(-z if activation == "softmin" else z, dim=-1)
        return {"softmax": s * (1 - s), "softmin": -s * (1 - s), "log_softmax": 1 - s}[activation]
    z = z.requires_grad_(True)
    (deriv,) = torch.autograd.grad(ACTIVATIONS[activation](z).sum(), z)
    return deriv


def _peak_derivative(activation: str) -> float:
    if activation in ACROSS_UNITS:
        return _ACROSS_PEAK[activation]
    return float(unit_derivative(activation, torch.linspace(-30, 30, 6001)).abs().max())


def _layers_fail(pre: list[torch.Tensor], activation: str, t: Thresholds, first: int = 2) -> torch.Tensor:
    """[K] bool: some hidden layer passes too little gradient (under ``first`` live units in the
    first, under 1 in a later one): with its derivative below ``flat`` x peak on every row. One
    live unit cannot separate a task that is not linearly separable, so ``first`` is 2 there."""
    peak = _peak_derivative(activation)
    fail = torch.zeros(pre[0].shape[0], dtype=torch.bool)
    for j, z in enumerate(pre[:-1]):
        deriv = unit_derivative(activation, z)
        live = (deriv.abs() >= t.flat * peak).any(dim=1).sum(dim=1)  # [K] units with gradient on some row
        fail |= live < (first if j == 0 else 1)
    return fail


def _rows_merged(pre: list[torch.Tensor], targets: torch.Tensor, activation: str) -> torch.Tensor:
    """[K] bool: a hidden layer maps two rows of different targets to the same vector (ReLU: every
    unit off on both; hardtanh: every unit clipped alike), so the output is the same on both."""
    merged = torch.zeros(pre[0].shape[0], dtype=torch.bool)
    ones, zeros = (targets > 0.5).nonzero().flatten().tolist(), (targets < 0.5).nonzero().flatten().tolist()
    for z in pre[:-1]:
        h = ACTIVATIONS[activation](z)
        for a in ones:
            for b in zeros:
                merged |= (h[:, a] == h[:, b]).all(dim=1)
    return merged


def _recent(trail: torch.Tensor, trail_epoch: torch.Tensor, now: torch.Tensor, epochs: torch.Tensor, t: Thresholds):
    """Each member's last ``intervals + 1`` samples [n, K] (its value now appended if its last epoch
    was not sampled), the epochs they span [K], and [K] whether its trail is long enough (a short
    run's is not). Each member has its own trail (``trail_epoch`` [TRAIL, K]) and own last epoch."""
    if trail_epoch.dim() == 1:  # one trail for all (checkpoints older than per-member trails)
        trail_epoch = trail_epoch.unsqueeze(1).expand_as(trail)
    n, rows = t.intervals + 1, trail.shape[0]
    append = trail_epoch[-1] != epochs  # samples fill from the end: row -1 is the newest (-1: none)
    values, at = torch.cat([trail, now.unsqueeze(0)]), torch.cat([trail_epoch, epochs.unsqueeze(0)])
    start = torch.where(append, rows + 1 - n, rows - n)
    index = (start.unsqueeze(0) + torch.arange(n).unsqueeze(1)).clamp(min=0)  # [n, K]
    enough = (trail_epoch >= 0).sum(dim=0) + append.long() >= n
    at = at.gather(0, index)
    return values.gather(0, index), at[-1] - at[0], enough


def _trend(facts, now_loss: torch.Tensor, now_margin: torch.Tensor, epochs: torch.Tensor, bound: float, t: Thresholds):
    """([K] loss falling steadily, [K] loss no longer moving, [K] epochs until the worst row's margin
    reaches 0 at its recent rate (inf if it is not improving)); ``epochs`` [K] each member's last."""
    trail_epoch = facts.trail_epoch.cpu()
    losses, span, enough = _recent(facts.trail_loss.float().cpu(), trail_epoch, now_loss, epochs, t)
    steady = (losses[1:] <= losses[:-1] * (1 - t.steady)).all(dim=0) & enough
    still = ((losses[-1] - losses[-2]).abs() < t.steady * losses[-2]) & enough
    # Two extrapolations of the recent trend; the sooner one is the estimate: the worst row's margin
    # reaching 0, and the loss (log-linear) reaching the bound below which every row must be right.
    margins, _, _ = _recent(facts.trail_margin.float().cpu(), trail_epoch, now_margin, epochs, t)
    span = span.clamp(min=1)
    m_rate = (margins[-1] - margins[0]) / span
    inf = torch.full_like(m_rate, math.inf)
    by_margin = torch.where(m_rate > 0, -margins[-1] / m_rate, inf)
    if bound is None:  # no loss level says "solved": the margin alone extrapolates
        return steady & torch.isfinite(losses[-1]), still, torch.where(enough, by_margin, inf)
    l_rate = (losses[0].log() - losses[-1].log()) / span
    by_loss = torch.where(l_rate > 0, (losses[-1].log() - math.log(bound)) / l_rate, inf)
    return steady & torch.isfinite(losses[-1]), still, torch.where(enough, torch.minimum(by_margin, by_loss.clamp(min=0)), inf)


def _runs(module, name: str, uniform):
    """``(value, slice)`` per run of members sharing choice ``name`` (one run for a uniform module)."""
    members = getattr(module, "members", None)
    if members is None:
        return [(uniform, slice(0, module.hparams.seeds))]
    return members.loss_runs() if name == "loss" else members.slices(name)


def diagnose(module, solved: torch.Tensor, diverged: torch.Tensor, t: Thresholds = THRESHOLDS) -> Diagnosis:
    """One cause for every member not ``solved`` (all on the CPU, from ``module``'s final weights);
    members with activations or losses of their own (a member table) are diagnosed by their own."""
    hp = module.hparams
    net = module.net
    params = list(net.parameters())
    task = module.task
    x = task.inputs.to(params[0].device, params[0].dtype)
    y = task.column.to(params[0].device, params[0].dtype)
    with torch.enable_grad():
        pre = net.trace(x)
        losses = module.loss_of(pre[-1], y)
        grads = torch.autograd.grad(losses.sum(), params, allow_unused=True)
    grad_norm = sum(g.pow(2).flatten(1).sum(1) for g in grads if g is not None).sqrt().detach().cpu()
    pre = [z.detach().float().cpu() for z in pre]
    losses = losses.detach().float().cpu()
    probs = probability(pre[-1].squeeze(-1), net.output)
    targets = task.targets

    first = 1 if task.linearly_separable else 2
    none = torch.zeros_like(solved)
    linear, relu, layers_fail, merged = none.clone(), none.clone(), none.clone(), none.clone()
    for activation, part in _runs(module, "activation", hp.model["activation"]):
        affine = activation == "identity" or not hp.model["hidden"]
        linear[part] = affine and task.linearly_separable is False  # None (not known, > 5 inputs): not claimed
        relu[part] = activation in OFF_AT_ZERO
        if not affine:
            own = [z[part] for z in pre]
            layers_fail[part] = _layers_fail(own, activation, t, first)
            merged[part] = _rows_merged(own, targets, activation)
    wrong = (probs > 0.5) != (targets > 0.5)
    pinned = (probs * (1 - probs) < t.flat * 0.25) & wrong  # the sigmoid's derivative < 1% of its peak
    plateau = ((probs - 0.5).abs() < t.near_guess).all(dim=1) & (grad_norm < t.tiny_grad)
    worst = signed_confidence(probs, targets).min(dim=1).values
    allowed = math.floor((1 - task.solved_accuracy) * task.rows + 1e-9)  # 0 for a table: every row right
    # Each member's own last epoch: its early stop, divergence or own max_epochs (as its lone run's end).
    ends = module.facts.trained(int(module.epochs_done)).cpu()
    output_pinned, falling, still = none.clone(), none.clone(), none.clone()
    to_go = torch.full_like(losses, math.inf)
    for spec, part in _runs(module, "loss", {"name": module.loss_name, **module.loss_kwargs}):
        name, kwargs = spec["name"], {k: v for k, v in spec.items() if k != "name"}
        if consumes(name, kwargs.get("input")) == "probabilities" and net.output == "logit":
            output_pinned[part] = pinned[part].any(dim=1)
        bound = solve_bound(name, targets.tolist(), allowed, net.output, **kwargs)
        own = _trend(module.facts, losses, worst, ends, bound, t)
        falling[part], still[part], to_go[part] = (v[part] for v in own)
    stuck = still | (grad_norm < t.tiny_grad)

    cause = torch.full_like(losses, CAUSES.index("other"), dtype=torch.long)
    # Lowest precedence first: each later rule overwrites the ones before it.
    for name, applies in reversed([
        ("diverged", diverged), ("linear", linear),
        ("dead", (layers_fail | merged) & relu),
        ("saturated units", (layers_fail | merged) & ~relu), ("saturated output", output_pinned),
        ("plateau", plateau), ("still learning", falling), ("local minimum", stuck),
    ]):
        cause = torch.where(applies, CAUSES.index(name), cause)
    causes, more = [], []
    for c, ok, go in zip(cause.tolist(), solved.tolist(), to_go.tolist()):
        causes.append("" if ok else CAUSES[c])
        learning = not ok and CAUSES[c] == "still learning" and math.isfinite(go)
        more.append(max(1, math.ceil(go)) if learning else None)
    return Diagnosis(causes, more)
