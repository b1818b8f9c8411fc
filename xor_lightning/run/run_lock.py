"""One process owns a run's folders at a time: an exclusive lock on ``<checkpoint folder>/.lock``.

The lock (``fcntl.flock``) is taken before anything of the run is written: by precheck, in the
process that then runs Hydra, so a refused run never writes even ``.hydra/``; train() adopts it
through run_paths. A multirun job in a worker process takes its own. The lock lives as long as the
RunLock object (train() holds it for the whole run) and the operating system drops it when the
process ends, however it ends, so a claim can never outlive its run: a checkpoint folder holding
only an unlocked ``.lock`` was left by a run that ended before its first checkpoint, and the next
run with that id takes it over and says so.

Why not the filelock package (installed with torch): its Unix lock is this same ``fcntl.flock``,
and what the rest of this file holds are the run's own rules, which filelock does not offer: the
holder's pid, host and start time in the refusal, a probe that creates nothing (check_not_busy),
the take-over of a dead run's folder, the handover from precheck to train in one process, and
removing what a refused claim created. Its import also costs the command's start 71 ms (measured
here on a busy machine; a claim itself costs ~3 ms either way, once per run). What it would add is
a lock on Windows, where runs are not protected from sharing a folder.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import time
from pathlib import Path
from typing import IO

from xor_lightning.base.bounded_parse import load_json, read_text_capped
from xor_lightning.base.errors import WRITE_ERRORS, UserError, WriteFailed, describe_write_error
from xor_lightning.run.reused_run import already_holds

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not protected from sharing a folder
    fcntl = None

LOCK = ".lock"
log = logging.getLogger(__name__)


class RunLock:
    """Held while this object lives (or until ``release()``)."""

    def __init__(self, folder: Path, handle: IO[str]) -> None:
        self.folder = folder
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the flock
            self._handle = None

    def __del__(self) -> None:
        self.release()


# Locks precheck took in this process, waiting for train() (same process) to adopt them.
_WAITING: dict[Path, RunLock] = {}


def hold(lock: RunLock) -> None:
    _WAITING[lock.folder.resolve()] = lock


def adopt(folder: Path) -> RunLock | None:
    """The lock this process already took for ``folder`` (precheck), handed over to the caller."""
    return _WAITING.pop(folder.resolve(), None)


def held(folder: Path) -> bool:
    return folder.resolve() in _WAITING


def check_not_busy(folder: Path, who: str) -> None:
    """UserError when another process holds ``folder``'s lock now (creates nothing)."""
    path = folder / LOCK
    if fcntl is None:
        return
    _check_lock_path(path, who)
    try:
        with open(path) as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(who, folder, path) from None
    except OSError:
        pass  # no lock file: nobody holds it


def _busy(who: str, folder: Path, path: Path) -> UserError:
    return UserError(f"{who}: {folder} is in use by another running process ({_describe(_holder(path))}); "
                     f"wait for it to end, or choose another run_id")


def holds_a_run(folder: Path) -> bool:
    """Anything but our own hidden files (the lock, a legacy ``.run`` claim, ``.*.tmp`` leftovers)."""
    return folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir())


def claim(folder: Path, who: str, resuming: bool, stale_logs: Path | None = None) -> RunLock:
    """Lock ``folder`` for one run, or UserError naming ``who`` (e.g. ``run_id=demo``).

    A fresh run needs a folder without checkpoints; a resumed run continues the one it has. Whatever
    this creates is removed again when it refuses.
    """
    made = _make_folders(folder)  # a refused mkdir (a full disk) is WriteFailed, leaving none of them
    path = folder / LOCK
    existed = path.exists()
    try:
        handle = _lock(path, who, folder)
    except BaseException:
        _remove(made, None)
        raise
    try:
        if not resuming and holds_a_run(folder):
            raise already_holds(who, folder, who.removeprefix("run_id="))
        if existed and not resuming:
            _take_over(folder, who, _holder(path), stale_logs)
        _write_holder(handle)
    except BaseException as exc:
        _drop(handle)
        _remove(made, None if existed else path)
        if _refused_write(exc):
            raise WriteFailed(describe_write_error(exc, "paths.checkpoint_dir", str(path))) from None
        raise
    return RunLock(folder, handle)


def _write_holder(handle: IO[str]) -> None:
    """Who holds the lock, written unbuffered while the lock is held: a refused write (a full disk)
    is truncated away again, never left as a half line."""
    handle.seek(0)
    handle.truncate()
    data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")})
    try:
        view = memoryview(data.encode())
        while view:
            view = view[os.write(handle.fileno(), view):]
    except OSError:
        os.ftruncate(handle.fileno(), 0)
        raise


def _drop(handle: IO[str]) -> None:
    try:
        handle.close()
    except OSError:
        pass  # nothing is buffered (_write_holder writes unbuffered); the descriptor is closed regardless


def _refused_write(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in WRITE_ERRORS


def _check_lock_path(path: Path, who: str) -> None:
    """A lock is a regular file: opening a FIFO put in its place would hang the run, and writing
    through a symlink would write wherever it points."""
    try:
        info = os.lstat(path)
    except OSError:
        return  # none yet: the run makes it
    if not stat.S_ISREG(info.st_mode):
        kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise UserError(f"{who}: {path} is {kind}, not a run's lock file; remove it (rm {path})")


def _lock(path: Path, who: str, folder: Path) -> IO[str]:
    for _ in range(10):
        _check_lock_path(path, who)
        handle = open(path, "a+")  # noqa: SIM115 (kept open: the lock lasts as long as the file)
        if fcntl is None:
            return handle
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise _busy(who, folder, path) from None
        try:  # a refused run may have removed the file between our open and our lock: lock the current one
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()
    raise UserError(f"{who}: could not lock {path}; another process keeps replacing it")


def _holder(path: Path) -> dict:
    try:  # written by a run as one short line; anything else is not a holder
        info = load_json(read_text_capped(path, 4096) or "{}", max_depth=2)
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _describe(info: dict) -> str:
    if not info:
        return "it is starting"
    return f"pid {info.get('pid')} on {info.get('host')}, since {info.get('since')}"


def _take_over(folder: Path, who: str, info: dict, stale_logs: Path | None) -> None:
    """The folder's lock file is from a run that ended (killed, crashed) before its first checkpoint."""
    removed = []
    if stale_logs is not None and stale_logs.is_dir():
        for event_file in stale_logs.glob("events.out.tfevents.*"):
            event_file.unlink(missing_ok=True)
            removed.append(event_file.name)
    was = f" ({_describe(info)})" if info else ""
    gone = f"; its TensorBoard events in {stale_logs} were removed" if removed else ""
    log.warning(f"warning: {who}: an earlier run with this id{was} ended before its first checkpoint, "
                f"so there is nothing to resume; this run takes its folders over{gone}")


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, deepest first."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove([p for p in missing if p.is_dir()], None)
        if _refused_write(exc):
            raise WriteFailed(describe_write_error(exc, "paths.checkpoint_dir", str(exc.filename or folder))) from None
        raise
    return missing


def _remove(made: list[Path], lock_file: Path | None) -> None:
    if lock_file is not None:
        lock_file.unlink(missing_ok=True)
    for p in made:
        try:
            p.rmdir()
        except OSError:
            break  # not empty any more: someone else uses it now
