"""Same config and seed twice: identical metrics and weights. Runs started together, or as a
2-worker joblib multirun, write to distinct folders and overwrite nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import REPO, run_cli
from xor_lightning.base.errors import UserError
from xor_lightning.run.run_paths import run_paths
from xor_lightning.run.train import train

RUN_SPECIFIC = {"run_id", "best_checkpoint", "last_checkpoint", "log_dir"}


def _same(metrics: dict) -> dict:
    """What must repeat exactly: everything but paths and timings (*_seconds)."""
    return {k: v for k, v in metrics.items() if k not in RUN_SPECIFIC and not k.endswith("_seconds")}


def test_same_seed_twice_gives_identical_metrics_and_weights(train_cfg, tmp_path):
    args = ("seeds=4", "seed=3", "trainer.max_epochs=30", "data.batch_size=2", "data.shuffle=true", "device=cpu")
    first, second = (train(train_cfg(*args, run_id=run)) for run in ("a", "b"))
    assert _same(first) == _same(second)
    for name in ("best.ckpt", "last.ckpt"):
        a, b = (torch.load(tmp_path / "checkpoints" / run / name, weights_only=True)["state_dict"] for run in ("a", "b"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def _tree(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_two_runs_started_in_the_same_second_use_distinct_folders(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "xor_lightning", "train", "trainer.max_epochs=5", "device=cpu"]
    time.sleep(1 - time.time() % 1)  # start at the top of a second, so both ids get the same second
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
        p.stdout.close()
        p.stderr.close()
    runs = sorted(p.name for p in (tmp_path / "outputs").iterdir())
    assert len(runs) == 2 and runs[0][:19] == runs[1][:19]  # same second, different suffix
    for run in runs:
        assert (tmp_path / "outputs" / run / "metrics.json").is_file()
        assert {"best.ckpt", "last.ckpt"} <= {p.name for p in (tmp_path / "checkpoints" / run).iterdir()}
        assert any((tmp_path / "logs" / run).glob("events.out.tfevents.*"))


@pytest.mark.slow  # ~10 s: keeps the default run under 10 minutes on 2 cores; CI runs it
def test_joblib_multirun_jobs_use_distinct_folders(tmp_path):
    result = run_cli("train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1",
                     "trainer.max_epochs=5", "device=cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (sweep,) = (tmp_path / "multirun").iterdir()
    seeds = {json.loads((sweep / job / "metrics.json").read_text())["seed"] for job in ("0", "1")}
    assert seeds == {0, 1}
    for job in ("0", "1"):
        assert {"best.ckpt", "last.ckpt"} <= {p.name for p in (tmp_path / "checkpoints" / sweep.name / job).iterdir()}
        assert any((tmp_path / "logs" / sweep.name / job).glob("events.out.tfevents.*"))


def test_a_run_id_is_claimed_once(train_cfg):
    cfg = train_cfg("device=cpu", run_id="same")
    first = run_paths(cfg)  # the first run holds checkpoints/same for as long as it runs
    with pytest.raises(UserError, match="run_id=same: .* is in use by another running process"):
        run_paths(cfg)  # a second run with the same id, started before the first wrote anything
    first.lock.release()  # the first ended before its first checkpoint (a crash, a kill -9)
    assert run_paths(cfg).checkpoint_dir == first.checkpoint_dir  # the id is usable again


def test_finished_run_is_not_overwritten(train_cfg, tmp_path):
    train(train_cfg("trainer.max_epochs=3", "device=cpu", run_id="done"))
    before = _tree(tmp_path / "checkpoints" / "done")
    with pytest.raises(UserError, match="ckpt_path=last"):
        train(train_cfg("trainer.max_epochs=3", "device=cpu", run_id="done"))
    assert _tree(tmp_path / "checkpoints" / "done") == before
