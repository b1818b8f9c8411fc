"""How rates and epoch counts are printed, the same way in every table, line and picture.

A rate is rounded to the digits asked for, plus as many more as it takes for a value that is not
exactly 0 or 1 never to read as one: 2,999 of 3,000 solved prints ``99.97%``, never ``100.0%``, and
its interval's upper bound ``99.99%``, never ``100%``. Epoch statistics (stats.percentile) print as
computed: ``674.5`` everywhere, not ``674.5`` in one place and ``674`` in another.
"""

from __future__ import annotations

MAX_EXTRA_DIGITS = 6  # closer than that to an end, the distance from it is printed instead


def fraction(value: float, digits: int = 3) -> str:
    """``value`` (in [0, 1]) with ``digits`` decimals, more when it would round to 0 or 1 without being it."""
    return _decimals(value, digits, 1.0)


def percent(value: float, digits: int = 1) -> str:
    """``value`` (a fraction in [0, 1]) as a percentage with ``digits`` decimals, more when it would
    round to 0% or 100% without being it."""
    return _decimals(value, digits, 100.0) + "%"


def rate_with_interval(value: float, low: float, high: float, digits: int = 3) -> str:
    """``0.9997 [0.9981, 0.99994]``: the rate and its 95% interval, none rounded onto an end it is not."""
    return f"{fraction(value, digits)} [{fraction(low, digits)}, {fraction(high, digits)}]"


def epochs(value: float | None) -> str:
    """An epoch statistic as computed (``-`` when no member solved): ``29``, ``29.5``, ``53.3``."""
    if value is None:
        return "-"
    return f"{round(value, 1):g}" if abs(value) < 1e6 else f"{value:.0f}"


def _decimals(value: float, digits: int, scale: float) -> str:
    if value != value:  # NaN
        return "nan"
    for d in range(digits, digits + MAX_EXTRA_DIGITS + 1):
        text = f"{value * scale:.{d}f}"
        if value in (0.0, 1.0) or float(text) not in (0.0, scale):
            return text
    return f"{value * scale:.1e}" if value < 0.5 else f"{scale:g} - {(1 - value) * scale:.1e}"
