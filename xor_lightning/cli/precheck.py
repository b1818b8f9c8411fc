"""Compose and check every job's config before Hydra runs, so bad input never makes a folder.

Hydra reports composition errors in several lines and exits 1; here each becomes one line that
names the key and what would be valid, raised as UserError (exit code 2).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from xor_lightning.base.config_dir import config_dir
from xor_lightning.base.errors import UserError
from xor_lightning.base.overrides import key_values, split_args
from xor_lightning.base.suggest import did_you_mean
from xor_lightning.cli.override_errors import parse_all
from xor_lightning.run.run_paths import unresolved

_PRINT_ONLY = {"--cfg", "-c"}  # Hydra prints the config and runs nothing: no run folder to claim
_CHOICE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # a config group choice is a file name, never a path


class NotComposed(UserError):
    """The overrides do not compose into a config at all (so --cfg has nothing to print)."""


def _jobs(overrides: list[str], multirun: bool) -> list[list[str]]:
    try:
        parsed = parse_all(overrides)
    except ValueError as exc:
        raise NotComposed(str(exc)) from None
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
    if isinstance(exc, MissingConfigException):
        # "Could not find" (one choice, with the options) or "Could not load" (an item of a list of choices)
        m = re.search(r"Could not (?:find|load) '([^']+)/([^'/]+)'", text)
        options = exc.options if exc.options is not None else _group_options(m.group(1)) if m else None
        if m and options:
            group, choice = m.groups()
            hint = "; launchers come with: pip install -e '.[sweeps]' in the clone" if group == "hydra/launcher" else ""
            if group == "optimizer":
                from xor_lightning.run.checks import refused_optimizer

                refused = refused_optimizer(choice, options)
                if refused:
                    return refused
            guess = did_you_mean(choice, options, lambda name: f"{group}={name}")
            return f"{group}={choice!r} is not a known choice; {guess}choose one of: {', '.join(options)}{hint}"
    m = re.search(r"Could not override '([^']+)'", text) or re.search(r"Key '([^']+)' is not in struct", text)
    if m:
        key = m.group(1)
        parent = key.rpartition(".")[0]
        if parent == "optimizer" and base is not None:  # not an argument of this optimizer at all: say so
            from xor_lightning.run.checks import unknown_optimizer_argument

            message = unknown_optimizer_argument(str(OmegaConf.select(base, "optimizer._target_")), key.split(".", 1)[1])
            if message:
                return message
        if parent == "trainer":  # an argument Lightning has but the run decides itself: what to use instead
            from xor_lightning.run.trainer_setup import own_trainer_arg

            refused = own_trainer_arg(key.split(".", 1)[1], _value_of(text))
            if refused:
                return refused
        valid = _keys_under(base, parent) if base is not None else ""
        where = f"valid keys{' under ' + parent if parent else ''}: {valid}; " if valid else ""
        guess = _nearest_key(base, key) if base is not None else ""
        return f"{key} is not a config key; {guess}{where}to add a new key use +{key}=VALUE"
    m = re.search(r"Ambiguous value for argument '([^']+)'", text)
    if m:
        return f"{m.group(1)} has several values: add -m (multirun) to sweep over them"
    return _first_line(exc)


def _value_of(message: str) -> str | None:
    """The value in Hydra's "To append to your config use +KEY=VALUE" hint."""
    m = re.search(r"use \+[^=\s]+=(\S+)", message)
    return m.group(1) if m else None


def _group_options(group: str) -> list[str]:
    """The choices of a config group of ours (its YAML files), e.g. ``logger``: csv, mlflow, tensorboard."""
    return sorted(p.stem for p in (Path(config_dir()) / group).glob("*.yaml"))


def _nearest_key(base: DictConfig, key: str) -> str:
    """'did you mean ...' for an unknown key: a sibling of its last part where its parent exists
    (``model.hiden``), else the closest key as deep (``modle.hidden``)."""
    parent, _, last = key.rpartition(".")
    node = OmegaConf.select(base, parent) if parent else base
    if isinstance(node, DictConfig):
        siblings = [str(k) for k in node.keys() if k != "hydra"]
        return did_you_mean(last, siblings, lambda name: f"{parent}.{name}" if parent else name)
    return did_you_mean(key, _keys_at_depth(base, key.count(".")))


def _keys_at_depth(cfg: DictConfig, depth: int, prefix: str = "") -> list[str]:
    """The dotted keys of ``cfg`` with ``depth`` dots (``model.hidden``: 1), Hydra's own left out."""
    keys = []
    for key, node in cfg.items_ex(resolve=False):
        if key == "hydra":
            continue
        if depth == 0:
            keys.append(f"{prefix}{key}")
        elif isinstance(node, DictConfig):
            keys += _keys_at_depth(node, depth - 1, f"{prefix}{key}.")
    return keys


def _check_group_choices(overrides: list[str]) -> None:
    """``experiment=../train`` would load any YAML file as a group member: a choice is a name.

    A list of choices (``logger=[tensorboard,csv]``: several members of one group) is a list of names.
    """
    for override in overrides:
        key, eq, value = override.partition("=")
        key = key.lstrip("+~")
        group = Path(config_dir()) / key
        if not eq or "." in key or value == "null" or not (key.startswith("hydra/") or group.is_dir()):
            continue
        try:
            read = parse_all([override])[0]
            parsed = list(read.sweep_iterator()) if read.is_sweep_override() else read.value()  # -m a,b: each a name
        except ValueError:
            parsed = value  # not an override Hydra can read: compose names the problem
        for choice in parsed if isinstance(parsed, list) else [parsed]:
            if not isinstance(choice, str) or not _CHOICE.fullmatch(choice):
                names = _group_options(key)
                choose = f": choose one of: {', '.join(names)}" if names else ""
                shown = value if isinstance(parsed, list) else choice
                raise UserError(f"{key}={shown!r} is not valid; a group choice is a name, not a path{choose}")


def _compose(name: str, overrides: list[str]) -> DictConfig:
    _check_group_choices(overrides)
    try:
        return compose(config_name=name, overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        # The keys an unknown-key message lists need a second compose: only paid on failure.
        raise NotComposed(_explain(exc, _base(name, overrides))) from None


def precheck(command: str, args: list[str]) -> tuple[list[str], list[list[str]]]:
    """Raise UserError for the first bad override or value among all the jobs ``args`` make.

    A train run that will really start also gets its run folder locked here, before Hydra writes
    into it. Returns overrides to add to ``args`` (a resumed run's own ``trainer.max_epochs``) and
    the overrides of every job ``args`` make.
    """
    overrides, multirun = split_args(args)
    claim = not _PRINT_ONLY.intersection(args)
    jobs = _jobs(overrides, multirun)
    extra: list[str] = []
    checked, every_job = [], []
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3", job_name=command):
        pairs = _expand(command, jobs, multirun)
        status = Progress(len(pairs)) if multirun else None
        try:
            for job, cfg in pairs:
                cfg = _compose(command, job) if cfg is None else cfg
                if command == "train" and not multirun and cfg.get("ckpt_path") is not None:
                    extra = _resume_defaults(cfg, job)
                    cfg = _compose(command, job + extra) if extra else cfg
                _check(command, cfg, multirun, values_only=not claim)
                checked.append(cfg)
                every_job.append(job)
                if status:
                    status.tick(len(checked))
        finally:
            if status:
                status.close()
    if command == "train" and multirun and checked and _packed(checked[0]):
        from xor_lightning.run.packed import check_grid

        check_grid(checked)  # hydra/launcher=population: what packing adds (memory of each population)
    if command == "train" and claim:  # only once every job passed: a refused command makes no folder
        for cfg in checked:
            _claim_run_folder(cfg, multirun)
    return extra, every_job


def _packed(cfg: DictConfig) -> bool:
    return str(OmegaConf.select(cfg, "hydra.launcher._target_") or "").endswith(".PopulationLauncher")


def swept_keys(jobs: list[list[str]]) -> list[str]:
    """The override keys whose value differs between ``jobs`` (a multirun's swept keys)."""
    given = [key_values(job) for job in jobs]
    keys = list(dict.fromkeys(k for g in given for k in g))
    return [k for k in keys if len({g.get(k) for g in given}) > 1] if len(given) > 1 else []


class Progress:
    """A sweep's jobs are all composed and checked before the first starts (seconds for a large
    grid, with Lightning's import): on a terminal, a status line says so at once and counts the
    jobs checked; it is erased when checking ends, so a refusal stays one line and the launch
    output follows as before. Off a terminal (logs, CI) it says nothing."""

    def __init__(self, total: int, stream=None) -> None:
        self.total, self.stream = total, sys.stderr if stream is None else stream
        self.shown = self.stream.isatty()
        self._say(0)

    def _say(self, done: int) -> None:
        if self.shown:
            jobs = f"{self.total} job{'s' if self.total != 1 else ''}"
            self.stream.write(f"\rchecking {jobs} before the sweep starts: {done}/{self.total} checked\033[K")
            self.stream.flush()

    def tick(self, done: int) -> None:
        self._say(done)

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _claim_run_folder(cfg: DictConfig, multirun: bool) -> None:
    """Lock the run's checkpoint folder (a multirun's: its sweep's) for this process until train() adopts it."""
    from xor_lightning.run import run_lock
    from xor_lightning.run.run_id import check_run_id
    from xor_lightning.run.run_paths import claim_folders

    name = check_run_id(cfg.run_id, job=not multirun)
    if not run_lock.held(Path(cfg.paths.checkpoint_dir) / name):
        run_lock.hold(claim_folders(cfg, name))


def _resume_defaults(cfg: DictConfig, job: list[str]) -> list[str]:
    from xor_lightning.run.resume import resume_defaults
    from xor_lightning.run.run_id import check_run_id

    try:
        folder = Path(cfg.paths.checkpoint_dir) / check_run_id(cfg.run_id)
    except (UserError, OmegaConfBaseException):
        return []  # _check names the problem
    return resume_defaults(cfg, job, folder)


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


def _check_resolvable(node: DictConfig | ListConfig, prefix: str = "") -> None:
    """Every value resolves (``${oc.env:NAME}`` with NAME unset does not); Hydra's own are resolved at run time."""
    raw_values = OmegaConf.to_container(node, resolve=False)
    keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        full, raw = f"{prefix}{key}", str(raw_values[key])
        if full == "hydra" or OmegaConf.is_missing(node, key):
            continue
        if not OmegaConf.is_interpolation(node, key):
            child = node[key]
            if isinstance(child, (DictConfig, ListConfig)):
                _check_resolvable(child, f"{full}.")
            continue
        if "${hydra:" in raw:
            continue
        try:
            node[key]
        except OmegaConfBaseException as exc:
            raise unresolved(full, raw, exc) from None


def _check_no_chdir(cfg: DictConfig) -> None:
    """Every folder of a run is resolved from where the command starts: changing into hydra.run.dir
    would put checkpoints and logs under it while the lock stays here, and the run could not be resumed."""
    chdir = OmegaConf.select(cfg, "hydra.job.chdir")
    if chdir not in (None, False):
        raise UserError(f"hydra.job.chdir={str(chdir).lower()} is not supported: a run's folders (paths.checkpoint_dir, "
                        "paths.log_dir, its lock) are resolved from the folder the command starts in, and moving into "
                        "hydra.run.dir would split them and leave the run unresumable; leave it false (paths.* and "
                        "hydra.run.dir choose where things go)")


def _check(command: str, cfg: DictConfig, multirun: bool = False, values_only: bool = False) -> None:
    """The job's checks; ``values_only`` (--cfg, which runs nothing): the config's own values, not
    the Lightning classes it names (trainer arguments, loggers, callbacks), which would cost importing
    Lightning, several seconds, to print a config."""
    _check_resolvable(cfg)
    _check_no_chdir(cfg)
    if multirun:
        _check_launcher(cfg)
    if values_only and command == "train":
        from xor_lightning.run.checks import check_train_config

        check_train_config(cfg)
        return
    from xor_lightning.run.evaluate import preflight as evaluate_preflight
    from xor_lightning.run.train import preflight as train_preflight

    if command == "train":
        train_preflight(cfg, multirun)
    else:
        evaluate_preflight(cfg)
