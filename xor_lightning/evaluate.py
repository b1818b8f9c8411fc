"""``evaluate(cfg)``: reload a checkpoint (it carries its config) and print its truth table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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
    if member is not None and not (isinstance(member, int) and 0 <= member < ev.members):
        raise UserError(f"member={member!r} is not valid; this checkpoint holds members 0..{ev.members - 1}")
    for line in report(ev, member):
        log.info(line)
    if cfg.boundary is not None:
        log.info(f"decision boundary: {write_boundary(cfg.boundary, module, ev, member)}")
    return ev.summary()


def check_boundary_path(path: object) -> None:
    if path is not None and not (isinstance(path, str) and path.lower().endswith(".png")):
        raise UserError(f"boundary={path!r} is not valid; expected a file name ending in .png, e.g. boundary=boundary.png")


def write_boundary(path: str, module: XORModule, ev: Evaluation, member: int | None) -> Path:
    from xor_lightning import figures

    best = member is None
    member = ev.best_member() if best else member
    picture = figures.boundary_image(module.net, member, seed=ev.seed, solved=ev.solved, best=best, size=320)
    return figures.save(picture, path)
