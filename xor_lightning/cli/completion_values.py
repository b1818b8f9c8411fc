"""Completion of values: every name the checks accept for a key, and paths for path-valued keys.

Each list is read from its one home (core/nets.ACTIVATIONS, run/checks.PRECISIONS, ...), so a name
added there is offered here too. Those homes import torch (about a second): only a Tab after one of
these keys pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

Lister = Callable[[], list[str]]


def _activations() -> list[str]:
    from xor_lightning.core.nets import ACTIVATIONS

    return list(ACTIVATIONS)


def _inits() -> list[str]:
    from xor_lightning.core.nets import INITS

    return list(INITS)


def _heads() -> list[str]:
    from xor_lightning.core.verdict import HEADS

    return list(HEADS)


def _losses() -> list[str]:
    from xor_lightning.core.losses import LOSSES

    return list(LOSSES)


def _precisions() -> list[str]:
    from xor_lightning.run.checks import PRECISIONS

    return list(PRECISIONS)


def _accelerators() -> list[str]:
    from xor_lightning.core.devices import CHOICES

    return list(CHOICES)


def _shipped_networks() -> list[str]:
    from xor_lightning.base.weights_file import shipped

    return shipped()


# key -> (names it accepts, suffixes of the files it accepts; None: no files)
_TRAIN: dict[str, tuple[Lister, tuple[str, ...] | None]] = {
    "model.activation": (_activations, None),
    "model.init": (_inits, None),
    "model.output": (_heads, None),
    "model.weights": (_shipped_networks, (".yaml", ".yml", ".json")),
    "loss.name": (_losses, None),
    "device.accelerator": (_accelerators, None),
    "device.precision": (_precisions, None),
    "progress.bar": (lambda: ["auto", "true", "false"], None),
    "ckpt_path": (lambda: ["last"], (".ckpt",)),
}
_EVALUATE: dict[str, tuple[Lister, tuple[str, ...] | None]] = {
    "checkpoint": (list, (".ckpt",)),
    "weights": (_shipped_networks, (".yaml", ".yml", ".json")),
    "device.accelerator": (_accelerators, None),
    "device.precision": (_precisions, None),
    "boundary": (list, (".png",)),
    "space": (list, (".png",)),
}
VALUES = {"train": _TRAIN, "evaluate": _EVALUATE}


def value_candidates(command: str, word: str) -> list[str] | None:
    """Candidates for ``word`` (``key=partial``) when ``key`` is one of ours, else None (Hydra's turn).

    A sweep's comma list (``model.activation=relu,ta``) completes its last item.
    """
    key, eq, value = word.partition("=")
    entry = VALUES.get(command, {}).get(key.lstrip("+~"))
    if not eq or entry is None:
        return None
    names, suffixes = entry
    head, _, partial = value.rpartition(",")
    prefix = f"{key}={head}," if head else f"{key}="
    found = [n for n in names() if n.startswith(partial)]
    if suffixes is not None:
        found += _paths(partial, suffixes)
    return [prefix + f for f in found]


def _paths(partial: str, suffixes: tuple[str, ...]) -> list[str]:
    """Folders (with a trailing /, to go on into) and files ending in ``suffixes`` that start with ``partial``."""
    folder, _, start = partial.rpartition("/")
    where = os.path.expanduser(folder + "/" if folder or partial.startswith("/") else ".")
    try:
        entries = sorted(os.scandir(where), key=lambda e: e.name)
    except OSError:
        return []
    shown = []
    for entry in entries:
        if not entry.name.startswith(start) or (entry.name.startswith(".") and not start.startswith(".")):
            continue
        at = f"{folder}/{entry.name}" if folder or partial.startswith("/") else entry.name
        try:
            if entry.is_dir():
                shown.append(at + "/")
            elif entry.name.endswith(suffixes):
                shown.append(at)
        except OSError:
            continue
    return shown
