"""Can float rounding make a network without activations look as if it solved XOR?

The Keras post trains 2 -> 128 -> 1 with no activation at all (its output is the prediction, not a
logit), MSE, Adam at lr 0.001, and reports accuracy 1.0 at a loss of 0.2500. An affine function
cannot get all four rows right (README, "Why no linear network gets all four rows"), so the right
answers are rounding: every output sits at 0.5 give or take a few float32 steps. This script trains
that network as a population (Glorot-uniform weights, zero biases, full batch, as Keras does) and
counts, for each member, the epochs in which all four rows count as right under two rules:

  keras   Keras' binary_accuracy of the time: round(output) == target, round half to even,
          so an output of exactly 0.5 counts as a right 0.
  ours    verdict.right, the app's one tie rule: strictly on the target's side of 0.5; exactly 0.5
          is undecided. The output is taken as the prediction itself (a linear output head).
  guarded ours, but a row must also be GUARD = 1e-6 away from 0.5 (~16 float32 steps there):
          a guard the tie rule could take against rounding (not in the app: a proposal).

    python benchmarks/linear_noise.py                 # 1000 members, 5000 epochs (~30 s here)
    python benchmarks/linear_noise.py --seeds 200 --epochs 20000

The app's own network emits a logit and thresholds sigmoid(logit). For a run of it
(`python -m xor_lightning train ... model.activation=identity`, README's linear section),
``--checkpoint PATH`` reads what that run recorded instead: how many members ever had all four rows
right in some epoch (their first solved epoch, kept per member in the checkpoint), and how close
its outputs are to 0.5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xor_lightning.core.data import INPUTS, TARGETS  # noqa: E402
from xor_lightning.core.nets import Population  # noqa: E402
from xor_lightning.core.verdict import right  # noqa: E402

GUARD = 1e-6


def keras_right(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """round(output) == target with round half to even (torch.round, like TensorFlow's round)."""
    return torch.round(outputs) == targets


def from_checkpoint(path: str) -> None:
    """What a run of the app recorded: members ever solved (per epoch, in training) and now."""
    from xor_lightning.run.checkpoints import load_checkpoint

    module = load_checkpoint(path)
    with torch.no_grad():
        p = torch.sigmoid(module.net(INPUTS)).squeeze(-1)
    ever = int((module.facts.first_solved >= 0).sum())
    now = int(right(p, TARGETS.squeeze(-1)).all(dim=1).sum())
    print(f"{path}: {module.net.members} members, {int(module.epochs_done)} epochs")
    print(f"  recorded all four rows right in some epoch: {ever} members; all four right at these weights: {now}")
    print(f"  p(y=1) exactly 0.5: {int((p == 0.5).sum())} of {p.numel()} outputs; max |p - 0.5| {(p - 0.5).abs().max():.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=5000)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--checkpoint", help="a run's last.ckpt: report what that run recorded instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.checkpoint:
        return from_checkpoint(args.checkpoint)
    pop = Population(args.seeds, [args.width], "identity", "xavier_uniform", seed=0)
    opt = torch.optim.Adam(pop.parameters(), lr=0.001)
    targets = TARGETS.squeeze(-1)
    epochs_all_right = {rule: torch.zeros(args.seeds, dtype=torch.long) for rule in ("keras", "ours", "guarded")}
    for _ in range(args.epochs):
        out = pop(INPUTS)  # [K, 4, 1]: the output itself is the prediction
        with torch.no_grad():
            o = out.squeeze(-1)
            epochs_all_right["keras"] += keras_right(o, targets).all(dim=1)
            epochs_all_right["ours"] += right(o, targets).all(dim=1)
            epochs_all_right["guarded"] += right(o, targets, GUARD).all(dim=1)
        opt.zero_grad()
        F.mse_loss(out, TARGETS.expand_as(out), reduction="none").flatten(1).mean(1).sum().backward()
        opt.step()
    with torch.no_grad():
        o = pop(INPUTS).squeeze(-1)
    mse = (o - targets).pow(2).mean(1)
    print(f"{args.seeds} members, 2 -> {args.width} -> 1 without activations, {args.epochs} epochs; "
          f"final loss: mean {mse.mean():.4f}, max |output - 0.5| {(o - 0.5).abs().max():.2e}, "
          f"outputs exactly 0.5: {int((o == 0.5).sum())} of {o.numel()}")
    for rule, counts in epochs_all_right.items():
        ever = int((counts > 0).sum())
        print(f"  {rule:7s}: all four rows right in some epoch for {ever}/{args.seeds} members; "
              f"in {int(counts.sum())} of {args.seeds * args.epochs} member-epochs "
              f"({counts.sum().item() / (args.seeds * args.epochs):.2%})")
    print(f"  example outputs (member 0): {[f'{v:.8f}' for v in o[0].tolist()]}")


if __name__ == "__main__":
    main()
