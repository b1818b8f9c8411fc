"""The HParams tab: one row per run, named so a sweep's rows are told apart at a glance, with the
keys the sweep varies as its columns.

Lightning's ``log_hyperparams`` writes torch's three hparams summaries as they are: the trial is
named by its run folder (a sweep's all begin ``<sweep id>/``, which the table cuts), and every run
writes the experiment (the column list) with no key marked as differing, so TensorBoard sorts the
columns by name and shows the first five (``data/batch_size``, ``loss``, ``model/...``), hiding the
swept ``optimizer``. Here a multirun job names its trial by its job number and swept values
(``3: sgd, 0.3``) and lists the swept keys as the experiment's columns, marked as
differing; a single run lists every key. Every run still records all its hyperparameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SWEPT_ENV = "XOR_LIGHTNING_SWEPT"  # set by the command line for a multirun: the keys its jobs vary


def sweep_job() -> tuple[int | None, dict[str, str], list[str]]:
    """(job number, its overrides, the keys the sweep varies) inside a multirun, else (None, {}, [])."""
    import os

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from xor_lightning.base.overrides import as_typed, key_values

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None, {}, []
    hydra = HydraConfig.get()
    swept = [k for k in os.environ.get(SWEPT_ENV, "").split(",") if k]
    return int(hydra.job.num), {k: as_typed(v) for k, v in key_values(list(hydra.overrides.task)).items()}, swept


def trial_name(job: int | None, overrides: Mapping[str, str], swept: list[str]) -> str:
    """``3: sgd, 0.3`` for multirun job 3 (its swept values: the table cuts long names), else ''
    (TensorBoard then names the trial by its run folder, the run id)."""
    if job is None:
        return ""
    values = ", ".join(overrides[k] for k in swept if k in overrides)  # the columns say which key
    return f"{job}: {values}" if values else str(job)


def columns(params: Mapping[str, Any], swept_params: list[str]) -> list[str]:
    """The HParams columns: the swept keys (as ``params`` names them) when a sweep varies any, else all."""
    shown = [k for k in params if k in swept_params]
    return shown or list(params)


def param_names(swept: list[str]) -> list[str]:
    """Config keys (``optimizer.lr``, ``optimizer``, ``model.hidden``) as hparams names (``optimizer/lr``)."""
    return [k.replace(".", "/") for k in swept]


def log_hparams(logger, params: dict[str, Any], metrics: dict[str, float], step: int,
                trial: str = "", shown: list[str] | None = None) -> None:
    """The run's hyperparameters and results in a TensorBoardLogger's event file: the results as
    scalars at ``step``, then the experiment (columns ``shown``, marked as differing when they are
    fewer than all), the session start (named ``trial``) and its end."""
    from tensorboard.plugins.hparams.metadata import PLUGIN_DATA_VERSION
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    from torch.utils.tensorboard.summary import hparams

    logger.log_metrics(metrics, step=step)
    experiment, start, end = hparams(params, metrics)
    shown = list(params) if shown is None else shown
    differs = len(shown) < len(params)

    def edit(summary, change) -> None:
        value = summary.value[0]
        data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
        change(data)
        data.version = PLUGIN_DATA_VERSION
        value.metadata.plugin_data.content = data.SerializeToString()

    def keep_shown(data) -> None:
        infos = [info for info in data.experiment.hparam_infos if info.name in shown]
        for info in infos:
            info.differs = differs
        data.experiment.ClearField("hparam_infos")
        data.experiment.hparam_infos.extend(sorted(infos, key=lambda info: shown.index(info.name)))

    def name_trial(data) -> None:
        data.session_start_info.group_name = trial

    edit(experiment, keep_shown)
    edit(start, name_trial)
    writer = logger.experiment._get_file_writer()
    for summary in (experiment, start, end):
        writer.add_summary(summary)
    logger.experiment.flush()
