"""A run's folders stay where its keys say (hydra.job.chdir is refused), and a full disk while they are
made or first written is one line naming the folder and the key that sets it, with nothing half-written."""

from __future__ import annotations

import pytest

CHDIR = "error: hydra.job.chdir=true is not supported: a run's folders (paths.checkpoint_dir, paths.log_dir, its lock)"


@pytest.mark.parametrize("args", [
    ["train", "hydra.job.chdir=true"],
    ["train", "-m", "seed=1,2", "hydra.job.chdir=true"],
    ["evaluate", "weights=deep_learning_book", "hydra.job.chdir=true"],
], ids=["train", "sweep", "evaluate"])
def test_hydra_job_chdir_is_refused_in_one_line_before_any_folder(args, capsys, tmp_path, monkeypatch):
    from tests.helpers import assert_refused_in_process

    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(args, CHDIR, tmp_path, capsys)
