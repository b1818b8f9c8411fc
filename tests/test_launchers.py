"""Sweeps through submitit: the local executor for real, and the SLURM route up to sbatch."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from tests.helpers import run_cli

TINY = ["seeds=2,3", "trainer.max_epochs=3", "torch_threads=1", "visuals.report=false", "run_id=sub"]
# The cluster settings the README shows (a stand-in sbatch records what SLURM would be given).
SLURM = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=cpu", "hydra.launcher.account=myproject",
         "hydra.launcher.timeout_min=30", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=4",
         "hydra.launcher.array_parallelism=50", "hydra.launcher.setup=[source .venv/bin/activate]"]

FAKE_SBATCH = """#!/bin/bash
# Stand-in for SLURM's sbatch: keep the submission script, answer as sbatch does, then stop the
# launcher (which would otherwise wait for jobs that never run).
cp "${@: -1}" "$(dirname "$0")/../submitted.sh"
echo "Submitted batch job 4242"
kill -TERM $PPID
"""


def _path_without(*tools: str) -> str:
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if not any((Path(d) / t).exists() for t in tools))


@pytest.mark.slow
def test_submitit_local_sweep_submits_pickled_jobs_and_ends_in_the_summary(tmp_path):
    res = run_cli("train", "-m", "hydra/launcher=submitit_local", *TINY, cwd=tmp_path, timeout=400)
    assert res.returncode == 0, res.stderr[-2000:]
    sweep = tmp_path / "multirun" / "sub"
    assert "Submitit 'local' sweep output dir" in res.stdout + res.stderr
    submitted = sorted(sweep.glob(".submitit/*/*_submitted.pkl"))
    results = sorted(sweep.glob(".submitit/*/*_result.pkl"))
    assert len(submitted) == 2 and len(results) == 2  # each job pickled, run in its own process, result pickled
    with open(sweep / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["seeds"], r["status"]) for r in rows) == [("2", "ok"), ("3", "ok")]
    assert "Sweep summary (2 jobs" in res.stdout and (sweep / "summary.md").is_file()
    assert all((sweep / r["job"] / "metrics.json").is_file() for r in rows)


def test_submitit_slurm_without_slurm_is_one_line_before_any_folder(tmp_path):
    res = run_cli("train", "-m", *SLURM, "seeds=2,3", cwd=tmp_path, env={"PATH": _path_without("sbatch", "srun")})
    assert res.returncode == 2
    assert res.stderr.startswith("error: hydra/launcher=submitit_slurm needs SLURM (sbatch and srun not on this machine's PATH)")
    assert res.stderr.count("\n") == 1 and not any(tmp_path.iterdir())


def test_the_readme_cluster_settings_reach_the_sbatch_script(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "srun").write_text("#!/bin/bash\n")
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    res = run_cli("train", "-m", *SLURM, "model.activation=relu,tanh", "seeds=10", "run_id=slurm", cwd=tmp_path, env=env)
    assert res.returncode != 0  # stopped by the stand-in once submitted
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --partition=cpu", "#SBATCH --account=myproject", "#SBATCH --time=30", "#SBATCH --cpus-per-task=1",
                 "#SBATCH --mem=4GB", "#SBATCH --array=0-1%2", "source .venv/bin/activate"):
        assert line in script, script
