"""A grid as one population against the same grid one job at a time, measured side by side in one run.

    python benchmarks/packed_grid.py                          # 40 jobs x 100 seeds x 1,000 epochs
    python benchmarks/packed_grid.py --lrs 4 --stds 2 --seeds 20 --epochs 200   # a quick look

The grid: optimizer.lr (--lrs values, log-spaced 0.003-0.3) x model.init_std (--stds values,
0.5-2, model.init=normal), tanh, Adam, full batch, --seeds seeds each, the early stop on (as the
app comes). Sides, each the whole command in a subprocess (import, precheck, training, every job's
files, the sweep summary), from a fresh folder:
  basic       python -m xor_lightning train -m hydra/launcher=basic ...
  population  python -m xor_lightning train -m hydra/launcher=population ...
"training" is the sum of the jobs' fit_seconds (a packed job's is its share of the population's).
Both at one torch thread (torch_threads=1) so the machine's other load touches both alike. Each
job's members.csv is compared between the sides too (solved and first-solved epoch). Not a test:
timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def grid(lrs: int, stds: int, seeds: int, epochs: int) -> list[str]:
    lr = [0.003 * (100 ** (i / max(1, lrs - 1))) for i in range(lrs)]
    std = [0.5 * (4 ** (i / max(1, stds - 1))) for i in range(stds)]
    return [f"optimizer.lr={','.join(f'{v:.4g}' for v in lr)}", "model.init=normal",
            f"model.init_std={','.join(f'{v:.4g}' for v in std)}", "model.activation=tanh", "optimizer=adam",
            f"seeds={seeds}", f"trainer.max_epochs={epochs}", "torch_threads=1", "progress.bar=false"]


def run(launcher: str, overrides: list[str], folder: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XOR_LIGHTNING_RUN_ID": launcher}
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "xor_lightning", "train", "-m", f"hydra/launcher={launcher}", *overrides],
                         cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        sys.exit(f"{launcher}: exit {res.returncode}\n{res.stderr[-3000:]}")
    return seconds


def fit_seconds(sweep: Path) -> float:
    """Training time over the sweep's jobs: each job's own fit (basic), or the population's,
    which its jobs' metrics.json share out by members (population)."""
    return sum(json.loads(p.read_text())["fit_seconds"] for p in sweep.glob("*/metrics.json"))


def verdicts(sweep: Path) -> dict[str, list[tuple[str, str]]]:
    out = {}
    for job in sorted(p for p in sweep.iterdir() if p.name.isdigit()):
        with open(job / "members.csv", newline="") as fh:
            out[job.name] = [(r["solved"], r["epochs_to_solve"]) for r in csv.DictReader(fh)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lrs", type=int, default=8)
    parser.add_argument("--stds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()
    overrides = grid(args.lrs, args.stds, args.seeds, args.epochs)
    jobs = args.lrs * args.stds
    print(f"grid: {jobs} jobs x {args.seeds} seeds x {args.epochs} epochs; {' '.join(overrides)}")
    with tempfile.TemporaryDirectory() as tmp:
        seconds = {}
        for launcher in ("basic", "population"):
            folder = Path(tmp) / launcher
            folder.mkdir()
            seconds[launcher] = run(launcher, overrides, folder)
            fit = fit_seconds(folder / "multirun" / launcher)
            print(f"  {launcher:<11} {seconds[launcher]:8.1f} s  whole command; {fit:6.1f} s of it training (fit_seconds)")
        same = verdicts(Path(tmp) / "basic" / "multirun" / "basic") == verdicts(
            Path(tmp) / "population" / "multirun" / "population")
    print(f"  basic / population: {seconds['basic'] / seconds['population']:.1f}x; "
          f"every member's solved and first-solved epoch equal: {same}")


if __name__ == "__main__":
    main()
