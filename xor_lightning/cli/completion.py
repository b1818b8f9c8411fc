"""Shell completion for ``xor-lightning COMMAND [overrides]`` through Hydra's completion plugins.

Hydra's installed completion calls ``<script> -sc query=bash`` with the script name only, the typed
line in ``COMP_LINE``. The command word is ours, not Hydra's: with none typed yet the commands are
the candidates; after it, the line is rewritten without the command and handed to that command's
Hydra app, which completes keys, groups and choices from its config.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

from omegaconf import OmegaConf

from xor_lightning.base.config_dir import config_dir
from xor_lightning.cli.config_app import config_app

SCRIPT = "xor-lightning"  # the console script the installed completion is bound to


def shell_completion(args: list[str], commands: tuple[str, ...]) -> int:
    """Handle ``-sc install=SHELL | uninstall=SHELL | query=SHELL`` given before any command."""
    if len(args) != 1 or "=" not in args[0]:
        print("error: -sc takes one of install=bash|zsh|fish, uninstall=SHELL, query=SHELL", file=sys.stderr)
        return 2
    action = args[0].split("=", 1)[0]
    if action != "query":
        # Hydra binds the script it prints to basename(argv[0]): make that the console script.
        return _delegate(commands[0], args)
    line = os.environ.get("COMP_LINE", "")
    point = os.environ.get("COMP_POINT", "")
    if point.isdigit():  # complete the word at the cursor: what follows it does not matter
        line = line[: int(point)]
    rest = line.split(maxsplit=1)
    typed = rest[1] if len(rest) > 1 else ""
    words = typed.split()
    if not words or (len(words) == 1 and not typed.endswith(" ")):
        # Still typing the command word: offer the commands (the shell filters them by prefix).
        shell = args[0].split("=", 1)[1]
        print(("\n" if shell == "fish" else " ").join(commands))
        return 0
    command = words[0]
    if command not in commands:
        return 0  # nothing sensible to offer after an unknown command
    # Hydra strips the first word as the program name and completes the rest.
    os.environ["COMP_LINE"] = SCRIPT + typed.split(command, 1)[1]
    os.environ["COMP_POINT"] = str(len(os.environ["COMP_LINE"]))
    return _delegate(command, args)


def _delegate(command: str, args: list[str]) -> int:
    sys.argv = [SCRIPT, "-sc", *args]
    if not args[0].startswith("query="):
        config_app(command)()
        return 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        config_app(command)()
    words = out.getvalue().split()
    # Hydra offers every group in the config folder; keep those this command's config knows
    # (evaluate has no model= or loss=).
    known = _top_level_names(command)
    kept = [w for w in words if w.lstrip("+~").split("=")[0].split(".")[0].split("/")[0] in known]
    sep = "\n" if args[0].endswith("=fish") else " "
    print(sep.join(kept))
    return 0


def _top_level_names(command: str) -> set[str]:
    """Top-level keys and config groups of ``configs/<command>.yaml`` (its defaults list)."""
    cfg = OmegaConf.load(Path(config_dir()) / f"{command}.yaml")
    names = {str(k) for k in cfg if k != "defaults"} | {"hydra"}
    for entry in cfg.get("defaults", []):
        if OmegaConf.is_dict(entry):
            names |= {str(k).split()[-1].split("/")[0] for k in entry}
    return names
