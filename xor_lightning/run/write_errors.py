"""A full disk (or quota, size limit, read-only folder) met while a run writes: one line that names
the folder, the file and the key that sets the folder, wherever the write failed.

Three writers are not ours: Hydra saving the job's config (``.hydra/*.yaml``, before the task
starts), TensorBoard's writer thread (which prints its own traceback, then fails the next log
call with an error that names no file), and logging. Each is taken in hand here.
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


def written_file(exc: OSError) -> str | None:
    """The file a failed write was for: the error's own, or (TensorBoard's gfile names none) the
    ``filename`` its writing frame held."""
    if exc.filename:
        return str(exc.filename)
    for frame in reversed(list(_frames(exc.__traceback__))):
        value = frame.f_locals.get("filename")
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if frame.f_globals.get("__name__", "").startswith("tensorboard") and isinstance(value, str):
            return value
    return None


def _under(path: Path, root: object) -> bool:
    try:
        return path.resolve().is_relative_to(Path(str(root)).resolve())
    except (OSError, RuntimeError):
        return False


def _multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


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
    """Hydra's ``_save_config`` (``.hydra/config.yaml`` and the like), written whole or not at all; a
    refused write is our one line, exit 1, before the job starts."""
    from xor_lightning.base.atomic_io import atomic_write_text

    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(output_dir) / filename, OmegaConf.to_yaml(cfg))
    except OSError as exc:
        if not is_write_error(exc):
            raise
        key = "hydra.sweep.dir" if _multirun() else "hydra.run.dir (paths.output_dir)"
        print(f"error: {describe_write_error(exc, key, exc.filename or str(Path(output_dir) / filename))}",
              file=sys.stderr)
        raise SystemExit(1) from None


def take_writers_in_hand() -> None:
    """Before Hydra runs a job: its config saved whole, TensorBoard's thread quiet, logging's own
    tracebacks (a log file on a full disk) off the console."""
    import logging

    import hydra.core.utils

    hydra.core.utils._save_config = save_config_whole
    logging.raiseExceptions = False
    quiet_tensorboard_thread()
