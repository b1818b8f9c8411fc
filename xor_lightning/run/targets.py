"""Checking a config entry with a ``_target_`` (a logger, a callback) before anything is built.

A bad entry costs one line that names its key: the class cannot be imported, is not the kind of
object the key is for, or is given an argument it does not take.
"""

from __future__ import annotations

import inspect
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
