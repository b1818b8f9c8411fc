"""Completion of values: every name the checks accept for a key, and paths for path-valued keys.

Each list is read from its one home (core/nets.ACTIVATIONS, run/checks.PRECISIONS, ...), so a name
added there is offered here too. Those modules import torch (one to several seconds on a Tab press),
so a list written as a literal is read from the module's source; any other is imported.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
from collections.abc import Callable

Lister = Callable[[], list[str]]


def names_in(module: str, name: str) -> list[str]:
    """The keys of dict ``module.name`` (or the items of a tuple or list), as the checks see them."""
    spec = importlib.util.find_spec(module)
    try:
        tree = ast.parse(open(spec.origin, encoding="utf-8").read())
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else getattr(node, "target", None)
            if isinstance(target, ast.Name) and target.id == name and node.value is not None:
                value = node.value
                items = value.keys if isinstance(value, ast.Dict) else getattr(value, "elts", None)
                if items is not None and all(isinstance(i, ast.Constant) and isinstance(i.value, str) for i in items):
                    return [i.value for i in items]
    except (OSError, SyntaxError, AttributeError, TypeError):
        pass
    return [str(v) for v in getattr(importlib.import_module(module), name)]  # not a literal: the real thing


def _listed(module: str, name: str) -> Lister:
    return lambda: names_in(module, name)


def _shipped_networks() -> list[str]:
    from xor_lightning.base.weights_file import shipped

    return shipped()


_ACCELERATORS = _listed("xor_lightning.core.devices", "CHOICES")
_PRECISIONS = _listed("xor_lightning.run.checks", "PRECISIONS")
# key -> (names it accepts, suffixes of the files it accepts; None: no files)
_TRAIN: dict[str, tuple[Lister, tuple[str, ...] | None]] = {
    "model.activation": (_listed("xor_lightning.core.nets", "ACTIVATIONS"), None),
    "model.init": (_listed("xor_lightning.core.nets", "INITS"), None),
    "model.output": (_listed("xor_lightning.core.verdict", "HEADS"), None),
    "model.weights": (_shipped_networks, (".yaml", ".yml", ".json")),
    "loss.name": (_listed("xor_lightning.core.losses", "LOSSES"), None),
    "device.accelerator": (_ACCELERATORS, None),
    "device.precision": (_PRECISIONS, None),
    "progress.bar": (lambda: ["auto", "true", "false"], None),
    "ckpt_path": (lambda: ["last"], (".ckpt",)),
}
_EVALUATE: dict[str, tuple[Lister, tuple[str, ...] | None]] = {
    "checkpoint": (list, (".ckpt",)),
    "weights": (_shipped_networks, (".yaml", ".yml", ".json")),
    "device.accelerator": (_ACCELERATORS, None),
    "device.precision": (_PRECISIONS, None),
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
