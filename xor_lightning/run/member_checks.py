"""A member table read from a checkpoint (core/members.py, ``hyper_parameters["members"]``), checked
as untrusted data before anything is built from it: its shape (one value per member of every
column), its choices from the lists a command line may choose from, its group ids in range, and
every distinct member configuration through the same checks as a command line's config (so a
file cannot give a member an lr of -1, an optimizer that names code, or a budget it never trains).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import torch
from omegaconf import OmegaConf

from xor_lightning.base.errors import UserError
from xor_lightning.core.members import CHOICES, MODEL_NUMBERS, RUN_NUMBERS, MemberTable
from xor_lightning.core.nets import ACTIVATIONS, INITS
from xor_lightning.core.optim import OPTIMIZERS, PAIRS, arguments, member_values

MAX_CHOICE_CHARS = 4096  # a loss's JSON or a budget list; ours are far shorter
_KEYS = ("seed", "numbers", "choices", "groups")


def _number_names() -> tuple[set[str], set[str]]:
    """Every per-member number's name, and which of them are flags (true/false)."""
    names, flags = set(MODEL_NUMBERS) | set(RUN_NUMBERS), set()
    for target in OPTIMIZERS:
        values = member_values(target, {})
        names |= set(values)
        flags |= {name for name, v in values.items() if isinstance(v, bool)}
    return names, flags


def _plain_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_members(members: Any, seeds: int) -> None:
    """Refuse (UserError naming ``members.<key>``) a table that is not one a run could have written
    for ``seeds`` members."""
    if members is None:
        return
    if not isinstance(members, Mapping) or set(members) != set(_KEYS):
        found = sorted(map(str, members))[:6] if isinstance(members, Mapping) else type(members).__name__
        raise UserError(f"members has {found}, not the keys {list(_KEYS)} (a member table)")
    _check_lists(members, seeds)
    table = MemberTable.from_lists(members)  # shapes were checked above: cannot fail on them now
    _check_configs(table)


def _check_lists(members: Mapping, seeds: int) -> None:
    from xor_lightning.run.checks import MAX_SEED

    seed = members["seed"]
    if not isinstance(seed, list) or len(seed) != seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seed):
        raise UserError(f"members.seed is not {seeds} integers from 0 to {MAX_SEED} (one per member)")
    for part in ("numbers", "choices", "groups"):
        if not isinstance(members[part], Mapping):
            raise UserError(f"members.{part} is not a mapping")
    known, flags = _number_names()
    for name, values in members["numbers"].items():
        if name not in known:
            raise UserError(f"members.numbers.{name} is not a per-member number (valid: {', '.join(sorted(known))})")
        kind = (lambda v: isinstance(v, bool)) if name in flags else _plain_number
        if not isinstance(values, list) or len(values) != seeds or not all(kind(v) for v in values):
            what = "true/false values" if name in flags else "numbers"
            raise UserError(f"members.numbers.{name} is not {seeds} {what} (one per member)")
    choices, groups = members["choices"], members["groups"]
    if set(choices) != set(groups) or not set(choices) <= set(CHOICES):
        raise UserError(f"members.choices and members.groups name {sorted(map(str, choices))} and "
                        f"{sorted(map(str, groups))}; both must name the same of {', '.join(CHOICES)}")
    for name, values in choices.items():
        if not isinstance(values, list) or not 1 <= len(values) <= seeds or not all(
                isinstance(v, str) and len(v) <= MAX_CHOICE_CHARS for v in values):
            raise UserError(f"members.choices.{name} is not a list of 1 to {seeds} short strings")
        ids = groups[name]
        if not isinstance(ids, list) or len(ids) != seeds or not all(
                isinstance(g, int) and not isinstance(g, bool) and 0 <= g < len(values) for g in ids):
            raise UserError(f"members.groups.{name} is not {seeds} indices into members.choices.{name}")
    for name in ("optimizer", "activation", "init"):
        valid = {"optimizer": OPTIMIZERS, "activation": ACTIVATIONS, "init": INITS}[name]
        bad = [v for v in choices.get(name, []) if v not in valid]
        if bad:
            raise UserError(f"members.choices.{name} holds {bad[0][:80]!r}; choose from: {', '.join(valid)} "
                            "(a checkpoint never names code to run)")


def _check_configs(table: MemberTable) -> None:
    """Each distinct member (its numbers and choices) through a command line's checks."""
    from xor_lightning.run.checks import check_budgets, check_loss, check_optimizer

    columns = [c.to(torch.float64).view(torch.int64) for c in table.numbers.values()]
    columns += [table.groups[name] for name in table.groups]
    rows = torch.stack(columns, dim=1) if columns else torch.zeros((len(table), 0), dtype=torch.int64)
    _, first = _first_of_each(rows)
    for i in first:
        try:
            number = {name: column[i].item() for name, column in table.numbers.items()}
            choice = {name: table.choices[name][int(table.groups[name][i])] for name in table.groups}
            if "optimizer" in choice:
                check_optimizer(OmegaConf.create(_optimizer_config(choice["optimizer"], number)))
            for name in MODEL_NUMBERS:
                value = number.get(name)
                if value is not None and value == value and not (isinstance(value, float) and value > 0):
                    raise UserError(f"model.{name}={value!r} is not valid; expected a number > 0")
            margin = number.get("margin")  # NaN: a member without the early stop
            if margin is not None and margin == margin and not 0 <= margin < 0.5:
                raise UserError(f"early_stop.margin={margin!r} is not valid; expected a number >= 0 and < 0.5")
            max_epochs = number.get("max_epochs")
            if max_epochs is not None and max_epochs == max_epochs and not (
                    1 <= max_epochs <= 2**53 and max_epochs == int(max_epochs)):  # NaN: the run's
                raise UserError(f"trainer.max_epochs={max_epochs!r} is not valid; expected an integer >= 1")
            if "loss" in choice:
                check_loss(_json(choice["loss"], dict, "loss"))
            if choice.get("budgets"):
                limit = int(max_epochs) if max_epochs is not None and max_epochs == max_epochs else None
                check_budgets(_json(choice["budgets"], list, "budgets"), limit)
        except UserError as exc:
            raise UserError(f"members (member {i}): its {exc}") from None


def _first_of_each(rows: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """The distinct rows and the index of the first member having each."""
    distinct, inverse = torch.unique(rows, dim=0, return_inverse=True)
    first = torch.full((len(distinct),), len(rows), dtype=torch.long).scatter_reduce(
        0, inverse, torch.arange(len(rows)), reduce="amin")
    return distinct, sorted(first.tolist())


def _optimizer_config(target: str, number: Mapping[str, float]) -> dict:
    """A member's optimizer config from its numbers (pairs joined again; NaN: not its argument)."""
    config: dict[str, Any] = {"_target_": target}
    args = arguments(target)
    for name in member_values(target, {}):
        value = number.get(name)
        if value is None or value != value or name not in args:
            continue
        config[name] = bool(value) if isinstance(args[name], bool) else value
    for pair, (a, b) in PAIRS.items():
        if pair in args and a in number and b in number and number[a] == number[a]:
            config[pair] = [number[a], number[b]]
    return config


def _json(text: str, kind: type, name: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, kind):
        raise UserError(f"{name}={text[:80]!r} is not valid; expected a {'mapping' if kind is dict else 'list'} "
                        "(as a member table records it)")
    return value
