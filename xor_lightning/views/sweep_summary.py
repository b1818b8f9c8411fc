"""One table for a whole multirun: a row per job, written into the sweep folder and printed.

Registered as a Hydra callback (``hydra.callbacks`` in configs/train.yaml), so it works with any
launcher: it only reads what every job leaves in ``<sweep dir>/<num>/`` (``.hydra/overrides.yaml``
and the ``metrics.json`` written by ``train``). A job without ``metrics.json`` is shown as failed, one
whose files are damaged or not what train writes as unreadable, saying which and why (views/job_files.py).

Hydra 1.3 runs every job of a batch even when one raises, but its sweepers then re-raise the first
failure and ``on_multirun_end`` never fires. So ``on_job_end`` records each failure in the job's
folder (``error.txt``), and ``on_multirun_start`` registers an ``atexit`` fallback that writes the
summary when the sweep ends with an error.
"""

from __future__ import annotations

import atexit
import csv
import io
import math
import sys
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from xor_lightning.base.atomic_io import atomic_write, atomic_write_text
from xor_lightning.base.overrides import as_typed, key_values
from xor_lightning.core.causes import CAUSES
from xor_lightning.core.stats import as_steps, survival, wilson_interval
from xor_lightning.views.job_files import Unreadable, read_error, read_metrics, read_overrides, read_solved_epochs
from xor_lightning.views.numbers import epochs, fraction, percent, rate_with_interval

# Why members failed (diagnosis.py): a column per cause.
CAUSE_COLUMNS = [c.replace(" ", "_") for c in CAUSES]
# The generalization question, for a task with a held-out part (a point set; empty for a table): the
# members' mean training and test accuracy, the test accuracy's median, the gap between the means (the
# training accuracy minus the test accuracy) and the mean test loss; diverged members left out.
TEST_COLUMNS = ["train_accuracy", "test_accuracy", "test_accuracy_median", "train_test_gap", "test_loss"]
STAT_COLUMNS = ["status", "solved", "seeds", "success_rate", "ci95_low", "ci95_high",
                "epochs_median", "epochs_p90", "final_loss", *TEST_COLUMNS, "wall_s", *CAUSE_COLUMNS]


class SweepSummary(Callback):
    def __init__(self, enabled: bool = True, plot: bool = True) -> None:
        self.enabled = enabled
        self.plot = plot
        self._sweep_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self.enabled:
            self._sweep_dir = Path(config.hydra.sweep.dir)
            atexit.register(self._summarise)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status != JobStatus.FAILED or job_return.hydra_cfg is None:
            return
        error = job_return._return_value  # the exception; .return_value would re-raise it
        out = Path(job_return.hydra_cfg.hydra.runtime.output_dir)
        text = str(error) if isinstance(error, CompactHydraException) else f"{type(error).__name__}: {error}"
        try:
            atomic_write_text(out / "error.txt", text + "\n")
        except OSError:
            pass  # a full disk: the summary then shows the job as failed without its reason

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.enabled:
            atexit.unregister(self._summarise)
            self._summarise()

    def _summarise(self) -> None:
        if self._sweep_dir is None:
            return
        try:
            rows, keys = summarise(self._sweep_dir, plot=self.plot)
        except OSError as exc:  # a full disk: say so in one line; the jobs' own files are complete
            print(f"error: cannot write the sweep summary in {self._sweep_dir}: {exc.strerror or exc}", file=sys.stderr)
            self._sweep_dir = None
            return
        print(f"\nSweep summary ({len(rows)} jobs, sorted by success rate): {self._sweep_dir}/summary.md")
        print(markdown_table(rows, keys))
        self._sweep_dir = None


def _job_dirs(sweep_dir: Path) -> list[Path]:
    dirs = [d for d in sweep_dir.iterdir() if d.is_dir() and (d / ".hydra" / "overrides.yaml").exists()]
    return sorted(dirs, key=lambda d: (len(d.name), d.name))


def _overrides(job_dir: Path) -> tuple[dict[str, str], str | None]:
    """The job's overrides, or none and what is wrong with its overrides.yaml."""
    try:
        return {k: as_typed(v) for k, v in key_values(read_overrides(job_dir)).items()}, None
    except Unreadable as exc:
        return {}, str(exc)


def job_row(job_dir: Path, unreadable: str | None = None) -> dict[str, Any]:
    """The stats of one job folder: status ok, diverged (every member), failed (with the error), or
    unreadable (which file of the job is damaged, and how)."""
    try:
        if unreadable is None and not (job_dir / "metrics.json").exists():
            return {"job": job_dir.name, "status": f"failed ({read_error(job_dir) or 'no metrics.json'})"}
        m = read_metrics(job_dir) if unreadable is None else {}
    except Unreadable as exc:
        unreadable = str(exc)
    if unreadable is not None:
        return {"job": job_dir.name, "status": f"unreadable ({unreadable})"}
    lo, hi = wilson_interval(m["solved"], m["seeds"])
    return {
        "job": job_dir.name, "status": "diverged" if m["diverged"] == m["seeds"] else "ok",
        "solved": m["solved"], "seeds": m["seeds"],
        "success_rate": m["success_rate"], "ci95_low": lo, "ci95_high": hi,
        "epochs_median": m["epochs_to_solve"]["median"], "epochs_p90": m["epochs_to_solve"]["p90"],
        "final_loss": m["final_loss"], "wall_s": m["wall_seconds"], **test_columns(m),
        **{c.replace(" ", "_"): n for c, n in m["causes"].items() if c in CAUSES},  # an older run may name others
        # The rate of members right at exactly each epoch budget ("" when the job never reached it).
        **{f"right_at_{e}": "" if r is None else r["rate"] for e, r in m.get("right_at_budget", {}).items()},
    }


def _finite(value: Any) -> float | None:
    return None if value is None or value != value else value  # NaN: every member diverged


def test_columns(m: dict[str, Any]) -> dict[str, float | None]:
    """TEST_COLUMNS of a job's metrics.json; none for a task without a held-out part."""
    if "test_accuracy" not in m:
        return {}
    train, test = _finite(m["train_accuracy"]), _finite(m["test_accuracy"]["mean"])
    return {"train_accuracy": train, "test_accuracy": test,
            "test_accuracy_median": _finite(m["test_accuracy"]["median"]),
            "train_test_gap": None if train is None or test is None else train - test,
            "test_loss": _finite(m["test_loss"])}


def budget_columns(rows: list[dict[str, Any]]) -> list[str]:
    """``right_at_N`` for every budget some job has, by epoch."""
    found = {k for r in rows for k in r if k.startswith("right_at_")}
    return sorted(found, key=lambda k: int(k.rsplit("_", 1)[1]))


def job_survival(job_dir: Path) -> tuple[list[int], list[float]] | None:
    """The job's survival curve (stats.survival) from its members.csv and metrics.json, if it has them."""
    try:
        metrics = read_metrics(job_dir)
        return survival(read_solved_epochs(job_dir), metrics["seeds"], metrics["epochs_trained"])
    except Unreadable:
        return None


def varying(overrides: list[dict[str, str]]) -> list[str]:
    """Override keys whose value differs between jobs (all of them for a single job)."""
    keys = list(dict.fromkeys(k for o in overrides for k in o))
    if len(overrides) < 2:
        return keys
    return [k for k in keys if len({o.get(k) for o in overrides}) > 1]


def has_stats(row: dict[str, Any]) -> bool:
    return row["status"] in ("ok", "diverged")  # a diverged population is a result: 0 solved


def _sort_key(row: dict[str, Any]) -> tuple:
    ok = has_stats(row)
    epochs = row.get("epochs_median")
    return (not ok, -row.get("success_rate", 0.0), math.inf if epochs is None else epochs, len(row["job"]), row["job"])


def summarise(sweep_dir: Path, plot: bool = True) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (sorted by success rate) and the varying override keys; writes summary.csv/.md/.png."""
    sweep_dir = Path(sweep_dir)
    dirs = _job_dirs(sweep_dir)
    read = [_overrides(d) for d in dirs]
    overrides = [o for o, _ in read]
    keys = varying(overrides)
    rows = [{**{k: o.get(k, "") for k in keys}, **job_row(d, bad)} for d, o, (_, bad) in zip(dirs, overrides, read)]
    rows.sort(key=_sort_key)
    write_csv(sweep_dir / "summary.csv", rows, keys)
    atomic_write_text(sweep_dir / "summary.md", markdown_table(rows, keys) + "\n")
    if plot and any(has_stats(r) for r in rows):
        plot_summary(sweep_dir / "summary.png", rows, keys, {d.name: c for d in dirs if (c := job_survival(d))})
    return rows, keys


def write_csv(path: Path, rows: list[dict[str, Any]], keys: list[str]) -> None:
    text = io.StringIO(newline="")
    out = csv.DictWriter(text, fieldnames=["job", *keys, *STAT_COLUMNS, *budget_columns(rows)], restval="")
    out.writeheader()
    out.writerows(rows)
    atomic_write_text(path, text.getvalue())


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 10 ** digits else f"{value:.{digits}g}"  # 1150, not 1.15e+03
    return str(value)


def _share(value: float | None) -> str:
    return "-" if value is None else percent(value)


def _test_cells(r: dict[str, Any]) -> list[str]:
    """Train vs test: mean accuracies, the test median, the gap in percentage points, the test loss."""
    gap = r.get("train_test_gap")
    return [_share(r.get("train_accuracy")), _share(r.get("test_accuracy")), _share(r.get("test_accuracy_median")),
            _points(gap), _fmt(r.get("test_loss"))]


def _points(gap: float | None) -> str:
    """The gap in percentage points, signed; a gap too small for one decimal keeps its first digit (-0.004 pp)."""
    if gap is None:
        return "-"
    text = f"{gap * 100:+.1f}"
    return f"{text if gap == 0 or float(text) != 0 else f'{gap * 100:+.1g}'} pp"


TEST_HEAD = ["train acc", "test acc", "test acc median", "train-test gap", "test loss"]


def markdown_table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    causes = [c for c in CAUSE_COLUMNS if any(r.get(c) for r in rows)]  # only causes some job has
    budgets = budget_columns(rows)
    tested = any("test_accuracy" in r for r in rows)  # a task with a held-out part: its columns
    head = ["job", *keys, "solved/seeds", "success rate [95% CI]", "median epochs", "p90 epochs", "mean final loss",
            *(TEST_HEAD if tested else []), "wall s", *(c.replace("_", " ") for c in causes),
            *(f"right at {b.rsplit('_', 1)[1]}" for b in budgets)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["job"], *(r[k] for k in keys)]
        if has_stats(r):
            cells += [
                f"{r['solved']}/{r['seeds']}" + (" (all diverged)" if r["status"] == "diverged" else ""),
                rate_with_interval(r["success_rate"], r["ci95_low"], r["ci95_high"]),
                epochs(r["epochs_median"]), epochs(r["epochs_p90"]), _fmt(r["final_loss"]),
                *(_test_cells(r) if tested else []), _fmt(r["wall_s"]),
                *(str(r.get(c, "-")) for c in causes),
                *(fraction(r[b]) if isinstance(r.get(b), float) else "-" for b in budgets),
            ]
        else:
            cells += [r["status"], "-", "-", "-", "-", *("-" for _ in TEST_HEAD if tested), "-",
                      *("-" for _ in causes), *("-" for _ in budgets)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def _number(text: str) -> float | None:
    """'0.5' -> 0.5, '[8]' -> 8.0 (a one-layer width); None when not a single number."""
    try:
        return float(text.strip("[]"))
    except ValueError:
        return None


def plot_summary(path: Path, rows: list[dict[str, Any]], keys: list[str], curves: dict[str, tuple] | None = None) -> None:
    """Top: success rate (95% CI) per job: against the value when one numeric key varies, heat maps
    for a full grid of two or three keys (one panel per value of the third), else bars. Bottom: each
    job's survival curve (members not yet solved against epochs), when ``curves`` has them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if has_stats(r)]
    xs = [_number(str(r[keys[0]])) for r in ok] if len(keys) == 1 else [None]
    grid = _grid(ok, keys)
    panels = len(grid[2]) if grid else 1
    top_height = 4 if None not in xs or grid else 1.2 + 0.28 * len(ok)
    curves = {job: c for job, c in (curves or {}).items() if any(r["job"] == job for r in ok)}
    # The survival legend sits below its plot, so the top row (and a heat map's colour bar) has the full width.
    fig = plt.figure(figsize=(max(7, 3.6 * panels + 1), top_height + (4.4 if curves else 0)), layout="constrained")
    spec = fig.add_gridspec(2 if curves else 1, panels, height_ratios=[top_height, 4.4] if curves else None)
    if None not in xs:
        _plot_against(fig.add_subplot(spec[0, :]), ok, xs, keys[0])
    elif grid:
        _heat_maps(fig, [fig.add_subplot(spec[0, i]) for i in range(panels)], ok, keys, grid)
    else:
        _bars(fig.add_subplot(spec[0, :]), ok, keys)
    if curves:
        _survival(fig.add_subplot(spec[1, :]), ok, keys, curves)
    try:
        atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=100))
    finally:
        plt.close(fig)


def _label(row: dict[str, Any], keys: list[str]) -> str:
    return " ".join(f"{k.rsplit('.', 1)[-1]}={row[k]}" for k in keys) or row["job"]


def _bars(ax, ok: list[dict[str, Any]], keys: list[str]) -> None:
    rates = [r["success_rate"] for r in ok]
    # max(0, .): at 0/n and n/n the bound equals the rate up to rounding
    err = [[max(0.0, r["success_rate"] - r["ci95_low"]) for r in ok],
           [max(0.0, r["ci95_high"] - r["success_rate"]) for r in ok]]
    ax.barh(range(len(ok)), rates, xerr=err, color="tab:blue", ecolor="black", capsize=2, label="success rate")
    tested = [(i, r["test_accuracy_median"]) for i, r in enumerate(ok) if r.get("test_accuracy_median") is not None]
    if tested:
        ax.plot([t for _, t in tested], [i for i, _ in tested], "D", color="tab:orange", label="test accuracy (median)")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_yticks(range(len(ok)), [_label(r, keys) for r in ok], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("success rate (95% Wilson interval)" + (", median test accuracy" if tested else ""))


def _grid(ok: list[dict[str, Any]], keys: list[str]) -> tuple[list[str], list[str], list[str]] | None:
    """The values of rows, columns and panels when two or three keys vary over a full grid."""
    if len(keys) not in (2, 3):
        return None
    values = [list(dict.fromkeys(str(r[k]) for r in ok)) for k in keys] + ([[""]] if len(keys) == 2 else [])
    cells = {tuple(str(r[k]) for k in keys) for r in ok}
    full = len(cells) == len(ok) == len(values[0]) * len(values[1]) * len(values[2])
    return (values[0], values[1], values[2]) if full else None


def _heat_maps(fig, axes, ok: list[dict[str, Any]], keys: list[str], grid) -> None:
    """One cell per job: coloured by its success rate, the rate and its 95% interval written in it."""
    rows, cols, panels = grid
    by_cell = {tuple(str(r[k]) for k in keys): r for r in ok}
    image = None
    for ax, panel in zip(axes, panels):
        cell = [[by_cell[(a, b, panel) if panel else (a, b)] for b in cols] for a in rows]
        image = ax.imshow([[r["success_rate"] for r in line] for line in cell], vmin=0, vmax=1, cmap="viridis",
                          aspect="auto")
        for i, line in enumerate(cell):
            for j, r in enumerate(line):
                text = f"{fraction(r['success_rate'], 2)}\n[{fraction(r['ci95_low'], 2)}, {fraction(r['ci95_high'], 2)}]"
                if r.get("test_accuracy_median") is not None:  # a point set: how it does on the held-out points
                    text += f"\ntest {percent(r['test_accuracy_median'], 0)}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="black" if r["success_rate"] > 0.6 else "white")
        ax.set_xticks(range(len(cols)), cols, fontsize=8, rotation=30)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xlabel(keys[1], fontsize=9)
        ax.set_ylabel(keys[0], fontsize=9)
        tested = any(r.get("test_accuracy_median") is not None for r in ok)
        ax.set_title((f"{keys[2]}={panel}" if panel else "success rate") + ("; test: median test accuracy" if tested else ""),
                     fontsize=10)
    fig.colorbar(image, ax=axes[-1], fraction=0.08, pad=0.04, label="success rate [95% interval]")


def _short(row: dict[str, Any], keys: list[str]) -> str:
    """The job's values of the varying keys, 'elu, mse, adam' (the legend's title names the keys)."""
    return ", ".join(str(row[k]) for k in keys) or row["job"]


def _curve_groups(order: list[dict[str, Any]], keys: list[str], curves: dict[str, tuple]) -> list[tuple[str, list]]:
    """Jobs with the very same curve (e.g. every job that solved no member) as one entry, labelled
    with the values they share and '*' for the rest: (label, jobs), in the order of ``order``."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in order:
        epochs, left = curves[r["job"]]
        groups.setdefault((tuple(epochs), tuple(round(v, 6) for v in left)), []).append(r)
    out = []
    for rows in groups.values():
        if len(rows) == 1:
            out.append((_short(rows[0], keys), rows))
            continue
        shared = [str(rows[0][k]) if len({str(r[k]) for r in rows}) == 1 else "*" for k in keys]
        never = all(v == 1.0 for v in curves[rows[0]["job"]][1])
        what = f"{len(rows)} jobs, {'none solved' if never else 'the same curve'}"
        out.append((what if set(shared) == {"*"} else f"{', '.join(shared)}: {what}", rows))
    return out


def named_curves(entries: int) -> set[int]:
    """Which legend entries (best first) are named: all of up to 10, else 6 spread from best to worst."""
    return set(range(entries)) if entries <= 10 else {round(i * (entries - 1) / 5) for i in range(6)}


def _survival(ax, ok: list[dict[str, Any]], keys: list[str], curves: dict[str, tuple]) -> None:
    """One step line per job. Jobs with the same curve are one entry; with more than 10 entries six
    are named, spread evenly from the best to the worst success rate, and the rest drawn faint."""
    order = [r for r in ok if r["job"] in curves]
    groups = _curve_groups(order, keys, curves)
    named = named_curves(len(groups))
    for n, (label, rows) in enumerate(groups):
        shown = n in named
        xs, ys = as_steps(*curves[rows[0]["job"]])
        ax.plot(xs, ys, linewidth=1.6 if shown else 0.7, alpha=1.0 if shown else 0.35,
                label=label if shown else None, color=None if shown else "gray", zorder=3 if shown else 2)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("members not yet solved")
    more = "" if len(named) == len(groups) else f"; {len(named)} of {len(groups)} named, from best to worst, the rest grey"
    ax.set_title(f"survival: the fraction of members not yet solved{more}", fontsize=10)
    ax.legend(fontsize=7, title=", ".join(keys) or None, title_fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.18), ncol=min(3, len(named)))
    ax.grid(alpha=0.3)


def _plot_against(ax, ok: list[dict[str, Any]], xs: list[float], key: str) -> None:
    order = sorted(range(len(ok)), key=lambda i: xs[i])
    x = [xs[i] for i in order]
    r = [ok[i] for i in order]
    ax.plot(x, [j["success_rate"] for j in r], "o-", color="tab:blue", label="success rate")
    ax.fill_between(x, [j["ci95_low"] for j in r], [j["ci95_high"] for j in r], color="tab:blue", alpha=0.2)
    if any(j.get("test_accuracy_median") is not None for j in r):  # a point set: the held-out accuracy beside it
        ax.plot(x, [math.nan if j.get("test_accuracy_median") is None else j["test_accuracy_median"] for j in r],
                "D-", color="tab:orange", label="test accuracy (median)")
        ax.legend(fontsize=7, loc="lower left")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(key)
    ax.set_ylabel("success rate (95% CI)", color="tab:blue")
    if min(x) > 0 and max(x) / min(x) >= 20:
        ax.set_xscale("log", base=2 if all(v == int(v) for v in x) else 10)
    twin = ax.twinx()
    twin.plot(x, [math.nan if j["epochs_median"] is None else j["epochs_median"] for j in r], "s--", color="tab:red")
    twin.plot(x, [math.nan if j["epochs_p90"] is None else j["epochs_p90"] for j in r], "^:", color="tab:red")
    twin.set_ylabel("epochs to solve: median (--), p90 (..)", color="tab:red")
