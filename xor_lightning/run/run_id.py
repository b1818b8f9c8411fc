"""A run id is a name, never a path: one check for every place an id comes from.

Sources: ``run_id=`` on the command line, the ``XOR_LIGHTNING_RUN_ID`` environment variable, the
run id a checkpoint records (a resumed run continues that run), and the ``<sweep>/<job>`` names a
multirun gives its jobs. Every folder named by an id (checkpoints/, logs/, outputs/, multirun/) is
``root / id``, and ``inside`` makes sure that folder stays under its root even through symlinks.
"""

from __future__ import annotations

import re
from pathlib import Path

from xor_lightning.base.errors import UserError

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
