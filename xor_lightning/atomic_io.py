"""File writes that a kill -9 or a full disk at any moment cannot leave half-written.

Lightning's TorchCheckpointIO writes the target file in place, so a process killed mid-write leaves
a truncated ``last.ckpt``. Here the checkpoint goes to a temporary file in the same folder, is
flushed to disk, and replaces the target with ``os.replace`` (atomic on POSIX and Windows): the
path always holds either the previous complete checkpoint or the new one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` whole or not at all: ``write(fh)`` fills a temporary file in the same folder,
    which is flushed to disk and renamed over ``path``. On any failure (a full disk, a kill) the
    previous file, if any, is untouched and the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _remove_stale(path)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through atomic_write: a checkpoint is always complete."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def _remove_stale(path: Path) -> None:
    """Temporary files a killed earlier writer of ``path`` left behind."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        atomic_save(checkpoint, path)
