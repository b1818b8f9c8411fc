"""The one exception type the CLI turns into a single ``error: ...`` line and exit code 2."""


class UserError(ValueError):
    """Bad input from the user: a config value, a device, a checkpoint path.

    The message is one line that names the offending key or file and what would be valid.
    """

    exit_code = 2
