"""The settings a resumed run takes from its checkpoint's record, as overrides, so that ``run_id=R
ckpt_path=last`` needs nothing retyped. Only the command line's own words win; one that changes the
trajectory is refused afterwards by resume._check_same_settings, in one line.

The record is untrusted data: its settings are written out here as plain values (numbers, booleans,
lists, names checked by the same checks as a command line), never as the words it stored, except
recorded overrides of a few keys that can only change how a run stops or what it shows (SAFE_KEYS),
whose values then pass preflight's checks like typed ones. A setting that cannot be written safely
is left out: the refusal then names it and the command to type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from xor_lightning.base.overrides import key_values

# Keys of the original command line replayed from the record: none names a path, a class or a folder.
SAFE_KEYS = re.compile(r"(early_stop\.(enabled|margin)|trainer\.(min_epochs|gradient_clip_val|gradient_clip_algorithm)"
                       r"|block_epochs|checkpoint\.last_every_n_epochs|visuals\.[a-z_]+|progress\.[a-z_]+)")
_NAME = re.compile(r"[A-Za-z0-9_./-]+")  # a string value written quoted; anything else is left out


def _value(v: Any) -> str | None:
    """``v`` in Hydra's override grammar, or None when it cannot be written safely."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else None
    if isinstance(v, str):
        return f"'{v}'" if _NAME.fullmatch(v) else None
    if isinstance(v, (list, tuple)):
        items = [_value(x) for x in v]
        return None if None in items else "[" + ",".join(items) + "]"
    return None


def _group_choice(section: str, recorded: Mapping) -> str | None:
    from xor_lightning.run.checks import OPTIMIZERS

    if section == "optimizer":
        return OPTIMIZERS.get(recorded.get("_target_"))
    if section in ("loss", "data"):  # a loss by its name (data: a task, once tasks have names)
        return recorded.get("name") if isinstance(recorded.get("name"), str) and _NAME.fullmatch(recorded["name"]) else None
    return None


def from_record(info: Mapping, typed: list[str], now: Mapping) -> list[str]:
    """Overrides for every recorded setting the command line ``typed`` does not give and the composed
    settings ``now`` do not already have."""
    given = key_values(typed)
    out = []
    for override in info.get("overrides", []):
        key = str(override).split("=", 1)[0].lstrip("+")
        if "=" in override and SAFE_KEYS.fullmatch(key) and key not in given:
            out.append(f"++{override.lstrip('+')}")
    for section, recorded in (info.get("settings") or {}).items():
        current = now.get(section)
        if not isinstance(recorded, Mapping):
            if section not in given and recorded != current and _value(recorded) is not None:
                out.append(f"{section}={_value(recorded)}")
            continue
        choice = _group_choice(section, recorded)
        if section in given and given[section] != choice:
            continue  # another group chosen on purpose: the settings check names the difference
        same_group = isinstance(current, Mapping) and choice == _group_choice(section, current)
        if not same_group and section not in given:
            out.append(f"{section}={choice}")
        for key, value in recorded.items():
            if key.startswith("_") or (choice is not None and key == "name") or f"{section}.{key}" in given:
                continue
            if same_group and key in current and current[key] == value:
                continue
            written = _value(value)
            if written is not None:
                out.append(f"++{section}.{key}={written}")
    return out
