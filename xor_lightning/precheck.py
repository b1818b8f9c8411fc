"""Compose and check every job's config before Hydra runs, so bad input never makes a folder.

Hydra reports composition errors in several lines and exits 1; here each becomes one line that
names the key and what would be valid, raised as UserError (exit code 2).
"""

from __future__ import annotations

import re

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from xor_lightning.config_dir import config_dir
from xor_lightning.errors import UserError

_MULTIRUN = {"-m", "--multirun"}
_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--experimental-rerun"}  # --resolve is a flag


class NotComposed(UserError):
    """The overrides do not compose into a config at all (so --cfg has nothing to print)."""


def _overrides(args: list[str]) -> tuple[list[str], bool]:
    """Hydra overrides in ``args`` (flags removed) and whether this is a multirun."""
    out, multirun, skip = [], False, False
    for arg in args:
        if skip:
            skip = False
        elif arg in _MULTIRUN:
            multirun = True
        elif arg in _WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out, multirun


def _jobs(overrides: list[str], multirun: bool) -> list[list[str]]:
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        raise NotComposed(_first_line(exc)) from None
    if not multirun:
        return [overrides]
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def _config_sweep(command: str, job: list[str], multirun: bool) -> list[tuple[list[str], DictConfig | None]]:
    """The jobs a config's own ``hydra.sweeper.params`` (an ``experiment=``) adds to ``job``, each
    with its composed config where it is already known (None: not composed yet).

    As Hydra's basic sweeper does: the config's params first, the command line's after (so it wins).
    """
    cfg = _compose(command, job)
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    if not params:
        return [(job, cfg)]
    swept = [f"{k}={v}" for k, v in params.items()]
    if not multirun:
        raise UserError(f"this config sweeps {', '.join(params)} (hydra.sweeper.params): add -m to run the sweep")
    return [(j, None) for j in _jobs(swept + job, multirun=True)]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _keys_under(cfg: DictConfig, dotted: str) -> str:
    node = OmegaConf.select(cfg, dotted) if dotted else cfg
    if isinstance(node, DictConfig):
        return ", ".join(k for k in node.keys() if k != "hydra")
    return ""


def _explain(exc: Exception, base: DictConfig | None) -> str:
    """One line for a composition error."""
    text = str(exc)
    if isinstance(exc, MissingConfigException) and exc.options is not None:
        m = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
        if m:
            hint = "; launchers come with: pip install -e '.[sweeps]' in the clone" if m.group(1) == "hydra/launcher" else ""
            return f"{m.group(1)}={m.group(2)!r} is not a known choice; choose one of: {', '.join(exc.options)}{hint}"
    m = re.search(r"Could not override '([^']+)'", text) or re.search(r"Key '([^']+)' is not in struct", text)
    if m:
        key = m.group(1)
        parent = key.rpartition(".")[0]
        if parent == "optimizer" and base is not None:  # not an argument of this optimizer at all: say so
            from xor_lightning.checks import unknown_optimizer_argument

            message = unknown_optimizer_argument(str(OmegaConf.select(base, "optimizer._target_")), key.split(".", 1)[1])
            if message:
                return message
        valid = _keys_under(base, parent) if base is not None else ""
        where = f"valid keys{' under ' + parent if parent else ''}: {valid}; " if valid else ""
        return f"{key} is not a config key; {where}to add a new key use +{key}=VALUE"
    m = re.search(r"Ambiguous value for argument '([^']+)'", text)
    if m:
        return f"{m.group(1)} has several values: add -m (multirun) to sweep over them"
    return _first_line(exc)


def _compose(name: str, overrides: list[str]) -> DictConfig:
    try:
        return compose(config_name=name, overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        # The keys an unknown-key message lists need a second compose: only paid on failure.
        raise NotComposed(_explain(exc, _base(name, overrides))) from None


def precheck(command: str, args: list[str]) -> int:
    """Raise UserError for the first bad override or value among all the jobs ``args`` make;
    returns how many jobs they make."""
    overrides, multirun = _overrides(args)
    jobs = _jobs(overrides, multirun)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3", job_name=command):
        expanded = _expand(command, jobs, multirun)
        for job, cfg in expanded:
            _check(command, _compose(command, job) if cfg is None else cfg, multirun)
    return len(expanded)


def _expand(command: str, jobs: list[list[str]], multirun: bool) -> list[tuple[list[str], DictConfig | None]]:
    return [pair for cl_job in jobs for pair in _config_sweep(command, cl_job, multirun)]


def expand_config_sweeps(command: str, jobs: list[list[str]], multirun: bool) -> list[list[str]]:
    """Every job Hydra will run: command-line jobs times each one's ``hydra.sweeper.params``."""
    return [job for job, _ in _expand(command, jobs, multirun)]


def _base(command: str, job: list[str]) -> DictConfig | None:
    """The job's config with its group choices only: the keys an unknown-key message lists."""
    groups = [o for o in job if "=" in o and "." not in o.split("=", 1)[0] and not o.startswith(("+", "~"))]
    for attempt in (groups, []):  # a bad group choice (or top-level key) in ``groups``: the defaults
        try:
            return compose(config_name=command, overrides=attempt)
        except Exception:
            continue
    return None


def _check_run_folder(cfg: DictConfig, multirun: bool) -> None:
    """Refuse a reused run id or a bad resume before Hydra writes into the run's folders."""
    from pathlib import Path

    from xor_lightning.resume import resume_path
    from xor_lightning.run_paths import check_free

    ckpt = Path(cfg.paths.checkpoint_dir) / str(cfg.run_id)
    check_free(cfg, ckpt)
    if cfg.get("ckpt_path") is not None:
        if multirun:
            raise UserError("ckpt_path resumes one run; resume the jobs of a multirun one at a time")
        resume_path(cfg, ckpt)


def _check_launcher(cfg: DictConfig) -> None:
    """A SLURM launcher needs SLURM: without sbatch it would fail after making the sweep folder."""
    import shutil

    target = str(OmegaConf.select(cfg, "hydra.launcher._target_") or "")
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if target.endswith(".SlurmLauncher") and missing:
        raise UserError(
            f"hydra/launcher=submitit_slurm needs SLURM ({' and '.join(missing)} not on this machine's PATH): "
            "run the sweep on the cluster's login node, or try it here with hydra/launcher=submitit_local"
        )


def _check(command: str, cfg: DictConfig, multirun: bool = False) -> None:
    from xor_lightning.devices import choose_accelerator

    if multirun:
        _check_launcher(cfg)
    if command == "train":
        from xor_lightning.checks import check_train_config
        from xor_lightning.train import _trainer_args, loop_plan, torch_threads

        check_train_config(cfg)
        _trainer_args(cfg.trainer)
        loop_plan(cfg)  # gradient clipping, the early stop
        torch_threads(cfg)
        from xor_lightning.extra_callbacks import check_callbacks
        from xor_lightning.loggers import check_loggers

        check_loggers(cfg)
        check_callbacks(cfg)
        choose_accelerator(cfg.device.accelerator, key="device")
        _check_run_folder(cfg, multirun)
    else:
        from xor_lightning.checkpoints import load_checkpoint
        from xor_lightning.evaluate import check_boundary_path

        if OmegaConf.is_missing(cfg, "checkpoint"):
            raise UserError("checkpoint is required: python -m xor_lightning evaluate checkpoint=PATH")
        check_boundary_path(cfg.boundary)
        device = choose_accelerator(str(cfg.device.accelerator), key="device")
        load_checkpoint(cfg.checkpoint, map_location=device)
