"""A population of small MLPs stored as stacked tensors, so K networks train as one.

Member i is initialised from its own generator seeded with ``seed + i``, drawing its tensors in
the same order as ``torch.manual_seed(seed + i); nn.Sequential(nn.Linear, ...)`` would: with
``init=pytorch`` member i starts from exactly the weights of that plain PyTorch MLP.
Weights are stored as ``[members, in, out]`` (the transpose of ``nn.Linear.weight``) so the
forward pass is a batched ``x @ W + b`` without transposes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from xor_lightning.base import weights_file


def _over_units(fn: Callable[..., torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """nn.Softmax() & co. pick dim 1 of a [rows, units] batch (the units); ours are [members, rows, units]."""
    return lambda x: fn(x, dim=-1)


# Each with PyTorch's default arguments, as nn.ReLU6(), nn.Softshrink() (lambd 0.5), ... build them.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "silu": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "relu6": F.relu6,
    "hardtanh": F.hardtanh,
    "logsigmoid": F.logsigmoid,
    "softshrink": F.softshrink,
    "tanhshrink": F.tanhshrink,
    "softmin": _over_units(F.softmin),
    "softmax": _over_units(F.softmax),
    "log_softmax": _over_units(F.log_softmax),
    "identity": lambda x: x,
}
# Activations that mix a layer's units (each output depends on every unit of its row), not elementwise.
ACROSS_UNITS = ("softmin", "softmax", "log_softmax")

def per_member(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A [K] per-member tensor shaped to broadcast over a member-major [K, ...] parameter."""
    return mask.view(-1, *([1] * (like.dim() - 1)))


INITS = ("pytorch", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "normal", "uniform")


def init_options(model: Mapping) -> dict:
    """Population's keyword arguments for the model keys added over time (``output_init_std``,
    ``init_bound``, ``output``, ``weights``); configs and checkpoints older than these keys get the
    defaults, which build exactly what they built before."""
    return {"output_init_std": model.get("output_init_std"), "init_bound": model.get("init_bound", 1.0),
            "output": model.get("output") or "logit", "start": model.get("weights")}


def _init_layer(
    fan_in: int, fan_out: int, init: str, init_std: float, gen: torch.Generator, init_bound: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer's (weight [out, in], bias [out]) drawn from ``gen``, as nn.Linear lays them out."""
    weight = torch.empty(fan_out, fan_in)
    bias = torch.zeros(fan_out)
    if init == "pytorch":
        # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)), then U(-1/sqrt(fan_in), ...).
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
        bound = 1 / math.sqrt(fan_in)
        nn.init.uniform_(bias, -bound, bound, generator=gen)
    elif init == "normal":
        # The init-scale study draws weights *and* biases from N(0, std).
        nn.init.normal_(weight, 0.0, init_std, generator=gen)
        nn.init.normal_(bias, 0.0, init_std, generator=gen)
    elif init == "uniform":
        # Rumelhart, Hinton & Williams (1986): weights *and* biases from U(-bound, bound).
        nn.init.uniform_(weight, -init_bound, init_bound, generator=gen)
        nn.init.uniform_(bias, -init_bound, init_bound, generator=gen)
    else:
        getattr(nn.init, init + "_")(weight, generator=gen)
    return weight, bias


_draw_weights = True


@contextmanager
def weights_from_checkpoint() -> Iterator[None]:
    """Populations built inside get uninitialised weights: loading a checkpoint replaces them at
    once, and drawing 10,000 members' initial weights (one generator each) would take ~0.4 s."""
    global _draw_weights
    _draw_weights = False
    try:
        yield
    finally:
        _draw_weights = True


def init_member(
    seed: int, widths: Sequence[int], init: str, init_std: float,
    output_init_std: float | None = None, init_bound: float = 1.0,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The layers of one member, reproducible from its seed alone. ``output_init_std`` (None: the
    same as ``init_std``) is the last layer's std under ``init=normal``, as the init-scale article
    varies the hidden layer's std while it keeps the output layer's fixed."""
    gen = torch.Generator().manual_seed(seed)
    pairs = list(zip(widths[:-1], widths[1:]))
    stds = [init_std] * len(pairs)
    if output_init_std is not None:
        stds[-1] = output_init_std
    return [_init_layer(i, o, init, std, gen, init_bound) for (i, o), std in zip(pairs, stds)]


class Population(nn.Module):
    """``members`` independent MLPs in_features -> hidden... -> 1 evaluated in one batched pass.

    ``forward(x)`` takes ``[N, in]`` (the same rows for every member) and returns the outputs
    ``[members, N, 1]``. No sigmoid here: ``output`` says how to read them (verdict.probability):
    a logit (the default), or the prediction itself (``linear``). ``start`` names a file of
    weights (weights_file.py) every member starts from, instead of drawing them.
    """

    def __init__(
        self,
        members: int,
        hidden: Sequence[int],
        activation: str,
        init: str = "pytorch",
        init_std: float = 1.0,
        seed: int = 0,
        in_features: int = 2,
        out_features: int = 1,
        output_init_std: float | None = None,
        init_bound: float = 1.0,
        output: str = "logit",
        start: str | None = None,
        per_member: Mapping[str, Sequence] | None = None,
    ) -> None:
        """``per_member`` (members.MemberTable.population_columns: ``seed``, ``init``, ``init_std``,
        ``output_init_std``, ``init_bound`` as lists, ``activation`` as ``(name, slice)`` runs of
        members) gives each member its own; absent: member i is seeded ``seed + i`` with the scalars given."""
        super().__init__()
        self.widths = [in_features, *hidden, out_features]
        self.activation = ACTIVATIONS[activation]
        runs = (per_member or {}).get("activation")
        # Members sharing an activation are one slice: one call per distinct run, not per member.
        self._runs = [(ACTIVATIONS[name], part) for name, part in runs] if runs and len(runs) > 1 else None
        self.output = output
        pairs = list(zip(self.widths[:-1], self.widths[1:]))
        if start is not None and _draw_weights:
            hand = weights_file.load(start, inputs=in_features)
            if hand.hidden != list(hidden):
                raise weights_file.UserError(f"model.weights={start}: its hidden widths are {hand.hidden}, not "
                                             f"model.hidden={list(hidden)}; set model.hidden={hand.hidden}")
            given = [(torch.tensor(w), torch.tensor(b)) for w, b in hand.layers]
            self.weights = nn.ParameterList(nn.Parameter(w.T.expand(members, -1, -1).clone()) for w, _ in given)
            self.biases = nn.ParameterList(nn.Parameter(b.expand(members, 1, -1).clone()) for _, b in given)
            return
        if not _draw_weights:
            self.weights = nn.ParameterList(nn.Parameter(torch.empty(members, i, o)) for i, o in pairs)
            self.biases = nn.ParameterList(nn.Parameter(torch.empty(members, 1, o)) for _, o in pairs)
            return
        own = {"seed": [seed + i for i in range(members)], "init": [init] * members, "init_std": [init_std] * members,
               "output_init_std": [output_init_std] * members, "init_bound": [init_bound] * members, **(per_member or {})}
        layers = [init_member(int(own["seed"][i]), self.widths, own["init"][i], own["init_std"][i], own["output_init_std"][i],
                              own["init_bound"][i]) for i in range(members)]
        # Stack member-major lists into per-layer tensors: weight [K, in, out], bias [K, 1, out].
        self.weights = nn.ParameterList(nn.Parameter(torch.stack([m[j][0].T for m in layers])) for j in range(len(pairs)))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([m[j][1] for m in layers]).unsqueeze(1)) for j in range(len(pairs))
        )

    @property
    def members(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor, upto: int | None = None, only: Sequence[int] | None = None) -> torch.Tensor:
        """Logits ``[K, N, out]``; with ``upto=j`` the activations after hidden layer j instead.

        ``only`` (member indices) evaluates only those members, in that order: pictures over a grid of points
        need a few members, and the whole population over the grid would cost K times as much.
        """
        weights, biases = self.weights, self.biases
        if only is not None:
            idx = torch.as_tensor(only, dtype=torch.long, device=weights[0].device)
            weights, biases = [w[idx] for w in weights], [b[idx] for b in biases]
        h = x
        last = len(weights) - 1
        for j, (w, b) in enumerate(zip(weights, biases)):
            # [N, in] @ [K, in, out] broadcasts to [K, N, out] on the first layer.
            h = torch.baddbmm(b, h, w) if h.dim() == 3 else torch.matmul(h, w) + b
            if j < last:
                h = self._activate(h, only)
                if upto == j:
                    return h
        return h

    def _activate(self, h: torch.Tensor, only: Sequence[int] | None = None) -> torch.Tensor:
        """The hidden activation of each member ``[K, ...]`` (of the members ``only``, in that order)."""
        if self._runs is None:
            return self.activation(h)
        if only is None:
            return torch.cat([f(h[part]) for f, part in self._runs])
        idx = torch.as_tensor(only, device=h.device)
        out = torch.empty_like(h)
        for f, part in self._runs:
            pos = torch.nonzero((idx >= part.start) & (idx < part.stop)).flatten()
            if len(pos):
                out[pos] = f(h[pos])
        return out

    def trace(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's pre-activation ``[K, N, width]`` (hidden layers, then the output's logits):
        what the diagnosis reads to find dead or saturated units."""
        pre, h = [], x
        for j, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = torch.baddbmm(b, h, w) if h.dim() == 3 else torch.matmul(h, w) + b
            pre.append(z)
            h = self._activate(z) if j < len(self.weights) - 1 else z
        return pre

    def member_state(self, i: int) -> dict[str, torch.Tensor]:
        """Member i's weights under nn.Sequential(Linear, act, Linear, ...) names."""
        state = {}
        for j, (w, b) in enumerate(zip(self.weights, self.biases)):
            state[f"{2 * j}.weight"] = w[i].detach().T.clone()
            state[f"{2 * j}.bias"] = b[i, 0].detach().clone()
        return state
