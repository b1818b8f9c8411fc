"""One line of ours for an override Hydra's grammar cannot read (``run_id=$'a\\nb'``, ``model.hidden=[8``,
``run_id=it's``), instead of the parser's ``LexerNoViableAltException: run_id=a`` and a caret line."""

from __future__ import annotations

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from xor_lightning.run.run_id import RULE as RUN_ID_RULE

_RESERVED = "( ) [ ] { } , = : ' \" \\, spaces or newlines"
_PAIRS = {"[": "]", "{": "}", "(": ")"}
_OPENING = {close: opening for opening, close in _PAIRS.items()}


def parse_all(overrides: list[str]) -> list:
    """Hydra's parsed overrides; an unreadable one raises ValueError with our one-line message."""
    parser = OverridesParser.create()
    try:
        return parser.parse_overrides(overrides)
    except HydraException:
        for override in overrides:
            try:
                parser.parse_override(override)
            except HydraException:
                raise ValueError(unreadable(override)) from None
        raise ValueError(f"the overrides cannot be read together: {' '.join(map(repr, overrides))}") from None


def _key_readable(key: str) -> bool:
    try:
        OverridesParser.create().parse_override(f"{key}=1")
    except HydraException:
        return False
    return True


def _why(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "it holds a newline or another control character outside quotes"
    for quote in ("'", '"'):
        if value.count(quote) % 2:
            return f"it has an unclosed {quote} (a quote inside a value is escaped as \\{quote} inside quotes)"
    depth: list[str] = []
    for c in value:
        if c in _PAIRS:
            depth.append(_PAIRS[c])
        elif c in _PAIRS.values() and (not depth or depth.pop() != c):
            return f"it has an unmatched {c}"
    if depth:
        return f"it has an unclosed {_OPENING[depth[-1]]}"
    return f"it uses characters the override grammar reserves ({_RESERVED}) outside quotes"


def unreadable(override: str) -> str:
    key, eq, value = override.partition("=")
    name = key.lstrip("+~")
    if not eq or not _key_readable(key):
        return (f"{override!r} is not KEY=VALUE with a key of dotted names (model.hidden=[8], "
                f"+trainer.KEY=VALUE, ~KEY); see python -m xor_lightning train --help")
    valid = (RUN_ID_RULE if name == "run_id" else
             f"a value with {_RESERVED} goes in quotes ({name}='a, b'); a list is [a,b], a sweep a,b with -m")
    return f"{name}={value!r} cannot be read: {_why(value)}; {valid}"
