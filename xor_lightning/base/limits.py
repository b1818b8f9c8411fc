"""How much memory a run (or reading a checkpoint) needs, estimated before anything is allocated.

A population's size comes from the command line (``seeds``, ``model.hidden``) or from a checkpoint,
so it is untrusted: ``seeds=100000000`` would otherwise run the machine out of memory minutes later.
The estimate is deliberately simple and errs high; it is refused with one line when it exceeds the
memory available right now.
"""

from __future__ import annotations

from pathlib import Path

from xor_lightning.base.errors import UserError

# Copies of the parameters a training run holds at once: the parameters, their gradients, two
# optimizer moments (Adam), each member's best copy and a frozen copy (the block loop keeps both),
# and two for building the population (per-member tensors, then stacked).
PARAM_COPIES = 8
# Activations per layer for each of the task's rows: pre- and post-activation, kept for backward, and their gradients.
ACTIVATION_COPIES = 4
# Per-member bookkeeping (8 bytes each): first solved, divergence, best and stop epochs, best loss, the loss trail (facts.py).
LONGS_PER_MEMBER = 24
# Reading a checkpoint: the file's tensors, then the module built from them (no larger: the file
# also holds the optimizer's state). Kept low so a run's own best.ckpt always reads back after training.
READ_FACTOR = 2


def parameters_per_member(hidden: list[int], inputs: int) -> int:
    widths = [inputs, *hidden, 1]
    return sum(i * o + o for i, o in zip(widths[:-1], widths[1:]))


def run_bytes(seeds: int, hidden: list[int], precision: str = "32-true", *, rows: int, inputs: int) -> int:
    """Estimated peak memory of training ``seeds`` members of an ``inputs`` -> hidden -> 1 MLP on
    ``rows`` rows (the task's)."""
    item = 8 if str(precision).startswith("64") else 4  # mixed precision keeps float32 master weights
    activations = rows * sum([*hidden, 1])
    per_member = item * (PARAM_COPIES * parameters_per_member(hidden, inputs) + ACTIVATION_COPIES * activations)
    return seeds * (per_member + 8 * LONGS_PER_MEMBER)


def _meminfo_available() -> int | None:
    # Not psutil: virtual_memory().available is this same MemAvailable on Linux (equal to the KB
    # here, 47 us a call against 37), it knows no container limit (the cgroup below, which is what
    # kills a run in a container), and it is a compiled dependency whose import adds ~40 ms to the
    # command's start (psutil 7.2, measured here). Elsewhere (macOS, Windows) neither number is
    # read and the memory check is skipped.
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """What a container's memory limit (cgroup v2) still allows, if there is one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - used)


def available_bytes(accelerator: str = "cpu") -> tuple[int, str] | None:
    """(free bytes, where that number comes from) for ``accelerator``; None when unknown."""
    if accelerator == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return free, "free CUDA memory"
    found = [(_meminfo_available(), "MemAvailable"), (_cgroup_available(), "container limit")]
    known = [(n, where) for n, where in found if n is not None]
    return min(known) if known else None


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def check_run_fits(seeds: int, hidden: list[int], precision: str, accelerator: str, *, rows: int, inputs: int) -> None:
    """Refuse a population that would not fit in memory, naming the keys that size it."""
    have = available_bytes(accelerator)
    need = run_bytes(seeds, hidden, precision, rows=rows, inputs=inputs)
    if have is None or need <= have[0]:
        return
    raise UserError(
        f"seeds={seeds} with model.hidden={list(hidden)}: this run needs about {human(need)} of memory "
        f"({PARAM_COPIES} copies of {parameters_per_member(hidden, inputs)} parameters per member, plus activations) "
        f"but {human(have[0])} is available ({have[1]}); lower seeds or the widths in model.hidden"
    )


def check_readable_size(size: int, label: str) -> None:
    """Refuse a file too large to load: its tensors are read whole, then built into a module."""
    have = available_bytes("cpu")
    if have is not None and size * READ_FACTOR > have[0]:
        raise UserError(f"{label}: {human(size)}; reading it needs about {human(size * READ_FACTOR)} of memory "
                        f"but {human(have[0])} is available ({have[1]})")
