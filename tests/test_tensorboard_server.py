"""The real TensorBoard server reads a run's log folder: scalars, images, histograms, HParams over HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from xor_lightning.run.train import train

STARTUP_S = 60  # generous for 2 busy cores; the server is usually up in 2-5 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.fixture
def tensorboard_on(tmp_path):
    """``tensorboard_on(logdir)`` -> base URL of a real server; stopped (and waited for) afterwards."""
    procs, logs = [], []

    def start(logdir) -> str:
        port = _free_port()
        cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
               "--port", str(port), "--samples_per_plugin", "images=100", "--reload_interval", "1"]
        logs.append(open(tmp_path / "tb.log", "w"))  # closed after the server stops
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logs[-1]))
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for fh in logs:
        fh.close()


def _wait_for(url: str, run: str, proc_log) -> dict:
    """Poll until the server lists ``run`` at ``url`` (it loads the folder after it starts listening)."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        data = _get(url)
        if data and run in data:
            return data
        time.sleep(0.5)
    pytest.fail(f"TensorBoard did not list run {run!r} at {url} within {STARTUP_S}s; log: {proc_log.read_text()[-500:]}")


def test_tensorboard_serves_a_run(train_cfg, tmp_path, tensorboard_on):
    metrics = train(train_cfg("seeds=2", "early_stop.enabled=false", "trainer.max_epochs=3", "visuals.every_n_epochs=1",
                              "visuals.report=false", run_id="served"))
    base = tensorboard_on(Path(metrics["log_dir"]).parent)  # the log root, as a user would open it
    scalars = _wait_for(f"{base}/data/plugin/scalars/tags", "served", tmp_path / "tb.log")["served"]
    assert {"train/loss", "val/loss", "val/acc", "val/success_rate", "verdict/success_rate"} <= set(scalars)

    images = {"boundary/member", "units/member", "boundary/members", "boundary/best", "units/best"}
    assert set(_get(f"{base}/data/plugin/images/tags")["served"]) == images
    entries = _get(f"{base}/data/plugin/images/images?run=served&tag=boundary/member&sample=0")
    assert [e["step"] for e in entries] == [0, 1, 2, 3]  # before training and after each epoch
    assert {"weights/hidden1", "biases/output"} <= set(_get(f"{base}/data/plugin/histograms/tags")["served"])

    request = urllib.parse.quote(json.dumps({"experimentName": ""}))
    experiment = _get(f"{base}/data/plugin/hparams/experiment?request={request}")
    assert {"seeds", "model/hidden", "optimizer/lr"} <= {h["name"] for h in experiment["hparamInfos"]}
    metric_tags = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert metric_tags == {"verdict/success_rate", "verdict/epochs_to_solve_median", "verdict/final_loss"}
