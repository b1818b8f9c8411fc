"""Every option of every config group composes, passes the checks and builds a working module."""

from pathlib import Path

import pytest
import torch

from tests.conftest import compose_config
from xor_lightning.checks import check_train_config
from xor_lightning.config_dir import config_dir
from xor_lightning.data import INPUTS, TruthTableDataModule
from xor_lightning.errors import UserError
from xor_lightning.train import build_module

GROUPS = ("model", "loss", "optimizer", "data", "device", "experiment")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(config_dir()) / group).glob("*.yaml"))


@pytest.mark.parametrize("group, option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_group_option_composes_and_builds(group, option):
    cfg = compose_config("train", [f"{group}={option}", "seeds=3"])
    check_train_config(cfg)
    module = build_module(cfg)
    assert module(INPUTS).shape[-2:] == (4, 1)
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Optimizer)


def test_the_groups_offer_what_the_readme_promises():
    assert options("loss") == ["bce", "bce_with_logits", "l1", "mse", "smooth_l1"]
    assert options("optimizer") == ["adagrad", "adam", "adamw", "rmsprop", "sgd"]
    assert options("device") == ["auto", "cpu", "cuda", "mps"]


def test_defaults():
    cfg = compose_config("train")
    assert (cfg.seed, cfg.seeds, cfg.loss.name, cfg.model.hidden) == (0, 1, "bce_with_logits", [8])
    assert cfg.device.accelerator == "auto" and cfg.early_stop.enabled


@pytest.mark.parametrize("batch_size, shuffle, sizes", [(None, False, [4]), (1, True, [1, 1, 1, 1]), (3, False, [3, 1])])
def test_data_batches(batch_size, shuffle, sizes):
    dm = TruthTableDataModule(batch_size, shuffle, seed=0)
    assert [len(x) for x, _ in dm.train_dataloader()] == sizes
    assert [len(x) for x, _ in dm.val_dataloader()] == [4]  # validation is always the whole table


def test_shuffled_order_is_reproducible_from_the_seed():
    def order(seed):
        return [x.tolist() for x, _ in TruthTableDataModule(1, True, seed).train_dataloader()]

    assert order(3) == order(3)


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.activation=foo", "model.activation='foo' is not valid; choose one of: relu, leaky_relu"),
        ("model.hidden=[0]", "model.hidden=[0] is not valid; expected a list of widths >= 1"),
        ("model.init=foo", "model.init='foo' is not valid; choose one of: pytorch"),
        ("optimizer.lr=-1", "optimizer.lr=-1 is not valid; expected a number > 0"),
        ("seeds=0", "seeds=0 is not valid; expected an integer >= 1"),
        ("data.batch_size=5", "data.batch_size=5 is not valid"),
        ("early_stop.margin=0.5", "early_stop.margin=0.5 is not valid"),
    ],
)
def test_checks_refuse_bad_values_naming_the_key(override, message):
    with pytest.raises(UserError) as err:
        check_train_config(compose_config("train", [override]))
    assert str(err.value).startswith(message)
