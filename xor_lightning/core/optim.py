"""The population optimizer: every optimizer rule the app offers, its arguments and construction.

torch.optim takes one learning rate per param group (a Tensor ``lr`` must be 0-dim), so it cannot
give each member of a stacked ``[members, ...]`` parameter its own hyperparameters. Here each
hyperparameter is a ``[K]`` tensor (``PopulationOptimizer.hyper[name]``: float64, the config's exact
value per member; flags as bool), broadcast over the member dimension. Each rule mirrors the op
order of torch's single-tensor implementation (torch/optim/adam.py ``_single_tensor_adam`` etc.):
per-step scalars (bias corrections, step sizes) are computed in float64 as torch computes them in
Python, then rounded to the parameter's dtype, as torch's kernels round a Python scalar. So a member
is bit for bit what torch.optim computes for it alone (tests/test_population_optimizer.py checks
each rule, with several hyperparameters per population). It is the one engine of every run: a lone
run is a population of one.

The state layout is torch's (one param group, per-parameter ``step``, ``exp_avg``, ...), so
state_dict/load_state_dict, resume and the checkpoint checks work as with torch.optim; ASGD's
``eta`` and ``mu`` are ``[K]`` (one per member) where torch keeps one number.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch

# The torch.optim classes a config may name (optimizer._target_), and their short config names.
OPTIMIZERS = {
    "torch.optim.Adam": "adam",
    "torch.optim.AdamW": "adamw",
    "torch.optim.SGD": "sgd",
    "torch.optim.RMSprop": "rmsprop",
    "torch.optim.Adagrad": "adagrad",
    "torch.optim.Adadelta": "adadelta",
    "torch.optim.Adamax": "adamax",
    "torch.optim.ASGD": "asgd",
    "torch.optim.Rprop": "rprop",
}
# torch.optim classes refused with the reason (each of the others updates every element from its own
# gradient history only, so member i of a population is its lone run).
NOT_ELEMENTWISE = {
    "torch.optim.LBFGS": "LBFGS is not elementwise: its line search and curvature history use dot products over "
                         "all parameters, which would couple the members of a population; choose an elementwise "
                         "optimizer",
}
# torch's implementation switches: they choose how torch computes, not what. Ours has one
# implementation; ``foreach`` is accepted and has no effect, the others must stay off.
SWITCHES = ("foreach", "capturable", "differentiable", "fused")
# Config arguments that are pairs, and the per-member names of their two numbers.
PAIRS = {"betas": ("beta1", "beta2"), "etas": ("etaminus", "etaplus"), "step_sizes": ("step_size_min", "step_size_max")}


def arguments(target: str) -> dict[str, Any]:
    """``{argument: default}`` of a torch.optim class, its ``params`` left out (the config's keys)."""
    cls = getattr(torch.optim, target.rsplit(".", 1)[-1])
    params = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in params.items() if k not in ("self", "params")}


def member_values(target: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The per-member hyperparameters of one config (defaults filled in, pairs split in two)."""
    values = {**arguments(target), **args}
    for switch in SWITCHES:
        values.pop(switch, None)
    if target == "torch.optim.AdamW":
        values["decoupled_weight_decay"] = True
    for pair, names in PAIRS.items():
        if pair in values:
            values.update(zip(names, (float(v) for v in values.pop(pair))))
    return {k: (bool(v) if isinstance(v, bool) else float(v)) for k, v in values.items()}


Number = float | torch.Tensor  # one value for every member, or a [K, 1, ...] tensor broadcast over them


class _Hyper:
    """The hyperparameters as each rule reads them: a Python number where every member has the same
    value (torch's own scalar kernels, and its own float64 arithmetic for step sizes), else the
    ``[K]`` values viewed as ``[K, 1, ...]`` in the parameter's dtype. What does not change between
    steps (a value, ``1 - beta1``, whether any member uses momentum) is computed once and kept."""

    def __init__(self, hyper: Mapping[str, torch.Tensor]) -> None:
        self.hyper = hyper
        self._uniform = {name: _one_value(v) for name, v in hyper.items()}
        self._cache: dict[tuple, Any] = {}
        self._step, self._step_cache = -1.0, {}

    def __call__(self, name: str, p: torch.Tensor, of: Callable[[Callable], Any] | None = None) -> Number:
        """``hyper[name]`` for ``p``; or, with ``of``, the derived value ``of(self.f64)`` kept under ``name``."""
        key = (name, p.dim(), p.dtype, p.device)
        if key not in self._cache:
            self._cache[key] = self.cast(self.f64(name, p) if of is None else of(lambda n: self.f64(n, p)), p)
        return self._cache[key]

    def per_step(self, name: str, step: float, p: torch.Tensor, of: Callable[[Callable], Any]) -> Number:
        """A value of the step count (a bias correction), computed once per step for all parameters
        of one shape (every parameter shares the step count)."""
        if self._step != step:
            self._step, self._step_cache = step, {}
        key = (name, p.dim(), p.dtype, p.device)
        if key not in self._step_cache:
            self._step_cache[key] = self.cast(of(lambda n: self.f64(n, p)), p)
        return self._step_cache[key]

    @staticmethod
    def cast(values: Any, p: torch.Tensor) -> Number:
        """A number as is; a ``[K]`` float64 (or bool) tensor as ``p``'s dtype, viewed to broadcast over ``p``."""
        if not torch.is_tensor(values):
            return values
        dtype = torch.bool if values.dtype == torch.bool else p.dtype
        return values.to(device=p.device, dtype=dtype).view(-1, *([1] * (p.dim() - 1)))

    def any(self, name: str) -> bool:
        return bool(self._uniform[name]) if self._uniform[name] is not None else bool(self.hyper[name].any())

    def all(self, name: str) -> bool:
        return bool(self._uniform[name]) if self._uniform[name] is not None else bool(self.hyper[name].all())

    def f64(self, name: str, p: torch.Tensor) -> Any:
        """``hyper[name]`` as given: one Python number, or float64 ``[K]`` on ``p``'s device (kept there)."""
        if self._uniform[name] is not None:
            return self._uniform[name]
        key = (name, p.device)
        if key not in self._cache:
            self._cache[key] = self.hyper[name].to(p.device)
        return self._cache[key]


def _one_value(values: torch.Tensor) -> float | bool | None:
    """The members' common value (a Python number), or None where they differ."""
    first = values[0].item()
    return first if bool((values == first).all()) else None


# torch's fused-scalar kernels with a per-member factor: ``t += s * a`` (add with alpha), ``t += s * a * b``
# (addcmul with value) and ``t += s * a / b`` (addcdiv with value) give the same bits as the scalar
# kernels when ``s`` is a tensor and folded into ``a`` first (tests/test_population_optimizer.py).

def _add_(t: torch.Tensor, a: torch.Tensor, s: Number) -> torch.Tensor:
    return t.add_(a, alpha=s) if not torch.is_tensor(s) else t.addcmul_(a, s)


def _plus(t: torch.Tensor, a: torch.Tensor, s: Number) -> torch.Tensor:
    """``t.add(a, alpha=s)``, out of place."""
    return t.add(a, alpha=s) if not torch.is_tensor(s) else torch.addcmul(t, a, s)


def _addcmul_(t: torch.Tensor, a: torch.Tensor, b: torch.Tensor, s: Number) -> torch.Tensor:
    return t.addcmul_(a, b, value=s) if not torch.is_tensor(s) else t.addcmul_(a * s, b)


def _addcdiv_(t: torch.Tensor, a: torch.Tensor, b: torch.Tensor, s: Number) -> torch.Tensor:
    return t.addcdiv_(a, b, value=s) if not torch.is_tensor(s) else t.addcdiv_(a * s, b)


def _select(h: _Hyper, flag: str, p: torch.Tensor, when: Callable[[], torch.Tensor], otherwise: torch.Tensor) -> torch.Tensor:
    """Per member: ``when()`` where ``flag`` is set, else ``otherwise`` (computed only if needed)."""
    if not h.any(flag):
        return otherwise
    if h.all(flag):
        return when()
    return torch.where(h(flag, p), when(), otherwise)


def _nonzero(h: _Hyper, name: str, p: torch.Tensor, when: Callable[[], torch.Tensor], otherwise: torch.Tensor) -> torch.Tensor:
    """Per member: ``when()`` where ``name`` is not 0, else ``otherwise``: torch skips a term whose
    factor is 0 (and 0 times an infinite weight would be NaN)."""
    if not h.any(name):
        return otherwise
    if h.all(name):
        return when()
    return torch.where(h(name + "!=0", p, lambda f: f(name) != 0), when(), otherwise)


def _grad(h: _Hyper, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return _select(h, "maximize", p, lambda: -g, g)


def _l2(h: _Hyper, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``grad.add(param, alpha=weight_decay)``."""
    return _nonzero(h, "weight_decay", p, lambda: _plus(g, p, h("weight_decay", p)), g)


def _step_count(state: dict) -> float:
    state["step"] += 1
    return float(state["step"])


# -- the rules: one function each, updating one parameter (a view of some members) in place ----------

def _sgd(p: torch.Tensor, grad: torch.Tensor, state: dict, h: _Hyper) -> None:
    g = _l2(h, p, _grad(h, p, grad))
    if h.any("momentum"):
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.detach().clone()
        else:
            _add_(buf.mul_(h("momentum", p)), g, h("1-dampening", p, lambda f: 1 - f("dampening")))
        moved = _select(h, "nesterov", p, lambda: _plus(g, buf, h("momentum", p)), buf)
        g = _nonzero(h, "momentum", p, lambda: moved, g)
    _add_(p, g, h("-lr", p, lambda f: -f("lr")))


def _adam(p: torch.Tensor, grad: torch.Tensor, state: dict, h: _Hyper) -> None:
    step = _step_count(state)
    g = _grad(h, p, grad)
    if h.any("weight_decay"):
        if h.any("decoupled_weight_decay"):  # AdamW: param.mul_(1 - lr * weight_decay)
            p.mul_(h("1-lr*wd", p, lambda f: _where(f("decoupled_weight_decay"), 1 - f("lr") * f("weight_decay"), 1.0)))
        if not h.all("decoupled_weight_decay"):
            g = _select(h, "decoupled_weight_decay", p, lambda: g, _l2(h, p, g))
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(g, h("1-beta1", p, lambda f: 1 - f("beta1")))
    _addcmul_(exp_avg_sq.mul_(h("beta2", p)), g, g, h("1-beta2", p, lambda f: 1 - f("beta2")))
    second = exp_avg_sq
    if h.any("amsgrad"):
        top = state["max_exp_avg_sq"]
        torch.maximum(top, exp_avg_sq, out=top)
        second = _select(h, "amsgrad", p, lambda: top, exp_avg_sq)
    bias_correction2_sqrt = h.per_step("bc2_sqrt", step, p, lambda f: (1 - f("beta2") ** step) ** 0.5)
    denom = (second.sqrt() / bias_correction2_sqrt).add_(h("eps", p))
    _addcdiv_(p, exp_avg, denom, h.per_step("-step_size", step, p, lambda f: -(f("lr") / (1 - f("beta1") ** step))))


def _where(flag: Any, yes: Any, no: Any) -> Any:
    return torch.where(flag, yes, no) if torch.is_tensor(flag) else (yes if flag else no)


def _adamax(p: torch.Tensor, grad: torch.Tensor, state: dict, h: _Hyper) -> None:
    step = _step_count(state)
    g = _l2(h, p, _grad(h, p, grad))
    exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
    exp_avg.lerp_(g, h("1-beta1", p, lambda f: 1 - f("beta1")))
    norm_buf = torch.cat([exp_inf.mul_(h("beta2", p)).unsqueeze(0), g.abs().add_(h("eps", p)).unsqueeze_(0)], 0)
    exp_inf.copy_(torch.amax(norm_buf, 0, keepdim=False))
    _addcdiv_(p, exp_avg, exp_inf, h.per_step("-clr", step, p, lambda f: -(f("lr") / (1 - f("beta1") ** step))))


def _rmsprop(p: torch.Tensor, grad: torch.Tensor, state: dict, h: _Hyper) -> None:
    _step_count(state)
    g = _l2(h, p, _grad(h, p, grad))
    square_avg = state["square_avg"]
    _addcmul_(square_avg.mul_(h("alpha", p)), g, g, h("1-alpha", p, lambda f: 1 - f("alpha")))
    avg = square_avg.sqrt()
    if h.any("centered"):
        grad_avg = state["grad_avg"]
        grad_avg.lerp_(g, h("1-alpha", p, lambda f: 1 - f("alpha")))
        avg = _select(h, "centered", p, lambda: square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_(), avg)
    avg = avg.add_(h("eps", p))
    lr = h("-lr", p, lambda f: -f("lr"))
    if not h.any("momentum"):
        _addcdiv_(p, g, avg, lr)
        return
    buf = state["momentum_buffer"]
    buf.mul_(h("momentum", p)).addcdiv_(g, avg)
    if h.all("momentum"):
        _add_(p, buf, lr)
    else:
        p.copy_(_nonzero(h, "momentum", p, lambda: _add_(p.clone(), buf, lr), _addcdiv_(p.clone(), g, avg, lr)))


def _adagrad(p: torch.Tensor, grad: torch.Tensor, state: dict, h: _Hyper) -> None:
    step = _step_count(state)
    g = _l2(h, p, _grad(h, p, grad))
    state_sum = state["sum"]
    state_sum.addcmul_(g, g, value=1)
    std = state_sum.sqrt().add_(h("eps", p))
    _addcdiv_(p, g, std, h.per_step("-clr", step, p, lambda f: -(f("lr") / (1 + (step - 1) * f("lr_decay")))))


def _adadelta(p: torch.Tensor, grad: torch.Tensor, state: dict, h: _Hyper) -> None:
    _step_count(state)
    g = _l2(h, p, _grad(h, p, grad))
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    rho, one_minus_rho = h("rho", p), h("1-rho", p, lambda f: 1 - f("rho"))
    _addcmul_(square_avg.mul_(rho), g, g, one_minus_rho)
    std = square_avg.add(h("eps", p)).sqrt_()
    delta = acc_delta.add(h("eps", p)).sqrt_()
    delta.div_(std).mul_(g)
    _addcmul_(acc_delta.mul_(rho), delta, delta, one_minus_rho)
    _add_(p, delta, h("-lr", p, lambda f: -f("lr")))


def _asgd(p: torch.Tensor, grad: torch.Tensor, state: dict, h: _Hyper) -> None:
    step = _step_count(state)
    g = _l2(h, p, _grad(h, p, grad))
    eta, mu, ax = state["eta"], state["mu"], state["ax"]
    eta64 = eta.to(torch.float64)  # torch reads eta as a Python float
    p.mul_(_Hyper.cast(1 - h.f64("lambd", p) * eta64, p))
    _add_(p, g, _Hyper.cast(-eta64, p))
    averaging = mu.to(torch.float64) != 1
    if bool(averaging.any()):
        # ax.add_(param.sub(ax).mul_(mu)) where mu != 1, ax.copy_(param) where mu == 1
        moved = ax.add(p.sub(ax).mul_(_Hyper.cast(mu, p)))
        ax.copy_(torch.where(_Hyper.cast(averaging, p), moved, p))
    else:
        ax.copy_(p)
    lr, lambd = h.f64("lr", p), h.f64("lambd", p)
    eta.copy_(torch.as_tensor(lr / ((1 + lambd * lr * step) ** h.f64("alpha", p)), dtype=torch.float64))
    mu.copy_(1 / torch.clamp(step - torch.as_tensor(h.f64("t0", p), dtype=torch.float64), min=1))


def _rprop(p: torch.Tensor, grad: torch.Tensor, state: dict, h: _Hyper) -> None:
    _step_count(state)
    g = _grad(h, p, grad)
    prev, step_size = state["prev"], state["step_size"]
    sign = g.mul(prev).sign()
    etaminus = h("etaminus", p)
    factor = torch.where(sign.gt(0), h("etaplus", p), sign)
    factor = torch.where(factor.lt(0), etaminus, factor)
    factor = torch.where(factor.eq(0), 1, factor)
    step_size.mul_(factor)
    step_size.copy_(torch.clamp(step_size, h("step_size_min", p), h("step_size_max", p)))
    g = torch.where(factor.eq(etaminus), 0, g)
    p.addcmul_(g.sign(), step_size, value=-1)
    prev.copy_(g)


# -- each rule's state, as torch.optim names and shapes it ----------------------------------------

def _zeros(p: torch.Tensor, h: _Hyper) -> torch.Tensor:
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def _count(p: torch.Tensor, h: _Hyper) -> torch.Tensor:
    return torch.zeros((), dtype=torch.float32, device=p.device)  # torch's _get_scalar_dtype()


@dataclass(frozen=True)
class Rule:
    """One optimizer rule: its update and the state it keeps per parameter (name -> maker, and
    whether the state exists for these hyperparameters)."""

    update: Callable[[torch.Tensor, torch.Tensor, dict, _Hyper], None]  # (param, grad, state, hyper)
    state: Mapping[str, Callable[[torch.Tensor, _Hyper], torch.Tensor]]
    when: Mapping[str, Callable[[_Hyper], bool]] = None  # type: ignore[assignment]
    at_init: bool = False  # Adagrad makes its state in __init__, the others at the first step

    def makes(self, name: str, h: _Hyper) -> bool:
        test = (self.when or {}).get(name)
        return test is None or test(h)


RULES: dict[str, Rule] = {
    "torch.optim.SGD": Rule(_sgd, {}),  # momentum_buffer: a clone of the first gradient (in _sgd)
    "torch.optim.Adam": Rule(_adam, {"step": _count, "exp_avg": _zeros, "exp_avg_sq": _zeros, "max_exp_avg_sq": _zeros},
                             {"max_exp_avg_sq": lambda h: h.any("amsgrad")}),
    "torch.optim.Adamax": Rule(_adamax, {"step": _count, "exp_avg": _zeros, "exp_inf": _zeros}),
    "torch.optim.RMSprop": Rule(_rmsprop, {"step": _count, "square_avg": _zeros, "momentum_buffer": _zeros,
                                           "grad_avg": _zeros},
                                {"momentum_buffer": lambda h: h.any("momentum"), "grad_avg": lambda h: h.any("centered")}),
    "torch.optim.Adagrad": Rule(_adagrad, {
        "step": _count, "sum": lambda p, h: torch.ones_like(p) * h("initial_accumulator_value", p)}, at_init=True),
    "torch.optim.Adadelta": Rule(_adadelta, {"step": _count, "square_avg": _zeros, "acc_delta": _zeros}),
    "torch.optim.ASGD": Rule(_asgd, {
        "step": _count, "eta": lambda p, h: h.hyper["lr"].to(device=p.device, dtype=torch.float32),
        "mu": lambda p, h: torch.ones(h.hyper["lr"].shape, dtype=torch.float32, device=p.device), "ax": _zeros}),
    "torch.optim.Rprop": Rule(_rprop, {
        "step": _count, "prev": _zeros, "step_size": lambda p, h: torch.zeros_like(p).add_(h("lr", p))}),
}
RULES["torch.optim.AdamW"] = RULES["torch.optim.Adam"]


@dataclass
class Part:
    """The members ``members`` (a slice of dim 0) updated by one rule with their own hyperparameters."""

    target: str
    members: slice
    hyper: dict[str, torch.Tensor]

    def __post_init__(self) -> None:
        self.rule = RULES[self.target]
        self.h = _Hyper(self.hyper)

    def fresh_state(self, p: torch.Tensor) -> dict:
        with torch.no_grad():
            return {name: make(p, self.h) for name, make in self.rule.state.items() if self.rule.makes(name, self.h)}


class PopulationOptimizer(torch.optim.Optimizer):
    """torch.optim rules over stacked ``[K, ...]`` parameters, member k with hyperparameters
    ``hyper[name][k]``. ``defaults``/``param_groups`` hold the config's arguments as given (what
    state_dict records); the update reads ``hyper`` only.

    ``parts`` (``(target, args, hyper, members slice)`` each) gives slices of the members rules of
    their own; then each part's state is kept under ``"{part}.{name}"``, full size (a member outside
    the part keeps zeros there), so the divergence freeze and the checkpoint checks see one layout.
    One part (the default: every member, ``target``) keeps torch's own state names."""

    def __init__(self, params: Iterable[torch.nn.Parameter], target: str, args: Mapping[str, Any],
                 hyper: Mapping[str, torch.Tensor | Sequence[float]] | None = None,
                 parts: Sequence[tuple[str, Mapping[str, Any], Mapping | None, slice]] | None = None) -> None:
        super().__init__(params, dict(args))
        if len(self.param_groups) != 1:
            raise ValueError("the population optimizer takes one group of parameters")
        members = self.param_groups[0]["params"][0].shape[0]
        self.parts = [self._part(t, a, hy, sl, members) for t, a, hy, sl in (parts or [(target, args, hyper, slice(0, members))])]
        self.target, self.hyper = self.parts[0].target, self.parts[0].hyper  # one part: the whole table
        for p in self.param_groups[0]["params"]:
            for i, part in enumerate(self.parts):
                if part.rule.at_init:
                    self._keep(p, i, part, part.fresh_state(p[part.members]))

    @staticmethod
    def _part(target: str, args: Mapping, hyper: Mapping | None, members: slice, total: int) -> Part:
        if target not in RULES:
            raise ValueError(f"optimizer._target_={target}: not one of {', '.join(RULES)}")
        count = len(range(*members.indices(total)))
        values = {**member_values(target, args), **(hyper or {})}
        return Part(target, members, {name: _member_tensor(name, v, count) for name, v in values.items()})

    def _prefix(self, i: int) -> str:
        return "" if len(self.parts) == 1 else f"{i}."

    def _local(self, p: torch.Tensor, i: int, part: Part) -> dict | None:
        """Part i's state of ``p`` under the rule's own names (views of its members), None if none yet."""
        if p not in self.state:
            return None
        if len(self.parts) == 1:
            return self.state[p]
        prefix = self._prefix(i)
        local = {name[len(prefix):]: (t[part.members] if t.dim() else t)
                 for name, t in self.state[p].items() if name.startswith(prefix)}
        return local or None

    def _keep(self, p: torch.Tensor, i: int, part: Part, local: dict) -> None:
        """New state entries of part i, stored (full size when there are several parts)."""
        if not local:
            return
        if len(self.parts) == 1:
            self.state[p] = local
            return
        state, prefix = self.state[p], self._prefix(i)
        for name, t in local.items():
            if prefix + name not in state:
                if t.dim() == 0:
                    state[prefix + name] = t
                else:
                    full = t.new_zeros((p.shape[0], *t.shape[1:]))
                    full[part.members] = t
                    state[prefix + name] = full

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for p in self.param_groups[0]["params"]:
            if p.grad is None:
                continue
            for i, part in enumerate(self.parts):
                # self.state[p] only once there is some state: torch's SGD without momentum keeps none
                view, grad = (p, p.grad) if len(self.parts) == 1 else (p[part.members], p.grad[part.members])
                local = self._local(p, i, part)
                fresh = local is None
                local = part.fresh_state(view) if fresh else local
                before = set(local)
                part.rule.update(view, grad, local, part.h)
                if fresh or set(local) != before:
                    self._keep(p, i, part, {k: v for k, v in local.items() if fresh or k not in before})
        return loss


def _member_tensor(name: str, value: Any, members: int) -> torch.Tensor:
    """A hyperparameter as a ``[members]`` tensor: float64 for numbers, bool for flags."""
    items = value.tolist() if torch.is_tensor(value) else value
    items = items if isinstance(items, (list, tuple)) else [items]
    flag = bool(items) and all(isinstance(v, bool) for v in items)
    # float64 from the Python numbers themselves (as_tensor(0.9) alone would round it to float32)
    t = torch.as_tensor(value, dtype=torch.bool if flag else torch.float64)
    if t.dim() == 0:
        t = t.expand(members)
    if t.shape != (members,):
        raise ValueError(f"optimizer hyperparameter {name}: {list(t.shape)} values for {members} members")
    return t.clone()


def make_optimizer(spec: Mapping, params: Iterable[torch.nn.Parameter], hyper: Mapping[str, Any] | None = None,
                   parts: Sequence[tuple[str, Mapping[str, Any], Mapping | None, slice]] | None = None) -> PopulationOptimizer:
    """``optimizer: {_target_: torch.optim.NAME, ...arguments}`` as the population optimizer (built
    without Hydra, so the science runs as a library); ``hyper`` overrides any argument per member,
    ``parts`` gives slices of the members rules of their own (PopulationOptimizer)."""
    args = _plain(spec)
    target = args.pop("_target_")
    args = {k: v for k, v in args.items() if not k.startswith("_")}  # Hydra's own keys (_partial_)
    if target not in RULES:
        raise ValueError(f"optimizer._target_={target}: not one of {', '.join(RULES)}")
    on = [k for k in SWITCHES[1:] if args.get(k)]
    if on:
        raise ValueError(f"optimizer.{on[0]}=true: the population optimizer has one implementation; leave it off")
    cls = PopulationOptimizer if parts else _named(target.rsplit(".", 1)[-1])
    return cls(params, target, args, hyper, parts)


@cache
def _named(rule: str) -> type:
    """The population optimizer under the rule's own class name (Adam, SGD, ...): what Lightning's
    LearningRateMonitor and a user's own callbacks read (``lr-Adam``, as with torch.optim)."""
    return type(rule, (PopulationOptimizer,), {"__doc__": f"PopulationOptimizer computing torch.optim.{rule}'s rule."})


def _plain(value: Any) -> Any:
    """Config containers as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value
