"""The sweep summary reads every job's files with bounds: a damaged or hostile file is that job's
row saying which file and what is wrong, and the summary is still written for the others."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from xor_lightning.views.job_files import MAX_METRICS_BYTES
from xor_lightning.views.sweep_summary import summarise

METRICS = {"run_id": "r", "seeds": 4, "seed": 0, "solved": 3, "success_rate": 0.75,
           "epochs_to_solve": {"median": 40, "p90": 60, "max": 61}, "final_loss": 0.01, "diverged": 0,
           "causes": {"diverged": 0, "linear": 0, "dead": 0, "saturated": 0, "plateau": 0, "still learning": 0,
                      "local minimum": 1, "other": 0},
           "epochs_trained": 61, "wall_seconds": 0.5}


def job(sweep: Path, num: int, lr: str, metrics: str | None = None, overrides: str | None = None) -> Path:
    folder = sweep / str(num)
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(overrides if overrides is not None else f"- optimizer.lr={lr}\n")
    if metrics is not None:
        (folder / "metrics.json").write_text(metrics)
    return folder


def test_each_damaged_job_file_is_its_rows_one_line_and_the_others_are_summarised(tmp_path):
    good = json.dumps(METRICS)
    job(tmp_path, 0, "0.1", good)
    job(tmp_path, 1, "0.2", "[" * 50_000 + "]" * 50_000)  # nested 50,000 deep: a RecursionError in json
    job(tmp_path, 2, "0.3", good, overrides="- &a optimizer.lr=0.3\n- *a\n")  # an alias
    job(tmp_path, 3, "0.4", json.dumps({**METRICS, "solved": "three"}))
    os.mkfifo(job(tmp_path, 4, "0.5") / "metrics.json")  # would block a plain read forever
    with open(job(tmp_path, 5, "0.6") / "metrics.json", "wb") as fh:
        fh.truncate(MAX_METRICS_BYTES + 1)  # sparse: large without filling the disk
    job(tmp_path, 6, "0.7", good[:40])  # torn
    (job(tmp_path, 7, "0.8") / "error.txt").write_bytes(b"\xff\xfe not text")

    start = time.perf_counter()
    rows, keys = summarise(tmp_path, plot=False)
    assert time.perf_counter() - start < 1.0
    status = {r["job"]: r["status"] for r in rows}
    assert status == {
        "0": "ok",
        "1": "unreadable (metrics.json: nested more than 4 levels deep)",
        "2": "unreadable (.hydra/overrides.yaml: line 1: YAML anchors and aliases (&name, *name) are not accepted; "
             "write every value out)",
        "3": "unreadable (metrics.json: solved is not valid (not as train writes it))",
        "4": "unreadable (metrics.json: not a regular file)",
        "5": f"unreadable (metrics.json: {MAX_METRICS_BYTES + 1} bytes, more than the {MAX_METRICS_BYTES} accepted)",
        "6": "unreadable (metrics.json: not valid JSON (Unterminated string starting at, line 1))",
        "7": "unreadable (error.txt: not UTF-8 text)",
    }
    assert keys == ["optimizer.lr"]
    summary = (tmp_path / "summary.md").read_text()
    assert "| 0 | 0.1 | 3/4 |" in summary and "nested more than 4 levels deep" in summary
    assert "0.1,ok,3,4,0.75" in (tmp_path / "summary.csv").read_text()


def test_a_point_set_job_with_damaged_test_results_is_unreadable_saying_which(tmp_path):
    tested = {**METRICS, "train_accuracy": 0.9, "test_accuracy": {"mean": 0.8, "median": 0.8, "of_solved": 0.8},
              "test_loss": 0.4}
    job(tmp_path, 0, "0.1", json.dumps(tested))
    job(tmp_path, 1, "0.2", json.dumps({**tested, "test_accuracy": {"mean": "high"}}))
    job(tmp_path, 2, "0.3", json.dumps({k: v for k, v in tested.items() if k != "test_loss"}))
    status = {r["job"]: r["status"] for r in summarise(tmp_path, plot=False)[0]}
    assert status == {"0": "ok", "1": "unreadable (metrics.json: test_accuracy is not valid (not as train writes it))",
                      "2": "unreadable (metrics.json: test_loss is missing (not as train writes it))"}
