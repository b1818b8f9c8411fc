"""Hydra's command-line words, read one way everywhere: which words are overrides, whether the
command is a multirun, and each override's key and value."""

from __future__ import annotations

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


def place(args: list[str], extra: list[str]) -> list[str]:
    """``args`` with ``extra`` placed next to its overrides (argparse wants them in one run of words)."""
    at = next((i for i, a in enumerate(args) if "=" in a and not a.startswith("-")
               and (i == 0 or args[i - 1] not in WITH_VALUE)), len(args))
    return [*args[:at], *extra, *args[at:]]
