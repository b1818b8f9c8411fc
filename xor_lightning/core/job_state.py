"""One job's share of a packed population's state: what that job's own run would hold.

A packed grid trains its jobs' members as one population (members.MemberTable); each job's
checkpoint must read as that job alone would have written it. Every per-member tensor of the
module's state has its members on one dimension (``MEMBER_DIM``; dim 0 for the others), the
verdicts at budgets have a row per budget of the union (facts.right_at), and the optimizer state is
kept per rule part under ``"{part}.{name}"`` (core/optim.PopulationOptimizer) with one step count
per part. ``job_state`` and ``job_optimizer_state`` cut them out; ``job_end`` is the epoch the job's
own run would have ended at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

# State tensors whose members are not on dim 0: one row per trail sample or per budget.
MEMBER_DIM = {"facts.trail_loss": 1, "facts.trail_margin": 1, "facts.trail_epoch": 1, "facts.right_at": 1}


def job_end(trained: torch.Tensor, members: slice) -> int:
    """The epoch a job's own run ends at: the last of its members' own ends (facts.trained), as a
    lone run of those members goes on while one of them trains."""
    return int(trained[members].max())


def job_state(state: Mapping[str, torch.Tensor], members: slice, budget_rows: Sequence[int],
              epochs_done: int) -> dict[str, torch.Tensor]:
    """The module state of the job whose members are ``members``: per-member tensors cut, its own
    budgets' rows of facts.right_at (``budget_rows``, indices into the union), ``epochs_done`` its
    end (job_end). ``best_version`` (a count of blocks that changed some best) is kept as it is."""
    out = {}
    for name, t in state.items():
        if t.dim() == 0:
            out[name] = t.clone()
            continue
        dim = MEMBER_DIM.get(name, 0)
        out[name] = t.narrow(dim, members.start, members.stop - members.start).clone()
    if "facts.right_at" in out:
        out["facts.right_at"] = out["facts.right_at"][list(budget_rows)].clone()
    out["epochs_done"] = torch.tensor(epochs_done, dtype=torch.long)
    return out


def job_optimizer_state(state: Mapping[str, Any], members: slice, parts: int, part: int, steps: int) -> dict:
    """The optimizer state (a state_dict) of a job whose members are ``members``, all in rule part
    ``part`` of ``parts``: its rule's own names (torch's, as a uniform run keeps them), per-member
    tensors cut, and the step count ``steps`` (the job's own optimizer steps: its epochs times the
    steps of an epoch). ``param_groups`` are kept (a resume takes them from the config)."""
    prefix = "" if parts == 1 else f"{part}."
    cut = {}
    for index, entry in state["state"].items():
        own = {}
        for name, value in entry.items():
            if not name.startswith(prefix):
                continue
            local = name[len(prefix):]
            if torch.is_tensor(value) and value.dim():
                own[local] = value[members].clone()
            elif torch.is_tensor(value):
                own[local] = torch.full_like(value, steps)
            else:
                own[local] = value
        if own:
            cut[index] = own
    return {"state": cut, "param_groups": state["param_groups"]}
