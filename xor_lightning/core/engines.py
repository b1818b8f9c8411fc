"""Which engine trains a run: ``fused`` (the compiled kernel, fused_engine.py) or ``torch`` (the
eager block loop of module.py). ``auto`` takes the fused engine where it covers the run *and pays*
(enough member-epochs to amortise loading the compiler), the torch engine elsewhere. This module
decides without importing the compiler: a run on the torch engine never imports numba.

The fused engine covers full-batch float32 CPU runs of one hidden layer with the activations,
losses and optimizers below (the logit head, no gradient clipping, a task solved by every row and
no held-out part); hyperparameters may differ per member (core/optim.PopulationOptimizer), the
choices may not. Within an engine every promise holds (member i == the lone run of seed+i, resume
bit-identical); between engines results agree to float tolerance, and chaotic members may end
differently (tests/test_fused_agreement.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENGINES = ("auto", "fused", "torch")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu", "elu", "identity")
LOSSES = ("bce_with_logits", "bce", "mse", "l1")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
TARGETS = {"torch.optim.SGD": "sgd", "torch.optim.Adam": "adam", "torch.optim.AdamW": "adamw",
           "torch.optim.RMSprop": "rmsprop", "torch.optim.Adagrad": "adagrad"}
MAX_ROWS = 256  # the kernel keeps a chunk's per-row scratch; larger tables are left to torch (not measured)
# engine=auto takes the fused engine from this many member-epochs (seeds x trainer.max_epochs):
# below it, importing numba and loading the compiled kernel (~1 s) costs more than the kernel saves
# (docs/speed.md#engines, `benchmarks/speed.py --parts auto`).
PAYS_FROM = 2_000_000


def numba_missing() -> str | None:
    """Why the compiler cannot be used here (None: it can). Imports numba: call it only for a run
    that will take the fused engine."""
    try:
        import numba  # noqa: F401
    except ImportError as exc:  # pragma: no cover - numba is a dependency
        return f"numba is not importable ({exc})"
    return None


def refusal(model: Mapping, loss: Mapping, optimizer: Mapping, *, full_batch: bool, precision: str,
            clipped: bool, device: str = "cpu", task: Any = None, members: Any = None) -> str | None:
    """Why the fused engine does not cover this run (None: it does). ``optimizer`` is the config's
    ``{_target_: torch.optim.NAME, ...}``; ``task`` a core/task.Task, ``members`` a MemberTable (or None)."""
    target = str(optimizer.get("_target_", ""))
    options = {k: v for k, v in optimizer.items() if not str(k).startswith("_")}
    extra = sorted(k for k in loss if k not in ("name", "input"))
    for reason, bad in (
        ("mini-batches (data.batch_size below the task's rows)", not full_batch),
        (f"device.precision={precision} (float32 only)", precision not in ("32-true", "32")),
        (f"the {device} device (CPU only)", device != "cpu"),
        ("gradient clipping", clipped),
        (f"model.hidden={list(model['hidden'])} (one hidden layer only)", len(model["hidden"]) != 1),
        (f"model.activation={model['activation']}", model["activation"] not in ACTIVATIONS),
        (f"model.output={model.get('output')}", (model.get("output") or "logit") != "logit"),
        (f"loss={loss['name']}", loss["name"] not in LOSSES),
        (f"loss options {extra}", bool(extra)),
        (f"optimizer {target}", target not in TARGETS),
        ("optimizer.amsgrad=true", bool(options.get("amsgrad"))),
        ("optimizer.maximize=true", bool(options.get("maximize"))),
    ):
        if bad:
            return reason
    if task is not None:
        reason = task_refusal(task)
        if reason is not None:
            return reason
    return members_refusal(members) if members is not None else None


def task_refusal(task: Any) -> str | None:
    if task.has_test:
        return f"data={task.name} with a held-out test part"
    if task.solved_accuracy < 1.0:
        return "a solved accuracy below 1"
    if task.rows > MAX_ROWS:
        return f"{task.rows} rows (at most {MAX_ROWS})"
    return None


def members_refusal(members: Any) -> str | None:
    """Members may differ in numbers, not in choices: one activation, loss and optimizer rule."""
    for name in ("activation", "loss", "optimizer"):
        if len(members.choices.get(name, [])) > 1:
            return f"members with different {name}s"
    for flag in ("amsgrad", "maximize"):
        column = members.numbers.get(flag)
        if column is not None and bool(column.any()):
            return f"optimizer.{flag}=true"
    decoupled = members.numbers.get("decoupled_weight_decay")
    if decoupled is not None and len(decoupled.unique()) > 1:
        return "members with and without decoupled weight decay"
    return None


def pays(member_epochs: int) -> bool:
    """Whether the fused engine is worth loading for this many member-epochs (``PAYS_FROM``)."""
    return member_epochs >= PAYS_FROM


def resolve(requested: str, reason: str | None, member_epochs: int) -> tuple[str, str]:
    """(the engine that runs, why) for ``engine=requested`` given the fused engine's ``refusal`` and
    the run's member-epochs. Imports numba only when the fused engine is to run."""
    if requested == "torch":
        return "torch", "engine=torch"
    if requested == "auto" and reason is None and not pays(member_epochs):
        return "torch", f"engine=auto: {member_epochs:,} network-epochs, the fused engine pays from {PAYS_FROM:,}"
    if reason is None:
        reason = numba_missing()
    if requested == "fused":
        if reason is not None:
            raise ValueError(f"engine=fused does not cover this run: {reason}; use engine=auto or engine=torch")
        return "fused", "engine=fused"
    return ("fused", "engine=auto: covered") if reason is None else ("torch", f"engine=auto: not covered: {reason}")

