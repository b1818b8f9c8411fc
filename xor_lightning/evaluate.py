"""``evaluate(cfg)``: reload a checkpoint (it carries its config) and print its truth table."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig

from xor_lightning.checkpoints import load_checkpoint
from xor_lightning.devices import choose_accelerator
from xor_lightning.errors import UserError
from xor_lightning.evaluation import evaluate_module, report

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    device = choose_accelerator(str(cfg.device.accelerator), key="device")
    module = load_checkpoint(cfg.checkpoint, map_location=device)
    ev = evaluate_module(module)
    member = cfg.member
    if member is not None and not (isinstance(member, int) and 0 <= member < ev.members):
        raise UserError(f"member={member!r} is not valid; this checkpoint holds members 0..{ev.members - 1}")
    for line in report(ev, member):
        log.info(line)
    return ev.summary()
