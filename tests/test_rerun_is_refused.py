"""Hydra's --experimental-rerun unpickles the file it is given: refused in one line, the file unread."""

from __future__ import annotations

import os
import pickle

import pytest

from xor_lightning.cli.main import main


class Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("form", ["separate", "joined"])
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_experimental_rerun_never_loads_its_pickle(command, form, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "config.pickle"
    evil.write_bytes(pickle.dumps(Payload(str(tmp_path / "ran"))))
    args = ["--experimental-rerun", str(evil)] if form == "separate" else [f"--experimental-rerun={evil}"]
    assert main([command, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --experimental-rerun is not supported: it loads a pickle") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.pickle"]  # the payload never ran
