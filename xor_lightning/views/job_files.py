"""Reading back what a sweep's jobs wrote (metrics.json, .hydra/overrides.yaml, error.txt, members.csv).

The sweep summary reads every job folder under the sweep folder, and anything may be there by the
time it runs: a file torn by a full disk, edited by hand, replaced by a FIFO, or grown to gigabytes.
So each is read with its size capped before reading and its nesting bounded before parsing
(base/bounded_parse.py), and checked to hold what ``train`` writes; anything else is ``Unreadable``,
whose message names the file and says what is wrong, for that job's row of the summary.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml

from xor_lightning.base.bounded_parse import TooComplex, load_json, load_yaml, read_text_capped

# What train writes is far below these (metrics.json about 1 KB, overrides.yaml a line per override).
MAX_METRICS_BYTES = 1 << 20
MAX_OVERRIDES_BYTES = 1 << 20
MAX_OVERRIDES = 10_000
MAX_ERROR_BYTES = 64 << 10  # error.txt: one exception's message
MAX_MEMBERS_BYTES = 128 << 20  # members.csv: a row of about 40 bytes per member


class Unreadable(ValueError):
    """A job's file is not what train writes; the message names it, for one line."""


def _text(path: Path, max_bytes: int, name: str) -> str:
    try:
        return read_text_capped(path, max_bytes)
    except (OSError, TooComplex, UnicodeDecodeError) as exc:
        raise Unreadable(f"{name}: {_why(exc)}") from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):  # torn by a full disk or a kill, or never JSON
        return f"not valid JSON ({exc.msg}, line {exc.lineno})"
    first = str(exc).strip().splitlines()
    return first[0] if first else type(exc).__name__


def read_overrides(job_dir: Path) -> list[str]:
    """The job's overrides, as Hydra saved them: a YAML list of ``key=value`` words."""
    name = ".hydra/overrides.yaml"
    text = _text(job_dir / ".hydra" / "overrides.yaml", MAX_OVERRIDES_BYTES, name)
    try:
        words = load_yaml(text, 1, MAX_OVERRIDES)
    except (TooComplex, yaml.YAMLError) as exc:
        raise Unreadable(f"{name}: {_why(exc)}") from None
    if words is None:
        return []
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise Unreadable(f"{name}: not a list of overrides (key=value)")
    return words


def read_error(job_dir: Path) -> str | None:
    """The first line of the job's error.txt (what it failed with), None when it has none."""
    path = job_dir / "error.txt"
    if not path.exists():
        return None
    lines = _text(path, MAX_ERROR_BYTES, "error.txt").strip().splitlines()
    return lines[0] if lines else "error.txt is empty"


def _is_int(v: Any, low: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_number(v: Any, optional: bool = False) -> bool:
    return (optional and v is None) or (isinstance(v, (int, float)) and not isinstance(v, bool))


def read_metrics(job_dir: Path) -> dict[str, Any]:
    """The job's metrics.json, checked to hold every value the summary reads, of its type."""
    text = _text(job_dir / "metrics.json", MAX_METRICS_BYTES, "metrics.json")
    try:
        m = load_json(text, max_depth=4)
    except ValueError as exc:  # TooComplex or not JSON
        raise Unreadable(f"metrics.json: {_why(exc)}") from None
    if not isinstance(m, dict):
        raise Unreadable("metrics.json: not a mapping of run results")
    solve = m.get("epochs_to_solve")
    checks = {
        "seeds": _is_int(m.get("seeds"), 1),
        "solved": _is_int(m.get("solved")) and m["solved"] <= m.get("seeds", 0),
        "diverged": _is_int(m.get("diverged")) and m["diverged"] <= m.get("seeds", 0),
        "success_rate": _is_number(m.get("success_rate")),
        "epochs_to_solve": isinstance(solve, dict) and all(_is_number(solve.get(k), True) for k in ("median", "p90")),
        "final_loss": _is_number(m.get("final_loss"), True),
        "wall_seconds": _is_number(m.get("wall_seconds")),
        "causes": isinstance(m.get("causes"), dict) and all(_is_int(n) for n in m["causes"].values()),
        "epochs_trained": _is_int(m.get("epochs_trained")),
    }
    if "test_accuracy" in m:  # a task with a held-out part (a point set): the generalization columns
        test = m["test_accuracy"]
        checks["train_accuracy"] = _is_number(m.get("train_accuracy"))
        checks["test_accuracy"] = isinstance(test, dict) and all(_is_number(test.get(k), True) for k in ("mean", "median"))
        checks["test_loss"] = _is_number(m.get("test_loss"))
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise Unreadable(f"metrics.json: {bad[0]} is {'missing' if bad[0] not in m else 'not valid'} "
                         "(not as train writes it)")
    return m


def read_solved_epochs(job_dir: Path) -> list[int]:
    """The epochs each solved member of members.csv took."""
    text = _text(job_dir / "members.csv", MAX_MEMBERS_BYTES, "members.csv")
    try:
        return [int(r["epochs_to_solve"]) for r in csv.DictReader(io.StringIO(text, newline=""))
                if r["solved"] == "1" and r["epochs_to_solve"]]
    except (KeyError, ValueError, csv.Error) as exc:
        raise Unreadable(f"members.csv: {_why(exc)}") from None
