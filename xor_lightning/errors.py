"""The exception types the CLI turns into a single line and an exit code (no traceback)."""


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
