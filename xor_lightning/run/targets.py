"""Checking a config entry with a ``_target_`` (a logger, a callback) before anything is built.

A bad entry costs one line that names its key: the class cannot be imported, is not the kind of
object the key is for, or is given an argument it does not take.
"""

from __future__ import annotations

import inspect
import re
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf

from xor_lightning.base.errors import UserError


def target_class(key: str, node: Any, base: type, what: str) -> type:
    """The class ``node._target_`` names, checked to be a subclass of ``base``."""
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise UserError(f"{key} must be a mapping with a _target_ (the class), e.g. +{key}._target_=package.module.Class")
    target = node._target_
    if not isinstance(target, str) or "." not in target:
        raise UserError(f"{key}._target_={target!r} is not valid; expected a dotted class path such as package.module.Class")
    from hydra._internal.utils import _locate  # hydra.utils.get_class also logs a 3-line error

    try:
        cls = _locate(target)
    except Exception as exc:  # Hydra wraps import errors; its message spans lines
        reason = str(exc.__cause__ or exc).strip().splitlines()
        raise UserError(f"{key}._target_={target}: cannot import it ({reason[0] if reason else type(exc).__name__})") from None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise UserError(f"{key}._target_={target} is not {what} (a subclass of {base.__module__}.{base.__qualname__})")
    return cls


def check_arguments(key: str, cls: type, node: DictConfig) -> None:
    """Every key of ``node`` (``_target_`` and the like aside) must be an argument of ``cls``."""
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for name in OmegaConf.to_container(node, resolve=False):
        if not name.startswith("_") and name not in valid:
            raise UserError(f"{key}.{name} is not an argument of {cls.__qualname__}; valid: {', '.join(valid)}")


def check_values(key: str, func: Any, node: DictConfig, names: Any = None) -> None:
    """Each value of ``node`` against what ``func`` (a class or its ``__init__``) declares for it: its
    annotation, or for an argument without one the type of its default (bool, a number, a string).
    Python checks neither, so a constructor takes ``flush_logs_every_n_steps=abc`` and the run fails
    at its 100th step. An annotation naming a class (a value Hydra builds) is left to the constructor.
    ``names``: only these arguments (the rest of ``node`` is checked elsewhere)."""
    from xor_lightning.run.trainer_checks import describe_expected, value_fits

    params = inspect.signature(func).parameters
    try:
        hints = typing.get_type_hints(func.__init__ if isinstance(func, type) else func)
    except Exception:  # an annotation that names something not importable: keep the raw ones
        hints = {}
    for name, value in OmegaConf.to_container(node, resolve=False).items():
        param = params.get(name)
        if param is None or name.startswith("_") or (names is not None and name not in names) or "${" in str(value):
            continue
        hint = hints.get(name, param.annotation)
        if hint is inspect.Parameter.empty or isinstance(hint, str):
            hint = _DEFAULT_TYPES.get(type(param.default))
        if hint is None or not _plain(hint) or value_fits(value, hint):
            continue
        shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else value
        raise UserError(f"{key}.{name}={shown} is not valid; expected {describe_expected(hint)}")


# Unannotated arguments: what their default says they take (an int default takes any number).
_DEFAULT_TYPES = {bool: bool, int: float, float: float, str: str}
_PLAIN = (bool, int, float, str, type(None), typing.Any)


def _plain(hint: Any) -> bool:
    """Whether the annotation is built only of values a config can hold (so a mismatch is certain)."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return True
    if origin is not None:
        return all(_plain(a) for a in typing.get_args(hint))
    return hint in _PLAIN or (isinstance(hint, type) and hint.__name__ in ("Path", "PurePath"))


def refused(key: str, cls: type, node: DictConfig, exc: BaseException) -> UserError:
    """The one line for a constructor that raised: its first line, blaming the argument it names."""
    cause = exc.__cause__ or exc  # Hydra wraps what the class raised in InstantiationException
    lines = str(cause).strip().splitlines()
    reason = lines[0] if lines else type(cause).__name__
    raw = OmegaConf.to_container(node, resolve=False)
    args = [str(k) for k in raw if not str(k).startswith("_")]
    blamed = [k for k in args if re.search(rf"\b{re.escape(k)}\b", reason)]
    where = f"{key}.{blamed[0]}={OmegaConf.select(node, blamed[0])}" if blamed else key
    return UserError(f"{where} is not valid: {cls.__name__} refuses it ({reason})")
