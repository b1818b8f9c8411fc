"""A sweep's run id used again (after a killed or finished sweep): the refusal's advice is a command
that works, job by job, since a resume is one run."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from xor_lightning.cli.main import main

SWEEP = ["-m", "seeds=1,2", "run_id=sw", "trainer.max_epochs=5", "early_stop.enabled=false", "progress.bar=false",
         "visuals.report=false", "~hydra.callbacks.sweep_summary"]


def _advice(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    found = re.search(r"with: python -m xor_lightning (train run_id=sw/0 ckpt_path=last) \(jobs with a last.ckpt: 0, 1\)$",
                      err.strip())
    assert found, err
    return shlex.split(found.group(1))


def test_a_sweeps_folder_gets_the_per_job_command_not_ckpt_path_last(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for job in ("0", "1"):
        (tmp_path / "checkpoints" / "sw" / job).mkdir(parents=True)
        (tmp_path / "checkpoints" / "sw" / job / "last.ckpt").write_bytes(b"")
    for again in (SWEEP, [*SWEEP, "ckpt_path=last"], ["run_id=sw"]):
        assert main(["train", *again]) == 2
        assert _advice(capsys) == ["train", "run_id=sw/0", "ckpt_path=last"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"], "refused: nothing written"


@pytest.mark.slow
def test_the_advised_command_resumes_a_job_of_a_real_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *SWEEP]) == 0
    out = capsys.readouterr().out
    # The progress lines name each job by its folder (multirun/sw/0, /1), counted from 0 as they are.
    assert "job 0 (1 of 2): epoch 5/5" in out and "job 1 (2 of 2), sweep ETA" in out, out
    assert main(["train", *SWEEP]) == 2
    command = _advice(capsys)
    # Job 0 (seeds=1, the default) trained on from its last.ckpt to 8 epochs.
    assert main([*command, "trainer.max_epochs=8", "early_stop.enabled=false", "progress.bar=false",
                 "visuals.report=false"]) == 0
    metrics = json.loads(next(tmp_path.glob("outputs/sw/0/metrics.json")).read_text())
    assert metrics["epochs_trained"] == 8, metrics
