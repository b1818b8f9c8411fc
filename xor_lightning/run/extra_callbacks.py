"""Lightning callbacks a user adds to a run (``callbacks`` in train.yaml), next to ours.

``callbacks=lr_monitor`` picks a ready one from configs/callbacks/, ``+callbacks.NAME._target_=pkg.mod.Class``
adds any Callback by its class path (and ``+callbacks.NAME.ARG=VALUE`` its arguments). They are
appended to the run's own callbacks (checkpoints, early stop, pictures), which they never replace.

Preflight builds each one once and drops it: a value its class refuses (``callbacks.timer.duration=abc``)
is one line before any folder exists, not a traceback from inside the job.
"""

from __future__ import annotations

import re

from omegaconf import DictConfig, OmegaConf

from xor_lightning.base.errors import UserError
from xor_lightning.run.targets import check_arguments, target_class


def check_callbacks(cfg: DictConfig) -> None:
    """One line for an entry of ``callbacks`` that cannot be built, before anything runs."""
    from pytorch_lightning.callbacks import Callback

    for name, node in (cfg.get("callbacks") or {}).items():
        cls = target_class(f"callbacks.{name}", node, Callback, "a Lightning Callback")
        check_arguments(f"callbacks.{name}", cls, node)
        _try_building(f"callbacks.{name}", cls, node)


def _try_building(key: str, cls: type, node: DictConfig) -> None:
    """Build the callback as the job will; whatever it raises becomes one line naming the key it blames."""
    from hydra.utils import instantiate

    raw = OmegaConf.to_container(node, resolve=False)
    if "${hydra:" in str(raw):
        return  # Hydra's own values exist only inside the job
    try:
        instantiate(node)
    except Exception as exc:  # a user's class may raise anything; Hydra wraps it in InstantiationException
        cause = exc.__cause__ or exc
        lines = str(cause).strip().splitlines()
        reason = lines[0] if lines else type(cause).__name__
        args = [str(k) for k in raw if not str(k).startswith("_")]
        blamed = [k for k in args if re.search(rf"\b{re.escape(k)}\b", reason)]
        where = f"{key}.{blamed[0]}={OmegaConf.select(node, blamed[0])}" if blamed else key
        raise UserError(f"{where} is not valid: {cls.__name__} refuses it ({reason})") from None


def build_callbacks(cfg: DictConfig) -> list:
    """The user's callbacks, instantiated in the order the config lists them."""
    from hydra.utils import instantiate

    check_callbacks(cfg)
    return [instantiate(node) for node in (cfg.get("callbacks") or {}).values()]
