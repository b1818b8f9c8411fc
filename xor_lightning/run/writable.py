"""Can a run write where it is told to? Checked before anything is created, so a bad place costs one line.

The nearest folder that already exists on the way to the target must be a folder (not a file in
the way) and must take a new file: probed with an anonymous temporary file, which leaves nothing
behind and catches every reason at once (permissions, a read-only disk, /proc, a full quota).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from xor_lightning.base.errors import UserError


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def check_folder(path: str | Path, key: str, shown: object = None) -> None:
    """``path`` is, or can become, a folder this process can write in (``shown``: the value the user gave)."""
    shown = path if shown is None else shown
    target = Path(str(path))
    existing = _nearest_existing(target)
    if not existing.is_dir():
        raise UserError(f"{key}={shown}: {existing} is a file, not a folder; give a folder path")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        reason = exc.strerror or exc
        raise UserError(f"{key}={shown}: cannot write in {existing} ({reason}); give a place you can write to") from None


def check_file(path: str | Path, key: str) -> None:
    """``path`` can be written as a file: not a folder, and its folder is writable."""
    target = Path(str(path))
    if target.is_dir():
        raise UserError(f"{key}={path}: is a folder; give a file name, e.g. {key}={target / 'boundary.png'}")
    check_folder(target.parent, key, shown=path)
