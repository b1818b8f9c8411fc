"""Hydra's command-line words, read one way everywhere: which words are overrides, whether the
command is a multirun, and each override's key and value."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MULTIRUN = {"-m", "--multirun"}
WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--experimental-rerun"}  # flags followed by a value


def split_args(args: Iterable[str]) -> tuple[list[str], bool]:
    """The overrides among ``args`` (Hydra's flags and their values removed) and whether it is a multirun."""
    out, multirun, skip = [], False, False
    for arg in args:
        if skip:
            skip = False
        elif arg in MULTIRUN:
            multirun = True
        elif arg in WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            out.append(str(arg))
    return out, multirun


def key_values(overrides: Iterable[str]) -> dict[str, str]:
    """``{key: value}`` of ``key=value``, ``+key=value`` and ``++key=value``; a deletion (``~key``) has no value."""
    pairs = (str(o).split("=", 1) for o in overrides if "=" in str(o))
    return {key.lstrip("+~"): value for key, value in pairs}


# Hydra's sweeper writes a swept boolean back with Python's str(): data.gate=false becomes
# data.gate=False in each job's overrides (its .hydra/overrides.yaml and the launcher's line). Its
# grammar reads true/false in any case, so the lower case is the same value, spelled as typed.
_BOOLEAN = re.compile(r"(?<=\S=)(True|False)(?=\s|$)")


def as_typed(value: str) -> str:
    """An override's value as the user typed it: ``False`` -> ``false``, anything else as it is."""
    return value.lower() if value in ("True", "False") else value


def booleans_as_typed(line: str) -> str:
    """Every ``key=True``/``key=False`` of a line of overrides spelled ``key=true``/``key=false``."""
    return _BOOLEAN.sub(lambda m: m.group(1).lower(), line)


def place(args: list[str], extra: list[str]) -> list[str]:
    """``args`` with ``extra`` placed next to its overrides (argparse wants them in one run of words)."""
    at = next((i for i, a in enumerate(args) if "=" in a and not a.startswith("-")
               and (i == 0 or args[i - 1] not in WITH_VALUE)), len(args))
    return [*args[:at], *extra, *args[at:]]


class BooleansAsTyped(logging.Filter):
    """Hydra's launcher lines (``#3 : data.gate=False ...``) with booleans as typed (configs/hydra/hydra_logging)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and not record.args and record.msg.lstrip().startswith("#"):
            record.msg = booleans_as_typed(record.msg)
        return True
