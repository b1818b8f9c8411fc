"""One process owns a run's folders at a time: an exclusive lock on ``<checkpoint folder>/.lock``.

The lock (``fcntl.flock``) is taken before anything of the run is written: by precheck, in the
process that then runs Hydra, so a refused run never writes even ``.hydra/``; train() adopts it
through run_paths. A multirun job in a worker process takes its own. The lock lives as long as the
RunLock object (train() holds it for the whole run) and the operating system drops it when the
process ends, however it ends, so a claim can never outlive its run: a checkpoint folder holding
only an unlocked ``.lock`` was left by a run that ended before its first checkpoint, and the next
run with that id takes it over and says so.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import IO

from xor_lightning.base.errors import UserError
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
    made = _make_folders(folder)
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
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        handle.flush()
    except BaseException:
        handle.close()
        _remove(made, None if existed else path)
        raise
    return RunLock(folder, handle)


def _lock(path: Path, who: str, folder: Path) -> IO[str]:
    for _ in range(10):
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
    try:
        info = json.loads(path.read_text() or "{}")
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
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove(made: list[Path], lock_file: Path | None) -> None:
    if lock_file is not None:
        lock_file.unlink(missing_ok=True)
    for p in made:
        try:
            p.rmdir()
        except OSError:
            break  # not empty any more: someone else uses it now
