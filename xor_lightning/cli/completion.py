"""Shell completion for ``xor-lightning COMMAND [overrides]`` through Hydra's completion plugins.

Hydra's installed completion calls ``<script> -sc query=bash`` with the script name only, the typed
line in ``COMP_LINE``. The command word is ours, not Hydra's: with none typed yet the commands are
the candidates; after it, the line is rewritten without the command and handed to that command's
Hydra app, which completes keys, groups and choices from its config. Hydra offers a key's current
value only: keys with a fixed set of valid values (and path-valued keys) are completed here, from the
lists the checks use (completion_values.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

from omegaconf import OmegaConf

from xor_lightning.base.config_dir import config_dir
from xor_lightning.cli.completion_values import value_candidates

SCRIPT = "xor-lightning"  # the console script the installed completion is bound to
SHELLS = ("bash", "zsh", "fish")  # the shells Hydra has completion plugins for
ACTIONS = ("install", "uninstall", "query")


def shell_completion(args: list[str], commands: tuple[str, ...]) -> int:
    """Handle ``-sc install=SHELL | uninstall=SHELL | query=SHELL`` given before any command."""
    action, _, shell = args[0].partition("=") if len(args) == 1 else ("", "", "")
    if action not in ACTIONS or shell not in SHELLS:
        given = f" (got {' '.join(args)!r})" if args else ""
        print(f"error: -sc takes install=SHELL, uninstall=SHELL or query=SHELL with SHELL one of: {', '.join(SHELLS)}"
              f"{given}", file=sys.stderr)
        return 2
    if action != "query":
        # Hydra binds the script it prints to basename(argv[0]): make that the console script.
        sys.argv = [SCRIPT, "-sc", *args]
        from xor_lightning.cli.config_app import config_app

        config_app(commands[0])()
        return 0
    line = os.environ.get("COMP_LINE", "")
    point = os.environ.get("COMP_POINT", "")
    if point.isdigit():  # complete the word at the cursor: what follows it does not matter
        line = line[: int(point)]
    rest = line.split(maxsplit=1)
    typed = rest[1] if len(rest) > 1 else ""
    words = typed.split()
    sep = "\n" if shell == "fish" else " "
    if not words or (len(words) == 1 and not typed.endswith(" ")):
        # Still typing the command word: offer the commands (the shell filters them by prefix).
        print(sep.join(commands))
        return 0
    command = words[0]
    if command not in commands:
        return 0  # nothing sensible to offer after an unknown command
    word = "" if typed.endswith(" ") else words[-1]
    if word.startswith((".", "/")) and "=" not in word:
        return 0  # a path where an override belongs: no candidates (Hydra would raise on it)
    found = value_candidates(command, word)
    if found is None:
        # Hydra strips the first word as the program name and completes the rest.
        found = _hydra_candidates(command, SCRIPT + typed.split(command, 1)[1], args)
    print(sep.join(found))
    return 0


def _hydra_candidates(command: str, line: str, args: list[str]) -> list[str]:
    """What Hydra offers for ``line``; nothing at all (no traceback on the user's terminal) where it fails."""
    from xor_lightning.cli.config_app import config_app

    os.environ["COMP_LINE"] = line
    os.environ["COMP_POINT"] = str(len(line))
    sys.argv = [SCRIPT, "-sc", *args]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            config_app(command)()
    except (Exception, SystemExit):  # e.g. `train ../../`: Hydra's lookup raises ConfigKeyError
        return []
    words = out.getvalue().split()
    # Hydra offers every group in the config folder; keep those this command's config knows
    # (evaluate has no model= or loss=).
    known = _top_level_names(command)
    kept = [w for w in words if w.lstrip("+~").split("=")[0].split(".")[0].split("/")[0] in known]
    # A boolean key: Hydra offers its current value only; offer both.
    if len(kept) == 1 and kept[0].endswith(("=true", "=false")):
        key = kept[0].rsplit("=", 1)[0]
        kept = [f"{key}=false", f"{key}=true"]
    return kept


def _top_level_names(command: str) -> set[str]:
    """Top-level keys and config groups of ``configs/<command>.yaml`` (its defaults list)."""
    cfg = OmegaConf.load(Path(config_dir()) / f"{command}.yaml")
    names = {str(k) for k in cfg if k != "defaults"} | {"hydra"}
    for entry in cfg.get("defaults", []):
        if OmegaConf.is_dict(entry):
            names |= {str(k).split()[-1].split("/")[0] for k in entry}
    return names
