"""The ``trainer.*`` values passed through to pytorch_lightning.Trainer, checked before anything runs.

Lightning checks few of them itself, and late: ``deterministic=abc`` trains (it only acts on true and
"warn"), ``min_epochs`` above ``max_epochs`` is ignored without a word. Each value is checked here
against the type ``Trainer.__init__`` annotates (bool, int, float, str, Literal, Optional, Union,
dict, list), then against the ranges the annotation cannot say, then keys against each other.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

from xor_lightning.base.errors import UserError

_PROFILERS = ("simple", "advanced", "pytorch", "xla")  # pytorch_lightning/trainer/setup.py _init_profiler
_DURATION = re.compile(r"\d+:\d+:\d+:\d+")  # DD:HH:MM:SS, as Lightning's Timer parses max_time
_TIMEDELTA_KEYS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _matches(value: Any, hint: Any) -> bool:
    """Whether a value from a config (None, bool, int, float, str, list, dict) fits the annotation."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is typing.Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if origin in (list, tuple) or (origin is not None and origin.__name__ in ("Iterable", "Sequence")):
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value) if args else False
    if origin is dict:
        return isinstance(value, dict) and all(_matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:
        return _is_number(value)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and hint.__name__ in ("Path", "PurePath"):
        return isinstance(value, str)
    return False  # a class instance (a Profiler, a timedelta) cannot come from a config value


def _describe(hint: Any) -> list[str]:
    """The annotation in the words of a command line: true or false, an integer, 'warn', null."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return [w for a in args for w in _describe(a)]
    if origin is typing.Literal:
        return [repr(a) if isinstance(a, str) else str(a).lower() for a in args]
    if origin is dict:
        return [f"a mapping of {_describe(args[0])[0].removeprefix('a ')}s to {_describe(args[1])[0].removeprefix('an ')}s"]
    words = {type(None): "null", int: "an integer", float: "a number", str: "a string"}
    return ["true", "false"] if hint is bool else [words[hint]] if hint in words else []


def _expected(hint: Any) -> str:
    words = list(dict.fromkeys(_describe(hint)))
    if "a number" in words and "an integer" in words:
        words.remove("an integer")
    if not words:  # only classes (a Profiler, a timedelta): nothing a config value can be
        return f"a value Lightning's Trainer takes as {getattr(hint, '__name__', hint)} (see its documentation)"
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]


def _non_negative_int(value: Any) -> str | None:
    return None if _is_int(value) and value >= 0 else "an integer >= 0"


def _fast_dev_run(value: Any) -> str | None:
    return None if isinstance(value, bool) or (_is_int(value) and value >= 0) else \
        "true, false, or an integer >= 0 (that many blocks)"


def _max_time(value: Any) -> str | None:
    ok = value is None or (isinstance(value, str) and _DURATION.fullmatch(value.strip())) or (
        isinstance(value, dict) and value and all(k in _TIMEDELTA_KEYS and _is_int(v) and v >= 0 for k, v in value.items()))
    return None if ok else (f"null, a duration DD:HH:MM:SS such as 00:01:30:00, or a mapping of "
                            f"{', '.join(_TIMEDELTA_KEYS)} to integers >= 0")


def _fraction_or_count(value: Any) -> str | None:
    ok = value is None or (_is_int(value) and value >= 0) or (isinstance(value, float) and 0 <= value <= 1)
    return None if ok else "null, a fraction from 0.0 to 1.0, or a number of batches >= 0"


def _gradient_clip_val(value: Any) -> str | None:
    return None if value is None or (_is_number(value) and value >= 0) else "null or a number >= 0 (0 or null: no clipping)"


def _choice(*choices: Any) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices and type(value) in {type(c) for c in choices} else \
            "one of: " + ", ".join("null" if c is None else str(c).lower() if isinstance(c, bool) else str(c) for c in choices)
    return check


# What a value must be beyond its annotated type (None: anything of that type).
RANGES: dict[str, Callable[[Any], str | None]] = {
    "max_epochs": lambda v: None if _is_int(v) and v >= 1 else "an integer >= 1 (table epochs)",
    "min_epochs": lambda v: None if v is None or (_is_int(v) and v >= 0) else "null or an integer >= 0 (table epochs)",
    "fast_dev_run": _fast_dev_run,
    "max_time": _max_time,
    "limit_test_batches": _fraction_or_count,
    "limit_predict_batches": _fraction_or_count,
    "gradient_clip_val": _gradient_clip_val,
    "gradient_clip_algorithm": _choice(None, "norm", "value"),
    "deterministic": _choice(None, True, False, "warn"),
    "profiler": _choice(None, *_PROFILERS),
}


def _annotations() -> dict[str, Any]:
    import pytorch_lightning as pl

    params = inspect.signature(pl.Trainer.__init__).parameters.items()
    # A string annotation (postponed evaluation) or none at all: any value, Lightning judges it.
    return {n: typing.Any if isinstance(p.annotation, str) or p.annotation is p.empty else p.annotation for n, p in params}


def check_trainer_values(args: dict[str, Any]) -> None:
    """One line for the first ``trainer.KEY`` whose value Lightning would misread, then the relations."""
    hints = _annotations()
    for key, value in args.items():
        if key not in hints:
            continue  # trainer_args names an unknown key
        shown = "null" if value is None else repr(value)
        rule = RANGES.get(key)
        problem = rule(value) if rule else (None if _matches(value, hints[key]) else _expected(hints[key]))
        if problem:
            raise UserError(f"trainer.{key}={shown} is not valid; expected {problem}")
    low, high = args.get("min_epochs"), args.get("max_epochs")
    if low is not None and high is not None and low > high:
        raise UserError(f"trainer.min_epochs={low} is above trainer.max_epochs={high}: the run would stop at "
                        f"{high} without a word; lower trainer.min_epochs or raise trainer.max_epochs")
