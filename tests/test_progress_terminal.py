"""The progress bar on a real pseudo-terminal: ours alone (no stray lines of Lightning's own bar),
and progress lines instead where the terminal reports no size (tqdm would draw nothing there)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from tests.helpers import _env

ARGS = ["train", "trainer.max_epochs=300", "early_stop.enabled=false", "block_epochs=50", "visuals.report=false",
        "visuals.images=false", "visuals.histograms=false", "run_id=tty"]


def on_a_terminal(tmp_path, columns: int, rows: int, *extra: str) -> str:
    """What a user sees on a terminal of ``columns`` x ``rows`` (0 x 0: one that reports no size)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "xor_lightning", *ARGS, *extra], cwd=tmp_path, env=_env(),
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=180) == 0
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_the_bar_is_ours_alone_from_its_first_frame(tmp_path):
    seen = on_a_terminal(tmp_path, 120, 40)
    frames = [f for f in seen.replace("\r\n", "\n").replace("\r", "\n").split("\n") if "|" in f and "epoch" in f]
    assert frames and frames[0].startswith("train:   0%") and "0/300" in frames[0], frames[:3]
    assert "Training" not in seen and "300/300" in frames[-1]
    assert "epoch 300/300: solved" not in seen  # the lines go to train.log, the bar says the same


@pytest.mark.slow
def test_a_terminal_without_a_size_gets_progress_lines_or_a_sized_bar(tmp_path):
    for name in ("lines", "forced"):
        (tmp_path / name).mkdir()
    assert "epoch 300/300: solved, loss" in on_a_terminal(tmp_path / "lines", 0, 0)
    forced = on_a_terminal(tmp_path / "forced", 0, 0, "progress.bar=true")
    assert "train: 100%" in forced and "300/300" in forced
