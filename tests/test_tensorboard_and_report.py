"""What a run shows: TensorBoard images, histograms, scalars and HParams, report.png, evaluate's boundary."""

from __future__ import annotations

import re

import matplotlib.image
import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from tests.helpers import compose_config, run_cli, train_config
from xor_lightning.base.errors import UserError
from xor_lightning.core.evaluation import evaluate_module
from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.checks import check_train_config
from xor_lightning.run.evaluate import evaluate
from xor_lightning.run.train import train
from xor_lightning.views.figures import MEMBER_LINES, History, boundary_image

FAST = ["early_stop.enabled=false", "trainer.max_epochs=6", "visuals.every_n_epochs=2", "visuals.members=2"]


def _events(log_dir) -> EventAccumulator:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def _hparam_kinds(acc: EventAccumulator) -> dict[str, str]:
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {k: v.WhichOneof("kind") for k, v in info.hparams.items()}


def _hparam_metrics(acc: EventAccumulator) -> list[str]:
    content = acc.PluginTagToContent("hparams")["_hparams_/experiment"]
    return [m.name.tag for m in plugin_data_pb2.HParamsPluginData.FromString(content).experiment.metric_infos]


@pytest.fixture(scope="module")
def population_run(tmp_path_factory):
    """One 3-member run of 6 epochs with visuals every 2 epochs, shared by the checks below."""
    root = tmp_path_factory.mktemp("visuals")
    metrics = train(train_config(root, "seeds=3", *FAST, "budgets=[3,6]", run_id="pop"))
    return root, metrics


def test_event_files_hold_scalars_images_histograms_hparams(population_run):
    root, metrics = population_run
    acc = _events(metrics["log_dir"])
    tags = acc.Tags()
    for tag in ("train/loss", "val/loss", "val/acc", "val/success_rate"):
        assert len(acc.Scalars(tag)) == 6, tag  # one per epoch
    for tag in ("verdict/success_rate", "verdict/epochs_to_solve_median", "verdict/final_loss"):
        assert len(acc.Scalars(tag)) == 1, tag
    assert "hp_metric" not in tags["scalars"]  # Lightning's placeholder would hide the real metrics
    # The Scalars tab orders tag groups by name: the per-epoch curves first, the one-point results after.
    groups = list(dict.fromkeys(tag.split("/")[0] for tag in sorted(tags["scalars"])))
    assert groups == ["train", "val", "verdict", "why_failed"], groups
    for e in (3, 6):  # a result per epoch budget: the fraction right at exactly that epoch
        (point,) = acc.Scalars(f"verdict/right_at_{e}")
        assert point.value == pytest.approx(metrics["right_at_budget"][str(e)]["rate"])
    assert "_hparams_/session_start_info" in acc.summary_metadata
    # Before training (step 0), every 2 epochs, and at the end (epoch 6 = step 6, not repeated);
    # the best member is known only at the end.
    assert set(tags["images"]) == {"boundary/member", "units/member", "boundary/members", "boundary/best", "units/best"}
    for tag in ("boundary/member", "units/member", "boundary/members"):
        assert [e.step for e in acc.Images(tag)] == [0, 2, 4, 6], tag
    for tag in ("boundary/best", "units/best"):
        assert [e.step for e in acc.Images(tag)] == [6], tag
    assert set(tags["histograms"]) == {f"{kind}/{layer}" for kind in ("weights", "biases") for layer in ("hidden1", "output")}
    weights = acc.Histograms("weights/hidden1")
    assert [e.step for e in weights] == [0, 2, 4, 6]
    assert weights[0].histogram_value.num == 3 * 2 * 8  # members x inputs x units
    assert weights[0].histogram_value.sum != weights[-1].histogram_value.sum  # the weights moved
    assert _hparam_metrics(acc) == ["verdict/success_rate", "verdict/epochs_to_solve_median", "verdict/final_loss"]


def test_history_keeps_the_mean_and_the_first_members_only():
    history = History()
    for epoch in (1, 2):
        history.add(epoch, 0.5, torch.arange(1000, dtype=torch.float32))
    assert history.val_loss == [499.5, 499.5]
    assert [len(row) for row in history.val_members] == [MEMBER_LINES, MEMBER_LINES]


def test_report_png_is_written_into_the_run_folder(population_run):
    root, _ = population_run
    image = matplotlib.image.imread(root / "outputs" / "pop" / "report.png")
    height, width = image.shape[:2]
    assert width > 600 and height > 300
    assert image[..., :3].std() > 0.05  # a picture, not a blank canvas


def test_hparams_have_the_same_keys_and_types_across_runs(population_run, tmp_path):
    root, metrics = population_run
    other = train(train_config(tmp_path, "seeds=1", "optimizer=sgd", "model.hidden=[]", "loss=mse",
                               "trainer.max_epochs=2", "visuals.images=false", "visuals.report=false", run_id="other"))
    a, b = _events(metrics["log_dir"]), _events(other["log_dir"])
    assert _hparam_kinds(a) == _hparam_kinds(b)
    assert _hparam_metrics(a) == _hparam_metrics(b)


def test_visuals_can_be_switched_off(train_cfg, tmp_path):
    metrics = train(train_cfg("trainer.max_epochs=2", "visuals.images=false", "visuals.histograms=false", "visuals.report=false"))
    tags = _events(metrics["log_dir"]).Tags()
    assert tags["images"] == [] and tags["histograms"] == []
    assert "val/loss" in tags["scalars"]
    assert not (tmp_path / "outputs" / "test" / "report.png").exists()


def test_no_hidden_layer_still_draws_boundary_and_report(train_cfg, tmp_path):
    metrics = train(train_cfg("model.hidden=[]", "trainer.max_epochs=2", "visuals.every_n_epochs=0"))
    acc = _events(metrics["log_dir"])
    assert [e.step for e in acc.Images("units/member")] == [0, 2]
    assert [e.step for e in acc.Images("units/best")] == [2]
    assert "weights/hidden1" not in acc.Tags()["histograms"]
    assert (tmp_path / "outputs" / "test" / "report.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("visuals.every_n_epochs=-1", "visuals.every_n_epochs=-1 is not valid; expected an integer >= 0"),
        ("visuals.members=100", "visuals.members=100 is not valid; expected an integer from 0 to 36"),
        ("visuals.member=1", "visuals.member=1 is not valid; expected an integer from 0 to 0 (seeds=1)"),
        ("visuals.report=maybe", "visuals.report='maybe' is not valid; expected true or false"),
    ],
)
def test_bad_visuals_values_are_one_line_errors(train_cfg, override, message):
    with pytest.raises(UserError, match=re.escape(message)):
        check_train_config(train_cfg(override))


def test_evaluate_writes_the_boundary_png(population_run, tmp_path):
    root, metrics = population_run
    out = tmp_path / "pics" / "boundary.png"
    cfg = compose_config("evaluate", [f"checkpoint={metrics['best_checkpoint']}", f"boundary={out}", "member=1"])
    evaluate(cfg)
    module = load_checkpoint(metrics["best_checkpoint"], "cpu")
    expected = boundary_image(module.net, 1, task=module.task, seed=0, solved=evaluate_module(module).solved, size=320)
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), expected)  # member 1, large


def test_evaluate_refuses_a_boundary_that_is_not_png(population_run, tmp_path):
    _, metrics = population_run
    result = run_cli("evaluate", f"checkpoint={metrics['best_checkpoint']}", "boundary=pic.jpg", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: boundary='pic.jpg' is not valid; "
        "expected a file name ending in .png, e.g. boundary=boundary.png"
    )
    assert not (tmp_path / "pic.jpg").exists()
