"""A full disk (or quota, size limit, read-only folder) met while a run writes: one line that names
the folder, the file and the key that sets the folder, wherever the write failed.

Some writers are not ours: Hydra saving the job's config (``.hydra/*.yaml``, before the task
starts) and a sweep's ``multirun.yaml`` (both reported by Hydra in ten lines), TensorBoard's writer
thread (which prints its own traceback, then fails the next log call with an error that names no
file), and logging. Each is taken in hand here (take_writers_in_hand, before Hydra runs).
"""

from __future__ import annotations

import struct
import sys
import threading
from pathlib import Path
from types import TracebackType

from omegaconf import DictConfig, OmegaConf

from xor_lightning.base.errors import WRITE_ERRORS, describe_write_error


def is_write_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in WRITE_ERRORS


def _frames(tb: TracebackType | None):
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


# The local that names the file in the writing frame of writers whose errors name none:
# TensorBoard's gfile (``filename``, bytes or str) and OmegaConf.save (``f``: Hydra's multirun.yaml).
_FILE_LOCALS = {"tensorboard": "filename", "omegaconf": "f"}


def written_file(exc: OSError) -> str | None:
    """The file a failed write was for: the error's own, or the one its writing frame held."""
    if exc.filename:
        return str(exc.filename)
    for frame in reversed(list(_frames(exc.__traceback__))):
        package = frame.f_globals.get("__name__", "").split(".")[0]
        value = frame.f_locals.get(_FILE_LOCALS.get(package, ""))
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, (str, Path)):
            return str(value)
    return None


def _under(path: Path, root: object) -> bool:
    try:
        return path.resolve().is_relative_to(Path(str(root)).resolve())
    except (OSError, RuntimeError):
        return False


def _multirun() -> bool:
    """From the command line: Hydra's own config says so only once a job runs, not while it sweeps."""
    from xor_lightning.base.overrides import MULTIRUN

    return bool(MULTIRUN.intersection(sys.argv[1:]))


def folder_key(cfg: DictConfig, path: str | Path) -> str | None:
    """The key that chose the folder ``path`` is in: paths.checkpoint_dir, paths.log_dir, the output folder."""
    output = "hydra.sweep.dir" if _multirun() else "hydra.run.dir"
    candidates = (("paths.checkpoint_dir", "paths.checkpoint_dir"), ("paths.log_dir", "paths.log_dir"),
                  ("paths.output_dir", f"paths.output_dir / {output}"))
    for key, shown in candidates:
        root = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        if root is not None and _under(Path(path), root):
            return shown
    return None


def describe(cfg: DictConfig, exc: OSError) -> str:
    """The one line for a refused write, once what the failed write left is whole again (see trim_events)."""
    filename = written_file(exc)
    if filename and Path(filename).name.startswith(EVENTS):
        for events in Path(filename).parent.glob(f"{EVENTS}*"):
            trim_events(events)
    return describe_write_error(exc, folder_key(cfg, filename) if filename else None, filename)


EVENTS = "events.out.tfevents."
_RECORD_HEADER = 12  # a TFRecord: length (8 bytes, little-endian), its CRC (4), the data, the data's CRC (4)


def trim_events(path: Path) -> None:
    """Cut a TensorBoard event file back to its last whole record: an append-only file that a full
    disk stopped mid-record keeps every complete record and loses only the torn one (needs no space)."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as fh:
            end = 0
            while end + _RECORD_HEADER <= size:
                fh.seek(end)
                length = struct.unpack("<Q", fh.read(8))[0]
                if end + _RECORD_HEADER + length + 4 > size:
                    break
                end += _RECORD_HEADER + length + 4
            if end < size:
                fh.truncate(end)
    except OSError:
        pass  # cannot even be opened: nothing more can be done here, the line says what happened


def quiet_tensorboard_thread() -> None:
    """TensorBoard's writer thread re-raises a failed write after keeping it for the next log call:
    its traceback would interleave with our line, which that next call leads to. Other threads'
    errors keep Python's usual report."""
    previous = threading.excepthook
    if getattr(previous, "_quiets_tensorboard", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if type(args.thread).__module__.startswith("tensorboard") and is_write_error(args.exc_value):
            return
        previous(args)

    hook._quiets_tensorboard = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def save_config_whole(cfg: DictConfig, filename: str, output_dir: Path) -> None:
    """Hydra's ``_save_config`` (``.hydra/config.yaml`` and the like), written whole or not at all."""
    from xor_lightning.base.atomic_io import atomic_write_text

    Path(output_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(output_dir) / filename, OmegaConf.to_yaml(cfg))


def _one_line_for_refused_writes(func):
    """Hydra's own writes (the job's .hydra/ files, a sweep's multirun.yaml), refused: our one line and
    exit 1 instead of Hydra's report; the run's own writes were turned into that line already."""
    def run():
        try:
            return func()
        except OSError as exc:
            if not is_write_error(exc):
                raise
            filename = written_file(exc)
            if filename and Path(filename).name == "multirun.yaml":  # OmegaConf.save writes in place
                Path(filename).unlink(missing_ok=True)
            key = "hydra.sweep.dir" if _multirun() else "hydra.run.dir (paths.output_dir)"
            print(f"error: {describe_write_error(exc, key, filename)}", file=sys.stderr)
            raise SystemExit(1) from None

    return run


def take_writers_in_hand() -> None:
    """Before Hydra runs a command: its files saved whole and their refusal in one line, TensorBoard's
    thread quiet, logging's own tracebacks (a log file on a full disk) off the console."""
    import logging

    import hydra._internal.utils
    import hydra.core.utils

    hydra.core.utils._save_config = save_config_whole
    report = hydra._internal.utils.run_and_report
    if not getattr(report, "_one_line_for_refused_writes", False):
        def run_and_report(func):
            return report(_one_line_for_refused_writes(func))

        run_and_report._one_line_for_refused_writes = True  # type: ignore[attr-defined]
        hydra._internal.utils.run_and_report = run_and_report
    logging.raiseExceptions = False
    quiet_tensorboard_thread()
