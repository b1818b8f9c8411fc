"""'did you mean ...?': the nearest valid name for a typo, for the one-line errors."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(word: str, valid: Iterable[str]) -> str | None:
    """The valid name closest to ``word`` (difflib's ratio, at least 0.6), or None if none is close."""
    found = difflib.get_close_matches(str(word), [str(v) for v in valid], n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, valid: Iterable[str], spell=lambda name: name) -> str:
    """``"did you mean X? "`` (X written by ``spell``) when a valid name is close to ``word``, else ``""``."""
    found = nearest(word, valid)
    return f"did you mean {spell(found)}? " if found else ""
