"""The run's experiment loggers (the ``logger`` config group) and what each records at the end.

``logger=tensorboard`` (default), ``logger=csv``, ``logger=mlflow`` or several at once
(``logger=[tensorboard,csv]``). Each entry of ``cfg.logger`` is a ``_target_`` mapping; the run's
own folder is filled in here unless the entry sets it. Pictures are drawn for TensorBoard only,
and for it to be ``trainer.logger`` (the one VisualsCallback reads) it always comes first.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from xor_lightning.base.errors import UserError
from xor_lightning.run.run_paths import RunPaths
from xor_lightning.run.targets import check_arguments, target_class

_EXTRAS = {"MLFlowLogger": ("mlflow", "mlflow"), "WandbLogger": ("wandb", "wandb"), "CometLogger": ("comet_ml", "comet_ml"),
           "NeptuneLogger": ("neptune", "neptune")}


def check_loggers(cfg: DictConfig) -> None:
    """One line for an entry of ``logger`` that cannot be built; imports nothing it does not need."""
    from pytorch_lightning.loggers import Logger

    for name, node in (cfg.get("logger") or {}).items():
        cls = target_class(f"logger.{name}", node, Logger, "a Lightning logger")
        check_arguments(f"logger.{name}", cls, node)
        module, extra = _EXTRAS.get(cls.__name__, (None, None))
        if module and importlib.util.find_spec(module) is None:
            hint = "pip install -e '.[mlflow]' (mlflow-skinny)" if extra == "mlflow" else f"pip install {extra}"
            raise UserError(f"logger.{name} ({cls.__name__}) needs the {module} package: {hint}")


def build_loggers(cfg: DictConfig, paths: RunPaths) -> list:
    """The configured loggers, each writing under the run's folders (TensorBoard first)."""
    from hydra.utils import instantiate
    from pytorch_lightning.loggers import TensorBoardLogger

    check_loggers(cfg)
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        loggers.append(instantiate(node, **_run_arguments(node, paths)))
    return sorted(loggers, key=lambda lg: not isinstance(lg, TensorBoardLogger))


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
