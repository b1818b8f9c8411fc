"""What to do when a run id already names a run: resume it (a lone run at once, a sweep job by job)
or choose another id. A resume is a single run, so a sweep's jobs are resumed one at a time."""

from __future__ import annotations

from pathlib import Path

from xor_lightning.base.errors import UserError

COMMAND = "python -m xor_lightning train"


def sweep_jobs(folder: Path) -> list[str]:
    """The job folders (0, 1, ...) of a sweep's checkpoint folder that hold a last.ckpt to resume from."""
    jobs = [p.name for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and (p / "last.ckpt").is_file()]
    return sorted(jobs, key=int)


def resume_one_job(run_id: str, jobs: list[str]) -> str:
    """The per-job command that resumes a sweep's job (each job is a run of its own: run_id=<sweep>/<job>)."""
    listed = f" (jobs with a last.ckpt: {', '.join(jobs)})" if jobs else ""
    job = jobs[0] if jobs else "<job>"
    return f"resume a job of it on its own with: {COMMAND} run_id={run_id}/{job} ckpt_path=last{listed}"


def already_holds(who: str, folder: Path, run_id: str) -> UserError:
    """The one-line refusal for a run id whose checkpoint folder holds a run (or a sweep's jobs)."""
    jobs = sweep_jobs(folder) if folder.is_dir() else []
    if jobs:
        return UserError(f"{who}: {folder} already holds a sweep's checkpoints; choose another run_id (or leave it out "
                         f"for a fresh one), or {resume_one_job(run_id, jobs)}")
    return UserError(f"{who}: {folder} already holds a run's checkpoints; choose another run_id (or leave it out for a "
                     f"fresh one), or resume it with: {COMMAND} run_id={run_id} ckpt_path=last")
