"""``evaluate(cfg)``: reload a checkpoint (it carries its config), or build a network from weights
written down by hand (weights_file.py), and print its truth table; optionally draw it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from xor_lightning.base.errors import UserError
from xor_lightning.core.devices import choose_accelerator
from xor_lightning.core.evaluation import Evaluation, evaluate_module
from xor_lightning.core.module import XORModule
from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.checks import check_model
from xor_lightning.run.resume import checkpoint_summary
from xor_lightning.views.tables import summary_lines

log = logging.getLogger(__name__)


def _device(cfg: DictConfig) -> str:
    """The checks that need no file read: one source, picture paths, the device."""
    check_source(cfg)
    check_boundary_path(cfg.boundary)
    check_boundary_path(cfg.space, "space")
    return choose_accelerator(str(cfg.device.accelerator), key="device")


def preflight(cfg: DictConfig) -> str:
    """Every check of an evaluate command, run by precheck before Hydra starts; returns the device."""
    device = _device(cfg)
    # The member count from the file's checked summary (read once per file version, resume.py).
    members = checkpoint_summary(cfg.checkpoint, key="checkpoint")["seeds"] if cfg.checkpoint is not None else 1
    if cfg.checkpoint is None:
        hand_module(cfg.weights)  # the file and the network it describes
    check_member(cfg.member, members)
    return device


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    device = _device(cfg)  # the rest of preflight is the loading itself, so the file is read once here
    if cfg.checkpoint is not None:
        module = load_checkpoint(cfg.checkpoint, map_location=device)
    else:
        module = hand_module(cfg.weights, device)
    check_member(cfg.member, module.net.members)
    ev = evaluate_module(module)
    member = cfg.member
    bad = non_finite_members(module)
    if bad:  # a checkpoint is data: NaN weights (a crafted or damaged file) are reported, not tabled as results
        log.warning(f"checkpoint={cfg.checkpoint}: {len(bad)} of {ev.members} members have NaN/inf weights "
                    f"(members {', '.join(map(str, bad[:10]))}{', ...' if len(bad) > 10 else ''}); "
                    "they count as not solved and their rows read 'NaN'")
    for key in ("boundary", "space"):
        if cfg.get(key) is not None and not ev.task.plane:
            raise UserError(f"{key}={cfg[key]}: this checkpoint's task has {ev.task.n_in} inputs ({ev.task.description}); "
                            "pictures are drawn over the plane of a 2-input task")
    log.info("\n".join(summary_lines(ev, member)))  # one record: one block
    if cfg.boundary is not None:
        log.info(f"decision boundary: {write_boundary(cfg.boundary, module, ev, member)}")
    if cfg.space is not None:
        log.info(f"input and hidden-layer space: {write_spaces(cfg.space, module, ev, member)}")
    return ev.summary()


def check_source(cfg: DictConfig) -> str:
    """Exactly one of checkpoint= and weights=; returns which."""
    given = [key for key in ("checkpoint", "weights") if cfg.get(key) is not None]
    if len(given) != 1:
        what = "both" if given else "neither"
        raise UserError(f"evaluate needs checkpoint=PATH (a .ckpt written by train) or weights=FILE (weights written "
                        f"down by hand, e.g. weights=deep_learning_book), and was given {what}")
    return given[0]


def hand_module(value: str, device: str = "cpu") -> XORModule:
    """A one-member module holding the weights of a hand-written file (weights_file.py), on xor."""
    from xor_lightning.base import weights_file
    from xor_lightning.core.task import XOR
    hand = weights_file.load(value, "weights", inputs=XOR.n_in)
    if hand.activation is None:
        raise UserError(f"weights={value}: the file must say which activation its weights are for (activation: relu)")
    output = hand.output or "logit"
    model = {"hidden": hand.hidden, "activation": hand.activation, "output": output, "weights": value,
             "init": "pytorch", "init_std": 1.0}
    check_model(model)
    loss = {"name": "mse" if output == "linear" else "bce_with_logits"}  # the loss it is shown with
    optimizer = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1}  # never used: nothing trains
    return XORModule(model, loss, optimizer, seed=0, seeds=1).to(device).eval()


def check_member(member: object, members: int) -> None:
    if member is not None and (isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < members):
        raise UserError(f"member={member!r} is not valid; this checkpoint holds members 0..{members - 1}")


def non_finite_members(module: XORModule) -> list[int]:
    """Members with a NaN or infinite weight or bias."""
    finite = torch.ones(module.net.members, dtype=torch.bool, device=module.device)
    for tensor in module.net.parameters():
        finite &= torch.isfinite(tensor).flatten(1).all(dim=1)
    return torch.nonzero(~finite).flatten().tolist()


def check_boundary_path(path: object, key: str = "boundary") -> None:
    from xor_lightning.run.writable import check_file

    if path is not None and not (isinstance(path, str) and path.lower().endswith(".png")):
        raise UserError(f"{key}={path!r} is not valid; expected a file name ending in .png, e.g. {key}={key}.png")
    if path is not None:
        check_file(path, key)


def write_boundary(path: str, module: XORModule, ev: Evaluation, member: int | None) -> Path:
    from xor_lightning.views import figures
    best = member is None
    member = ev.best_member() if best else member
    picture = figures.boundary_image(module.net, member, task=ev.task, seed=ev.seed, solved=ev.solved, best=best, size=320)
    return figures.save(picture, path)


def write_spaces(path: str, module: XORModule, ev: Evaluation, member: int | None) -> Path:
    from xor_lightning.views import figures
    best = member is None and ev.members > 1
    member = ev.best_member() if member is None else member
    return figures.save(figures.spaces_image(module.net, member, task=ev.task, seed=ev.seed, solved=ev.solved, best=best),
                        path)
