"""``hydra/launcher=population``: a multirun's jobs trained as few populations as they allow.

Hydra hands a launcher every job's overrides. This one composes every job and checks it
(run/train.preflight, as the command's precheck does) and each population's memory before anything
trains, groups the jobs by packing key (run/spec.py: jobs that differ only in what a member
carries), trains each group as one population (run/packed.py), and then runs every job as Hydra's
basic launcher would (hydra.core.utils.run_job: its folder, .hydra/ files, train.log, callbacks,
JobReturn), except that the job's task is to write its share of the population: metrics.json,
members.csv, best.ckpt/last.ckpt, its TensorBoard run and report.png, through the same code as a
lone run (run/train.finish).
"""

# No "from __future__ import annotations": Hydra executes plugin modules without registering them in
# sys.modules, where dataclasses look string annotations up.

import copy
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


@dataclass
class PopulationLauncherConf:
    _target_: str = "hydra_plugins.xor_lightning_population.population_launcher.PopulationLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="population", node=PopulationLauncherConf,
                             provider="xor-lightning")


@dataclass
class _Job:
    num: int
    sweep: DictConfig  # with hydra (what run_job takes)
    cfg: DictConfig    # the task's config (without hydra)


def _task_config(sweep: DictConfig) -> DictConfig:
    cfg = copy.deepcopy(sweep)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


class PopulationLauncher(Launcher):
    def __init__(self) -> None:
        super().__init__()
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from xor_lightning.base.errors import RunStopped, UserError

        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        before = HydraConfig.instance().cfg
        try:
            jobs = [self._job(overrides, initial_job_idx + i) for i, overrides in enumerate(job_overrides)]
            groups = self._checked_groups(jobs)
        except (UserError, RunStopped) as exc:  # before anything trains: one line, as the precheck's
            print(f"{exc.label}: {exc}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
        finally:
            HydraConfig.instance().cfg = before
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        members = sum(int(j.cfg.seeds) for j in jobs)
        log.info(f"Launching {len(jobs)} jobs as {len(groups)} population{'s' if len(groups) != 1 else ''} "
                 f"({members} members in all)")
        returns: list[JobReturn] = []
        for g, group in enumerate(groups):
            returns.extend(self._run_group(g, group, len(groups)))
        return sorted(returns, key=lambda r: int(r.hydra_cfg.hydra.job.num))

    def _job(self, overrides: Sequence[str], num: int) -> _Job:
        sweep = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(sweep):
            sweep.hydra.job.id = num
            sweep.hydra.job.num = num
        return _Job(num, sweep, _task_config(sweep))

    def _checked_groups(self, jobs: list[_Job]) -> list[list[_Job]]:
        """Every job checked as the precheck does (which has done so already for the command line,
        the Hydra API has not), then grouped by packing key, each group's memory checked."""
        from xor_lightning.run.packed import check_grid
        from xor_lightning.run.train import preflight

        for job in jobs:
            HydraConfig.instance().set_config(job.sweep)
            preflight(job.sweep, multirun=True)
        return [[jobs[i] for i in group] for group in check_grid([j.cfg for j in jobs], jobs[0].num if jobs else 0)]

    def _run_group(self, g: int, group: list[_Job], total: int) -> list[JobReturn]:
        from xor_lightning.cli.entry_points import _run
        from xor_lightning.run.interrupt import Interrupted
        from xor_lightning.run.packed import job_numbers, packed_job, train_population
        from xor_lightning.run.run_id import check_run_id

        first = group[0].cfg
        members = sum(int(j.cfg.seeds) for j in group)
        log.info(f"population {g + 1} of {total}: {len(group)} jobs, {members} members")
        for job in group:
            log.info(f"\t#{job.num} : {' '.join(filter_overrides(list(job.sweep.hydra.overrides.task)))}")
        work = Path(first.paths.checkpoint_dir) / check_run_id(first.run_id, job=False) / f".packed-{g}"
        HydraConfig.instance().set_config(group[0].sweep)  # a job's config while the population trains
        try:
            jobs = job_numbers([j.num for j in group])
            packed = train_population([j.cfg for j in group], work, f"population {g + 1} of {total} ({jobs})")
        except Interrupted as exc:  # Ctrl-C in this process ends the sweep, as with the basic launcher
            print(f"{exc.label}: {exc}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
        except Exception as exc:  # every job of the population fails with it, as each would alone
            return [self._run(job, lambda cfg, exc=exc: _run(_raise(exc), cfg)) for job in group]
        try:
            return [self._run(job, lambda cfg, i=i: _run(lambda c: packed_job(c, packed, i), cfg)["success_rate"])
                    for i, job in enumerate(group)]
        finally:
            packed.close()

    def _run(self, job: _Job, task: TaskFunction) -> JobReturn:
        ret = run_job(hydra_context=self.hydra_context, task_function=task, config=job.sweep,
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return ret


def _raise(exc: Exception) -> TaskFunction:
    def task(cfg: DictConfig) -> None:
        raise exc

    return task
