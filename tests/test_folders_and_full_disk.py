"""A run's folders stay where its keys say (hydra.job.chdir is refused), and a full disk while they are
made or first written is one line naming the folder and the key that sets it, with nothing half-written."""

from __future__ import annotations

import errno
import os

import pytest

from tests.helpers import run_cli
from tests.test_safety import limit_file_size

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


# A full disk: the lock file, Hydra's .hydra/ config and TensorBoard's events.

def refusing(code: int, after=None):
    """An os.write (or fsync) that fails as a full disk does (``after``: what it still writes first)."""
    def write(fd, data=b""):
        if after is not None:
            after(fd, bytes(data[:7]))
        raise OSError(code, os.strerror(code))
    return write


def test_a_lock_that_cannot_be_written_leaves_no_folder_and_no_lock(tmp_path, monkeypatch):
    from xor_lightning.base.errors import WriteFailed
    from xor_lightning.run import run_lock

    monkeypatch.setattr(run_lock.os, "write", refusing(errno.ENOSPC))
    folder = tmp_path / "checkpoints" / "r"
    with pytest.raises(WriteFailed) as refused:
        run_lock.claim(folder, "run_id=r", resuming=False)
    assert str(refused.value).startswith(f"cannot write in {folder} (.lock): No space left on device")
    assert "set paths.checkpoint_dir to another folder" in str(refused.value)
    assert not any(tmp_path.iterdir())


def test_a_stale_lock_that_cannot_be_rewritten_is_left_empty_not_torn(tmp_path, monkeypatch):
    from xor_lightning.base.errors import WriteFailed
    from xor_lightning.run import run_lock

    monkeypatch.setattr(run_lock.os, "write", refusing(errno.EFBIG, after=os.write))
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / run_lock.LOCK).write_text('{"pid": 1}')
    with pytest.raises(WriteFailed):
        run_lock.claim(folder, "run_id=r", resuming=False)
    assert (folder / run_lock.LOCK).read_bytes() == b""  # not the 7 bytes of a half line


def test_the_command_says_the_lock_could_not_be_written_in_one_line(tmp_path, monkeypatch, capsys):
    from xor_lightning.cli.main import main
    from xor_lightning.run import run_lock

    monkeypatch.setattr(run_lock.os, "write", refusing(errno.EDQUOT))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "run_id=r"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write in checkpoints/r (.lock): Disk quota exceeded; nothing there was left")
    assert err.count("\n") == 1 and "(or set paths.checkpoint_dir to another folder)" in err
    assert not any(tmp_path.iterdir())


def test_a_torn_event_file_is_cut_back_to_its_whole_records(tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from torch.utils.tensorboard import SummaryWriter

    from xor_lightning.run.write_errors import trim_events

    with SummaryWriter(tmp_path) as writer:
        for step in range(5):
            writer.add_scalar("train/loss", 1.0 / (step + 1), step)
    (events,) = tmp_path.glob("events.out.tfevents.*")
    whole = events.read_bytes()
    events.write_bytes(whole + whole[-30:-7])  # a record cut off mid-way, as a full disk leaves it
    trim_events(events)
    assert events.read_bytes() == whole
    assert len(list(EventFileLoader(str(events)).Load())) == 6  # the file version and five scalars


def _full_disk_run(tmp_path, size: int, *args: str):
    return run_cli("train", "run_id=full", "trainer.max_epochs=20", "visuals.report=false", *args,
                   cwd=tmp_path, preexec_fn=limit_file_size(size))


def _one_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1 and "Traceback" not in res.stderr + res.stdout, res.stderr
    return lines[0]


@pytest.mark.slow
def test_a_full_disk_at_the_lock_is_one_line_and_leaves_no_folder(tmp_path):
    line = _one_line(_full_disk_run(tmp_path, 30))  # the lock's line is ~60 bytes
    assert line.startswith("error: cannot write in checkpoints/full (.lock): File too large") and "paths.checkpoint_dir" in line
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_full_disk_at_hydras_config_is_one_line_and_leaves_no_torn_file(tmp_path):
    line = _one_line(_full_disk_run(tmp_path, 500))  # .hydra/config.yaml is ~1 KB
    assert line.startswith("error: cannot write in ") and "outputs/full/.hydra (config.yaml): File too large" in line
    assert "(or set hydra.run.dir (paths.output_dir) to another folder)" in line
    assert not [p for p in (tmp_path / "outputs").rglob("*") if p.is_file()]  # no 500-byte config.yaml, no .tmp


@pytest.mark.slow
def test_a_full_disk_in_tensorboards_thread_is_one_line_naming_the_log_folder(tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    from xor_lightning.run.write_errors import trim_events

    line = _one_line(_full_disk_run(tmp_path, 5000))  # the config fits, the first pictures do not
    assert line.startswith("error: cannot write in logs/full (events.out.tfevents.") and "set paths.log_dir" in line
    for events in (tmp_path / "logs" / "full").glob("events.out.tfevents.*"):
        size = events.stat().st_size
        trim_events(events)
        assert events.stat().st_size == size  # already whole: every record complete
        assert list(EventFileLoader(str(events)).Load())


@pytest.mark.slow
def test_a_full_disk_at_a_sweeps_multirun_yaml_is_one_line_and_leaves_no_torn_file(tmp_path):
    res = run_cli("train", "-m", "run_id=fs", "seed=1,2", "trainer.max_epochs=3", cwd=tmp_path,
                  preexec_fn=limit_file_size(300))  # multirun.yaml is ~5 KB
    line = _one_line(res)
    assert line.startswith("error: cannot write in multirun/fs (multirun.yaml): File too large")
    assert "(or set hydra.sweep.dir to another folder)" in line
    assert not (tmp_path / "multirun" / "fs" / "multirun.yaml").exists()


def test_hydras_config_saved_on_a_full_disk_leaves_no_file_and_says_one_line(tmp_path, monkeypatch, capsys):
    from omegaconf import OmegaConf

    from xor_lightning.base import atomic_io
    from xor_lightning.run.write_errors import _one_line_for_refused_writes, save_config_whole

    monkeypatch.setattr(atomic_io.os, "fsync", refusing(errno.ENOSPC))
    hydra_dir = tmp_path / "outputs" / "r" / ".hydra"
    with pytest.raises(SystemExit) as ended:
        _one_line_for_refused_writes(lambda: save_config_whole(OmegaConf.create({"seed": 0}), "config.yaml", hydra_dir))()
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write in {hydra_dir} (config.yaml): No space left on device") and err.count("\n") == 1
    assert "(or set hydra.run.dir (paths.output_dir) to another folder)" in err
    assert list(hydra_dir.iterdir()) == []  # neither a torn config.yaml nor its temporary file
