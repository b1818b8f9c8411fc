"""Validation of a composed config: each bad value becomes one UserError line naming its key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig

from xor_lightning.devices import CHOICES as DEVICES
from xor_lightning.errors import UserError
from xor_lightning.losses import LOSSES
from xor_lightning.nets import ACTIVATIONS, INITS

OPTIMIZERS = {
    "torch.optim.Adam": "adam",
    "torch.optim.AdamW": "adamw",
    "torch.optim.SGD": "sgd",
    "torch.optim.RMSprop": "rmsprop",
    "torch.optim.Adagrad": "adagrad",
}
PRECISIONS = ("32-true", "32", "64-true", "64", "16-mixed", "bf16-mixed")


def _choice(key: str, value: Any, valid: Iterable[str]) -> None:
    valid = list(valid)
    if value not in valid:
        raise UserError(f"{key}={value!r} is not valid; choose one of: {', '.join(valid)}")


def _int(key: str, value: Any, low: int, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{key}={value!r} is not valid; expected {what or f'an integer >= {low}'}")


def _number(key: str, value: Any, low: float, high: float = float("inf"), strict: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (low < value if strict else low <= value) and value < high
    if not ok:
        rng = f"> {low}" if strict else f">= {low}"
        rng += f" and < {high}" if high != float("inf") else ""
        raise UserError(f"{key}={value!r} is not valid; expected a number {rng}")


def _bool(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise UserError(f"{key}={value!r} is not valid; expected true or false")


def check_model(model: DictConfig | dict) -> None:
    hidden = model["hidden"]
    if not isinstance(hidden, Iterable) or isinstance(hidden, str):
        raise UserError(f"model.hidden={hidden!r} is not valid; expected a list of widths >= 1, e.g. [8] or [16,8] or []")
    if not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in hidden):
        raise UserError(f"model.hidden={list(hidden)!r} is not valid; expected a list of widths >= 1, e.g. [8] or [16,8] or []")
    _choice("model.activation", model["activation"], ACTIVATIONS)
    _choice("model.init", model["init"], INITS)
    _number("model.init_std", model["init_std"], 0.0)


def check_optimizer(opt: DictConfig) -> None:
    _choice("optimizer._target_", opt.get("_target_"), OPTIMIZERS)
    _number("optimizer.lr", opt.get("lr"), 0.0)
    for key in ("weight_decay", "momentum", "dampening", "lr_decay", "initial_accumulator_value"):
        if key in opt:
            _number(f"optimizer.{key}", opt[key], 0.0, strict=False)
    for key in ("eps",):
        if key in opt:
            _number(f"optimizer.{key}", opt[key], 0.0)
    if "alpha" in opt:
        _number("optimizer.alpha", opt.alpha, 0.0, 1.0, strict=False)
    if "betas" in opt:
        betas = opt.betas
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise UserError(f"optimizer.betas={list(betas)!r} is not valid; expected two numbers in [0, 1)")
    if opt.get("nesterov") and (opt.get("momentum", 0) <= 0 or opt.get("dampening", 0) != 0):
        raise UserError("optimizer.nesterov=true needs optimizer.momentum > 0 and optimizer.dampening=0")


def check_train_config(cfg: DictConfig) -> None:
    """Raise UserError for the first invalid value; the checks mirror configs/*.yaml."""
    _int("seed", cfg.seed, 0)
    _int("seeds", cfg.seeds, 1)
    check_model(cfg.model)
    _choice("loss.name", cfg.loss.name, LOSSES)
    if "beta" in cfg.loss:
        _number("loss.beta", cfg.loss.beta, 0.0)
    check_optimizer(cfg.optimizer)
    bs = cfg.data.batch_size
    if bs is not None:
        _int("data.batch_size", bs, 1, "null (the whole table) or an integer from 1 to 4")
        if bs > 4:
            raise UserError(f"data.batch_size={bs} is not valid; expected null (the whole table) or an integer from 1 to 4")
    _bool("data.shuffle", cfg.data.shuffle)
    _choice("device.accelerator", cfg.device.accelerator, DEVICES)
    _choice("device.precision", str(cfg.device.precision), PRECISIONS)
    _int("trainer.max_epochs", cfg.trainer.max_epochs, 1)
    _int("trainer.min_epochs", cfg.trainer.get("min_epochs") or 0, 0)
    _bool("early_stop.enabled", cfg.early_stop.enabled)
    _number("early_stop.margin", cfg.early_stop.margin, 0.0, 0.5, strict=False)
    _int("checkpoint.every_n_epochs", cfg.checkpoint.every_n_epochs, 1)
    _int("checkpoint.last_every_n_epochs", cfg.checkpoint.last_every_n_epochs, 1)
    check_visuals(cfg.visuals, cfg.seeds)


def check_visuals(visuals: DictConfig, seeds: int) -> None:
    _int("visuals.every_n_epochs", visuals.every_n_epochs, 0, "an integer >= 0 (0: only at the start and the end)")
    member = visuals.member
    if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < seeds:
        raise UserError(f"visuals.member={member!r} is not valid; expected an integer from 0 to {seeds - 1} (seeds={seeds})")
    members = visuals.members
    if isinstance(members, bool) or not isinstance(members, int) or not 0 <= members <= 36:
        raise UserError(f"visuals.members={members!r} is not valid; expected an integer from 0 to 36 (members in the grid)")
    for key in ("images", "histograms", "report"):
        _bool(f"visuals.{key}", visuals[key])
