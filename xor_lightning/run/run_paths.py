"""The folders of one run, all named by the run id (promise: one obvious home per output).

The run id is checked as a name (run_id.py), every folder named by it stays under its root, and
the run holds its checkpoint folder's lock (run_lock.py) for as long as the RunPaths object lives.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from xor_lightning.base.errors import UserError
from xor_lightning.run import run_lock
from xor_lightning.run.reused_run import already_holds
from xor_lightning.run.run_id import check_run_id, inside
from xor_lightning.run.writable import check_folder


@dataclass(frozen=True)
class RunPaths:
    name: str             # run id; "<sweep id>/<job number>" inside a multirun
    output_dir: Path      # Hydra's run dir: .hydra/, train.log, metrics.json, members.csv
    checkpoint_dir: Path  # best.ckpt, last.ckpt
    log_root: Path        # TensorBoard root shared by every run
    log_dir: Path         # this run's TensorBoard events
    # The run's claim on its folders, held as long as this object lives (train() keeps it to the end).
    lock: run_lock.RunLock | None = field(default=None, compare=False, repr=False)


def run_name(cfg: DictConfig) -> str:
    if HydraConfig.initialized():
        hc = HydraConfig.get()
        if hc.mode == RunMode.MULTIRUN:
            return f"{check_run_id(cfg.run_id, job=False)}/{hc.job.num}"
    return check_run_id(cfg.run_id)


def checkpoint_dir(cfg: DictConfig) -> Path:
    return inside(cfg.paths.checkpoint_dir, run_name(cfg), "paths.checkpoint_dir")


def check_free(cfg: DictConfig, ckpt: Path) -> None:
    """Never write into a running run's folder, nor overwrite an earlier run's checkpoints except when
    resuming from one of them (creates nothing; claim_folders then takes the lock)."""
    if not run_lock.held(ckpt):  # held by this very process: a multirun's earlier job was checked
        run_lock.check_not_busy(ckpt, f"run_id={cfg.run_id}")
    if cfg.get("ckpt_path") is None and run_lock.holds_a_run(ckpt):
        raise already_holds(f"run_id={cfg.run_id}", ckpt, str(cfg.run_id))


def claim_folders(cfg: DictConfig, name: str) -> run_lock.RunLock:
    """Lock the run's checkpoint folder: the one precheck took in this process, or a new claim."""
    ckpt = inside(cfg.paths.checkpoint_dir, name, "paths.checkpoint_dir")
    logs = inside(cfg.paths.log_dir, name, "paths.log_dir")
    return run_lock.adopt(ckpt) or run_lock.claim(ckpt, f"run_id={name}", cfg.get("ckpt_path") is not None, logs)


_RUNNING: list[list[run_lock.RunLock]] = []  # the locks taken inside each train() call in progress


def holds_its_folders(train: Callable[..., Any]) -> Callable[..., Any]:
    """Decorates train(): the folder lock run_paths takes during the call is held until the call returns
    or raises, then released (not whenever the garbage collector gets to it: a later run may resume it)."""

    @functools.wraps(train)
    def call(*args: Any, **kwargs: Any) -> Any:
        _RUNNING.append([])
        try:
            return train(*args, **kwargs)
        finally:
            for lock in _RUNNING.pop():
                lock.release()

    return call


def run_paths(cfg: DictConfig) -> RunPaths:
    name = run_name(cfg)
    root = Path(cfg.paths.log_dir)
    # A multirun job's own folders are known only now (precheck checked the sweep's).
    check_folder(root / name, "paths.log_dir", root)
    check_folder(Path(cfg.paths.checkpoint_dir) / name, "paths.checkpoint_dir", cfg.paths.checkpoint_dir)
    lock = claim_folders(cfg, name)
    if _RUNNING:
        _RUNNING[-1].append(lock)
    return RunPaths(name, Path(cfg.paths.output_dir), lock.folder, root, root / name, lock)


def check_run_folder(cfg: DictConfig, multirun: bool) -> None:
    """Refuse a bad run id, or a reused or busy one, before Hydra writes into the run's
    folders (precheck then locks them: a multirun its sweep's folder; each job locks its own as it runs)."""
    name = check_run_id(cfg.run_id, job=not multirun)
    ckpt = inside(cfg.paths.checkpoint_dir, name, "paths.checkpoint_dir")
    check_folder(ckpt, "paths.checkpoint_dir", cfg.paths.checkpoint_dir)
    check_folder(inside(cfg.paths.log_dir, name, "paths.log_dir"), "paths.log_dir", cfg.paths.log_dir)
    check_free(cfg, ckpt)


def check_output_dirs(cfg: DictConfig, multirun: bool) -> None:
    """Hydra's run (or sweep) folder, and paths.output_dir when set to a folder of its own."""
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    try:
        folder = OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
    except OmegaConfBaseException as exc:
        raise unresolved(key, OmegaConf.to_container(cfg.hydra, resolve=False)[key.split(".")[1]]["dir"], exc) from None
    check_folder(folder, key)
    if "${hydra:" not in str(OmegaConf.to_container(cfg.paths, resolve=False)["output_dir"]):
        check_folder(cfg.paths.output_dir, "paths.output_dir")


def unresolved(key: str, raw: str, exc: Exception) -> UserError:
    """One line for a value that does not resolve (``${oc.env:NAME}`` with NAME unset)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    quoted = re.search(r'"(.+)"\s*$', text)  # oc.env: the resolver's own message, quoted
    return UserError(f"{key}={raw}: cannot be resolved ({quoted.group(1) if quoted else text}); "
                     f"set what it refers to, or give {key} a plain value")
