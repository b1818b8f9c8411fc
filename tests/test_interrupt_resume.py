"""Ctrl-C and kill -9 on a real training subprocess; resuming ends bit-identical to an
uninterrupted run; a failed checkpoint write never replaces a good file."""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import run_cli, start_train, train_config
from xor_lightning.base.atomic_io import atomic_save
from xor_lightning.run.checkpoints import load_checkpoint
from xor_lightning.run.train import train

# Long enough that the signal lands mid-training (a few seconds), in blocks of 50 epochs with
# last.ckpt every 50, on shuffled mini-batches (each epoch's order must survive the resume too).
EPOCHS = 3000
ARGS = (f"trainer.max_epochs={EPOCHS}", "early_stop.enabled=false", "seeds=2", "device=cpu",
        "data.batch_size=2", "data.shuffle=true", "block_epochs=50", "checkpoint.last_every_n_epochs=50",
        "visuals.every_n_epochs=0", "budgets=[10,1500,3000]")  # verdicts at budgets before and after the stop


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, torch.Tensor]:
    """Final weights of the same run, never interrupted."""
    root = tmp_path_factory.mktemp("reference")
    cfg = train_config(root, *ARGS, run_id="ref")
    return torch.load(train(cfg)["last_checkpoint"], weights_only=True)["state_dict"]


def _wait_for(path_glob: str, cwd: Path, proc: subprocess.Popen, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(cwd.glob(path_glob))
        if found:
            return found[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"no {path_glob} after {timeout}s")


def _epochs(ckpt: Path) -> int:
    return int(torch.load(ckpt, weights_only=True)["state_dict"]["epochs_done"])


def _assert_same_weights(ckpt: Path, reference: dict[str, torch.Tensor]) -> None:
    state = torch.load(ckpt, weights_only=True)
    assert int(state["state_dict"]["epochs_done"]) == EPOCHS  # written after fit: table epochs completed
    for key, value in reference.items():
        assert torch.equal(state["state_dict"][key], value), key


# SIGTERM (what SLURM sends before it kills a job) is handled exactly like Ctrl-C; 128 + the signal.
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_saves_last_and_the_printed_command_resumes_bit_identically(tmp_path, reference, signum, code):
    proc = start_train(tmp_path, "run_id=ctrlc", *ARGS)
    _wait_for("checkpoints/ctrlc/last.ckpt", tmp_path, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("interrupted: stopped after ") and "Traceback" not in err
    stopped = _epochs(tmp_path / "checkpoints/ctrlc/last.ckpt")
    assert f"stopped after {stopped} epochs" in line
    assert stopped < EPOCHS and stopped % 50 == 0  # really interrupted mid-training, at a block end

    command = shlex.split(line.split("Resume with: ", 1)[1])
    assert command[:4] == ["python", "-m", "xor_lightning", "train"]
    resumed = run_cli(*command[3:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_weights(tmp_path / "checkpoints/ctrlc/last.ckpt", reference)


def test_kill_9_leaves_readable_checkpoints_and_resume_keeps_the_run_id(tmp_path, reference):
    proc = start_train(tmp_path, *ARGS)
    last = _wait_for("checkpoints/*/last.ckpt", tmp_path, proc)
    time.sleep(0.3)  # a moment mid-training, while checkpoints are being rewritten
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    for ckpt in last.parent.glob("*.ckpt"):
        load_checkpoint(ckpt)  # raises UserError if unreadable
    assert _epochs(last) < EPOCHS

    resumed = run_cli("train", *ARGS, f"ckpt_path={last}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [last.parent.name]  # same run id
    assert [p.name for p in (tmp_path / "outputs").iterdir()] == [last.parent.name]
    _assert_same_weights(last, reference)


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path):
    target = tmp_path / "last.ckpt"
    atomic_save({"epoch": 1}, target)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")  # fails half-way through torch.save

    with pytest.raises(RuntimeError):
        atomic_save({"epoch": 2, "big": torch.zeros(1000), "x": Unpicklable()}, target)
    assert torch.load(target, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left
