"""The exception types the CLI turns into a single line and an exit code (no traceback)."""

import errno
from pathlib import Path

from hydra.errors import CompactHydraException


class UserError(ValueError):
    """Bad input from the user: a config value, a device, a checkpoint path.

    The message is one line that names the offending key or file and what would be valid.
    """

    exit_code = 2
    label = "error"


class RunStopped(RuntimeError):
    """A run that ended before its work was done (diverged, interrupted); the message says what next."""

    exit_code = 1
    label = "error"


class JobFailed(CompactHydraException):
    """A multirun job ended by one of the errors above: Hydra prints just this one line, no traceback."""


# A write refused by the system: a full disk or quota, a file size limit, a read-only or forbidden place.
WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


class WriteFailed(RunStopped):
    """A file of the run could not be written; files are written whole or not at all, so none is half-made."""


def describe_write_error(exc: OSError, key: str | None = None, filename: str | None = None) -> str:
    """One line for a refused write: the folder, the file, the system's reason and the key that sets the folder."""
    filename = filename or exc.filename
    where = Path(filename).parent if filename else None
    name = f" ({Path(filename).name})" if filename else ""
    place = f"in {where}" if where else "a file of the run"
    choose = f"set {key} to another folder" if key else "choose another paths.* / hydra.run.dir"
    return (f"cannot write {place}{name}: {exc.strerror or exc}; nothing there was left half-written and earlier "
            f"runs are untouched: free some space (or {choose}) and run again")
