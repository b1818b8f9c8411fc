"""TensorBoard's HParams tab: a sweep's rows are named by their swept values and its swept keys are
the columns (views/tb_hparams.py). (The Scalars tab's order: tests/test_tensorboard_and_report.py.)"""

from __future__ import annotations

from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from xor_lightning.cli.precheck import swept_keys
from xor_lightning.views.tb_hparams import columns, log_hparams, param_names, trial_name

PARAMS = {"seed": 0, "seeds": 20, "loss": "mse", "optimizer": "Adam", "optimizer/lr": 0.1, "data/batch_size": 4}
RESULTS = {"verdict/success_rate": 1.0, "verdict/epochs_to_solve_median": 10.0, "verdict/final_loss": 0.06}


def _hparams(log_dir) -> dict[str, plugin_data_pb2.HParamsPluginData]:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0}).Reload()
    return {tag: plugin_data_pb2.HParamsPluginData.FromString(content)
            for tag, content in acc.PluginTagToContent("hparams").items()}


def test_a_sweep_job_is_named_by_its_swept_values_and_lists_the_swept_keys(tmp_path):
    jobs = [["optimizer=adam", "optimizer.lr=0.1", "seeds=20"], ["optimizer=sgd", "optimizer.lr=0.3", "seeds=20"]]
    swept = swept_keys(jobs)
    assert swept == ["optimizer", "optimizer.lr"]
    assert trial_name(1, {"optimizer": "sgd", "optimizer.lr": "0.3", "seeds": "20"}, swept) == "1: sgd, 0.3"
    assert trial_name(None, {}, []) == ""  # a single run: TensorBoard names it by its run id
    assert columns(PARAMS, param_names(swept)) == ["optimizer", "optimizer/lr"]
    assert columns(PARAMS, []) == list(PARAMS)

    logger = TensorBoardLogger(str(tmp_path), name="sweep", version="1", default_hp_metric=False)
    log_hparams(logger, PARAMS, RESULTS, step=50, trial="1: sgd, 0.3", shown=["optimizer", "optimizer/lr"])
    logger.finalize("success")
    data = _hparams(logger.log_dir)
    infos = data["_hparams_/experiment"].experiment.hparam_infos
    assert [(i.name, i.differs) for i in infos] == [("optimizer", True), ("optimizer/lr", True)]
    start = data["_hparams_/session_start_info"].session_start_info
    assert start.group_name == "1: sgd, 0.3" and set(start.hparams) == set(PARAMS)  # every key still recorded
    acc = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0}).Reload()
    assert [(e.step, e.value) for e in acc.Scalars("verdict/success_rate")] == [(50, 1.0)]
