"""Loading a checkpoint written by train, refusing anything else with one clear line."""

from __future__ import annotations

from pathlib import Path

from xor_lightning.errors import UserError
from xor_lightning.module import XORModule


def load_checkpoint(path: str | Path, map_location: str = "cpu", key: str = "checkpoint") -> XORModule:
    """The trained module on ``map_location`` (CPU unless told otherwise), in eval mode."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{key}={path}: no such file; give a .ckpt written by train, e.g. checkpoints/<run>/best.ckpt")
    if p.is_dir():
        hint = next((str(c) for c in (p / "best.ckpt", p / "last.ckpt") if c.is_file()), f"{p}/best.ckpt")
        raise UserError(f"{key}={path}: is a folder; give a checkpoint file such as {hint}")
    try:
        module = XORModule.load_from_checkpoint(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch/pickle/zip errors all mean "not one of ours"
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{key}={path}: not a readable xor-lightning checkpoint ({reason})") from None
    return module.eval()
