"""A grid's jobs trained as one population (hydra/launcher=population), then each job's share cut
back out, so that its folder is what the job alone would have written.

``train_population`` trains one XORModule whose MemberTable is the jobs' tables one after another
(job j owns members ``slices[j]``), in a work folder of its own under the sweep's checkpoint folder.
``job_fitted`` then, for one job (inside its Hydra job, run/train.finish does the rest): slices the
population's last.ckpt and best.ckpt along the member dimension into the job's own files with the
job's own hyper-parameters and run record (so ``evaluate checkpoint=`` and resume read them as the
job's), and writes the job's per-epoch scalars (run/packed_curves.py) to the job's own loggers.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from xor_lightning.base.atomic_io import atomic_save
from xor_lightning.base.errors import UserError
from xor_lightning.base.limits import available_bytes, human, run_bytes
from xor_lightning.core.data import TruthTableDataModule
from xor_lightning.core.devices import choose_accelerator
from xor_lightning.core.job_state import job_end, job_optimizer_state, job_state
from xor_lightning.core.members import MemberTable
from xor_lightning.core.module import XORModule
from xor_lightning.run.checkpoints import RUN_KEY, RunInfo, module_from
from xor_lightning.run.lightning_logging import quiet_lightning
from xor_lightning.run.loggers import build_loggers
from xor_lightning.run.packed_curves import JobCurves
from xor_lightning.run.run_paths import RunPaths, holds_its_folders, run_paths
from xor_lightning.run.spec import member_table, plain
from xor_lightning.run.train import Fitted, TrainPlan, finish, stop_reason
from xor_lightning.run.trainer_setup import budgets, build_trainer, loop_plan, torch_threads, trainer_args
from xor_lightning.views.epoch_scalars import log_epochs
from xor_lightning.views.progress import EpochProgressBar, ProgressLines
from xor_lightning.views.tb_visuals import VisualsCallback

log = logging.getLogger(__name__)



@dataclass
class Packed:
    """A trained population and what each of its jobs needs of it."""

    cfgs: list[DictConfig]   # each job's task config
    slices: list[slice]      # job j's members
    trainer: pl.Trainer
    module: XORModule
    last: dict[str, Any]     # the population's final training state (a checkpoint dict)
    best: dict[str, Any] | None
    epochs: int
    fit_seconds: float
    curves: JobCurves
    accelerator: str
    work: Path               # where the population's own files are (removed once every job is written)
    steps_per_epoch: int = 1 # optimizer steps of an epoch (its mini-batches)

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def job_numbers(numbers: list[int]) -> str:
    """``job 3``, ``jobs 0-9`` (consecutive), ``jobs 0, 2, 4``, or ``20 jobs from 0 to 38``."""
    if len(numbers) == 1:
        return f"job {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"jobs {numbers[0]}-{numbers[-1]}"
    if len(numbers) <= 6:
        return f"jobs {', '.join(map(str, numbers))}"
    return f"{len(numbers)} jobs from {numbers[0]} to {numbers[-1]}"


def check_grid_fits(cfgs: list[DictConfig], numbers: list[int], grid_jobs: int) -> None:
    """The packed population must fit in memory (base/limits.py), refused in one line naming the grid."""
    from xor_lightning.core.devices import available
    from xor_lightning.core.task import build as build_task

    cfg, total = cfgs[0], sum(int(c.seeds) for c in cfgs)
    task = build_task(plain(cfg.data))
    on_cuda = str(cfg.device.accelerator) in ("cuda", "auto") and available()["cuda"]
    have = available_bytes("cuda" if on_cuda else "cpu")
    need = run_bytes(total, list(cfg.model.hidden), str(cfg.device.precision), rows=task.rows, inputs=task.n_in)
    if have is not None and need > have[0]:
        jobs = job_numbers(numbers)
        raise UserError(
            f"hydra/launcher=population: the grid's {grid_jobs} jobs pack {len(cfgs)} of them ({jobs}, model.hidden="
            f"{list(cfg.model.hidden)}) into one population of {total} members, which needs about {human(need)} of memory "
            f"but {human(have[0])} is available ({have[1]}); sweep fewer values or seeds, or use hydra/launcher=basic")


def check_grid(cfgs: list[DictConfig], first: int = 0) -> list[list[int]]:
    """Group a grid's jobs (positions in ``cfgs``; job numbers from ``first``) by packing key, in
    order of first appearance, after checking that each can be packed and that each group fits in memory."""
    from xor_lightning.run.spec import packing_key

    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        check_packable(cfg)
        groups.setdefault(packing_key(cfg, first + i), []).append(i)
    for members in groups.values():
        check_grid_fits([cfgs[i] for i in members], [first + i for i in members], len(cfgs))
    return list(groups.values())


def check_packable(cfg: DictConfig) -> None:
    """What a packed population cannot do for one job of it yet."""
    if cfg.get("callbacks"):
        names = ", ".join(f"callbacks.{k}" for k in cfg.callbacks)
        raise UserError(f"{names}: hydra/launcher=population trains many jobs in one Trainer, where a callback would see "
                        "every job's members at once; use hydra/launcher=basic for runs with callbacks of their own")


def _packed_config(cfgs: list[DictConfig], total: int) -> DictConfig:
    """The first job's config for the population: every job's members, no loggers (each job gets
    its own afterwards), no pictures during training (each job's best pictures come at its end)."""
    cfg = OmegaConf.create(OmegaConf.to_container(cfgs[0], resolve=False))
    with open_dict(cfg):
        cfg.seeds = total
        cfg.trainer.max_epochs = max(int(c.trainer.max_epochs) for c in cfgs)  # each member stops at its own
        cfg.logger = {}
        cfg.callbacks = {}
        cfg.visuals.images = False
        cfg.visuals.histograms = False
        cfg.visuals.member = 0
    return cfg


def train_population(cfgs: list[DictConfig], work: Path, label: str = "") -> Packed:
    """Train the jobs ``cfgs`` (equal packing keys, run/spec.py) as one population in ``work``
    (removed again when training fails or is interrupted: nothing there is any job's yet);
    ``label`` names it in the progress bar and lines."""
    try:
        return _train_population(cfgs, work, label)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _train_population(cfgs: list[DictConfig], work: Path, label: str) -> Packed:
    quiet_lightning()
    # Ends of their own only where the jobs' max_epochs or budgets differ (a uniform end keeps the fused engine).
    own_ends = len({(int(c.trainer.max_epochs), tuple(budgets(c))) for c in cfgs}) > 1
    tables = [member_table(c, own_ends) for c in cfgs]
    bounds = torch.tensor([0, *[len(t) for t in tables]]).cumsum(0).tolist()
    slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    table = MemberTable.concat(tables)
    cfg = _packed_config(cfgs, len(table))
    accelerator = choose_accelerator(cfg.device.accelerator, key="device")
    threads = torch_threads(cfg)
    if threads:
        torch.set_num_threads(threads)
    work.mkdir(parents=True, exist_ok=True)
    paths = RunPaths(f"{cfgs[0].run_id}/{work.name}", work, work, work, work)
    start = time.perf_counter()
    pl.seed_everything(int(cfgs[0].seed), verbose=False)
    first = cfgs[0]
    module = XORModule(model=plain(first.model), loss=plain(first.loss), optimizer=plain(first.optimizer),
                       seed=int(first.seed), seeds=len(table), loop=loop_plan(cfg), budgets=budgets(cfg),
                       data=plain(first.data), members=table.to_lists())
    datamodule = TruthTableDataModule(module.task, cfg.data.batch_size, cfg.data.shuffle, int(first.seed), len(table))
    built = build_trainer(cfg, paths, accelerator, trainer_args(cfg.trainer))
    curves = JobCurves(slices, every=thinning(len(cfgs), int(cfg.trainer.max_epochs)), lines=bool(cfg.visuals.report))
    built.trainer.callbacks.insert(1, curves)  # after EpochScalars, before the checkpoints
    for callback in built.trainer.callbacks:
        if label and isinstance(callback, (EpochProgressBar, ProgressLines)):
            callback.label = label  # the population's, not its first job's
    built.trainer.fit(module, datamodule=datamodule)
    last_path = work / "last.ckpt"
    built.trainer.save_checkpoint(last_path)
    if built.interrupt.requested:
        from xor_lightning.run.interrupt import Interrupted

        raise Interrupted("stopped during a packed population's training; its jobs were not written: run the sweep again")
    fit_seconds = time.perf_counter() - start
    best_path = built.best.best_model_path or None
    load = lambda p: torch.load(p, map_location="cpu", weights_only=True)  # noqa: E731 (files this process just wrote)
    return Packed(cfgs, slices, built.trainer, module, load(last_path), load(best_path) if best_path else None,
                  int(module.epochs_done), fit_seconds, curves, accelerator, work, len(datamodule.step_slices()))


THINNED_EVENTS = 200_000  # per-epoch scalar events over all jobs of a population (~50 us each in TensorBoard)


def thinning(jobs: int, max_epochs: int) -> int:
    """Log each job's scalars every Nth epoch so that all jobs together write at most THINNED_EVENTS."""
    return max(1, -(-jobs * max_epochs // THINNED_EVENTS))


def _optimizer_state(packed: dict, trainer: pl.Trainer, members: slice, job_module: XORModule, epochs: int,
                     steps_per_epoch: int) -> dict:
    """The job's members of the population optimizer's state (core/job_state.py), under the names
    its own one-rule optimizer uses, with its own step count; param_groups are the job's own."""
    parts = trainer.optimizers[0].parts
    index = next(i for i, p in enumerate(parts) if p.members.start <= members.start and members.stop <= p.members.stop)
    cut = job_optimizer_state(packed, members, len(parts), index, epochs * steps_per_epoch)
    return {"state": cut["state"], "param_groups": job_module.configure_optimizers().state_dict()["param_groups"]}


def _hyper_parameters(cfg: DictConfig) -> dict[str, Any]:
    """What the job's own XORModule records (module.py save_hyperparameters)."""
    return {"model": plain(cfg.model), "loss": plain(cfg.loss), "optimizer": plain(cfg.optimizer), "seed": int(cfg.seed),
            "seeds": int(cfg.seeds), "budgets": budgets(cfg), "data": plain(cfg.data),
            "members": None}  # a job alone is one config: no member table of its own


def job_epochs(packed: Packed, members: slice) -> int:
    """Epochs the job alone would have trained: the last of its members' own ends (its early stop,
    divergence, own max_epochs, or the population's end)."""
    return job_end(packed.module.facts.trained(packed.epochs).cpu(), members)


def _budget_rows(packed: Packed, cfg: DictConfig) -> list[int]:
    """The job's own budgets' rows of the population's facts.right_at (a row per budget of the union)."""
    union = list(packed.module.facts.budgets)
    return [union.index(b) for b in budgets(cfg)]


def _job_checkpoint(source: dict, cfg: DictConfig, members: slice, epochs: int, rows: list[int], info: dict) -> dict:
    ckpt = {k: v for k, v in source.items() if k not in ("state_dict", "optimizer_states", "hyper_parameters", RUN_KEY)}
    done = min(epochs, int(source["state_dict"]["epochs_done"]))  # best.ckpt: written when a best last changed
    state = job_state(source["state_dict"], members, rows, done)
    return {**ckpt, "state_dict": state, "hyper_parameters": _hyper_parameters(cfg), RUN_KEY: info}


def job_fitted(packed: Packed, j: int, cfg: DictConfig) -> tuple[TrainPlan, RunPaths, Fitted]:
    """Job ``j``'s checkpoints and per-epoch scalars written into its folders (inside its Hydra job:
    run_paths claims them as train() would), and what run/train.finish needs of it."""
    from xor_lightning.run.train import plan

    found = plan(cfg)
    paths = run_paths(cfg)
    members, epochs, rows = packed.slices[j], job_epochs(packed, packed.slices[j]), _budget_rows(packed, cfg)
    info = RunInfo(paths.name, cfg).info
    last = _job_checkpoint(packed.last, cfg, members, epochs, rows, info)
    job_module = module_from(last)
    last["optimizer_states"] = [_optimizer_state(packed.last["optimizer_states"][0], packed.trainer, members, job_module,
                                                 epochs, packed.steps_per_epoch)]
    last_path = str((paths.checkpoint_dir / "last.ckpt").resolve())
    atomic_save(last, last_path)
    best_path = None
    if packed.best is not None:
        best_path = str((paths.checkpoint_dir / "best.ckpt").resolve())
        atomic_save(_job_checkpoint(packed.best, cfg, members, epochs, rows, info), best_path)
    job_module.run_over = bool(job_module.facts.done.all())
    # What trained it: the population's engine, chosen for the whole population (core/engines.py).
    job_module.engine = packed.module.engine
    job_module.engine_reason = f"{packed.module.engine_reason}; the packed population of {packed.slices[-1].stop} members"
    max_time = cfg.trainer.get("max_time") is not None
    reason = stop_reason(packed.trainer, job_module, int(cfg.trainer.max_epochs), max_time)
    loggers = build_loggers(cfg, paths)
    steps, rows = packed.curves.rows_of(j, epochs)
    log_epochs(loggers, steps, rows)
    v = cfg.visuals
    visuals = VisualsCallback(v.every_n_epochs, v.members, v.images, v.histograms, v.member)
    visuals.history = packed.curves.history(j, epochs)
    share = packed.fit_seconds * (members.stop - members.start) / packed.slices[-1].stop
    return replace(found, accelerator=packed.accelerator), paths, Fitted(
        job_module, epochs, last_path, best_path, reason, share, loggers, visuals)


@holds_its_folders  # the job's folder lock (run_paths) lasts exactly as long as this call, as in train()
def packed_job(cfg: DictConfig, packed: Packed, j: int) -> dict[str, Any]:
    """Job ``j`` of a trained population, from here on as train() ends a lone run (run/train.finish)."""
    wall_start = time.perf_counter()
    found, paths, fitted = job_fitted(packed, j, cfg)
    return finish(cfg, found, paths, fitted, wall_start)
