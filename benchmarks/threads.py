"""How many torch threads should a run use? The training loop timed with 1 and with 2+ threads,
for several population sizes, on a quiet machine and next to one busy process (another job, a
browser, a second run), side by side in one run.

    python benchmarks/threads.py
    python benchmarks/threads.py --seeds 1 1000 --epochs 200

The loop is the bare batched population (Population + member_losses + Adam), the floor the app's
block loop runs at. Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xor_lightning.core.data import INPUTS, TARGETS  # noqa: E402
from xor_lightning.core.losses import member_losses  # noqa: E402
from xor_lightning.core.nets import Population  # noqa: E402


def per_epoch(seeds: int, epochs: int, threads: int) -> float:
    """Milliseconds per epoch of the bare batched loop with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    pop = Population(seeds, [8], "tanh", seed=0)
    opt = torch.optim.Adam(pop.parameters(), lr=0.05)
    start = None
    for epoch in range(epochs + 10):
        if epoch == 10:  # after a warm-up
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        member_losses("bce_with_logits", pop(INPUTS), TARGETS).sum().backward()
        opt.step()
    return 1e3 * (time.perf_counter() - start) / epochs


def _burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 100, 1000, 10_000, 100_000])
    ap.add_argument("--epochs", type=int, default=300)
    args = ap.parse_args()
    many = os.cpu_count() or 2
    print(f"torch {torch.__version__}, {many} CPUs, default threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.2f}; ms per epoch (best of 3)")
    print(f"{'seeds':>7s} | {'quiet: 1':>9s} {f'{many} thr':>9s} {'1 thr faster by':>16s} | "
          f"{'busy: 1':>9s} {f'{many} thr':>9s} {'1 thr faster by':>16s}")
    for k in args.seeds:
        epochs = max(20, args.epochs * 1000 // max(k, 1000))
        row = []
        for busy in (False, True):
            stop = multiprocessing.Event()
            burner = multiprocessing.Process(target=_burn, args=(stop,)) if busy else None
            if burner:
                burner.start()
            try:
                one = min(per_epoch(k, epochs, 1) for _ in range(3))
                all_ = min(per_epoch(k, epochs, many) for _ in range(3))
            finally:
                if burner:
                    stop.set()
                    burner.join()
            row += [one, all_, all_ / one]
        print(f"{k:7d} | {row[0]:9.3f} {row[1]:9.3f} {row[2]:15.2f}x | {row[3]:9.3f} {row[4]:9.3f} {row[5]:15.2f}x")


if __name__ == "__main__":
    main()
