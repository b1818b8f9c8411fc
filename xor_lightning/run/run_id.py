"""A run id is a name, never a path: one check for every place an id comes from.

Decided once per command (``decide``), in this order: ``run_id=`` on the command line, the
``XOR_LIGHTNING_RUN_ID`` environment variable, the run id a checkpoint records (a resumed run
continues that run), else the start time and a random suffix; from there it is the ordinary config
value ``run_id``. A multirun gives its jobs ``<sweep>/<job>`` names. Every folder named by an id
(checkpoints/, logs/, outputs/, multirun/) is ``root / id``, and ``inside`` makes sure that folder
stays under its root even through symlinks.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from xor_lightning.base.errors import UserError
from xor_lightning.base.overrides import key_values

ENV = "XOR_LIGHTNING_RUN_ID"

MAX_LENGTH = 100  # leaves room under the 255-byte file name limit for ".last.ckpt.XXXX.tmp" and the like
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
RULE = (f"a run id is a name: letters, digits, '.', '_' and '-', starting with a letter or digit, "
        f"at most {MAX_LENGTH} characters (a multirun job's id is <sweep id>/<job number>)")


def check_run_id(value: object, key: str = "run_id", job: bool = True) -> str:
    """``value`` as a run id, or UserError naming ``key``. ``job``: the ``<sweep>/<number>`` form is allowed."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _valid(text, job):
        shown = f"{value!r}" if not isinstance(value, str) or len(value) <= 60 else f"'{value[:40]}...' ({len(value)} characters)"
        raise UserError(f"{key}={shown} is not valid; {RULE}, e.g. run_id=my-run")
    return text


def _valid(text: str, job: bool) -> bool:
    if not 0 < len(text) <= MAX_LENGTH:
        return False
    name, slash, number = text.partition("/")
    if slash:
        return job and _NAME.fullmatch(name) is not None and number.isdigit() and number.isascii()
    return _NAME.fullmatch(text) is not None


def inside(root: str | Path, name: str, key: str) -> Path:
    """``root / name``, refused when it resolves outside ``root`` (a symlinked run folder, say)."""
    folder = Path(root) / name
    real_root = Path(root).resolve()
    if not folder.resolve().is_relative_to(real_root):
        raise UserError(f"{key}: {folder} leads outside {root} (to {folder.resolve()}); "
                        f"a run's folders stay under their root: remove that link or choose another run_id")
    return folder


def new_run_id() -> str:
    # Second resolution for reading, a random suffix so two runs started together never collide.
    return time.strftime("%Y-%m-%d_%H-%M-%S") + "_" + secrets.token_hex(2)


def decide(overrides: list[str], environ: Mapping[str, str], fresh: str,
           recorded: Callable[[str | None], str | None]) -> str | None:
    """The run id to add as ``run_id=`` to ``overrides``, or None when they name one themselves
    (precheck checks it like every value). ``fresh``: the id stamped when the command started;
    ``recorded``: the id a ``ckpt_path`` records (resume.recorded_run_id; handed in, since resume
    reads checkpoints and checks their ids with this module)."""
    given = key_values(overrides)
    if "run_id" in given:
        return None
    if ENV in environ:
        return check_run_id(environ[ENV], ENV)
    if given.get("ckpt_path") in (None, "null", "last"):
        return fresh  # no checkpoint file to read a run id from (and no Lightning import: --cfg stays fast)
    return recorded(given.get("ckpt_path")) or fresh
