"""Checkpoints, written and read in one place.

Written while a run trains, between blocks of epochs, always through AtomicCheckpointIO (a file is
complete or untouched):

- ``best.ckpt``: each member's own best weights (lowest own full-table loss, checked every epoch)
  as the network's weights, so loading it gives the networks to evaluate. Written by Lightning's
  ModelCheckpoint together with last.ckpt and when training ends, if some member found a new best
  since (the module counts such blocks in ``best/version``), not once per improving epoch. Weights
  only: its members come from different epochs, so it is no state to continue training from.
- ``last.ckpt``: the whole training state (optimizer too) every ``every`` table epochs, so a kill -9
  loses at most that many; ``train()`` writes the final one after fit.
- Both record the run (RunInfo: run id, overrides, max_epochs, trajectory settings) for resuming.

Read back as untrusted data (docs/design.md, promise 10). Before anything is built from a file: only a
regular file is opened (a FIFO would block, /dev/zero never ends), its size is bounded by the
memory available, the zip index and every member's CRC are checked, torch unpickles it with
``weights_only=True`` (no code runs), and its hyper-parameters are checked like a config and
against the shapes of the tensors the file really holds, so a small file cannot make the
program allocate a population it does not contain. Where a run writes is never read from it.
"""

from __future__ import annotations

import inspect
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO

from xor_lightning.base.atomic_io import atomic_save
from xor_lightning.base.errors import UserError
from xor_lightning.core.facts import NOT_MINE, TRAIL
from xor_lightning.core.members import MemberTable, budget_union
from xor_lightning.core.module import XORModule
from xor_lightning.core.nets import weights_from_checkpoint

# ---- writing ----

RUN_KEY = "xor_lightning_run"
# Config sections that decide the trajectory; a resumed run must match the checkpoint on them.
SAME = ("model", "loss", "optimizer", "seed", "seeds", "data")


def settings(cfg: DictConfig) -> dict[str, Any]:
    """The trajectory-deciding part of ``cfg`` as plain values."""
    return {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k] for k in SAME}


def task_overrides() -> list[str]:
    """The command-line overrides of this job (empty outside Hydra)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


class RunInfo(pl.Callback):
    """Stores the run id, the overrides, max_epochs and the trajectory settings in every checkpoint."""

    def __init__(self, run_id: str, cfg: DictConfig) -> None:
        keep = [o for o in task_overrides() if not o.startswith(("ckpt_path=", "run_id="))]
        self.info = {"run_id": run_id, "overrides": keep, "max_epochs": int(cfg.trainer.max_epochs),
                     "settings": settings(cfg)}

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[RUN_KEY] = self.info


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes whole files (atomic_save); reads for a resume through our checked reader and hands
    Lightning a checkpoint rebuilt section by section (checkpoint_sections.py), never the file's own."""

    trainer: pl.Trainer | None = None  # set by build_trainer: the template a resumed file must match

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        atomic_save(checkpoint, path)

    def load_checkpoint(self, path: str | Path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        from xor_lightning.run.checkpoint_sections import for_resume

        if self.trainer is None:
            raise RuntimeError("AtomicCheckpointIO reads only for a resume (build_trainer sets its trainer)")
        return for_resume(read_checkpoint(path, "ckpt_path"), Path(path), "ckpt_path", self.trainer, BestCheckpoint, RUN_KEY)


class BestCheckpoint(ModelCheckpoint):
    def __init__(self, dirpath: str | Path, every: int) -> None:
        super().__init__(
            dirpath=dirpath, filename="best", monitor="best/version", mode="max", save_top_k=1,
            save_weights_only=True, auto_insert_metric_name=False, enable_version_counter=False,
            save_on_train_epoch_end=True,
        )
        self.every = every

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # With last.ckpt (every `every` epochs) and when training ends; last.ckpt holds every
        # member's best too, so nothing is lost in between.
        if int(pl_module.epochs_done) % self.every == 0 or trainer.should_stop:
            super().on_train_epoch_end(trainer, pl_module)

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        module = trainer.lightning_module
        with module.facts.best_in_place(module.net):
            super()._save_checkpoint(trainer, filepath)


class LastCheckpoint(pl.Callback):
    def __init__(self, path: str | Path, every: int) -> None:
        self.path, self.every = Path(path), every

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Blocks end on multiples of `every` (block.LoopPlan cadences), so this is exact.
        if int(pl_module.epochs_done) % self.every == 0 and not trainer.fast_dev_run:
            trainer.save_checkpoint(self.path)


# ---- reading ----

_HPARAMS = ("model", "loss", "optimizer", "seed", "seeds")


def _check_regular(p: Path, key: str) -> int:
    """The file's size; refuse anything that is not a regular file."""
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UserError(f"{key}={p}: no such file; give a .ckpt written by train, e.g. checkpoints/<run>/best.ckpt") from None
    except OSError as exc:
        raise UserError(f"{key}={p}: cannot read it ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        hint = next((str(c) for c in (p / "best.ckpt", p / "last.ckpt") if c.is_file()), f"{p}/best.ckpt")
        raise UserError(f"{key}={p}: is a folder; give a checkpoint file such as {hint}")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{key}={p}: not a regular file (a device, FIFO or socket); give a .ckpt file written by train")
    return st.st_size


def verify_file(p: Path, key: str) -> None:
    """Refuse a missing, special, oversized, truncated, damaged or foreign file before torch unpickles it."""
    from xor_lightning.base.limits import check_readable_size

    check_readable_size(_check_regular(p, key), f"{key}={p}")
    # torch checkpoints are zip archives: truncation loses the central directory, and every member
    # carries a CRC that torch itself never checks (a damaged tensor would load as silent garbage).
    if not zipfile.is_zipfile(p):
        raise UserError(f"{key}={p}: not a checkpoint (no torch zip index: truncated, damaged, or another format)")
    try:
        with zipfile.ZipFile(p) as archive:
            # The sizes the index declares bound what testzip and torch will read (no zip bombs).
            check_readable_size(sum(i.file_size for i in archive.infolist()), f"{key}={p} (unpacked)")
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        bad = str(exc)
    if bad is not None:
        raise UserError(f"{key}={p}: the file is corrupted (damaged entry {bad}); use another checkpoint, e.g. last.ckpt")


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__


def verify_ours(ckpt: Any, p: Path, key: str) -> None:
    hparams = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if (not isinstance(hparams, dict) or not all(k in hparams for k in _HPARAMS) or not isinstance(state, dict)
            or not all(isinstance(t, torch.Tensor) for t in state.values())):
        raise UserError(f"{key}={p}: not an xor-lightning checkpoint (a torch file, but not one written by "
                        "python -m xor_lightning train)")


def check_hparams(hparams: dict, p: Path, key: str) -> None:
    """The recorded config passes the same checks as a command line (and names no foreign code);
    a checkpoint without ``data`` (older than tasks) is of xor."""
    from xor_lightning.run.checks import OPTIMIZERS, check_budgets, check_data, check_loss, check_model, check_seeds
    from xor_lightning.run.member_checks import check_members

    try:
        check_seeds(hparams["seed"], hparams["seeds"])
        check_model(hparams["model"])
        check_loss(hparams["loss"])
        check_budgets(hparams.get("budgets", []))  # absent before epoch budgets
        if hparams.get("data") is not None:
            if not isinstance(hparams["data"], dict):
                raise UserError(f"data={hparams['data']!r} is not valid; expected a mapping (the data config)")
            check_data(hparams["data"])
        target = hparams["optimizer"].get("_target_")
        if target not in OPTIMIZERS:
            raise UserError(f"optimizer._target_={target!r} is not one of {', '.join(OPTIMIZERS)} "
                            "(a checkpoint never names code to run)")
        check_members(hparams.get("members"), hparams["seeds"])  # absent before member tables
    except UserError as exc:
        raise UserError(f"{key}={p}: its recorded {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{key}={p}: not an xor-lightning checkpoint (hyper_parameters: {_reason(exc)})") from None


def _holds(t: torch.Tensor) -> bool:
    """The tensor's elements really are in the file: no view (stride 0, say) larger than its storage."""
    return t.numel() * t.element_size() <= t.untyped_storage().nbytes()


def check_shapes(hparams: dict, state: dict[str, torch.Tensor], p: Path, key: str) -> None:
    """``seeds``, ``model.hidden`` and the task's input width must describe exactly the tensors the file holds."""
    from xor_lightning.core.task import build as build_task

    seeds, widths = hparams["seeds"], [build_task(hparams.get("data")).n_in, *hparams["model"]["hidden"], 1]
    # Every tensor the module holds (module.py, facts.py), so a strict load leaves nothing unchecked.
    expect = {f"facts.{name}": (seeds,) for name in ("first_solved", "diverged_at", "stopped_at", "best_epoch", "best_loss")}
    members = MemberTable.from_lists(hparams["members"]) if hparams.get("members") is not None else None
    if "budgets" in hparams:  # absent (and no facts.right_at) before epoch budgets
        expect["facts.right_at"] = (len(budget_union(hparams["budgets"], members)[0]), seeds)
    # facts.trail_epoch: one per member, or one for all (older checkpoints)
    trail = (TRAIL,) if "facts.trail_epoch" in state and state["facts.trail_epoch"].dim() == 1 else (TRAIL, seeds)
    expect.update({"epochs_done": (), "best_version": (), "facts.trail_epoch": trail,
                   "facts.trail_loss": (TRAIL, seeds), "facts.trail_margin": (TRAIL, seeds)})
    for j, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        for prefix, weight, bias in (("net.", "weights.", "biases."), ("facts.", "best_weight", "best_bias")):
            expect[f"{prefix}{weight}{j}"] = (seeds, fan_in, fan_out)
            expect[f"{prefix}{bias}{j}"] = (seeds, 1, fan_out)
    for name, shape in expect.items():
        found = tuple(state[name].shape) if name in state else None
        if found != shape:
            raise UserError(f"{key}={p}: it records seeds={seeds} and model.hidden={list(widths[1:-1])}, but its tensor "
                            f"{name} has shape {list(found) if found else 'none'}, not {list(shape)}: "
                            "not a consistent checkpoint")
    verdicts = state.get("facts.right_at")
    low = NOT_MINE if members is not None else -1  # not one of the member's own budgets (a member table)
    if verdicts is not None and _holds(verdicts) and not bool(((verdicts >= low) & (verdicts <= 1)).all()):
        meaning = f"{'-2, ' if low < -1 else ''}-1, 0, 1 ({'not its budget, ' if low < -1 else ''}not reached, wrong, right)"
        raise UserError(f"{key}={p}: its tensor facts.right_at holds values other than {meaning}: not a consistent checkpoint")
    for name, t in state.items():
        if not _holds(t):
            raise UserError(f"{key}={p}: its tensor {name} claims shape {list(t.shape)} but holds only "
                            f"{t.untyped_storage().nbytes()} bytes: not a consistent checkpoint")


def read_checkpoint(path: str | Path, key: str = "checkpoint") -> dict[str, Any]:
    """The checkpoint's contents (tensors on the CPU), checked as described at the top."""
    p = Path(path)
    verify_file(p, key)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"{key}={p}: not a readable xor-lightning checkpoint ({_reason(exc)})") from None
    verify_ours(ckpt, p, key)
    check_hparams(ckpt["hyper_parameters"], p, key)
    check_shapes(ckpt["hyper_parameters"], ckpt["state_dict"], p, key)
    return ckpt


def epochs_done(ckpt: dict[str, Any]) -> int:
    """Table epochs a checkpoint has trained: the block loop's ``epochs_done`` buffer, else Lightning's epoch."""
    done = ckpt.get("state_dict", {}).get("epochs_done")
    return int(done) if isinstance(done, torch.Tensor) and done.numel() == 1 else int(ckpt.get("epoch", 0))


def module_from(ckpt: dict[str, Any], map_location: str = "cpu") -> XORModule:
    """The module a checked checkpoint describes (what Lightning's load_from_checkpoint does, minus re-reading the file)."""
    known = inspect.signature(XORModule.__init__).parameters
    with weights_from_checkpoint():  # the checkpoint's tensors replace the weights at once
        module = XORModule(**{k: v for k, v in ckpt["hyper_parameters"].items() if k in known})
    module.on_load_checkpoint(ckpt)
    module.load_state_dict(ckpt["state_dict"])
    return module.to(map_location)


def load_checkpoint(path: str | Path, map_location: str = "cpu", key: str = "checkpoint") -> XORModule:
    """The trained module on ``map_location`` (CPU unless told otherwise), in eval mode."""
    ckpt = read_checkpoint(path, key)
    try:
        module = module_from(ckpt, map_location)
    except Exception as exc:  # e.g. a tensor the module does not have
        raise UserError(f"{key}={path}: not a readable xor-lightning checkpoint ({_reason(exc)})") from None
    return module.eval()
