"""How far is member i of a population from its lone run (seeds=1 seed=seed+i)? Trains one
population and the lone runs of a few of its members, then prints, per setting, the largest weight
difference, whether the weights are bit-equal, and whether the facts (first solved, best and stop
epochs, predictions) agree.

    python benchmarks/member_vs_lone.py                       # 50 seeds, members 7, 23, 41
    ATEN_CPU_CAPABILITY=default python benchmarks/member_vs_lone.py   # torch without SIMD kernels

Why they differ at all: torch runs elementwise ops (tanh, sigmoid, exp in the losses) with SIMD
kernels over the whole [K, ...] tensor, and a lone run's tensors are shorter than one vector, so
its elements go through the scalar code, whose exp/tanh round differently in the last bit. With
ATEN_CPU_CAPABILITY=default (no SIMD) both take the same code and the weights are bit-equal.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import train_config  # noqa: E402
from xor_lightning.core.data import INPUTS  # noqa: E402
from xor_lightning.run.checkpoints import load_checkpoint  # noqa: E402
from xor_lightning.run.train import train  # noqa: E402

QUIET = ("visuals.images=false", "visuals.histograms=false", "visuals.report=false", "torch_threads=1")
SETTINGS = {
    "sgd momentum, shuffled batches of 2": ["optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9",
                                            "data.batch_size=2", "data.shuffle=true"],
    "sgd momentum, whole table": ["optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9"],
    "adam, whole table": ["optimizer=adam", "optimizer.lr=0.05"],
}
FACTS = ("solved", "epochs_to_solve", "best_epoch", "epochs_trained")


def _run(tmp: Path, run_id: str, *overrides: str) -> tuple[list[torch.Tensor], list[dict], torch.Tensor]:
    metrics = train(train_config(tmp, *overrides, *QUIET, run_id=run_id))
    with open(tmp / "outputs" / run_id / "members.csv") as fh:
        rows = list(csv.DictReader(fh))
    module = load_checkpoint(metrics["last_checkpoint"])
    return [p.detach() for p in module.net.parameters()], rows, (module(INPUTS) > 0).squeeze(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--members", default="7,23,41")
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args()
    members = [int(m) for m in args.members.split(",")]
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    for name, extra in SETTINGS.items():
        common = (f"trainer.max_epochs={args.epochs}", "model.hidden=[5]", *extra)
        with tempfile.TemporaryDirectory() as tmp:
            pop, pop_rows, pop_pred = _run(Path(tmp), "pop", "seed=0", f"seeds={args.seeds}", *common)
            worst, bits, facts = 0.0, True, True
            for i in members:
                lone, (row,), pred = _run(Path(tmp), f"lone{i}", f"seed={i}", "seeds=1", *common)
                worst = max(worst, *((a[i] - b[0]).abs().max().item() for a, b in zip(pop, lone)))
                bits &= all(torch.equal(a[i], b[0]) for a, b in zip(pop, lone))
                facts &= all(pop_rows[i][k] == row[k] for k in FACTS) and torch.equal(pop_pred[i], pred[0])
        print(f"{name}: {args.seeds} seeds, {args.epochs} epochs, members {args.members}: "
              f"max |weight difference| {worst:.2g}, bit-equal {bits}, same facts and predictions {facts}")


if __name__ == "__main__":
    main()
