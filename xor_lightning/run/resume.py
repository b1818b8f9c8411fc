"""Resuming a run: ``ckpt_path=PATH`` (any checkpoint of ours) or ``ckpt_path=last`` with ``run_id=ID``.

A resumed run keeps the original run id (so it writes into the same checkpoints/ and logs/ folders)
and must use the settings the checkpoint was trained with; anything else would not continue the
same trajectory. The checkpoint records its run id, its ``trainer.max_epochs`` and the
command-line overrides that made it. The recorded run id is checked as a name (never a path), and
a checkpoint of run A only ever continues run A's folders.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from xor_lightning.base.errors import UserError
from xor_lightning.run.checkpoint_sections import check_sections
from xor_lightning.run.checkpoints import RUN_KEY, SAME, settings
from xor_lightning.run.run_id import RULE, check_run_id
from xor_lightning.run.run_paths import run_name

MAX_EPOCHS = "trainer.max_epochs"


@lru_cache(maxsize=4)
def _summary(path: str, key: str, identity: tuple) -> dict[str, Any]:
    """The small facts resuming needs, read once per file version (``identity``: inode, size, mtime)."""
    from xor_lightning.run.checkpoints import epochs_done, read_checkpoint

    ckpt = read_checkpoint(path, key)
    info = ckpt.get(RUN_KEY)
    if "optimizer_states" in ckpt:  # a training state: every section a resume restores is checked now
        check_sections(ckpt, Path(path), key, RUN_KEY)
    return {"info": info if isinstance(info, dict) else {}, "epochs_done": epochs_done(ckpt),
            "seeds": ckpt["hyper_parameters"]["seeds"], "weights_only": "optimizer_states" not in ckpt,
            "budgets": sorted(set(ckpt["hyper_parameters"].get("budgets") or []))}


def checkpoint_summary(path: str | Path, key: str = "ckpt_path") -> dict[str, Any]:
    """Run record, epochs done and population size of a checked checkpoint (UserError if it is not one)."""
    try:
        st = os.stat(path)
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        identity = ()
    return _summary(str(path), key, identity)


def read_run_info(path: str | Path) -> dict[str, Any]:
    """The run record of a checkpoint ({} when it has none or is not a checkpoint of ours)."""
    try:
        return checkpoint_summary(path)["info"]
    except UserError:
        return {}


def recorded_run_id(ckpt_path: str | None) -> str | None:
    """The run id a checkpoint file records, when it is a valid name (resume_path explains a bad one)."""
    if ckpt_path in (None, "null", "last") or not Path(ckpt_path).is_file():
        return None
    try:
        return check_run_id(read_run_info(ckpt_path).get("run_id"))
    except UserError:
        return None


def _checkpoint_file(cfg: DictConfig, checkpoint_dir: Path) -> Path:
    if cfg.ckpt_path == "last":
        path = checkpoint_dir / "last.ckpt"
        if not path.is_file():
            raise UserError(f"ckpt_path=last: {path} does not exist; give run_id=<the run to resume> or ckpt_path=PATH")
        return path
    return Path(str(cfg.ckpt_path))


def resume_path(cfg: DictConfig, checkpoint_dir: Path) -> Path | None:
    """The checkpoint to resume from (checked), or None for a fresh run."""
    if cfg.get("ckpt_path") is None:
        return None
    path = _checkpoint_file(cfg, checkpoint_dir)
    summary = checkpoint_summary(path)  # one-line errors for missing/unreadable/foreign files
    info = summary["info"]
    if summary["weights_only"]:
        raise UserError(f"ckpt_path={path}: holds weights only (best.ckpt: each member's best, from its own epoch), "
                        f"no training state to continue; resume from last.ckpt in the same folder")
    if not info or not isinstance(info.get("settings"), dict):
        raise UserError(f"ckpt_path={path}: this checkpoint has no run record (written by an older version); cannot resume it")
    _check_owner(cfg, path, info)
    _check_same_settings(cfg, path, info)
    _check_epochs(cfg, path, info, summary["epochs_done"])
    _check_budgets(cfg, path, summary["budgets"])
    return path


def _check_budgets(cfg: DictConfig, path: Path, recorded: list[int]) -> None:
    """A resumed run keeps its budgets: the verdicts at those already passed are in the checkpoint."""
    given = sorted(set(cfg.get("budgets") or []))
    if given != recorded:
        raise UserError(f"budgets={given}: ckpt_path={path} was trained with budgets={recorded}; a resumed run keeps "
                        f"its own budgets (leave budgets out)")


def _check_owner(cfg: DictConfig, path: Path, info: dict[str, Any]) -> None:
    """A checkpoint of run A continues run A's folders only (and its recorded id must be a name)."""
    try:
        owner = check_run_id(info.get("run_id"), "run id")
    except UserError:
        raise UserError(f"ckpt_path={path}: the run id it records, {str(info.get('run_id'))[:60]!r}, is not valid: {RULE}; "
                        f"a checkpoint never decides where a run writes, so it cannot be resumed "
                        f"(python -m xor_lightning evaluate checkpoint={path} still reads it)") from None
    name = run_name(cfg)
    if owner != name:
        raise UserError(f"ckpt_path={path}: it belongs to run {owner}, not run_id={name}; a resumed run continues its "
                        f"own folders: leave run_id out (or give run_id={owner}), or start a fresh run without ckpt_path")


def _recorded_settings(info: dict[str, Any]) -> dict[str, Any]:
    """The record's settings, with what a key added later meant before it existed: ``loss.input``
    was the loss's own default."""
    from xor_lightning.core.losses import LOSSES, consumes

    recorded = dict(info["settings"])
    loss = recorded.get("loss")
    if isinstance(loss, dict) and "input" not in loss and loss.get("name") in LOSSES:
        recorded["loss"] = {**loss, "input": consumes(loss["name"])}
    return recorded


def _check_same_settings(cfg: DictConfig, path: Path, info: dict[str, Any]) -> None:
    from xor_lightning.core.task import DEFAULT

    now = settings(cfg)
    then = _recorded_settings(info)
    for key in SAME:
        then_key = then.get(key)
        if key == "data" and isinstance(then_key, dict) and "name" not in then_key:
            then_key = {"name": DEFAULT, **then_key}  # recorded before tasks: xor
        diff = _first_difference(then_key, now[key], key)
        if diff:
            name, then, given = diff
            raise UserError(
                f"ckpt_path={path}: it was trained with {name}={then!r}, not {given!r}; a resumed run takes its "
                f"settings from its checkpoint: leave out what sets {name} (or start a fresh run "
                f"without ckpt_path)"
            )


def _check_epochs(cfg: DictConfig, path: Path, info: dict[str, Any], done: int) -> None:
    given = cfg.trainer.max_epochs
    if isinstance(given, int) and given < done:
        own = recorded_max_epochs(info)
        hint = f" (leave it out to use the run's own {own})" if own and own >= done else ""
        raise UserError(f"{MAX_EPOCHS}={given}: ckpt_path={path} has already trained {done} epochs; "
                        f"give {MAX_EPOCHS} >= {done}{hint}")


def recorded_max_epochs(info: dict[str, Any]) -> int | None:
    """The run's own trainer.max_epochs: recorded since this version, else from its overrides."""
    value = info.get("max_epochs")
    if value is None:
        for o in info.get("overrides", []):
            if str(o).lstrip("+").startswith(f"{MAX_EPOCHS}="):
                value = str(o).split("=", 1)[1]
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def resume_defaults(cfg: DictConfig, overrides: list[str], checkpoint_dir: Path) -> list[str]:
    """Overrides a resumed run takes from its own record unless the command line gives them: its
    settings (resume_overrides.py), ``trainer.max_epochs`` (so ``run_id=<run> ckpt_path=last``
    continues a run of 200 seeds past the default 1000 epochs without retyping a word) and ``budgets``."""
    from xor_lightning.run.resume_overrides import from_record

    if cfg.get("ckpt_path") is None:
        return []
    try:
        summary = checkpoint_summary(_checkpoint_file(cfg, checkpoint_dir))
    except UserError:
        return []  # resume_path says what is wrong with it
    info = summary["info"]
    given = [o.lstrip("+~").split("=", 1)[0] for o in overrides]
    extra = from_record(info, overrides, settings(cfg))
    own = recorded_max_epochs(info)
    if MAX_EPOCHS not in given and own is not None and own != cfg.trainer.max_epochs:
        extra.append(f"{MAX_EPOCHS}={own}")
    if "budgets" not in given and summary["budgets"] != sorted(set(cfg.get("budgets") or [])):
        extra.append(f"budgets=[{','.join(map(str, summary['budgets']))}]")  # and its own epoch budgets
    return extra


def _first_difference(then: Any, now: Any, key: str) -> tuple[str, Any, Any] | None:
    if isinstance(then, dict) and isinstance(now, dict):
        for k in sorted(set(then) | set(now)):
            diff = _first_difference(then.get(k), now.get(k), f"{key}.{k}")
            if diff:
                return diff
        return None
    return None if then == now else (key, then, now)
