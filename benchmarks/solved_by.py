"""When did a share of a job's members solve the task? Read from each job's members.csv.

The sweep table's "median epochs" is over the members that solved; when few solve, it says little
about how long the task takes. Here every member counts, those that never solved as never: the
epoch by which a tenth, a quarter and half of all members had solved (none when fewer did), and
the share solved by a few epoch budgets. docs/experiments.md ("parity_scaling") quotes it.

    python benchmarks/solved_by.py multirun/parity_scaling multirun/parity_scaling_rhw_lr_b4
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import yaml

SHARES = (0.1, 0.25, 0.5)
BUDGETS = (1000, 5000, 20000)


def job_line(job: Path) -> str:
    overrides = dict(o.split("=", 1) for o in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) if "=" in o)
    with open(job / "members.csv", newline="") as fh:
        members = list(csv.DictReader(fh))
    solved = sorted(int(m["epochs_to_solve"]) for m in members if m["solved"] == "1" and m["epochs_to_solve"])
    n = len(members)
    by_share = []
    for share in SHARES:
        k = math.ceil(share * n)  # the k-th member to solve
        by_share.append(str(solved[k - 1]) if len(solved) >= k else "-")
    by_budget = [f"{sum(e <= b for e in solved) / n:.3f}" for b in BUDGETS]
    key = " ".join(f"{k}={v}" for k, v in overrides.items() if k in ("data.bits", "model.hidden", "optimizer.lr"))
    return (f"{job.parent.name}/{job.name} {key}: solved {len(solved)}/{n}; half, a quarter, a tenth solved by epoch "
            f"{by_share[2]}, {by_share[1]}, {by_share[0]}; solved by {', '.join(map(str, BUDGETS))}: {', '.join(by_budget)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path, help="multirun folders (multirun/<run_id>)")
    for sweep in parser.parse_args().sweeps:
        for job in sorted((d for d in sweep.iterdir() if (d / "members.csv").exists()), key=lambda d: (len(d.name), d.name)):
            print(job_line(job))


if __name__ == "__main__":
    main()
