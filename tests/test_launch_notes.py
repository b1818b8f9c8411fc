"""A sweep launched into processes of its own says, before it goes quiet, where its jobs' output goes."""

from __future__ import annotations

import importlib.util

import pytest
from hydra import compose, initialize_config_dir

from xor_lightning.base.config_dir import config_dir
from xor_lightning.cli.launch_notes import LaunchNotes


def sweep_config(*overrides: str):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose("train", ["run_id=sw", *overrides], return_hydra_config=True)


@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
                    reason="needs the sweeps extra (submitit launcher)")
def test_submitit_local_says_where_each_jobs_log_is(capsys):
    LaunchNotes().on_multirun_start(sweep_config("hydra/launcher=submitit_local"))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing more is printed here until all have ended" in err
    assert "multirun/sw/<job>/train.log" in err and "multirun/sw/.submitit/<submitit job id>/<submitit job id>_0_log.out" in err


def test_the_basic_launcher_prints_nothing_more(capsys):
    LaunchNotes().on_multirun_start(sweep_config())
    assert capsys.readouterr().err == ""
