"""Every option of every config group composes, passes the checks and builds a working module."""

from pathlib import Path

import pytest
import torch

from tests.helpers import compose_config
from xor_lightning.base.config_dir import config_dir
from xor_lightning.base.errors import UserError
from xor_lightning.core.data import TruthTableDataModule
from xor_lightning.core.task import XOR
from xor_lightning.run.checks import check_train_config
from xor_lightning.run.trainer_setup import build_module

GROUPS = ("model", "loss", "optimizer", "data", "device", "experiment")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(config_dir()) / group).glob("*.yaml"))


@pytest.mark.parametrize("group, option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_group_option_composes_and_builds(group, option):
    needs = {"data=table": ["data.gate=and"]}  # a table needs its gate or its targets
    cfg = compose_config("train", [f"{group}={option}", "seeds=3", *needs.get(f"{group}={option}", [])])
    check_train_config(cfg)
    module = build_module(cfg)
    assert module(module.task.inputs).shape[-2:] == (module.task.rows, 1)
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Optimizer)


def test_the_groups_offer_what_the_readme_promises():
    assert options("loss") == ["bce", "bce_with_logits", "hinge_embedding", "kl_div", "l1", "mse",
                               "multilabel_soft_margin", "poisson_nll", "smooth_l1", "soft_margin"]
    assert options("optimizer") == ["adadelta", "adagrad", "adam", "adamax", "adamw", "asgd", "rmsprop", "rprop", "sgd"]
    assert options("device") == ["auto", "cpu", "cuda", "mps"]


def test_defaults():
    cfg = compose_config("train")
    assert (cfg.seed, cfg.seeds, cfg.loss.name, cfg.model.hidden) == (0, 1, "bce_with_logits", [8])
    assert cfg.device.accelerator == "auto" and cfg.early_stop.enabled


@pytest.mark.parametrize("batch_size, sizes", [(None, [4]), (1, [1, 1, 1, 1]), (2, [2, 2]), (3, [3, 1])])
def test_each_epoch_takes_its_steps_in_batches_of_batch_size(batch_size, sizes):
    dm = TruthTableDataModule(XOR, batch_size, shuffle=False, seed=0)
    assert [s.stop - s.start for s in dm.step_slices()] == sizes
    assert dm.full_batch == (batch_size is None)
    (x, y), = list(dm.train_dataloader())  # one block of epochs per pass: the whole table once
    assert x.shape == (4, 2) and y.shape == (4, 1)
    assert dm.epoch_rows(0) is None  # not shuffled: every member takes the rows in table order


def test_each_member_gets_the_row_order_of_its_own_lone_run():
    population = TruthTableDataModule(XOR, 1, shuffle=True, seed=10, members=5)
    for i in range(5):
        lone = TruthTableDataModule(XOR, 1, shuffle=True, seed=10 + i, members=1)
        for epoch in (0, 1, 999):
            assert torch.equal(population.epoch_rows(epoch)[i], lone.epoch_rows(epoch)[0])
    orders = torch.cat([population.epoch_rows(e) for e in range(200)])  # [1000, 4]
    assert all(sorted(row) == [0, 1, 2, 3] for row in orders.tolist())
    assert len({tuple(row) for row in orders.tolist()}) == 24  # every permutation of 4 rows occurs


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
        ("loss.input=sigmoid", "loss.input='sigmoid' is not valid; choose one of: probabilities, logits"),
        ("loss=bce loss.input=logits", "loss.input=logits is not valid for loss=bce: it needs a value in [0, 1]"),
        ("optimizer._target_=torch.optim.LBFGS", "optimizer._target_=torch.optim.LBFGS is not supported: LBFGS is not "
                                                 "elementwise"),
        ("optimizer=rprop optimizer.etas=[0.5,0.9]", "optimizer.etas=[0.5, 0.9] is not valid; expected [decrease, increase]"),
        ("optimizer=rprop optimizer.step_sizes=[1.0,0.1]",
         "optimizer.step_sizes=[1.0, 0.1] is not valid; expected [smallest, largest]"),
        ("optimizer=adadelta optimizer.rho=1.5", "optimizer.rho=1.5 is not valid; expected a number in [0, 1]"),
        ("optimizer=asgd optimizer.lambd=-1", "optimizer.lambd=-1 is not valid; expected a number >= 0"),
    ],
)
def test_checks_refuse_bad_values_naming_the_key(override, message):
    with pytest.raises(UserError) as err:
        check_train_config(compose_config("train", override.split()))  # one or more overrides
    assert str(err.value).startswith(message)


def test_debug_fast_is_one_block_of_a_small_population_without_pictures(train_cfg, tmp_path):
    from xor_lightning.run.train import train

    cfg = train_cfg("debug=fast", "early_stop.enabled=false")
    assert (cfg.seeds, cfg.trainer.max_epochs) == (4, cfg.block_epochs)
    metrics = train(cfg)
    assert metrics["epochs_trained"] == cfg.block_epochs and metrics["seeds"] == 4
    assert not (tmp_path / "outputs" / "test" / "report.png").exists()
    assert train_cfg("debug=fast", "seeds=1").seeds == 1  # the command line still wins


def test_debug_profiler_passes_lightnings_simple_profiler(train_cfg):
    from xor_lightning.run.trainer_setup import trainer_args

    assert trainer_args(train_cfg("debug=profiler").trainer)["profiler"] == "simple"
