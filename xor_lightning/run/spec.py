"""One place where a composed train config becomes its run specification: the task, the members
(core/members.MemberTable), the loop plan, and the *packing key* that says which jobs of a grid
can train as one population (hydra/launcher=population, run/packed.py).

Two jobs pack together when everything but what a member carries is equal: what a member carries
is its seed, its optimizer (rule and every argument), its init and activation, its loss, its
early-stop margin, its trainer.max_epochs and its budgets (MEMBER_KEYS); every other setting
(the network's widths, the data, the batch, the device, precision, trainer, blocks, cadences,
pictures, loggers, ...) changes tensor shapes, data or the loop, so it is part of the key. Run ids
and folders are per job and left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from xor_lightning.core.block import LoopPlan
from xor_lightning.core.members import MemberTable
from xor_lightning.core.task import Task
from xor_lightning.core.task import build as build_task

# What a member of a packed population carries of its own (dotted config keys): each member stops at
# its own max_epochs and counts its own budgets (core/facts.py).
MEMBER_KEYS = ("seed", "seeds", "optimizer", "loss", "early_stop.margin", "model.activation", "model.init",
               "model.init_std", "model.output_init_std", "model.init_bound", "trainer.max_epochs", "budgets")
# Per job, never shared: names and folders (and resuming, which is refused in a multirun).
PER_JOB_KEYS = ("run_id", "paths", "ckpt_path", "hydra")


@dataclass(frozen=True)
class RunSpec:
    task: Task
    members: MemberTable
    loop: LoopPlan
    key: str  # jobs with equal keys train as one population


def plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def member_table(cfg: DictConfig, own_ends: bool = True) -> MemberTable:
    """The job's members: ``seeds`` of one config, member i seeded ``seed + i``; ``own_ends``: with
    the job's own max_epochs and budgets (members of jobs that differ in them share a population;
    without, every member ends with the run, which the fused engine needs)."""
    from xor_lightning.run.trainer_setup import budgets

    margin = float(cfg.early_stop.margin) if cfg.early_stop.enabled else None
    ends = {"max_epochs": int(cfg.trainer.max_epochs), "budgets": budgets(cfg)} if own_ends else {}
    return MemberTable.uniform(int(cfg.seed), int(cfg.seeds), plain(cfg.model), plain(cfg.optimizer), plain(cfg.loss),
                               margin, **ends)


def _drop(tree: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    for name in parents:
        tree = tree.get(name)
        if not isinstance(tree, dict):
            return
    tree.pop(last, None)


def alone(cfg: DictConfig) -> bool:
    """Jobs that cannot share a population with any other: hand-written weights (model.weights).
    Shuffled mini-batches pack: each member's row order comes from its own seed (core/data.py)."""
    return cfg.model.get("weights") is not None


def packing_key(cfg: DictConfig, job: int | None = None) -> str:
    """Every setting but the members' own and the job's names, as one JSON text; ``job`` (its number)
    makes the key unique for a job that must train alone (``alone``)."""
    tree = {k: plain(cfg[k]) for k in cfg if k not in PER_JOB_KEYS}
    for dotted in MEMBER_KEYS:
        _drop(tree, dotted)
    if alone(cfg):
        tree["alone"] = job
    return json.dumps(tree, sort_keys=True, default=str)


def run_spec(cfg: DictConfig, job: int | None = None) -> RunSpec:
    from xor_lightning.run.trainer_setup import loop_plan

    return RunSpec(build_task(plain(cfg.data)), member_table(cfg), loop_plan(cfg), packing_key(cfg, job))
