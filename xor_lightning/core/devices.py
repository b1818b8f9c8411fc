"""Where a run executes: ``auto`` picks cuda, then mps, then cpu; an absent device is refused."""

from __future__ import annotations

import torch

from xor_lightning.base.errors import UserError

CHOICES = ("auto", "cpu", "cuda", "mps")


def available() -> dict[str, bool]:
    mps = getattr(torch.backends, "mps", None)
    return {
        "cuda": torch.cuda.is_available(),
        "mps": bool(mps and mps.is_available()),
        "cpu": True,
    }


def choose_accelerator(requested: str, have: dict[str, bool] | None = None, key: str = "device") -> str:
    """The Lightning accelerator name for ``requested``; ``have`` overrides detection (tests)."""
    have = available() if have is None else have
    if requested not in CHOICES:
        raise UserError(f"{key}={requested!r} is not a device; choose one of: {', '.join(CHOICES)}")
    if requested == "auto":
        return next(name for name in ("cuda", "mps", "cpu") if have[name])
    if not have[requested]:
        present = ", ".join(["auto", *(n for n in ("cpu", "cuda", "mps") if have[n])])
        raise UserError(f"{key}={requested}: no {requested.upper()} device on this machine; available: {present}")
    return requested
