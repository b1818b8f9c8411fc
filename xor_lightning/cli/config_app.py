"""Hydra apps that only answer questions about the config: --help, --cfg, --info, -sc.

They compose the same configs as the real commands but import neither torch nor Lightning, so
help, completion and config printing take a fraction of a second instead of several.
"""

from __future__ import annotations

import hydra
from omegaconf import OmegaConf

from xor_lightning.base.config_dir import config_dir


def _keys_help(command: str, *, _root_) -> str:
    from xor_lightning.cli.config_help import help_lines

    # The help template is a string.Template too: a literal $ (an interpolation shown as is) is $$.
    return help_lines(_root_, command).replace("$", "$$")


# configs/hydra/help/*.yaml: ${xor_keys_help:train} lists every key with its default and meaning.
OmegaConf.register_new_resolver("xor_keys_help", _keys_help, use_cache=False, replace=True)


def config_app(command: str):
    """A @hydra.main app on ``command``'s config whose task is never reached (Hydra answers first)."""

    @hydra.main(version_base="1.3", config_path=config_dir(), config_name=command)
    def app(cfg) -> None:
        raise RuntimeError("config_app only answers --help, --cfg, --info and -sc")

    return app
