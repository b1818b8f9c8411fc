"""Issue 11 through real subprocesses: a checkpoint never decides where a run writes, one process owns
a run folder at a time, signals stop a run (or a submitit job) as Ctrl-C does, a full disk leaves
whole files and one line, NaN weights are reported, a resumed run keeps its own max_epochs."""

from __future__ import annotations

import csv
import errno
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import REPO, run_cli, start_train, train_config
from xor_lightning.run.train import train

QUICK = ("trainer.max_epochs=3", "visuals.report=false")
LONG = ("trainer.max_epochs=100000", "early_stop.enabled=false", "visuals.report=false")


def one_line_error(result: subprocess.CompletedProcess, code: int = 2) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr + result.stdout, result.stderr
    return lines[0]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def craft(src: Path, dst: Path, edit) -> Path:
    ckpt = torch.load(src, weights_only=True)
    edit(ckpt)
    torch.save(ckpt, dst)
    return dst


def wait_until(condition, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"still waiting after {timeout}s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def owner_ckpt(tmp_path_factory) -> Path:
    """last.ckpt of a finished 3-epoch run named 'owner', kept outside the tests' folders."""
    root = tmp_path_factory.mktemp("owner")
    cfg = train_config(root, "device=cpu", *QUICK, run_id="owner")
    return Path(train(cfg)["last_checkpoint"])


# Class 1: a run id is a name, never a path; a checkpoint's record is no exception.

@pytest.mark.parametrize("stored", ["../../../x", "absolute"])
def test_a_checkpoint_never_decides_where_a_resumed_run_writes(tmp_path, owner_ckpt, stored):
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    run_id = str(tmp_path / "abs") if stored == "absolute" else stored  # ../../../x: tmp_path/a/x for every root
    evil = craft(owner_ckpt, tmp_path / "evil.ckpt", lambda c: c["xor_lightning_run"].update(run_id=run_id))
    line = one_line_error(run_cli("train", f"ckpt_path={evil}", cwd=cwd))
    assert f"ckpt_path={evil}" in line and "never decides where a run writes" in line
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["a", "a/b", "a/b/c", "evil.ckpt"]


# Class 2: a run's folders belong to one run, and one process at a time.

def test_a_checkpoint_resumes_only_its_own_run(tmp_path, owner_ckpt):
    other = tmp_path / "checkpoints" / "other"
    other.mkdir(parents=True)
    (other / "best.ckpt").write_bytes(b"the other run's")
    line = one_line_error(run_cli("train", "run_id=other", f"ckpt_path={owner_ckpt}", cwd=tmp_path))
    assert "belongs to run owner, not run_id=other" in line
    assert tree(tmp_path) == {"checkpoints/other/best.ckpt": b"the other run's"}


def test_one_process_owns_a_run_folder_and_sigterm_stops_it_like_ctrl_c(tmp_path, owner_ckpt):
    first = start_train(tmp_path, f"ckpt_path={owner_ckpt}", *LONG)  # resumes run 'owner' in tmp_path
    last = tmp_path / "checkpoints" / "owner" / "last.ckpt"
    wait_until(last.exists, first)  # training is under way (last.ckpt is rewritten every 10 epochs)
    hydra = tree(tmp_path / "outputs" / "owner" / ".hydra")
    for args in ([f"ckpt_path={owner_ckpt}", *LONG], ["run_id=owner", "ckpt_path=last", *LONG], ["run_id=owner"]):
        line = one_line_error(run_cli("train", *args, cwd=tmp_path))
        assert "checkpoints/owner is in use by another running process" in line and f"pid {first.pid}" in line
    assert tree(tmp_path / "outputs" / "owner" / ".hydra") == hydra  # the refused runs wrote nothing there
    assert os.listdir(tmp_path / "outputs") == ["owner"]

    first.send_signal(signal.SIGTERM)  # what SLURM sends before it kills a job
    _, err = first.communicate(timeout=60)
    assert first.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("interrupted: stopped after ") and "Traceback" not in err
    assert "Resume with: python -m xor_lightning train" in err
    assert 3 < int(torch.load(last, weights_only=True)["state_dict"]["epochs_done"]) < 100000


def test_a_run_killed_before_its_first_checkpoint_leaves_a_usable_id(tmp_path):
    proc = start_train(tmp_path, "run_id=gone", *QUICK)
    lock = tmp_path / "checkpoints" / "gone" / ".lock"
    wait_until(lambda: lock.exists() and f'"pid": {proc.pid}' in lock.read_text(), proc)  # claimed, still starting
    proc.kill()
    proc.communicate(timeout=30)
    assert not list(lock.parent.glob("*.ckpt"))

    again = run_cli("train", "run_id=gone", *QUICK, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "run_id=gone: an earlier run with this id" in again.stderr and "ended before its first checkpoint" in again.stderr
    assert (tmp_path / "outputs" / "gone" / "metrics.json").is_file()


# Class 5 (resuming): max_epochs against the epochs the checkpoint has done.

def test_resuming_below_the_epochs_done_is_refused(tmp_path, owner_ckpt):
    line = one_line_error(run_cli("train", f"ckpt_path={owner_ckpt}", "trainer.max_epochs=2", cwd=tmp_path))
    assert "trainer.max_epochs=2" in line and "has already trained 3 epochs" in line
    assert not any(tmp_path.iterdir())


def test_a_resumed_run_takes_its_own_max_epochs_unless_given(tmp_path, owner_ckpt):
    own = run_cli("train", f"ckpt_path={owner_ckpt}", "--cfg", "job", cwd=tmp_path)
    assert own.returncode == 0 and "max_epochs: 3\n" in own.stdout, own.stderr
    given = run_cli("train", f"ckpt_path={owner_ckpt}", "trainer.max_epochs=7", "--cfg", "job", cwd=tmp_path)
    assert given.returncode == 0 and "max_epochs: 7\n" in given.stdout, given.stderr
    assert not any(tmp_path.iterdir())  # --cfg prints the config and runs nothing


@pytest.mark.slow
def test_run_id_and_ckpt_path_last_resume_a_run_past_the_default_1000_epochs(tmp_path):
    quiet = ("early_stop.enabled=false", "visuals.images=false", "visuals.histograms=false", "visuals.report=false")
    assert run_cli("train", "run_id=long", "trainer.max_epochs=1005", *quiet, cwd=tmp_path).returncode == 0
    resumed = run_cli("train", "run_id=long", "ckpt_path=last", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((tmp_path / "outputs" / "long" / "metrics.json").read_text())["epochs_trained"] == 1005


# Class 4: signals outside training, and inside a submitit job.

@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)])
def test_a_signal_during_start_up_is_one_line(tmp_path, signum, code):
    proc = start_train(tmp_path, *QUICK)
    time.sleep(0.5)  # importing torch and Lightning takes seconds: this lands during start-up
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("interrupted: ") and "Traceback" not in err


@pytest.mark.slow
def test_sigterm_stops_a_submitit_job_like_a_single_run(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    proc = start_train(tmp_path, "-m", "hydra/launcher=submitit_local", "run_id=sub", "seed=0", *LONG)
    last = tmp_path / "checkpoints" / "sub" / "0" / "last.ckpt"
    wait_until(last.exists, proc)
    (job,) = [p.name for p in (tmp_path / "multirun" / "sub" / ".submitit").iterdir() if p.name.isdigit()]
    os.kill(int(job), signal.SIGTERM)  # as scancel does; submitit's local controller passes it on to the job
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert "interrupted: stopped after" in err and "Resume with:" in err
    with open(tmp_path / "multirun" / "sub" / "summary.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["status"].startswith("failed (interrupted: stopped after") and "ckpt_path=" in row["status"]
    assert int(torch.load(last, weights_only=True)["state_dict"]["epochs_done"]) < 100000


# Class 6: a full disk (here: a file size limit, a real failing write) leaves whole files and one line.

def limit_file_size(size: int):
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_a_full_disk_is_one_line_and_earlier_runs_are_untouched(tmp_path):
    assert run_cli("train", "run_id=earlier", *QUICK, cwd=tmp_path).returncode == 0
    before = tree(tmp_path)
    full = run_cli("train", "run_id=full", *QUICK, "visuals.images=false", "visuals.histograms=false",
                   cwd=tmp_path, preexec_fn=limit_file_size(6000))  # a checkpoint is ~10 KB
    line = one_line_error(full, code=1)
    assert "cannot write in" in line and "checkpoints/full" in line and "File too large" in line
    after = tree(tmp_path)
    assert {name: data for name, data in after.items() if name in before} == before
    assert not [name for name in after if name.endswith(".tmp")]


def run_limited(code: str, size: int, *args: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", code, *args], preexec_fn=limit_file_size(size),
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


WRITE_OUTPUTS = """
import sys, torch
from pathlib import Path
from xor_lightning.core.diagnosis import Diagnosis
from xor_lightning.core.evaluation import Evaluation
from xor_lightning.core.task import XOR
from xor_lightning.run.run_paths import RunPaths
from xor_lightning.run.outputs import write_outputs
k, out = 10000, Path(sys.argv[1])
never = torch.full((k,), -1)
ev = Evaluation(seed=0, probs=torch.full((k, 4), 0.25), losses=torch.ones(k), solved=torch.zeros(k, dtype=torch.bool),
                first_solved=never, diverged_at=never, best_epoch=never, epochs_trained=never + 2, task=XOR)
diagnosis = Diagnosis(["local minimum"] * k, [None] * k)
try:
    write_outputs(RunPaths("r", out, out, out, out), {"solved": 0}, ev, diagnosis)
except OSError as exc:
    print(exc.errno, exc.filename)
"""


def test_members_csv_is_written_whole_or_not_at_all(tmp_path):
    (tmp_path / "metrics.json").write_text("an earlier run's")
    assert run_limited(WRITE_OUTPUTS, 50_000, str(tmp_path)) == [str(errno.EFBIG), str(tmp_path / "members.csv")]
    assert tree(tmp_path) == {"metrics.json": b"an earlier run's"}  # no truncated members.csv, no temporary file


SUMMARISE = """
import sys
from xor_lightning.views.sweep_summary import summarise
try:
    summarise(sys.argv[1], plot=False)
except OSError as exc:
    print(exc.errno, exc.filename)
"""


def test_the_sweep_summary_is_written_whole_or_not_at_all(tmp_path):
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text("- seeds=3\n")
    (tmp_path / "summary.csv").write_text("an earlier summary")
    assert run_limited(SUMMARISE, 100, str(tmp_path)) == [str(errno.EFBIG), str(tmp_path / "summary.csv")]
    assert (tmp_path / "summary.csv").read_text() == "an earlier summary"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "summary.csv"]


# Class 7 (part): NaN weights are reported, never tabled as a result.

def test_evaluate_reports_nan_weights(tmp_path, owner_ckpt):
    def poison(ckpt) -> None:
        ckpt["state_dict"]["net.weights.0"][0, 0, 0] = float("nan")

    res = run_cli("evaluate", f"checkpoint={craft(owner_ckpt, tmp_path / 'nan.ckpt', poison)}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "1 of 1 members have NaN/inf weights" in res.stdout
    rows = [line for line in res.stdout.splitlines() if line.endswith(("right", "WRONG", "NaN")) and "|" in line]
    assert len(rows) == 4 and all(row.endswith("NaN") for row in rows)
    assert "NOT SOLVED: 0/4 rows right" in res.stdout
