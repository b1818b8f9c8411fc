"""Loading a checkpoint written by train, refusing anything else with one clear line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from xor_lightning.errors import UserError
from xor_lightning.module import XORModule
from xor_lightning.nets import weights_from_checkpoint

_HPARAMS = ("model", "loss", "optimizer", "seed", "seeds")


def verify_file(p: Path, key: str) -> None:
    """Refuse a missing, truncated, damaged or foreign file before torch tries to unpickle it."""
    if not p.exists():
        raise UserError(f"{key}={p}: no such file; give a .ckpt written by train, e.g. checkpoints/<run>/best.ckpt")
    if p.is_dir():
        hint = next((str(c) for c in (p / "best.ckpt", p / "last.ckpt") if c.is_file()), f"{p}/best.ckpt")
        raise UserError(f"{key}={p}: is a folder; give a checkpoint file such as {hint}")
    # torch checkpoints are zip archives: truncation loses the central directory, and every member
    # carries a CRC that torch itself never checks (a damaged tensor would load as silent garbage).
    if not zipfile.is_zipfile(p):
        raise UserError(f"{key}={p}: not a checkpoint (no torch zip index: truncated, damaged, or another format)")
    try:
        bad = zipfile.ZipFile(p).testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        bad = str(exc)
    if bad is not None:
        raise UserError(f"{key}={p}: the file is corrupted (damaged entry {bad}); use another checkpoint, e.g. last.ckpt")


def verify_ours(p: Path, key: str) -> None:
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{key}={p}: not a readable xor-lightning checkpoint ({reason})") from None
    hparams = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if not isinstance(hparams, dict) or not all(k in hparams for k in _HPARAMS) or "state_dict" not in ckpt:
        raise UserError(f"{key}={p}: not an xor-lightning checkpoint (a torch file, but not one written by "
                        "python -m xor_lightning train)")


def load_checkpoint(path: str | Path, map_location: str = "cpu", key: str = "checkpoint") -> XORModule:
    """The trained module on ``map_location`` (CPU unless told otherwise), in eval mode."""
    p = Path(path)
    verify_file(p, key)
    verify_ours(p, key)
    try:
        with weights_from_checkpoint():
            module = XORModule.load_from_checkpoint(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # e.g. weights that do not fit the recorded model config
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{key}={path}: not a readable xor-lightning checkpoint ({reason})") from None
    return module.eval()
