"""hydra/launcher=population: a multirun's jobs trained as one population write what each job alone writes.

The same grid is run with hydra/launcher=basic and with hydra/launcher=population, and every job's
files are compared: metrics.json (all but timings and paths), members.csv, what ``evaluate`` makes
of its best.ckpt, its TensorBoard curves, and the sweep summary. Losses agree to float32 rounding
(a population computes its members in other batch shapes than the job's own; README "to rounding").
A member stuck on a flat loss may then find its lowest loss one epoch apart: best_epoch is compared
for the members that solved the table (for a stuck one it is decided by rounding in either run).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.helpers import compose_config, run_cli
from xor_lightning.run.spec import packing_key

TIMINGS = {"fit_seconds", "visuals_seconds", "wall_seconds"}
# engine= auto decides by a run's member-epochs: a packed job says its population's (the same engine here).
ENGINE = {"engine_reason"}
PATHS = {"run_id", "best_checkpoint", "last_checkpoint", "log_dir"}
SMALL = ["optimizer.lr=0.1,1", "model.init=normal", "model.init_std=0.5,1", "seeds=3", "trainer.max_epochs=200",
         "torch_threads=1", "visuals.images=false", "visuals.histograms=false"]


def _main(folder: Path, monkeypatch, *args: str) -> int:
    from hydra.core.hydra_config import HydraConfig

    from xor_lightning.cli.main import main

    monkeypatch.chdir(folder)
    for name in ("XOR_LIGHTNING_RUN_ID", "XOR_LIGHTNING_SWEEP_JOBS", "XOR_LIGHTNING_SWEEP_START", "XOR_LIGHTNING_SWEPT"):
        monkeypatch.setenv(name, "")  # so teardown removes what the sweep sets here, too
        monkeypatch.delenv(name)
    # The in-process jobs leave their Hydra job config set: undone at teardown, so later tests run alone.
    monkeypatch.setattr(HydraConfig.instance(), "cfg", HydraConfig.instance().cfg)
    try:
        return main(["train", "-m", *args])
    except SystemExit as exc:  # what the command's exit code becomes (main_exit)
        return int(exc.code)


def _close(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7) or (math.isnan(a) and math.isnan(b)), (where, a, b)
    else:
        assert a == b, (where, a, b)


def _members(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def assert_same_job(packed: Path, alone: Path) -> None:
    """One job's folder written by the population launcher against the basic launcher's."""
    got, want = (json.loads((d / "metrics.json").read_text()) for d in (packed, alone))
    _close({k: v for k, v in got.items() if k not in TIMINGS | PATHS | ENGINE},
           {k: v for k, v in want.items() if k not in TIMINGS | PATHS | ENGINE}, packed.name)
    rows, expected = _members(packed / "members.csv"), _members(alone / "members.csv")
    assert len(rows) == len(expected) and rows[0].keys() == expected[0].keys()
    for row, exp in zip(rows, expected):
        for key in row:
            if key == "final_loss":
                assert math.isclose(float(row[key]), float(exp[key]), rel_tol=1e-5, abs_tol=1e-7), (packed, row, exp)
            elif key != "best_epoch" or exp["solved"] == "1":
                assert row[key] == exp[key], (packed, key, row, exp)


def assert_same_predictions(packed_ckpt: Path, alone_ckpt: Path) -> None:
    """What ``evaluate checkpoint=`` computes from each job's best.ckpt."""
    from xor_lightning.core.evaluation import evaluate_module
    from xor_lightning.run.checkpoints import load_checkpoint, read_checkpoint

    a, b = (evaluate_module(load_checkpoint(p)) for p in (packed_ckpt, alone_ckpt))
    assert torch.equal(a.solved, b.solved)
    # A member that solved it: its best weights to rounding. One stuck on a plateau: its lowest loss
    # may be an epoch apart (see the top), where its weights barely move.
    assert torch.allclose(a.probs[a.solved], b.probs[b.solved], atol=1e-5)
    assert torch.allclose(a.probs, b.probs, atol=1e-3)
    ha, hb = (read_checkpoint(p)["hyper_parameters"] for p in (packed_ckpt, alone_ckpt))
    assert ha == hb  # the job's own config, not the population's


def _scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def assert_same_curves(packed_run: Path, alone_run: Path) -> None:
    got, want = _scalars(packed_run), _scalars(alone_run)
    per_epoch = {t for t in want if t.split("/")[0] in ("train", "val", "test")}
    assert per_epoch <= set(got), per_epoch - set(got)  # every curve of the job alone (the torch engine)
    for tag in (*sorted(per_epoch), "verdict/success_rate"):
        assert [s for s, _ in got[tag]] == [s for s, _ in want[tag]], tag
        for (_, x), (_, y) in zip(got[tag], want[tag]):
            assert math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-6) or (math.isnan(x) and math.isnan(y)), (tag, x, y)


def _summary(sweep: Path) -> list[dict[str, str]]:
    rows = _members(sweep / "summary.csv")
    return [{k: v for k, v in r.items() if "wall" not in k and "loss" not in k} for r in rows]


# ---- packing keys: which jobs share a population ----

def test_jobs_that_differ_only_in_what_a_member_carries_share_a_packing_key():
    base = ["trainer.max_epochs=50"]
    one = compose_config("train", base)
    for member_setting in (["optimizer=sgd", "optimizer.momentum=0.9", "model.activation=relu"],
                           ["model.init=normal", "model.init_std=0.3", "loss=mse", "seed=7", "seeds=20",
                            "early_stop.margin=0.2", "run_id=other"], ["trainer.max_epochs=60", "budgets=[10]"]):
        assert packing_key(compose_config("train", base + member_setting)) == packing_key(one), member_setting
    for other in (["model.hidden=[4]"], ["data.batch_size=2"], ["visuals.report=false"]):
        assert packing_key(compose_config("train", base + other)) != packing_key(one), other


def test_shuffled_mini_batch_jobs_pack_and_hand_written_weights_train_alone():
    # Each member's row order comes from its own seed (core/data.py), so shuffled jobs share a population.
    shuffled = compose_config("train", ["data.batch_size=2", "data.shuffle=true"])
    assert packing_key(shuffled, 0) == packing_key(shuffled, 1)
    weights = compose_config("train", ["model.weights=w.json"])
    assert packing_key(weights, 0) != packing_key(weights, 1)


def test_thousands_of_jobs_log_every_nth_epoch_and_populations_name_their_jobs():
    from xor_lightning.run.packed import job_numbers, thinning

    assert thinning(40, 1000) == 1                  # 40,000 events: every epoch
    assert thinning(1050, 10000) == 53              # 10.5 million: every 53rd epoch, 198,113 events
    assert job_numbers([3]) == "job 3" and job_numbers([0, 1, 2]) == "jobs 0-2"
    assert job_numbers([0, 2]) == "jobs 0, 2" and job_numbers(list(range(0, 40, 2))) == "20 jobs from 0 to 38"


# ---- the launcher, in this process ----

@pytest.mark.usefixtures("one_torch_thread")
def test_a_packed_job_writes_what_its_lone_run_writes(tmp_path, monkeypatch, capsys, train_cfg):
    from hydra.core.hydra_config import HydraConfig

    from xor_lightning.run.checkpoints import read_checkpoint
    from xor_lightning.run.resume import checkpoint_summary
    from xor_lightning.run.train import train

    grid = ["optimizer.lr=0.1,1", "model.init=normal", "seeds=3", "trainer.max_epochs=40", "torch_threads=1",
            "visuals.images=false", "visuals.histograms=false", "visuals.report=false"]
    assert _main(tmp_path, monkeypatch, "hydra/launcher=population", "run_id=pop", *grid) == 0
    assert "Launching 2 jobs as 1 population (6 members in all)" in "".join(capsys.readouterr())
    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # a lone run, not the sweep's job
    lone = train_cfg(*[g for g in grid if "," not in g], "optimizer.lr=1", "torch_threads=1", run_id="lone")
    lone.paths.output_dir = str(tmp_path / "lone")
    Path(lone.paths.output_dir).mkdir()
    train(lone)
    assert_same_job(tmp_path / "multirun" / "pop" / "1", tmp_path / "lone")
    ckpts = tmp_path / "checkpoints"
    assert_same_predictions(ckpts / "pop" / "1" / "best.ckpt", ckpts / "lone" / "best.ckpt")
    assert_same_curves(tmp_path / "logs" / "pop" / "1", tmp_path / "logs" / "lone")
    assert not list((ckpts / "pop").glob(".packed*"))  # the population's own files are gone
    # Its last.ckpt is the job's own training state: its members, Adam's own state names, its run record.
    last = ckpts / "pop" / "1" / "last.ckpt"
    ckpt = read_checkpoint(last)
    assert ckpt["state_dict"]["net.weights.0"].shape[0] == 3 and ckpt["hyper_parameters"]["optimizer"]["lr"] == 1
    assert set(ckpt["optimizer_states"][0]["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert checkpoint_summary(last)["info"]["run_id"] == "pop/1"  # every section checked as a resume checks it


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_packed_grid_writes_every_job_as_the_basic_launcher_does(tmp_path, monkeypatch, capsys):
    grid = ["optimizer.lr=0.1,1", "model.init=normal", "model.init_std=0.5", "seeds=3", "trainer.max_epochs=60",
            "torch_threads=1", "visuals.images=false", "visuals.histograms=false", "visuals.report=false"]
    assert _main(tmp_path, monkeypatch, "hydra/launcher=population", "run_id=pop", *grid) == 0
    assert "Launching 2 jobs as 1 population (6 members in all)" in "".join(capsys.readouterr())
    assert _main(tmp_path, monkeypatch, "run_id=alone", *grid) == 0
    for job in ("0", "1"):
        packed, alone = tmp_path / "multirun" / "pop" / job, tmp_path / "multirun" / "alone" / job
        assert_same_job(packed, alone)
        assert sorted(p.name for p in (packed / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
        assert (packed / ".hydra" / "overrides.yaml").read_text().replace("pop", "alone") == \
            (alone / ".hydra" / "overrides.yaml").read_text()
        ckpts = tmp_path / "checkpoints"
        assert_same_predictions(ckpts / "pop" / job / "best.ckpt", ckpts / "alone" / job / "best.ckpt")
        assert_same_curves(tmp_path / "logs" / "pop" / job, tmp_path / "logs" / "alone" / job)
    assert _summary(tmp_path / "multirun" / "pop") == _summary(tmp_path / "multirun" / "alone")
    assert not list((tmp_path / "checkpoints" / "pop").glob(".packed*"))  # the population's own files are gone


def test_the_population_must_fit_in_memory_one_line_naming_the_grid(tmp_path, monkeypatch, capsys):
    import xor_lightning.run.packed as packed

    monkeypatch.setattr(packed, "available_bytes", lambda accelerator="cpu": (10_000, "MemAvailable"))
    code = _main(tmp_path, monkeypatch, "hydra/launcher=population", "run_id=big", "seeds=20", "optimizer.lr=0.1,1,2")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("error: hydra/launcher=population: the grid's 3 jobs pack 3 of them (jobs 0-2, model.hidden=[8]) "
                          "into one population of 60 members, which needs about"), err
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "outputs").exists()


def test_callbacks_of_a_runs_own_are_refused_in_one_line(tmp_path, monkeypatch, capsys):
    code = _main(tmp_path, monkeypatch, "hydra/launcher=population", "run_id=cb", "callbacks=lr_monitor", "seeds=2,3")
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: callbacks.lr_monitor: hydra/launcher=population trains many jobs"), err
    assert not (tmp_path / "multirun").exists()


# ---- bigger grids, through the real command line ----

def _both(tmp_path: Path, *grid: str) -> tuple[Path, Path, str]:
    packed = run_cli("train", "-m", "hydra/launcher=population", "run_id=pop", *grid, cwd=tmp_path, timeout=600)
    assert packed.returncode == 0, packed.stderr[-3000:]
    alone = run_cli("train", "-m", "hydra/launcher=basic", "run_id=alone", *grid, cwd=tmp_path, timeout=600)
    assert alone.returncode == 0, alone.stderr[-3000:]
    return tmp_path / "multirun" / "pop", tmp_path / "multirun" / "alone", packed.stdout + packed.stderr


def _compare_sweeps(tmp_path: Path, pop: Path, alone: Path, jobs: int) -> None:
    for job in map(str, range(jobs)):
        assert_same_job(pop / job, alone / job)
        ckpts = tmp_path / "checkpoints"
        assert_same_predictions(ckpts / "pop" / job / "best.ckpt", ckpts / "alone" / job / "best.ckpt")
        assert_same_curves(tmp_path / "logs" / "pop" / job, tmp_path / "logs" / "alone" / job)
        assert (pop / job / "report.png").is_file() == (alone / job / "report.png").is_file()
    assert _summary(pop) == _summary(alone)


@pytest.mark.slow
def test_lr_by_init_std_grid_matches_the_basic_launcher(tmp_path):
    pop, alone, out = _both(tmp_path, *SMALL)
    assert "Launching 4 jobs as 1 population (12 members in all)" in out
    _compare_sweeps(tmp_path, pop, alone, 4)


@pytest.mark.slow
def test_optimizer_by_activation_grid_matches_the_basic_launcher(tmp_path):
    grid = ["optimizer=sgd,adam", "model.activation=tanh,relu", "seeds=4", "trainer.max_epochs=300", "torch_threads=1"]
    pop, alone, out = _both(tmp_path, *grid)
    assert "Launching 4 jobs as 1 population (16 members in all)" in out
    _compare_sweeps(tmp_path, pop, alone, 4)


@pytest.mark.slow
def test_jobs_of_other_widths_train_as_populations_of_their_own(tmp_path):
    grid = ["model.hidden=[2],[4]", "optimizer.lr=0.03,0.3", "seeds=3", "trainer.max_epochs=200", "torch_threads=1"]
    pop, alone, out = _both(tmp_path, *grid)
    assert "Launching 4 jobs as 2 populations (12 members in all)" in out
    _compare_sweeps(tmp_path, pop, alone, 4)


@pytest.mark.slow
def test_a_diverged_job_in_a_population_reports_as_it_does_alone(tmp_path):
    # A linear network under SGD at lr 100 diverges in every member; the job beside it trains on, as alone.
    grid = ["optimizer=sgd", "model.activation=identity", "optimizer.lr=0.1,100", "seeds=3", "trainer.max_epochs=100",
            "torch_threads=1", "visuals.report=false"]
    pop, alone, out = _both(tmp_path, *grid)
    assert json.loads((pop / "1" / "metrics.json").read_text())["stop_reason"] == "diverged"
    _compare_sweeps(tmp_path, pop, alone, 2)


@pytest.mark.slow
def test_jobs_with_their_own_max_epochs_budgets_and_losses_share_one_population(tmp_path):
    # Each member stops at its own trainer.max_epochs and counts its own budgets (core/facts.py).
    grid = ["optimizer=sgd,adam", "loss=bce_with_logits,mse", "trainer.max_epochs=40,90", "budgets=[20],[30,40]",
            "seeds=3", "torch_threads=1", "visuals.report=false"]
    pop, alone, out = _both(tmp_path, *grid)
    assert "Launching 16 jobs as 1 population (48 members in all)" in out
    _compare_sweeps(tmp_path, pop, alone, 16)


@pytest.mark.slow
def test_shuffled_mini_batch_jobs_share_one_population(tmp_path):
    # Each member's batches come in its own seeded order, the order of its lone run (core/data.py).
    grid = ["data.batch_size=2", "data.shuffle=true", "optimizer.lr=0.03,0.3", "trainer.max_epochs=30,50",
            "model.activation=tanh,relu", "seeds=3", "torch_threads=1", "visuals.report=false"]
    pop, alone, out = _both(tmp_path, *grid)
    assert "Launching 8 jobs as 1 population (24 members in all)" in out
    _compare_sweeps(tmp_path, pop, alone, 8)


@pytest.mark.slow
def test_point_set_jobs_share_one_population_with_their_own_test_curves(tmp_path):
    # A held-out part: each job's test/loss and test/acc per epoch are its own members' means.
    grid = ["data=playground", "data.set=circle", "data.points=60", "data.batch_size=10", "data.shuffle=true",
            "optimizer.lr=0.01,0.1", "trainer.max_epochs=20", "seeds=3", "torch_threads=1", "visuals.report=false"]
    pop, alone, out = _both(tmp_path, *grid)
    assert "Launching 2 jobs as 1 population (6 members in all)" in out
    assert {"test/loss", "test/acc"} <= set(_scalars(tmp_path / "logs" / "pop" / "1"))
    _compare_sweeps(tmp_path, pop, alone, 2)
