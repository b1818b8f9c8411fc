"""Does the diagnosis' "still learning" estimate hold? Train the forum thread's slow setting (ReLU [5],
MSE, plain SGD lr 0.03) for 1,000 epochs, then the same seeds for many more, and compare each
still-learning member's estimate of the epochs it needs with when it really solved; and check that
members diagnosed dead or on a plateau stay unsolved.

    python benchmarks/still_learning.py                 # 300 seeds, 1,000 then 20,000 epochs
    python benchmarks/still_learning.py --seeds 100 --long 5000

Not a test (tests/test_diagnosis.py has a smaller version): it prints what it measured.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hydra import compose, initialize_config_dir  # noqa: E402

from xor_lightning.base.config_dir import config_dir  # noqa: E402
from xor_lightning.run.train import train  # noqa: E402

SETTING = ["model.hidden=[5]", "model.activation=relu", "loss=mse", "optimizer=sgd", "optimizer.lr=0.03",
           "early_stop.enabled=false", "visuals.images=false", "visuals.histograms=false", "visuals.report=false",
           "torch_threads=1"]


def members(root: Path, seeds: int, epochs: int, run: str) -> list[dict]:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", [f"run_id={run}", f"paths.output_dir={root / run}", f"paths.checkpoint_dir={root / 'ck'}",
                                f"paths.log_dir={root / 'logs'}", f"seeds={seeds}", f"trainer.max_epochs={epochs}", *SETTING])
    train(cfg)
    with open(root / run / "members.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=300)
    ap.add_argument("--short", type=int, default=1000)
    ap.add_argument("--long", type=int, default=20_000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        first = members(Path(tmp), args.seeds, args.short, "short")
        later = members(Path(tmp), args.seeds, args.long, "long")
    print(f"{args.seeds} seeds, ReLU [5], MSE, SGD lr 0.03: diagnosed after {args.short} epochs, trained again to {args.long}")
    for cause in sorted({r["cause"] for r in first} - {""}):
        who = [int(r["member"]) for r in first if r["cause"] == cause]
        solved = sum(later[i]["solved"] == "1" for i in who)
        print(f"  {cause:15s} {len(who):4d} members; solved by epoch {args.long}: {solved}")
    ratios = [(int(later[int(r["member"])]["epochs_to_solve"]) - args.short) / int(r["more_epochs"])
              for r in first if r["cause"] == "still learning" and later[int(r["member"])]["solved"] == "1"]
    if len(ratios) >= 10:
        deciles = statistics.quantiles(ratios, n=10)
        print(f"  still learning, solved: epochs it really took after {args.short} / the estimate: median "
              f"{statistics.median(ratios):.2f}, p10 {deciles[0]:.2f}, p90 {deciles[-1]:.2f}")


if __name__ == "__main__":
    main()
