"""What the population optimizer (core/optim.py) costs: a bare batched loop (Population +
member_losses + optimizer step, tanh 2-8-1, BCE on logits, Adam) with torch.optim.Adam, with ours
at one lr for every member, and with ours at a different lr per member. Interleaved, best of
--repeats, one torch thread. Not a test: timings depend on what else runs on the machine.

    python benchmarks/optimizer.py                  # seeds 100, 1000, 10000
    python benchmarks/optimizer.py --seeds 1000 --epochs 200 --repeats 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xor_lightning.core.data import INPUTS, TARGETS  # noqa: E402
from xor_lightning.core.losses import member_losses  # noqa: E402
from xor_lightning.core.nets import Population  # noqa: E402
from xor_lightning.core.optim import make_optimizer  # noqa: E402

LR = 0.05
SIDES = ("torch.optim.Adam", "ours, one lr", "ours, lr per member")


def loop(seeds: int, epochs: int, side: str) -> float:
    """Seconds for ``epochs`` steps (the build left out)."""
    pop = Population(seeds, [8], "tanh", "pytorch", 1.0, seed=0)
    if side == SIDES[0]:
        opt = torch.optim.Adam(pop.parameters(), lr=LR)
    else:
        hyper = {"lr": torch.linspace(LR / 5, LR * 2, seeds, dtype=torch.float64)} if side == SIDES[2] else None
        opt = make_optimizer({"_target_": "torch.optim.Adam", "lr": LR}, pop.parameters(), hyper)
    start = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad(set_to_none=True)
        member_losses("bce_with_logits", pop(INPUTS), TARGETS).sum().backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 1000, 10_000])
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {args.epochs} epochs, best of {args.repeats} (interleaved)")
    print(f"{'seeds':>7s} " + " ".join(f"{s:>20s}" for s in SIDES) + f" {'ours/torch':>11s} {'per-member/one':>15s}")
    for k in args.seeds:
        best = {s: float("inf") for s in SIDES}
        for _ in range(args.repeats):
            for s in SIDES:
                best[s] = min(best[s], loop(k, args.epochs, s))
        t, one, per = (best[s] for s in SIDES)
        print(f"{k:7d} " + " ".join(f"{best[s]:19.2f}s" for s in SIDES) + f" {one / t:10.2f}x {per / one:14.2f}x")


if __name__ == "__main__":
    main()
