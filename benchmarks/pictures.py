"""What do the pictures cost? One TensorBoard round and report.png, old (matplotlib) vs new (arrays).

    python benchmarks/pictures.py              # seeds 1, 1000, 10000 x hidden [8], [16,8]
    python benchmarks/pictures.py --repeat 3   # quicker, noisier
    python benchmarks/pictures.py --threads 1  # as with torch_threads=1
    python benchmarks/pictures.py --threads 1 --clock cpu   # CPU time: steadier on a shared machine

A round is what a run logs at step 0, every visuals.every_n_epochs and at the end:
  old  tb_visuals.log_histograms + log_images of commit OLD_REF (matplotlib figures; it evaluated
       the population itself to find the best member)
  new  tb_visuals.log_histograms + log_member_images (fixed member, grid of 9), with `solved`
       passed in as the training loop already knows it
plus the new end-of-run boundary/best + units/best, and report.png drawn and written. Each round
ends with writer.flush(), so the event file write is counted: TensorBoard's writer checksums every
record with a pure-Python CRC32C, ~0.12 ms per KB of PNG.
Each time is the best of --repeat runs (the machine is shared: the best is the least disturbed).
Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xor_lightning.core.data import INPUTS, TARGETS  # noqa: E402
from xor_lightning.core.evaluation import evaluate_module  # noqa: E402
from xor_lightning.core.losses import member_losses  # noqa: E402
from xor_lightning.core.module import XORModule  # noqa: E402
from xor_lightning.core.task import XOR  # noqa: E402
from xor_lightning.views import run_report, tb_visuals  # noqa: E402
from xor_lightning.views.figures import History  # noqa: E402

OLD_REF = "8c5b875"  # the last commit before the array renderer
GRID = 9  # visuals.members default


def old_module(path: str, name: str, **inject) -> types.ModuleType | None:
    """A module's source at OLD_REF, loaded under ``name``; ``inject`` replaces its
    ``from xor_lightning import X`` lines so the old code calls old code."""
    try:
        src = subprocess.run(["git", "show", f"{OLD_REF}:{path}"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout: only the new side is timed
    module = types.ModuleType(name)
    for key, value in inject.items():
        src = src.replace(f"from xor_lightning import {key}\n", "")
        module.__dict__[key] = value
    sys.modules[name] = module  # dataclasses look their module up
    try:
        exec(compile(src, f"{OLD_REF}:{path}", "exec"), module.__dict__)
    except ImportError as exc:  # the old code imports the flat layout that issue 13 re-housed
        print(f"old side not timed: {path} at {OLD_REF} needs {exc.name}")
        return None
    return module


def trained_module(seeds: int, hidden: list[int], epochs: int = 60) -> XORModule:
    """A population a few dozen epochs in, so the pictures show boundaries, not noise."""
    module = XORModule(
        model={"hidden": hidden, "activation": "tanh", "init": "pytorch", "init_std": 1.0},
        loss={"name": "bce_with_logits"}, optimizer={"_target_": "torch.optim.Adam", "lr": 0.05}, seeds=seeds,
    )
    opt = torch.optim.Adam(module.net.parameters(), lr=0.05)
    for _ in range(epochs):
        opt.zero_grad()
        member_losses("bce_with_logits", module.net(INPUTS), TARGETS).sum().backward()
        opt.step()
    return module


def history_of(module: XORModule, epochs: int = 200) -> History:
    """A report's worth of loss curves (values only matter for the shape of the plot)."""
    history = History()
    losses = member_losses("bce_with_logits", module.net(INPUTS), TARGETS).detach()
    for epoch in range(1, epochs + 1):
        history.add(epoch, float(losses.mean()) / epoch, losses / epoch)
    return history


CLOCK = time.perf_counter  # --clock cpu: time.process_time, the CPU time of all this process's threads


def best_ms(fn, repeat: int) -> float:
    fn()  # warm caches (fonts, colormaps, code paths) as a run's first round does
    best = float("inf")
    for _ in range(repeat):
        start = CLOCK()
        fn()
        best = min(best, CLOCK() - start)
    return best * 1000


def ratio(old: float | None, new: float) -> str:
    return "-" if old is None else f"{old / new:.1f}x"


def fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: CPU time of the whole process (all its threads), steadier on a busy machine")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    old_fig = old_module("xor_lightning/figures.py", "old_figures")
    old_tb = old_fig and old_module("xor_lightning/tb_visuals.py", "old_tb_visuals", figures=old_fig)
    old_rep = old_fig and old_module("xor_lightning/run_report.py", "old_run_report", figures=old_fig)
    print(f"torch threads {torch.get_num_threads()}; {args.clock} time, best of {args.repeat}; old = commit {OLD_REF}\n")
    columns = f"{'old ms':>8} {'new ms':>8} {'old/new':>8}"
    print(f"{'one round (images + histograms)':34} {columns}   {'new: end-of-run best images':>28}")
    with tempfile.TemporaryDirectory() as tmp:
        writer = SummaryWriter(tmp)
        for hidden in ([8], [16, 8]):
            for seeds in (1, 1000, 10000):
                module = trained_module(seeds, hidden)
                net, solved = module.net, evaluate_module(module).solved

                def new_round(net=net, solved=solved):
                    tb_visuals.log_histograms(writer, net, 1)
                    tb_visuals.log_member_images(writer, net, 1, task=XOR, seed=0, member=0, grid=GRID, solved=solved)
                    writer.flush()

                def old_round(module=module):
                    old_tb.log_histograms(writer, module, 1)
                    old_tb.log_images(writer, module, 1, GRID)
                    writer.flush()

                def best(net=net, solved=solved):
                    tb_visuals.log_best_images(writer, net, 1, task=XOR, seed=0, member=0, solved=solved)
                    writer.flush()

                new = best_ms(new_round, args.repeat)
                old = best_ms(old_round, max(1, args.repeat // 2)) if old_tb else None
                label = f"seeds={seeds} hidden={hidden}"
                print(f"{label:34} {fmt(old):>8} {fmt(new):>8} {ratio(old, new):>8}   {fmt(best_ms(best, args.repeat)):>28}")
        writer.close()
        print(f"\n{'report.png (draw + write)':34} {columns}")
        for hidden in ([8], [16, 8]):
            module = trained_module(1000, hidden)
            ev, history = evaluate_module(module), history_of(module)
            path = Path(tmp) / "report.png"
            new_args = (path, module, ev, history, "bench")
            new = best_ms(lambda a=new_args: run_report.write_report(*a), args.repeat)
            old = best_ms(lambda a=new_args: old_rep.write_report(*a), max(1, args.repeat // 2)) if old_rep else None
            print(f"{f'seeds=1000 hidden={hidden}, 200 epochs':34} {fmt(old):>8} {fmt(new):>8} {ratio(old, new):>8}")


if __name__ == "__main__":
    main()
