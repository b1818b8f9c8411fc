"""A run's lock file is read and written only when it is a regular file: a FIFO in its place would
hang the run, a symlink would have the holder's line written wherever it points."""

from __future__ import annotations

import os

import pytest

from xor_lightning.cli.main import main


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_lock_that_is_not_a_regular_file_is_one_line_and_nothing_is_written(kind, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "checkpoints" / "R"
    folder.mkdir(parents=True)
    outside = tmp_path / "elsewhere.txt"
    if kind == "fifo":
        os.mkfifo(folder / ".lock")
    else:
        outside.write_text("keep me\n")
        (folder / ".lock").symlink_to(outside)
    assert main(["train", "run_id=R"]) == 2
    err = capsys.readouterr().err
    what = "not a regular file" if kind == "fifo" else "a symlink"
    assert err.startswith(f"error: run_id=R: checkpoints/R/.lock is {what}, not a run's lock file; remove it") \
        and err.count("\n") == 1, err
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == \
        sorted(["checkpoints", "checkpoints/R", "checkpoints/R/.lock", *(["elsewhere.txt"] if kind == "symlink" else [])])
    if kind == "symlink":
        assert outside.read_text() == "keep me\n"
