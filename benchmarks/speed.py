"""How fast is a population run? Every side measured in one run, printed side by side as ratios.

    python benchmarks/speed.py                                # populations, default run, memory
    python benchmarks/speed.py --baseline ../baseline        # also experiment=forum_sweep vs that checkout
    python benchmarks/speed.py --seeds 100 --epochs 200 --sample 5 --repeats 1   # a quick look
    python benchmarks/speed.py --parts engines                # engine=fused vs the bare loop and engine=torch
    python benchmarks/speed.py --parts auto                   # where engine=auto's fused engine starts to pay

Sides (same math everywhere: tanh MLP 2-8-1, BCE on logits, Adam lr 0.05, full batch, no early stop):
  ours        python -m xor_lightning train ... as it comes (pictures, checkpoints, logging at their
              defaults), a subprocess; fit time from its metrics.json (engine=auto: see core/engines.py)
  engines     ours with engine=fused and with engine=torch, next to the bare loop; the kernel alone; ns
              per member-epoch and their ratio to the physical estimate
  auto        whole processes with engine=fused and engine=torch over seeds x epochs: loading the
              compiler against what the kernel saves (engine=auto's threshold)
  bare        Population + member_losses + torch.optim in a plain loop: the floor
              (also with the app's population optimizer in place of torch.optim.Adam: its cost)
  one-by-one  nn.Sequential trained seed after seed with a plain PyTorch loop (a sample, scaled)
  sweep       python -m xor_lightning train -m experiment=forum_sweep, this checkout vs --baseline
  default     python -m xor_lightning train (whole process) vs python -c "import pytorch_lightning"
Every side uses the same torch thread count (--threads; the app's torch_threads). Each timing is the
best of --repeats. Not a test: timings depend on the machine and on what else runs on it.
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

from xor_lightning.core.data import INPUTS, TARGETS  # noqa: E402
from xor_lightning.core.losses import member_losses  # noqa: E402
from xor_lightning.core.nets import Population  # noqa: E402

try:  # the population optimizer (absent in checkouts before it: --baseline)
    from xor_lightning.core.optim import make_optimizer  # noqa: E402
except ImportError:
    make_optimizer = None

LR = 0.05


def bare_loop(seeds: int, epochs: int, engine: str = "torch") -> float:
    """Seconds to build and train the batched population without Lightning (the floor), with
    torch.optim.Adam or with the app's population optimizer (core/optim.py, per-member lr)."""
    start = time.perf_counter()
    pop = Population(seeds, [8], "tanh", "pytorch", 1.0, seed=0)
    if engine == "torch":
        opt = torch.optim.Adam(pop.parameters(), lr=LR)
    else:
        opt = make_optimizer({"_target_": "torch.optim.Adam", "lr": LR}, pop.parameters())
    for _ in range(epochs):
        opt.zero_grad(set_to_none=True)
        member_losses("bce_with_logits", pop(INPUTS), TARGETS).sum().backward()
        opt.step()
    return time.perf_counter() - start


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


def run(args: list[str], cwd: Path, code: Path = REPO) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB) of ``python ARGS`` in ``cwd`` with ``code`` importable."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("XOR_LIGHTNING_RUN_ID", None)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (ru_maxrss in KiB on Linux)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: python {' '.join(args)}\n{proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss // 1024


def ours(seeds: int, epochs: int, cwd: Path, run_id: str, threads: int, engine: str | None = None) -> dict:
    args = ["-m", "xor_lightning", "train", f"seeds={seeds}", "model.hidden=[8]", "model.activation=tanh",
            "loss=bce_with_logits", "optimizer=adam", f"optimizer.lr={LR}", "early_stop.enabled=false",
            f"trainer.max_epochs={epochs}", f"run_id={run_id}", f"torch_threads={threads}"]
    args += [f"engine={engine}"] if engine else []  # none: as it comes (and a --baseline without engines)
    wall, rss = run(args, cwd)
    metrics = json.loads((cwd / "outputs" / run_id / "metrics.json").read_text())
    return {"process_s": wall, "rss_mib": rss, **metrics}


def best_of(repeats: int, measure, *args) -> float:
    return min(measure(*args) for _ in range(repeats))


def populations(args, cwd: Path) -> None:
    e = args.epochs
    print(f"\n== populations: hidden [8], {e} full-batch epochs, early stop off, everything else as it comes ==")
    print(f"{'seeds':>7s} {'bare loop s':>12s} {'bare, our optimizer s':>22s} {'ratio':>6s} {'ours fit s':>11s} "
          f"{'ours/bare':>10s} {'pictures s':>11s}")
    for k in args.populations:
        bare = best_of(args.repeats, bare_loop, k, e)
        pop_opt = best_of(args.repeats, bare_loop, k, e, "population") if make_optimizer else float("nan")
        app = [ours(k, e, cwd, f"p{k}-{i}", args.threads) for i in range(args.repeats)]
        fit = min(a["fit_seconds"] for a in app)
        print(f"{k:7d} {bare:12.2f} {pop_opt:22.2f} {pop_opt / bare:5.2f}x {fit:11.2f} {fit / bare:9.2f}x "
              f"{min(a['visuals_seconds'] for a in app):11.2f}"
              + ("   (target <= 1.5x)" if k == max(args.populations) else ""))
        if k == max(args.populations):
            alone = one_by_one(args.sample, e) * k / args.sample
            print(f"one seed at a time ({args.sample} timed, scaled to {k}): {alone:.1f} s; "
                  f"ours is {alone / fit:.0f}x faster (target >= 300x)")


FLOPS_PER_MEMBER_EPOCH = 1000  # 2-8-1 tanh, BCE, Adam: forward, backward and step of 33 weights (issue 23)


def clock_ghz() -> float:
    """The cores' clock as /proc/cpuinfo states it (0 where unknown)."""
    try:
        mhz = [float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines() if "cpu MHz" in line]
    except OSError:
        return 0.0
    return max(mhz) / 1000 if mhz else 0.0


def kernel_alone(seeds: int, epochs: int) -> float:
    """Seconds of the fused engine's blocks alone (FusedBlock.run, 100 epochs each), no Lightning."""
    from xor_lightning.core.facts import MemberFacts
    from xor_lightning.core.fused_engine import FusedBlock
    from xor_lightning.core.task import XOR

    pop = Population(seeds, [8], "tanh", "pytorch", 1.0, seed=0)
    opt = make_optimizer({"_target_": "torch.optim.Adam", "lr": LR}, pop.parameters())
    facts = MemberFacts(pop, XOR.solved)
    facts.begin(epochs)
    engine = FusedBlock("tanh", "bce_with_logits", None, opt, seeds, threads=torch.get_num_threads())
    params = list(pop.parameters())
    start = time.perf_counter()
    for first in range(0, epochs, 100):
        engine.run(opt, params, facts.best_params(), facts, INPUTS, TARGETS, first, min(100, epochs - first), None)
    return time.perf_counter() - start


def engines(args, cwd: Path) -> None:
    """engine=fused against the bare loop and engine=torch, side by side per population."""
    e = args.epochs
    ghz = clock_ghz()
    # float32 peak without FMA contraction (the kernel uses none): 16 lanes x 2 ports per cycle (AVX-512)
    peak_ns = FLOPS_PER_MEMBER_EPOCH / (32 * ghz) if ghz else float("nan")
    print(f"\n== engines: hidden [8], {e} full-batch epochs, early stop off; fit seconds (best of {args.repeats}) ==")
    print(f"physical estimate: {FLOPS_PER_MEMBER_EPOCH} FLOPs per member-epoch at 32 FLOPs/cycle x {ghz:.2f} GHz "
          f"= {peak_ns:.1f} ns per member-epoch on one core")
    print("fit: the app's fit_seconds (metrics.json); -vis: less its pictures (visuals_seconds), which cost the same "
          "at any population size and every engine; kernel: the fused blocks alone (no Lightning, logging, "
          "checkpoints); ns/member-epoch: the kernel's")
    print(f"{'seeds':>7s} {'bare s':>7s} {'torch fit':>10s} {'fused fit':>10s} {'fused -vis':>11s} {'bare/fit':>9s} "
          f"{'bare/-vis':>10s} {'target':>7s} {'ns/member-epoch':>16s} {'x estimate':>11s} {'kernel s':>9s} "
          f"{'bare/kernel':>12s}")
    for threads in (1, 2):  # compile (first use on this machine) and load the kernels before timing them
        ours(10, 2, cwd, f"warm{threads}", threads, "fused")
    kernel_alone(10, 2)  # ... and in this process
    targets = {100: 8, 1000: 4, 10_000: 3}
    for k in args.populations:
        bare = best_of(args.repeats, bare_loop, k, e)
        torch_fit = min(ours(k, e, cwd, f"t{k}-{i}", args.threads, "torch")["fit_seconds"] for i in range(args.repeats))
        runs = [ours(k, e, cwd, f"f{k}-{i}", args.threads, "fused") for i in range(args.repeats)]
        fit = min(r["fit_seconds"] for r in runs)
        bare_fit = min(r["fit_seconds"] - r["visuals_seconds"] for r in runs)
        kernel = best_of(args.repeats, kernel_alone, k, e)
        ns = kernel / (k * e) * 1e9
        target = f">= {targets[k]}x" if k in targets else ""
        print(f"{k:7d} {bare:7.2f} {torch_fit:10.2f} {fit:10.2f} {bare_fit:11.2f} {bare / fit:8.1f}x {bare / bare_fit:9.1f}x "
              f"{target:>7s} {ns:16.0f} {ns / peak_ns:10.0f}x {kernel:9.2f} {bare / kernel:11.1f}x", flush=True)
    k = max(args.populations)
    fits = {t: min(ours(k, e, cwd, f"f{t}-{i}", t, "fused")["fit_seconds"] for i in range(args.repeats)) for t in (1, 2)}
    print(f"seeds={k}, engine=fused: torch_threads=1 {fits[1]:.2f} s, torch_threads=2 {fits[2]:.2f} s: "
          f"the second core makes it {fits[1] / fits[2]:.2f}x as fast")


def auto(args, cwd: Path) -> None:
    """Whole processes, engine=torch vs engine=fused (kernel already compiled: its cache loaded), so
    the fused side pays importing numba and loading the kernel (inside its fit): where does it win?"""
    print(f"\n== auto: python -m xor_lightning train, early stop off, best of {args.repeats}, interleaved ==")
    ours(10, 2, cwd, "warm", args.threads, "fused")  # compile once (first use on this machine)
    print(f"{'seeds':>7s} {'epochs':>7s} {'member-epochs':>14s} {'torch fit':>10s} {'fused fit':>10s} {'torch/fused':>12s} "
          f"{'torch proc':>11s} {'fused proc':>11s} {'torch/fused':>12s}")
    for k, e in args.grid:
        runs = {"torch": [], "fused": []}
        for i in range(args.repeats):
            for engine in runs:
                runs[engine].append(ours(k, e, cwd, f"a{engine}{k}x{e}-{i}", args.threads, engine))
        fit = {n: min(r["fit_seconds"] for r in rs) for n, rs in runs.items()}
        proc = {n: min(r["process_s"] for r in rs) for n, rs in runs.items()}
        print(f"{k:7d} {e:7d} {k * e:14,d} {fit['torch']:10.2f} {fit['fused']:10.2f} {fit['torch'] / fit['fused']:11.2f}x "
              f"{proc['torch']:11.2f} {proc['fused']:11.2f} {proc['torch'] / proc['fused']:11.2f}x", flush=True)


def default_run(args, cwd: Path) -> None:
    print(f"\n== default run: whole process, best of {args.repeats}, interleaved ==")
    walls, imports = [], []
    for i in range(args.repeats):
        walls.append(run(["-m", "xor_lightning", "train", f"run_id=d{i}", f"torch_threads={args.threads}"], cwd)[0])
        imports.append(run(["-c", "import pytorch_lightning"], cwd)[0])
    print(f"python -m xor_lightning train: {min(walls):.2f} s; python -c 'import pytorch_lightning': {min(imports):.2f} s; "
          f"ratio {min(walls) / min(imports):.2f}x (target <= 1.3x)")


def sweep(args, cwd: Path) -> None:
    print(f"\n== experiment=forum_sweep (30 jobs x 1000 seeds x 1000 epochs), torch_threads={args.threads} ==")
    times = {}
    for name, code in (("this checkout", REPO), ("baseline", Path(args.baseline).resolve())):
        command = ["-m", "xor_lightning", "train", "-m", "experiment=forum_sweep", f"torch_threads={args.threads}"]
        folder = cwd / name.replace(" ", "_")
        folder.mkdir()
        times[name] = run(command, folder, code)[0]
        print(f"{name:14s} ({code}): {times[name]:.1f} s", flush=True)
    print(f"this checkout is {times['baseline'] / times['this checkout']:.1f}x faster (target >= 5x)")


def memory(args, cwd: Path) -> None:
    build = best_of(3, bare_loop, 10_000, 0)
    big = ours(args.big, 20, cwd, "big", args.threads)
    print(f"\nbuild a 10000-seed population: {build:.2f} s; seeds={args.big}, 20 epochs: peak RSS {big['rss_mib']} MiB "
          f"(target < 4096), process {big['process_s']:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--populations", type=int, nargs="+", default=[100, 1000, 10_000])
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=20, help="seeds timed one by one (then scaled)")
    ap.add_argument("--big", type=int, default=100_000, help="population whose peak memory is measured")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on every side")
    ap.add_argument("--repeats", type=int, default=3, help="each timing is the best of this many")
    ap.add_argument("--baseline", help="a checkout of the version to compare experiment=forum_sweep against")
    ap.add_argument("--grid", type=lambda t: tuple(int(v) for v in t.split("x")), nargs="+",
                    default=[(10, 1000), (100, 1000), (1000, 1000), (2000, 1000), (100, 10_000), (10_000, 1000)],
                    help="--parts auto: SEEDSxEPOCHS pairs")
    parts = ["populations", "engines", "auto", "default", "memory", "sweep"]
    ap.add_argument("--parts", nargs="+", default=["populations", "default", "memory", "sweep"], choices=parts,
                    help="what to measure (sweep needs --baseline)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        for part in args.parts:
            if part != "sweep" or args.baseline:
                {"populations": populations, "engines": engines, "auto": auto, "default": default_run, "memory": memory,
                 "sweep": sweep}[part](args, cwd)


if __name__ == "__main__":
    main()
