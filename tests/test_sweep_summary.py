"""A multirun ends with one table: real Hydra multiruns of tiny populations in tmp_path."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hydra import initialize_config_dir

from tests.helpers import run_cli
from xor_lightning.base.config_dir import config_dir
from xor_lightning.cli.precheck import expand_config_sweeps
from xor_lightning.views.sweep_summary import markdown_table, summarise, varying

TINY = ["seeds=6", "trainer.max_epochs=3", "torch_threads=1", "run_id=sw"]


def read_summary(sweep: Path) -> list[dict[str, str]]:
    with open(sweep / "summary.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_2x2_multirun_writes_and_prints_one_row_per_job(tmp_path):
    res = run_cli("train", "-m", "model.activation=relu,tanh", "optimizer=sgd,adam", "budgets=[1,3]", *TINY, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    sweep = tmp_path / "multirun" / "sw"
    rows = read_summary(sweep)
    assert {(r["model.activation"], r["optimizer"]) for r in rows} == {
        ("relu", "sgd"), ("relu", "adam"), ("tanh", "sgd"), ("tanh", "adam")}
    assert "trainer.max_epochs" not in rows[0] and "run_id" not in rows[0]  # only overrides that vary are columns
    for row in rows:
        metrics = json.loads((sweep / row["job"] / "metrics.json").read_text())
        assert (row["status"], int(row["seeds"]), int(row["solved"])) == ("ok", 6, metrics["solved"])
        assert float(row["ci95_low"]) <= float(row["success_rate"]) <= float(row["ci95_high"])
        assert float(row["wall_s"]) > 0
        for e in (1, 3):  # a column per epoch budget: the rate of members right at exactly that epoch
            assert float(row[f"right_at_{e}"]) == metrics["right_at_budget"][str(e)]["rate"]
    rates = [float(r["success_rate"]) for r in rows]
    assert rates == sorted(rates, reverse=True)
    assert "Sweep summary (4 jobs" in res.stdout and "solved/seeds" in res.stdout and "right at 3" in res.stdout
    md_lines = (sweep / "summary.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in md_lines) == 5  # header + 4 jobs
    assert (sweep / "summary.png").stat().st_size > 1000


def test_failed_and_diverged_jobs_are_marked_and_the_others_still_report(tmp_path):
    # Job 1 cannot write its TensorBoard folder (a file is in the way), found only when it runs;
    # job 2 diverges in every member (lr=1e30): a result, not a crash.
    (tmp_path / "logs" / "sw").mkdir(parents=True)
    (tmp_path / "logs" / "sw" / "1").write_text("not a folder")
    res = run_cli("train", "-m", "optimizer.lr=0.01,0.02,1e30", "model.activation=identity", *TINY, cwd=tmp_path)
    assert res.returncode != 0  # Hydra still reports the failure: one line, no traceback
    assert "Traceback" not in res.stderr and "paths.log_dir=logs: logs/sw/1" in res.stderr
    rows = {r["optimizer.lr"]: r for r in read_summary(tmp_path / "multirun" / "sw")}
    assert rows["0.01"]["status"] == "ok" and int(rows["0.01"]["seeds"]) == 6
    assert rows["1e+30"]["status"] == "diverged" and rows["1e+30"]["solved"] == "0"
    assert rows["0.02"]["status"].startswith("failed (error: paths.log_dir=logs: logs/sw/1 is a file")
    assert "Sweep summary (3 jobs" in res.stdout
    table = res.stdout.split("Sweep summary", 1)[1]
    assert "| 1 | 0.02 | failed (" in table and "| 2 | 1e+30 | 0/6 (all diverged) |" in table


@pytest.mark.slow  # ~10 s: keeps the default run under 10 minutes on 2 cores; CI runs it
def test_joblib_launcher_runs_the_grid_in_parallel_processes(tmp_path):
    res = run_cli("train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "loss=mse,bce_with_logits",
                  *TINY, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Joblib.Parallel" in res.stdout + res.stderr
    rows = read_summary(tmp_path / "multirun" / "sw")
    assert sorted(r["loss"] for r in rows) == ["bce_with_logits", "mse"]
    assert all(r["status"] == "ok" for r in rows)


def test_summary_of_a_folder_without_metrics_marks_the_job_failed(tmp_path):
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text("- seeds=3\n")
    rows, keys = summarise(tmp_path, plot=False)
    assert keys == ["seeds"] and rows[0]["status"] == "failed (no metrics.json)"
    assert "failed (no metrics.json)" in markdown_table(rows, keys)


def test_varying_keeps_only_keys_whose_values_differ():
    jobs = [{"a": "1", "b": "x", "run_id": "s"}, {"a": "2", "b": "x", "run_id": "s"}]
    assert varying(jobs) == ["a"]


@pytest.mark.parametrize(("experiment", "jobs"), [("forum_sweep", 30), ("width_sweep", 8), ("init_scale", 9), ("linear", 8),
                                               ("gates", 32), ("parity_scaling", 20), ("playground", 24)])
def test_each_experiment_is_one_multirun(experiment, jobs):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        expanded = expand_config_sweeps("train", [[f"experiment={experiment}"]], multirun=True)
    assert len(expanded) == jobs
    assert len({tuple(j) for j in expanded}) == jobs


def test_experiment_sweep_without_multirun_is_one_line_error(tmp_path):
    res = run_cli("train", "experiment=forum_sweep", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "add -m" in res.stderr
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("value", ["0", "two"])
def test_bad_torch_threads_is_one_line_error_before_any_job(tmp_path, value):
    res = run_cli("train", "-m", f"torch_threads={value}", "seeds=2,3", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("error: torch_threads=")
    assert not (tmp_path / "multirun").exists()


def _rows(n: int) -> list[dict]:
    """n jobs of a 'model.activation x loss' grid, best first: job j solved 1000 - 100 j of 1000."""
    from xor_lightning.core.stats import wilson_interval

    rows = []
    for j in range(n):
        solved = max(0, 1000 - 100 * j)
        lo, hi = wilson_interval(solved, 1000)
        rows.append({"job": str(j), "model.activation": f"a{j // 2}", "loss": f"l{j % 2}", "status": "ok",
                     "solved": solved, "seeds": 1000, "success_rate": solved / 1000, "ci95_low": lo, "ci95_high": hi})
    return rows


def test_heat_map_cells_show_the_rate_and_its_interval_and_the_colour_bar_sits_by_them():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xor_lightning.views.sweep_summary import _grid, _heat_maps

    rows, keys = _rows(4), ["model.activation", "loss"]
    fig = plt.figure(layout="constrained")
    ax = fig.add_subplot()
    _heat_maps(fig, [ax], rows, keys, _grid(rows, keys))
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["0.70\n[0.67, 0.73]", "0.80\n[0.77, 0.82]", "0.90\n[0.88, 0.92]", "1.00\n[0.996, 1.00]"], texts
    fig.canvas.draw()
    (bar,) = [a for a in fig.axes if a is not ax]
    gap = bar.get_position().x0 - ax.get_position().x1
    assert 0 < gap < 0.1, gap  # beside the map, not across an empty stretch of the figure
    plt.close(fig)


def test_survival_names_distinguishable_curves_spread_from_best_to_worst():
    from xor_lightning.views.sweep_summary import _curve_groups, named_curves

    rows, keys = _rows(20), ["model.activation", "loss"]
    # Jobs 10..19 solved nobody: one flat curve; the others each their own.
    curves = {r["job"]: ([0, 10 + int(r["job"]), 100], [1.0, 1 - r["success_rate"], 1 - r["success_rate"]])
              if r["solved"] else ([0, 100], [1.0, 1.0]) for r in rows}
    groups = _curve_groups(rows, keys, curves)
    assert len(groups) == 11 and groups[-1] == ("10 jobs, none solved", rows[10:])
    assert named_curves(len(groups)) == {0, 2, 4, 6, 8, 10}  # the best, the worst and four between
    assert named_curves(10) == set(range(10))
    same_loss = [r for r in rows if r["loss"] == "l0"]
    curves_l0 = {r["job"]: ([0, 100], [1.0, 1.0]) for r in same_loss}
    assert _curve_groups(same_loss, keys, curves_l0) == [("*, l0: 10 jobs, none solved", same_loss)]


def _point_set_job(sweep: Path, num: int, noise: int, test_right: list[int]) -> dict:
    """A finished job on a 20-point playground set (10 training, 10 test points) whose members get
    every training point right and ``test_right[i]`` of the test points; returns its metrics.json."""
    import torch

    from xor_lightning.core.evaluation import Evaluation
    from xor_lightning.core.task import build

    task = build({"name": "playground", "set": "circle", "noise": noise, "points": 20})
    k = len(test_right)
    probs = task.targets.repeat(k, 1) * 0.8 + 0.1
    wrong = torch.arange(10)[None, :] >= torch.tensor(test_right)[:, None]  # the first test_right[i] right
    test_probs = torch.where(wrong, 0.9 - task.test_targets * 0.8, task.test_targets * 0.8 + 0.1)
    ev = Evaluation(seed=0, probs=probs, losses=torch.full((k,), 0.2), solved=torch.ones(k, dtype=torch.bool),
                    first_solved=torch.full((k,), 7), diverged_at=torch.full((k,), -1), best_epoch=torch.full((k,), 7),
                    epochs_trained=torch.full((k,), 9), task=task, test_probs=test_probs,
                    test_losses=torch.tensor([0.3 + 0.1 * i for i in range(k)]))
    metrics = {**ev.summary(), "causes": {}, "wall_seconds": 1.0, "epochs_trained": 9}
    folder = sweep / str(num)
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(f"- data=playground\n- data.noise={noise}\n")
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def test_point_set_sweep_table_shows_train_and_test_accuracy_the_gap_and_the_test_loss(tmp_path):
    # Job 0: test 9, 8, 4 of 10 right (median 80%, mean 70%); job 1: 5, 5, 6 (median 50%, mean 53.3%).
    m0 = _point_set_job(tmp_path, 0, 0, [9, 8, 4])
    _point_set_job(tmp_path, 1, 50, [5, 5, 6])
    rows, keys = summarise(tmp_path)
    by_noise = {r["data.noise"]: r for r in read_summary(tmp_path)}
    assert float(by_noise["0"]["train_accuracy"]) == 1.0 == m0["train_accuracy"]
    assert abs(float(by_noise["0"]["test_accuracy"]) - 0.7) < 1e-6
    assert float(by_noise["0"]["test_accuracy_median"]) == m0["test_accuracy"]["median"] == pytest.approx(0.8)
    assert abs(float(by_noise["0"]["train_test_gap"]) - 0.3) < 1e-6
    assert abs(float(by_noise["0"]["test_loss"]) - 0.4) < 1e-6  # the mean of 0.3, 0.4, 0.5
    assert abs(float(by_noise["50"]["test_accuracy"]) - 16 / 30) < 1e-6
    table = (tmp_path / "summary.md").read_text()
    assert "| train acc | test acc | test acc median | train-test gap | test loss |" in table
    assert "| 100.0% | 70.0% | 80.0% | +30.0 pp | 0.4 |" in table
    assert "| 100.0% | 53.3% | 50.0% | +46.7 pp | 0.4 |" in table
    assert (tmp_path / "summary.png").stat().st_size > 1000


def test_a_table_task_has_no_test_columns_in_its_table_and_empty_ones_in_the_csv(tmp_path):
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text("- seeds=4\n")
    metrics = {"seeds": 4, "seed": 0, "solved": 4, "success_rate": 1.0, "epochs_to_solve": {"median": 3, "p90": 4},
               "final_loss": 0.1, "diverged": 0, "causes": {}, "epochs_trained": 5, "wall_seconds": 0.2}
    (tmp_path / "0" / "metrics.json").write_text(json.dumps(metrics))
    rows, keys = summarise(tmp_path, plot=False)
    assert "test acc" not in markdown_table(rows, keys)
    (row,) = read_summary(tmp_path)
    assert row["status"] == "ok" and row["test_accuracy"] == row["train_test_gap"] == ""


def test_heat_map_cells_of_a_point_set_sweep_show_the_median_test_accuracy():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xor_lightning.views.sweep_summary import _grid, _heat_maps

    rows, keys = _rows(4), ["model.activation", "loss"]
    for r, test in zip(rows, [0.884, 0.5, 0.884, 0.5]):
        r["test_accuracy_median"] = test
    fig = plt.figure(layout="constrained")
    ax = fig.add_subplot()
    _heat_maps(fig, [ax], rows, keys, _grid(rows, keys))
    texts = [t.get_text() for t in ax.texts]
    assert sum(t.endswith("\ntest 88%") for t in texts) == 2 and sum(t.endswith("\ntest 50%") for t in texts) == 2
    assert "median test accuracy" in ax.get_title()
    plt.close(fig)


def test_a_swept_gate_named_false_or_true_reads_as_typed_in_the_table_and_the_launcher_line(tmp_path):
    import logging

    from xor_lightning.base.overrides import BooleansAsTyped

    for num, gate in enumerate(["False", "True", "and"]):  # as Hydra's sweeper writes data.gate=false,true,and
        (tmp_path / str(num) / ".hydra").mkdir(parents=True)
        (tmp_path / str(num) / ".hydra" / "overrides.yaml").write_text(f"- data.gate={gate}\n- data=table\n")
    rows, keys = summarise(tmp_path, plot=False)
    assert sorted(r["data.gate"] for r in rows) == ["and", "false", "true"]
    table = (tmp_path / "summary.md").read_text()
    assert "| false |" in table and "False" not in table and "True" not in table
    line = "\t#0 : data.gate=False early_stop.enabled=True x=Falsey"
    record = logging.LogRecord("hydra", logging.INFO, "", 0, line, None, None)
    assert BooleansAsTyped().filter(record) and record.msg == "\t#0 : data.gate=false early_stop.enabled=true x=Falsey"


@pytest.mark.slow  # ~6 s: a real multirun; the fast test above checks the table and the filter in-process
def test_gates_multirun_prints_and_tabulates_false_as_typed(tmp_path):
    res = run_cli("train", "-m", "experiment=gates", "data.gate=false,xnor", "model.activation=relu", *TINY, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "#0 : data.gate=false " in res.stdout and "data.gate=False" not in res.stdout
    assert "task: gate false: targets 0000" in res.stdout
    assert {r["data.gate"] for r in read_summary(tmp_path / "multirun" / "sw")} == {"false", "xnor"}
