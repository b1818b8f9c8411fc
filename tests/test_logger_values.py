"""A value a logger refuses (a shipped one or the user's own) is one line before any folder, and
checking it writes nothing anywhere (the logger is built in a throwaway folder)."""

from __future__ import annotations

import importlib.util

import pytest
from pytorch_lightning.loggers import CSVLogger

from tests.helpers import assert_refused_in_process


class Boom(CSVLogger):
    """A user's logger whose constructor raises."""

    def __init__(self, save_dir: str = "elsewhere", level: int = 1) -> None:
        raise RuntimeError("the tracking server is down\nsecond line")


class MakesFolders(CSVLogger):
    """A user's logger that creates its folders as it is built, then refuses a value."""

    def __init__(self, save_dir: str = "made_here", mode: str = "fast") -> None:
        from pathlib import Path

        Path(save_dir, "sub").mkdir(parents=True)
        Path("made_in_cwd").mkdir()
        raise ValueError(f"mode={mode} is not one of fast, slow")


@pytest.mark.parametrize(
    "args, message",
    [
        (["logger.tensorboard.default_hp_metric=abc"],
         "error: logger.tensorboard.default_hp_metric=abc is not valid; expected true or false"),
        (["+logger.tensorboard.flush_secs=abc"], "error: logger.tensorboard.flush_secs=abc is not valid; expected a number"),
        (["+logger.tensorboard.flush_sec=1"],
         "error: logger.tensorboard.flush_sec is not an argument of TensorBoardLogger or its SummaryWriter; valid: "),
        (["logger=csv", "logger.csv.flush_logs_every_n_steps=abc"],
         "error: logger.csv.flush_logs_every_n_steps=abc is not valid; expected an integer"),
        ([f"+logger.mine._target_={__name__}.Boom"],
         "error: logger.mine is not valid: Boom refuses it (the tracking server is down)"),
        ([f"+logger.mine._target_={__name__}.MakesFolders", "+logger.mine.mode=abc"],
         "error: logger.mine.mode=abc is not valid: MakesFolders refuses it (mode=abc is not one of fast, slow)"),
    ],
    ids=["tb-bool", "tb-writer-value", "tb-writer-name", "csv-int", "user-raises", "user-makes-folders"],
)
def test_a_value_a_logger_refuses_is_one_line_and_nothing_is_written(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(["train", *args], message, tmp_path, capsys)


@pytest.mark.parametrize(
    "args, message",
    [
        (["logger=mlflow", "+logger.mlflow.log_model=abc"],
         "error: logger.mlflow.log_model=abc is not valid; expected true, false or 'all'"),
        pytest.param(["logger=mlflow", "logger.mlflow.tracking_uri=foo://x"],
                     "error: logger.mlflow is not valid: MLFlowLogger refuses it (Model registry functionality is "
                     "unavailable; got unsupported URI 'foo://x'", marks=pytest.mark.slow),  # builds it: imports mlflow
    ],
    ids=["mlflow-literal", "mlflow-uri"],
)
def test_an_mlflow_value_is_checked_without_making_its_file_store(args, message, capsys, tmp_path, monkeypatch):
    if importlib.util.find_spec("mlflow") is None:  # importing it takes seconds: only look
        pytest.skip("needs mlflow")
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(["train", *args], message, tmp_path, capsys)


@pytest.mark.slow  # imports mlflow (3 s)
def test_a_good_mlflow_logger_is_built_in_preflight_without_a_file(tmp_path, monkeypatch):
    """Preflight builds the logger (its store would be logs/mlruns): nothing appears there or in the cwd."""
    if importlib.util.find_spec("mlflow") is None:  # importing it takes seconds: only look
        pytest.skip("needs mlflow")
    from tests.helpers import train_config
    from xor_lightning.run.loggers import check_loggers

    monkeypatch.chdir(tmp_path)
    check_loggers(train_config(tmp_path, "logger=mlflow", f"logger.mlflow.tracking_uri={(tmp_path / 'store').as_uri()}"))
    assert not any(tmp_path.iterdir())
