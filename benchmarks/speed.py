"""How fast is a population run? All sides measured in one run, printed side by side as ratios.

    python benchmarks/speed.py                      # seeds=10000, hidden [8], 1000 full-batch epochs
    python benchmarks/speed.py --seeds 1000 --epochs 200 --sample 5   # a quick look

Sides (same math everywhere: tanh MLP 2-8-1, BCE on logits, Adam lr 0.05, full batch, no early stop):
  ours        python -m xor_lightning train ... (a subprocess; fit time from its metrics.json),
              as it comes (visuals on), with visuals off, and also with checkpoints considered once
  bare        Population + member_losses + torch.optim in a plain loop: the floor
  one-by-one  nn.Sequential trained seed after seed with a plain PyTorch loop (a sample, scaled)
plus: building a population, peak memory of seeds=100000, the default single run vs importing Lightning.
Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xor_lightning.data import INPUTS, TARGETS  # noqa: E402
from xor_lightning.losses import member_losses  # noqa: E402
from xor_lightning.nets import Population  # noqa: E402

LR = 0.05
# "Numbers only": no TensorBoard images, histograms or report (README: visuals cost).
NO_VISUALS = ["visuals.images=false", "visuals.histograms=false", "visuals.report=false"]


def bare_loop(seeds: int, epochs: int) -> tuple[float, float]:
    """(seconds to build, seconds to train) for the batched population without Lightning."""
    start = time.perf_counter()
    pop = Population(seeds, [8], "tanh", "pytorch", 1.0, seed=0)
    opt = torch.optim.Adam(pop.parameters(), lr=LR)
    built = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad(set_to_none=True)
        member_losses("bce_with_logits", pop(INPUTS), TARGETS).sum().backward()
        opt.step()
    return built - start, time.perf_counter() - built


def one_by_one(sample: int, epochs: int) -> float:
    """Seconds to train ``sample`` seeds one after another, each its own nn.Sequential."""
    loss_fn = nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for seed in range(sample):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        for _ in range(epochs):
            opt.zero_grad(set_to_none=True)
            loss_fn(net(INPUTS), TARGETS).backward()
            opt.step()
    return time.perf_counter() - start


def run_cli(args: list[str], cwd: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB) of ``python -m xor_lightning ARGS`` run in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "xor_lightning", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (ru_maxrss in KiB on Linux)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: xor_lightning {' '.join(args)}\n{proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss // 1024


def python_wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def ours(seeds: int, epochs: int, cwd: Path, run_id: str, extra: list[str] = ()) -> dict:
    args = ["train", f"seeds={seeds}", "model.hidden=[8]", "model.activation=tanh", "loss=bce_with_logits",
            "optimizer=adam", f"optimizer.lr={LR}", "early_stop.enabled=false", f"trainer.max_epochs={epochs}",
            f"run_id={run_id}", *extra]
    wall, rss = run_cli(args, cwd)
    metrics = json.loads((cwd / "outputs" / run_id / "metrics.json").read_text())
    return {"process_s": wall, "rss_mib": rss, **metrics}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=20, help="seeds timed one by one (then scaled)")
    ap.add_argument("--big", type=int, default=100_000, help="population whose peak memory is measured")
    args = ap.parse_args()
    k, e = args.seeds, args.epochs
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, seeds={k}, hidden [8], {e} epochs")

    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        build_s = min(bare_loop(k, 0)[0] for _ in range(3))
        bare_build, bare_train = bare_loop(k, e)
        bare = bare_build + bare_train
        alone = one_by_one(args.sample, e) * k / args.sample
        app = ours(k, e, cwd, "bench")
        app_nov = ours(k, e, cwd, "bench-nov", NO_VISUALS)
        app_ck = ours(k, e, cwd, "bench-ck", [*NO_VISUALS, f"checkpoint.every_n_epochs={e}"])
        big = ours(args.big, 20, cwd, "bench-big")
        default_s, _ = run_cli(["train", "run_id=bench-default"], cwd)
        import_s = python_wall("import pytorch_lightning")

    rows = [
        ("bare batched loop (floor)", bare),
        ("xor_lightning train (fit)", app["fit_seconds"]),
        ("  same, visuals off", app_nov["fit_seconds"]),
        ("  same, visuals off, checkpoints considered once", app_ck["fit_seconds"]),
        (f"one seed at a time ({args.sample} timed, scaled)", alone),
    ]
    print(f"\n{'side':45s} {'seconds':>9s} {'member-epochs/s':>16s} {'vs ours':>8s}")
    for name, secs in rows:
        print(f"{name:45s} {secs:9.2f} {k * e / secs:16.3g} {secs / app['fit_seconds']:8.2f}")
    print(f"\nours / bare loop: {app['fit_seconds'] / bare:.2f}x (target <= 1.5x); visuals off: "
          f"{app_nov['fit_seconds'] / bare:.2f}x; also checkpoints considered once: {app_ck['fit_seconds'] / bare:.2f}x")
    print(f"one-at-a-time / ours: {alone / app['fit_seconds']:.0f}x faster (target >= 300x); visuals off: "
          f"{alone / app_nov['fit_seconds']:.0f}x; also checkpoints considered once: {alone / app_ck['fit_seconds']:.0f}x")
    print(f"ours, visuals_seconds (TensorBoard images and histograms, part of fit): {app['visuals_seconds']:.2f} s")
    print(f"ours, whole process (start, fit, evaluate, write): {app['process_s']:.2f} s")
    print(f"build a {k}-seed population: {build_s:.3f} s (target < 1 s)")
    print(f"seeds={args.big}, 20 epochs: peak RSS {big['rss_mib']} MiB (target < 4096), process {big['process_s']:.1f} s")
    print(f"default single run (python -m xor_lightning train): {default_s:.2f} s; "
          f"bare 'import pytorch_lightning': {import_s:.2f} s")


if __name__ == "__main__":
    main()
