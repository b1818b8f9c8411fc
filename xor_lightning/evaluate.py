"""``evaluate(cfg)``: reload a checkpoint (it carries its config) and print its truth table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from xor_lightning.checkpoints import load_checkpoint
from xor_lightning.devices import choose_accelerator
from xor_lightning.errors import UserError
from xor_lightning.evaluation import Evaluation, evaluate_module, report
from xor_lightning.module import XORModule

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    check_boundary_path(cfg.boundary)
    device = choose_accelerator(str(cfg.device.accelerator), key="device")
    module = load_checkpoint(cfg.checkpoint, map_location=device)
    ev = evaluate_module(module)
    member = cfg.member
    check_member(member, ev.members)
    bad = non_finite_members(module)
    if bad:  # a checkpoint is data: NaN weights (a crafted or damaged file) are reported, not tabled as results
        log.warning(f"checkpoint={cfg.checkpoint}: {len(bad)} of {ev.members} members have NaN/inf weights "
                    f"(members {', '.join(map(str, bad[:10]))}{', ...' if len(bad) > 10 else ''}); "
                    "they count as not solved and their rows read 'NaN'")
    for line in report(ev, member):
        log.info(line)
    if cfg.boundary is not None:
        log.info(f"decision boundary: {write_boundary(cfg.boundary, module, ev, member)}")
    return ev.summary()


def check_member(member: object, members: int) -> None:
    if member is not None and (isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < members):
        raise UserError(f"member={member!r} is not valid; this checkpoint holds members 0..{members - 1}")


def non_finite_members(module: XORModule) -> list[int]:
    """Members with a NaN or infinite weight or bias."""
    finite = torch.ones(module.net.members, dtype=torch.bool, device=module.device)
    for tensor in module.net.parameters():
        finite &= torch.isfinite(tensor).flatten(1).all(dim=1)
    return torch.nonzero(~finite).flatten().tolist()


def check_boundary_path(path: object) -> None:
    from xor_lightning.writable import check_file

    if path is not None and not (isinstance(path, str) and path.lower().endswith(".png")):
        raise UserError(f"boundary={path!r} is not valid; expected a file name ending in .png, e.g. boundary=boundary.png")
    if path is not None:
        check_file(path, "boundary")


def write_boundary(path: str, module: XORModule, ev: Evaluation, member: int | None) -> Path:
    from xor_lightning import figures

    best = member is None
    member = ev.best_member() if best else member
    picture = figures.boundary_image(module.net, member, seed=ev.seed, solved=ev.solved, best=best, size=320)
    return figures.save(picture, path)
