"""The run's experiment loggers (the ``logger`` config group) and what each records at the end.

``logger=tensorboard`` (default), ``logger=csv``, ``logger=mlflow`` or several at once
(``logger=[tensorboard,csv]``). Each entry of ``cfg.logger`` is a ``_target_`` mapping; the run's
own folder is filled in here unless the entry sets it. Pictures are drawn for TensorBoard only,
and for it to be ``trainer.logger`` (the one VisualsCallback reads) it always comes first.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from xor_lightning.base.errors import UserError
from xor_lightning.run.run_paths import RunPaths
from xor_lightning.run.targets import check_arguments, check_values, refused, target_class

_EXTRAS = {"MLFlowLogger": ("mlflow", "mlflow"), "WandbLogger": ("wandb", "wandb"), "CometLogger": ("comet_ml", "comet_ml"),
           "NeptuneLogger": ("neptune", "neptune")}


def check_loggers(cfg: DictConfig) -> None:
    """One line naming ``logger.NAME[.KEY]`` for an entry that cannot be built, before any folder.

    Two checks, because a logger's constructor is the wrong judge of its own values: it stores them
    and uses them later (CSVLogger's flush_logs_every_n_steps at the 100th step, TensorBoard's extra
    arguments when its SummaryWriter starts a thread whose traceback no one catches), and some
    constructors write (MLflow's file store makes its folder and meta.yaml). So the values are
    first checked against the signature and its types, as trainer_checks does for the Trainer, and
    then the logger is built once with everything it could write redirected into a throwaway
    folder, for what only its class knows (a user's logger that raises, MLflow's URI schemes). Its
    ``experiment`` (the writer, a server connection) is never touched here.
    """
    from pytorch_lightning.loggers import Logger

    for name, node in (cfg.get("logger") or {}).items():
        key = f"logger.{name}"
        cls = target_class(key, node, Logger, "a Lightning logger")
        check_arguments(key, cls, node)
        module, extra = _EXTRAS.get(cls.__name__, (None, None))
        if module and importlib.util.find_spec(module) is None:
            hint = "pip install -e '.[mlflow]' (mlflow-skinny)" if extra == "mlflow" else f"pip install {extra}"
            raise UserError(f"{key} ({cls.__name__}) needs the {module} package: {hint}")
        check_values(key, cls, node)
        _check_writer_arguments(key, cls, node)
        _try_building(key, cls, node)


def _check_writer_arguments(key: str, cls: type, node: DictConfig) -> None:
    """TensorBoardLogger hands its other arguments to SummaryWriter (``**kwargs``): they are its."""
    from pytorch_lightning.loggers import TensorBoardLogger

    if not issubclass(cls, TensorBoardLogger):
        return
    from lightning_fabric.loggers.tensorboard import _TENSORBOARD_AVAILABLE

    if _TENSORBOARD_AVAILABLE:  # the writer Lightning picks (lightning_fabric/loggers/tensorboard.py)
        from torch.utils.tensorboard import SummaryWriter
    else:
        from tensorboardX import SummaryWriter
    own = list(inspect.signature(cls).parameters)
    extra = [k for k in OmegaConf.to_container(node, resolve=False) if not k.startswith("_") and k not in own]
    writer = [n for n in inspect.signature(SummaryWriter).parameters if n not in ("self", "log_dir")]
    for name in extra:
        if name not in writer:
            valid = [n for n in own if n != "kwargs"] + writer
            raise UserError(f"{key}.{name} is not an argument of {cls.__qualname__} or its SummaryWriter; "
                            f"valid: {', '.join(valid)}")
    check_values(key, SummaryWriter, node, names=extra)


# The arguments by which Lightning's loggers (and those written like them) are told where to write.
_PLACES = ("save_dir", "root_dir", "log_dir", "dir")


def _try_building(key: str, cls: type, node: DictConfig) -> None:
    """Build the logger as the job will, but writing nowhere that lasts: the working folder and every
    place it is told to write are a temporary folder, removed afterwards."""
    from hydra.utils import instantiate

    if "${hydra:" in str(OmegaConf.to_container(node, resolve=False)):
        return  # Hydra's own values exist only inside the job
    params = inspect.signature(cls).parameters
    with tempfile.TemporaryDirectory(prefix="xor-lightning-logger-check-") as tmp, contextlib.chdir(tmp), \
            _file_store_allowed():
        throwaway: dict[str, Any] = {p: tmp for p in _PLACES if p in params}
        uri = node.get("tracking_uri") if "tracking_uri" in params else None
        if "tracking_uri" in params and (uri is None or str(uri).startswith("file:") or "://" not in str(uri)):
            throwaway["tracking_uri"] = Path(tmp, "mlruns").as_uri()  # a file store would be made where it names
        try:
            instantiate(node, **throwaway)
        except Exception as exc:  # a user's class may raise anything
            raise refused(key, cls, node, exc) from None


@contextlib.contextmanager
def _file_store_allowed():
    """MLFLOW_ALLOW_FILE_STORE for the throwaway file store only (the job sets it for its own, _run_arguments)."""
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def build_loggers(cfg: DictConfig, paths: RunPaths) -> list:
    """The configured loggers, each writing under the run's folders (TensorBoard first)."""
    from hydra.utils import instantiate
    from pytorch_lightning.loggers import TensorBoardLogger

    check_loggers(cfg)
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        loggers.append(instantiate(node, **_run_arguments(node, paths), **_whole_files(node)))
    return sorted(loggers, key=lambda lg: not isinstance(lg, TensorBoardLogger))


def _whole_files(node: DictConfig) -> dict[str, Any]:
    """Lightning's CSVLogger writing to local files is built as run/csv_logger's, whose rewrites of
    hparams.yaml and metrics.csv are whole-or-nothing. (TensorBoardLogger's hparams.yaml is written
    once, before any hyperparameter is logged: it holds ``{}`` and is left as Lightning writes it.)"""
    from pytorch_lightning.loggers import CSVLogger

    if node._target_ not in (f"{CSVLogger.__module__}.CSVLogger", "pytorch_lightning.loggers.CSVLogger"):
        return {}
    if "://" in str(node.get("save_dir") or ""):
        return {}  # a remote store (fsspec): no rename there
    return {"_target_": "xor_lightning.run.csv_logger.WholeFileCSVLogger"}


def _run_arguments(node: DictConfig, paths: RunPaths) -> dict[str, Any]:
    """Where a logger of a known kind writes for this run, unless its entry says otherwise."""
    kind = str(node._target_).rsplit(".", 1)[-1]
    given = set(node.keys())
    out: dict[str, Any] = {}
    if kind == "TensorBoardLogger":  # events straight in logs/<run>/, as tensorboard --logdir logs expects
        out = {"save_dir": str(paths.log_root), "name": paths.name, "version": ""}
    elif kind == "CSVLogger":  # logs/<run>/csv/metrics.csv: its own folder, since CSVLogger clears metrics.csv there
        out = {"save_dir": str(paths.log_root), "name": paths.name, "version": _fresh_csv_version(paths)}
    elif kind == "MLFlowLogger":
        out = {"run_name": paths.name}
        if node.get("tracking_uri") is None:
            # A file store beside the TensorBoard runs: mlflow ui --backend-store-uri logs/mlruns
            out["tracking_uri"] = (Path(paths.log_root).resolve() / "mlruns").as_uri()
        uri = str(node.get("tracking_uri") or out["tracking_uri"])
        if uri.startswith("file:") or "://" not in uri:
            # MLflow 3 refuses its file store ("maintenance mode") unless this is set; it is what
            # "no server, plain files" needs. A user's own setting wins.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return {k: v for k, v in out.items() if k not in given or node.get(k) is None}


def _fresh_csv_version(paths: RunPaths) -> str:
    """``csv`` for a run's first part; a resumed part gets ``csv-2``, ``csv-3``, ... next to it, since
    Lightning's CSVLogger deletes a metrics.csv it finds in its folder (what the run wrote before)."""
    folder = Path(paths.log_root) / paths.name
    version, n = "csv", 1
    while (folder / version / "metrics.csv").exists():
        n += 1
        version = f"csv-{n}"
    return version


def log_run_summary(loggers: list, params: dict[str, Any], final: dict[str, float], step: int,
                    extra: dict[str, float] | None = None,
                    curves: dict[str, tuple[list[int], list[float]]] | None = None,
                    trial: str = "", shown: list[str] | None = None) -> None:
    """The run's hyperparameters and final results in each logger, then close it.

    TensorBoard pairs them in its HParams tab (``log_hyperparams(params, metrics)``); the others
    record the parameters (``model.hidden``, not ``model/hidden``) and log the results as metrics
    at the last epoch. ``extra`` scalars (the diagnosis) go to every logger at the last epoch,
    ``curves`` (the survival curve: steps, values) at their own steps. ``trial`` and ``shown``:
    the HParams row's name and columns (views/tb_hparams.py).
    """
    from pytorch_lightning.loggers import TensorBoardLogger

    from xor_lightning.views.tb_hparams import log_hparams

    for logger in loggers:
        if extra:
            logger.log_metrics(extra, step=step)
        for tag, (steps, values) in (curves or {}).items():
            for at, value in zip(steps, values):
                logger.log_metrics({tag: value}, step=at)
        if isinstance(logger, TensorBoardLogger):
            log_hparams(logger, params, final, step, trial, shown)
        else:
            # "optimizer" and "optimizer/lr" would be a file and a folder of one name in MLflow's store.
            logger.log_hyperparams({k.replace("/", "."): v for k, v in params.items()})
            logger.log_metrics(final, step=step)
        logger.finalize("success")
