"""What differs per member of a population: one ``MemberTable``.

Numbers are ``[K]`` tensors (``seed`` int64; every optimizer argument under its per-member name
(core/optim.member_values: ``lr``, ``beta1``, ``momentum``, ...), the init scales, the early stop's
``margin`` and ``max_epochs`` (trainer.max_epochs: where the member's own run ends) as float64,
flags as bool). Choices (the optimizer rule, the activation, the init, the loss, the epoch
``budgets`` as a JSON list) are group ids:
``choices[name]`` lists the distinct values, ``groups[name]`` is each member's index into it, so
code can apply one choice to the members that share it as one slice or gather. A uniform run
(``seeds=K``, one config) is a table with one group of each choice and member i seeded seed + i.

Plain lists in and out (``to_lists``/``from_lists``), for checkpoints and members.csv columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from xor_lightning.core.optim import OPTIMIZERS, member_values

# Model numbers a member may have of its own (None, as output_init_std's "same as init_std", is NaN).
MODEL_NUMBERS = ("init_std", "output_init_std", "init_bound")
CHOICES = ("optimizer", "activation", "init", "loss", "budgets")
# The numbers of a member's run besides its optimizer arguments and model numbers.
RUN_NUMBERS = ("margin", "max_epochs")


@dataclass
class MemberTable:
    seed: torch.Tensor                                          # [K] int64
    numbers: dict[str, torch.Tensor] = field(default_factory=dict)   # name -> [K] float64 (or bool)
    choices: dict[str, list[str]] = field(default_factory=dict)      # name -> the distinct values
    groups: dict[str, torch.Tensor] = field(default_factory=dict)    # name -> [K] int64 index into choices

    def __len__(self) -> int:
        return int(self.seed.shape[0])

    @classmethod
    def uniform(cls, seed: int, seeds: int, model: Mapping, optimizer: Mapping, loss: Mapping | None = None,
                margin: float | None = None, max_epochs: int | None = None,
                budgets: Sequence[int] | None = None) -> MemberTable:
        """``seeds`` members of one config: member i seeded ``seed + i``, one group of each choice;
        ``margin``: the early stop's (early_stop.margin), when the run has one; ``max_epochs``
        (trainer.max_epochs) and ``budgets``, when members of one population may differ in them."""
        target = optimizer["_target_"]
        args = {k: v for k, v in optimizer.items() if not str(k).startswith("_")}
        row: dict[str, Any] = {**member_values(target, args)}
        for name in MODEL_NUMBERS:
            value = model.get(name, 1.0 if name != "output_init_std" else None)
            row[name] = float("nan") if value is None else float(value)
        if margin is not None:
            row["margin"] = float(margin)
        if max_epochs is not None:
            row["max_epochs"] = float(max_epochs)
        numbers = {name: _column([value] * seeds) for name, value in row.items()}
        choice = {"optimizer": target, "activation": model["activation"], "init": model.get("init", "pytorch"),
                  "loss": json.dumps(dict(loss or {}), sort_keys=True)}  # the whole loss: name, options, input
        if budgets is not None:
            choice["budgets"] = json.dumps(sorted({int(b) for b in budgets}))
        return cls(
            seed=torch.arange(seed, seed + seeds, dtype=torch.int64), numbers=numbers,
            choices={k: [v] for k, v in choice.items()}, groups={k: torch.zeros(seeds, dtype=torch.int64) for k in choice},
        )

    @classmethod
    def concat(cls, tables: Sequence[MemberTable]) -> MemberTable:
        """The members of several tables, in order (a grid's jobs one after another); a number one
        table lacks (an argument of another optimizer) is NaN there, a flag false."""
        names = sorted({n for t in tables for n in t.numbers})
        numbers = {}
        for name in names:
            parts = [t.numbers.get(name) for t in tables]
            flag = any(p is not None and p.dtype == torch.bool for p in parts)
            fill = False if flag else float("nan")
            numbers[name] = torch.cat([p if p is not None else torch.full((len(t),), fill, dtype=torch.bool if flag else
                                                                           torch.float64) for p, t in zip(parts, tables)])
        choices, groups = {}, {}
        for name in sorted({n for t in tables for n in t.choices}):
            values: list[str] = []
            ids = []
            for t in tables:
                own = t.choices.get(name, [""])
                index = []
                for v in own:
                    if v not in values:
                        values.append(v)
                    index.append(values.index(v))
                ids.append(torch.tensor(index, dtype=torch.int64)[t.groups.get(name, torch.zeros(len(t), dtype=torch.int64))])
            choices[name], groups[name] = values, torch.cat(ids)
        return cls(torch.cat([t.seed for t in tables]), numbers, choices, groups)

    def members_of(self, name: str, value: str) -> torch.Tensor:
        """Indices of the members whose choice ``name`` is ``value`` (one slice when contiguous)."""
        if value not in self.choices[name]:
            return torch.zeros(0, dtype=torch.int64)
        return torch.nonzero(self.groups[name] == self.choices[name].index(value)).flatten()

    def slices(self, name: str) -> list[tuple[str, slice]]:
        """``(value, slice)`` per run of consecutive members sharing choice ``name`` (a packed grid
        keeps each job's members together, so there are at most as many as jobs)."""
        ids = self.groups[name].tolist()
        out, start = [], 0
        for i in range(1, len(ids) + 1):
            if i == len(ids) or ids[i] != ids[start]:
                out.append((self.choices[name][ids[start]], slice(start, i)))
                start = i
        return out

    def optimizer_hyper(self, target: str) -> dict[str, torch.Tensor]:
        """The per-member arguments of optimizer ``target`` (its defaults where a member lacks one)."""
        defaults = member_values(target, {})
        out = {}
        for name, default in defaults.items():
            column = self.numbers.get(name)
            if column is None:
                out[name] = _column([default] * len(self))
            elif column.dtype == torch.bool:
                out[name] = column.clone()
            else:
                out[name] = torch.where(column.isnan(), float(default), column)
        return out

    def population_columns(self) -> dict[str, list]:
        """What nets.Population takes per member: seeds and init scales."""
        init = [self.choices["init"][g] for g in self.groups["init"].tolist()]
        return {"seed": self.seed.tolist(), "init": init, "activation": self.slices("activation"),
                **{name: self.model_number(name) for name in MODEL_NUMBERS}}

    def loss_runs(self) -> list[tuple[dict, slice]]:
        """``(loss config, slice)`` per run of members sharing a loss (name, options and input)."""
        return [(json.loads(value), members) for value, members in self.slices("loss")]

    def optimizer_parts(self) -> list[tuple[str, dict, dict[str, torch.Tensor], slice]]:
        """core/optim.PopulationOptimizer's parts: per run of members sharing a rule, its
        per-member arguments."""
        parts = []
        for target, members in self.slices("optimizer"):
            hyper = {name: column[members] for name, column in self.optimizer_hyper(target).items()}
            parts.append((target, {}, hyper, members))
        return parts

    def ends(self, default: int) -> torch.Tensor | None:
        """[K] int64 each member's own max_epochs (``default`` where it has none); None when the
        table has no max_epochs (every member ends with the run)."""
        column = self.numbers.get("max_epochs")
        if column is None:
            return None
        return torch.where(column.isnan(), float(default), column).to(torch.long)

    def member_budgets(self) -> list[list[int]] | None:
        """Each member's own epoch budgets; None when the table has none (the run's are everyone's)."""
        if "budgets" not in self.choices:
            return None
        lists = [json.loads(v) if v else [] for v in self.choices["budgets"]]
        return [lists[g] for g in self.groups["budgets"].tolist()]

    def differing(self) -> dict[str, list]:
        """What differs between members, as members.csv columns (name -> a plain value per member,
        "" where a member has none): the choices (optimizer by its config name, loss as name and
        options), then the numbers. Empty for a uniform table."""
        out: dict[str, list] = {}
        for name in (*CHOICES, *sorted(set(self.choices) - set(CHOICES))):
            if name in self.choices and len(set(self.groups[name].tolist())) > 1:
                shown = [_shown(name, v) for v in self.choices[name]]
                out[name] = [shown[g] for g in self.groups[name].tolist()]
        for name, column in self.numbers.items():
            same = column == column[0]
            if column.is_floating_point():
                same |= column.isnan() & column[0].isnan()
            if not bool(same.all()):
                out[name] = [_plain_number(name, v) for v in column.tolist()]
        return out

    def model_number(self, name: str) -> list[float | None]:
        """A model number per member as a list (None where NaN: output_init_std's "same as init_std")."""
        return [None if v != v else v for v in self.numbers[name].tolist()]

    def same_as(self, other: MemberTable | None) -> bool:
        """The same members: seeds, numbers (NaN equal to NaN), choices and groups."""
        if other is None or not torch.equal(self.seed, other.seed) or set(self.numbers) != set(other.numbers):
            return False
        if any(not torch.equal(a.nan_to_num(-1.0) if a.is_floating_point() else a,
                               b.nan_to_num(-1.0) if b.is_floating_point() else b)
               or a.dtype != b.dtype for a, b in ((self.numbers[n], other.numbers[n]) for n in self.numbers)):
            return False
        return self.choices == other.choices and set(self.groups) == set(other.groups) and all(
            torch.equal(self.groups[n], other.groups[n]) for n in self.groups)

    def to_lists(self) -> dict[str, Any]:
        return {"seed": self.seed.tolist(), "numbers": {k: v.tolist() for k, v in self.numbers.items()},
                "choices": {k: list(v) for k, v in self.choices.items()},
                "groups": {k: v.tolist() for k, v in self.groups.items()}}

    @classmethod
    def from_lists(cls, data: Mapping[str, Any]) -> MemberTable:
        """The inverse of ``to_lists``; raises ValueError on anything not of that shape."""
        seed = torch.tensor(list(data["seed"]), dtype=torch.int64)
        k = len(seed)
        numbers = {str(n): _column(list(v)) for n, v in dict(data["numbers"]).items()}
        choices = {str(n): [str(x) for x in v] for n, v in dict(data["choices"]).items()}
        groups = {str(n): torch.tensor(list(v), dtype=torch.int64) for n, v in dict(data["groups"]).items()}
        bad = [n for n, v in {**numbers, **groups}.items() if v.shape != (k,)]
        bad += [n for n, g in groups.items() if n not in choices or bool(((g < 0) | (g >= len(choices[n]))).any())]
        if bad:
            raise ValueError(f"member table: {bad[0]} does not have one valid value per member ({k})")
        return cls(seed, numbers, choices, groups)


def budget_union(budgets: Sequence[int], table: MemberTable | None) -> tuple[tuple[int, ...], torch.Tensor | None]:
    """The budgets a population tracks (increasing) and ``[budgets, K]`` which are each member's own:
    the run's ``budgets`` for every member (None: all own), or, when the table has budgets of its
    own, the union of those (the run's are then not used) with each member counting only its own."""
    if table is None or "budgets" not in table.choices:
        return tuple(sorted({int(b) for b in budgets})), None
    lists = [json.loads(v) if v else [] for v in table.choices["budgets"]]
    union = tuple(sorted({int(b) for own in lists for b in own}))
    mine = torch.tensor([[b in own for own in lists] for b in union], dtype=torch.bool).view(len(union), len(lists))
    return union, mine[:, table.groups["budgets"]]


def _shown(name: str, value: str) -> str:
    """A choice as members.csv writes it: the optimizer's config name, a loss as name(options)."""
    if name == "optimizer":
        return OPTIMIZERS.get(value, value)
    if name == "loss" and value:
        spec = json.loads(value)
        options = ",".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec.get('name', '')}({options})" if options else str(spec.get("name", ""))
    return value


def _plain_number(name: str, value: float | bool) -> float | int | bool | str:
    if isinstance(value, bool):
        return int(value)
    if value != value:
        return ""
    return int(value) if name == "max_epochs" else value


def _column(values: list) -> torch.Tensor:
    """Plain values as a [K] column: bool for flags, float64 for numbers (exact Python floats)."""
    if values and all(isinstance(v, bool) for v in values):
        return torch.tensor(values, dtype=torch.bool)
    return torch.tensor([float(v) for v in values], dtype=torch.float64)
