"""File writes that a kill -9 or a full disk at any moment cannot leave half-written.

A file goes to a temporary file in the same folder, is flushed to disk, and replaces the target
with ``os.replace`` (atomic on POSIX and Windows): the path always holds either the previous
complete file or the new one. (Lightning's TorchCheckpointIO writes in place, so a process killed
mid-write leaves a truncated ``last.ckpt``: run/checkpoints.AtomicCheckpointIO writes through here.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` whole or not at all: ``write(fh)`` fills a temporary file in the same folder,
    which is flushed to disk and renamed over ``path``. On any failure (a full disk, a kill) the
    previous file, if any, is untouched and the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    out = None
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            out = _KeepsWriteError(fh)
            write(out)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        failed = out.error if out is not None and out.error is not None else exc
        if isinstance(failed, OSError) and isinstance(exc, Exception):
            # Name the file the caller asked for (not the temporary one) and the system's reason.
            raise OSError(failed.errno, failed.strerror, str(path)) from exc
        raise
    _remove_stale(path)
    return path


class _KeepsWriteError:
    """Passes writes on and keeps the OSError of a failed one: torch.save turns it into a RuntimeError
    ("unexpected pos ...") that names neither the file nor the reason (a full disk, a size limit)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.error = fh, None

    def write(self, data: Any) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.fh.flush()

    def __getattr__(self, name: str) -> Any:  # tell, seek, fileno, name...: what savefig or PIL may ask
        return getattr(self.fh, name)


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
