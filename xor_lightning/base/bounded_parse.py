"""YAML and JSON read from untrusted files with what the parser builds bounded *before* it is built.

A file-size bound does not bound a YAML document: an anchor defined once and referenced by aliases
describes as many numbers as the references multiply to (a 45 KB file, 10^9 numbers), and a deeply
nested list ends in a RecursionError, in PyYAML's recursive composer as in the json module. So the
document's event stream (flat, produced without recursion) is scanned first: anchors and aliases are
refused, and nesting depth and node count are bounded; only then is it built. JSON text gets the
same depth bound from a scan of its brackets outside strings before ``json.loads`` sees it.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the same events, 6x faster
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


class TooComplex(ValueError):
    """The text describes more than its reader accepts; the message says what, for one line."""


def _scan_events(text: str, max_depth: int, max_nodes: int) -> None:
    try:
        _count_events(text, max_depth, max_nodes)
    except yaml.MarkedYAMLError as exc:  # libyaml's own bound (1000 levels), met before our count
        if "nesting depth" not in str(exc.problem):
            raise
        raise TooComplex(f"line {exc.problem_mark.line + 1}: nested more than {max_depth} levels deep") from None


def _count_events(text: str, max_depth: int, max_nodes: int) -> None:
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            mark = event.start_mark
            raise TooComplex(f"line {mark.line + 1}: YAML anchors and aliases (&name, *name) are not accepted; "
                             "write every value out")
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > max_nodes:
                raise TooComplex(f"more than {max_nodes} values")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise TooComplex(f"line {event.start_mark.line + 1}: nested more than {max_depth} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load_yaml(text: str, max_depth: int, max_nodes: int) -> Any:
    """``yaml.safe_load(text)`` once the text is known to hold no alias, at most ``max_depth`` levels of
    lists and mappings and at most ``max_nodes`` values. Raises TooComplex or yaml.YAMLError."""
    _scan_events(text, max_depth, max_nodes)
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader: CSafeLoader or SafeLoader)


def json_depth(text: str) -> int:
    """How deep the text's brackets nest outside strings (an over-estimate for text that is not JSON)."""
    steps = (1 if c in "[{" else -1 for c in _STRING.sub("", text) if c in "[]{}")
    return max(accumulate(steps), default=0)


def load_json(text: str, max_depth: int) -> Any:
    """``json.loads(text)`` once its nesting is known to be at most ``max_depth``. Raises TooComplex or ValueError."""
    if json_depth(text) > max_depth:
        raise TooComplex(f"nested more than {max_depth} levels deep")
    return json.loads(text)
