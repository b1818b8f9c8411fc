"""Lightning callbacks a user adds to a run (``callbacks`` in train.yaml), next to ours.

``callbacks=lr_monitor`` picks a ready one from configs/callbacks/, ``+callbacks.NAME._target_=pkg.mod.Class``
adds any Callback by its class path (and ``+callbacks.NAME.ARG=VALUE`` its arguments). They are
appended to the run's own callbacks (checkpoints, early stop, pictures), which they never replace.
"""

from __future__ import annotations

from omegaconf import DictConfig

from xor_lightning.run.targets import check_arguments, target_class


def check_callbacks(cfg: DictConfig) -> None:
    """One line for an entry of ``callbacks`` that cannot be built, before anything runs."""
    from pytorch_lightning.callbacks import Callback

    for name, node in (cfg.get("callbacks") or {}).items():
        cls = target_class(f"callbacks.{name}", node, Callback, "a Lightning Callback")
        check_arguments(f"callbacks.{name}", cls, node)


def build_callbacks(cfg: DictConfig) -> list:
    """The user's callbacks, instantiated in the order the config lists them."""
    from hydra.utils import instantiate

    check_callbacks(cfg)
    return [instantiate(node) for node in (cfg.get("callbacks") or {}).values()]
