"""The engine a module about to train takes (module.py on_train_start): engines.py's rules applied to
what the module holds, and the fused block built (numba imported) only when it runs."""

from __future__ import annotations

from typing import Any

from xor_lightning.core.engines import refusal, resolve


def choose(module: Any) -> tuple[str, str, Any]:
    """(engine, why, the fused block or None) for a module about to train (module.py on_train_start):
    ``refusal`` from what the module holds (its task, member table, optimizer), then ``resolve``."""
    hp, trainer = module.hparams, module.trainer
    full = trainer.datamodule.full_batch if trainer.datamodule is not None else True
    reason = refusal(hp.model, hp.loss, hp.optimizer, full_batch=full, precision=str(trainer.precision),
                     clipped=module.loop.clip is not None, device=module.device.type, task=module.task,
                     members=module.members)
    if reason is None and module.facts.own_ends:
        reason = "members with their own trainer.max_epochs"
    # the whole run's member-epochs, not what is left: a resumed run takes the engine it started with
    member_epochs = int(hp.seeds) * module.loop.max_epochs
    engine, why = resolve(module.loop.engine, reason, member_epochs)
    if engine == "torch":
        return engine, why, None
    from xor_lightning.core.fused_engine import FusedBlock  # imports the compiler only now

    block = FusedBlock(hp.model["activation"], module.loss_name, module.loss_kwargs.get("input"),
                       module.optimizers().optimizer, int(hp.seeds), threads=module.loop.engine_threads)
    return engine, why, block
