"""Where the YAML configs live: inside the installed package (wheel) or at the checkout root."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parents[1]  # the package folder (this file is in base/)


def config_dir() -> str:
    # A wheel ships them as xor_lightning/configs; a checkout (or editable install) has ./configs.
    for candidate in (_HERE / "configs", _HERE.parent / "configs"):
        if (candidate / "train.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(f"no configs/train.yaml next to {_HERE}: the installation is incomplete")
