"""What each config key means, read from the comment beside it in configs/*.yaml.

The YAML files are the one source of truth: ``key: value  # what it does`` (a comment line indented
deeper than the key continues it). ``train --help`` prints one line per key from here, and a test
fails when a key in any config file has no comment.
"""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from xor_lightning.base.config_dir import config_dir

_KEY = re.compile(r"^(\s*)([A-Za-z_][\w.\-]*)\s*:(.*)$")


def _split_comment(rest: str) -> tuple[str, str]:
    """(value, comment) of what follows ``key:``; a '#' inside quotes is part of the value."""
    quote = None
    for i, ch in enumerate(rest):
        if ch in "'\"":
            quote = None if quote == ch else (quote or ch)
        elif ch == "#" and quote is None and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].strip(), rest[i + 1:].strip()
    return rest.strip(), ""


def file_descriptions(path: Path, package: str) -> dict[str, str]:
    """``{dotted key: comment}`` for every key of one YAML file, keys prefixed with ``package``."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the mappings that enclose the current line
    last: tuple[int, str] | None = None  # the key a deeper comment line continues
    for line in path.read_text().splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.startswith("#"):
            if last and indent > last[0] and last[1] in out:
                out[last[1]] += " " + stripped.lstrip("#").strip()
            else:
                last = None
            continue
        m = _KEY.match(line)
        if not m or stripped.startswith("- "):
            last = None
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([package] * bool(package) + [k for _, k in stack] + [m.group(2)])
        value, comment = _split_comment(m.group(3))
        if comment:
            out[dotted] = comment
        last = (indent, dotted)
        if not value:
            stack.append((indent, m.group(2)))
    return out


def _package(path: Path, group: str) -> str:
    head = path.read_text().splitlines()[:3]
    return "" if any("@package _global_" in line for line in head) else group.replace("/", ".")


def descriptions(command: str, choices: dict[str, str] | None = None) -> dict[str, str]:
    """Descriptions of ``command``'s keys with the given group choices (a group: all its options)."""
    root = Path(config_dir())
    out = file_descriptions(root / f"{command}.yaml", "")
    # configs/networks holds weight files (weights_file.py): data, not config groups.
    for group_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in ("hydra", "experiment", "networks")):
        group = group_dir.name
        chosen = (choices or {}).get(group)
        for option in sorted(group_dir.glob("*.yaml")):
            if chosen is None or option.stem == chosen:
                out = {**file_descriptions(option, _package(option, group)), **out}
    return {k: v for k, v in out.items() if not k.startswith("hydra.") and k != "defaults"}


def leaf_keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    """Dotted keys of the values in ``cfg`` (lists and empty mappings are values), hydra's left out."""
    keys = []
    for key in cfg.keys():
        dotted = f"{prefix}{key}"
        if dotted == "hydra" or str(key).startswith("_"):
            continue
        node = cfg._get_node(key)
        if isinstance(node, DictConfig) and len(node) and not node._is_missing() and not node._is_none():
            keys.extend(leaf_keys(node, dotted + "."))
        else:
            keys.append(dotted)
    return keys


def describe(key: str, known: dict[str, str]) -> str:
    """A key's description; a key added with +KEY takes the nearest described parent's, marked as such."""
    if key in known:
        return known[key]
    parts = key.split(".")
    for n in range(len(parts) - 1, 0, -1):
        parent = ".".join(parts[:n])
        if parent in known:
            return f"(added; under {parent}: {known[parent]})"
    return "(added on the command line)"


def help_lines(cfg: DictConfig, command: str) -> str:
    """``KEY=DEFAULT  what it does``, one line per key of the composed ``cfg``."""
    choices = OmegaConf.to_container(cfg.hydra.runtime.choices) if "hydra" in cfg else None
    known = descriptions(command, choices)
    rows = []
    for key in leaf_keys(cfg):
        node = OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
        value = _show(cfg, key, node)
        rows.append((f"{key}={value}", describe(key, known)))
    width = min(max(len(left) for left, _ in rows), 36)  # a longer KEY=VALUE pushes its own text right
    return "\n".join(f"  {left:<{width}}  {right}" for left, right in rows)


def _show(cfg: DictConfig, key: str, node) -> str:
    parent, _, leaf = key.rpartition(".")
    container = OmegaConf.select(cfg, parent) if parent else cfg
    raw = container._get_node(leaf)
    if raw._is_interpolation() or raw._is_missing():
        return str(raw._value())
    if isinstance(node, (DictConfig, ListConfig)):
        return re.sub(r"\s+", "", str(OmegaConf.to_container(node))) if isinstance(node, ListConfig) else "{}"
    return "null" if node is None else str(node).lower() if isinstance(node, bool) else str(node)
