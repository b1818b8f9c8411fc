"""engine=fused: the block loop's full-batch epochs run by the compiled kernel (fused_kernel.py).

engines.py decides whether a run takes it (and imports this module, so numba, only then).
``FusedBlock.run`` hands the module's parameters, the population optimizer's own state (exp_avg,
exp_avg_sq, step, momentum_buffer, square_avg, grad_avg, sum, under torch's names: so checkpoints,
resume and the torch engine read the same state), its per-member hyperparameters and the facts'
per-member buffers to the kernel and copies them back; module.py records the block's per-epoch
facts through ``MemberFacts.observe_block``.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from xor_lightning.core import fused_kernel as fk
from xor_lightning.core.engines import TARGETS
from xor_lightning.core.losses import consumes
from xor_lightning.core.optim import PopulationOptimizer
from xor_lightning.core.verdict import TOLERANCE


def optimizer_kind(optimizer: PopulationOptimizer) -> str | None:
    """The kernel's optimizer for this population optimizer (None: not covered): one rule for every
    member, no amsgrad or maximize, and decoupled weight decay for all members or none."""
    parts = getattr(optimizer, "parts", None)
    if parts is None or len(parts) != 1 or parts[0].target not in TARGETS:
        return None
    hyper = parts[0].hyper
    if any(bool(hyper[flag].any()) for flag in ("amsgrad", "maximize") if flag in hyper):
        return None
    name = TARGETS[parts[0].target]
    decoupled = hyper.get("decoupled_weight_decay")
    if decoupled is not None:
        if len(decoupled.unique()) > 1:
            return None
        name = "adamw" if bool(decoupled[0]) else "adam"
    return name


def _unchunked(arr: np.ndarray, k: int) -> torch.Tensor:
    """The inverse of ``FusedBlock._lanes``: [chunks, values, lanes] -> [K, values]."""
    c, v, lanes = arr.shape
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 2, 1)).reshape(c * lanes, v)[:k])


class FusedBlock:
    """The kernel's view of one module: codes, per-member hyperparameters, state names."""

    def __init__(self, activation: str, loss_name: str, loss_input: str | None, optimizer: PopulationOptimizer,
                 members: int, threads: int = 1) -> None:
        self.kind = optimizer_kind(optimizer)
        if self.kind is None:
            raise ValueError(f"engine=fused does not cover this optimizer: {optimizer!r}")
        self.act = fk.ACTIVATIONS.index(activation)
        self.loss = fk.LOSSES.index(loss_name)
        self.prob_in = consumes(loss_name, loss_input) == "probabilities"
        self.members = members
        self.lanes = fk.LANES
        self.threads = threads  # one unless asked (torch_threads=N): a second thread measured slower, docs/speed.md
        self.hyper = self._hyper(optimizer.parts[0].hyper)  # fixed for the run: read once
        self._steps: list[torch.Tensor] = []

    def _lanes(self, flat: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """[K, values] -> [chunks, values, lanes] (members padded with ``fill`` to whole chunks)."""
        chunks = -(-self.members // self.lanes)
        padded = np.full((chunks * self.lanes, flat.shape[1]), fill, dtype=flat.dtype)
        padded[: self.members] = flat
        return np.ascontiguousarray(padded.reshape(chunks, self.lanes, -1).transpose(0, 2, 1))

    def _hyper(self, hyper: dict[str, torch.Tensor]) -> np.ndarray:
        """The kernel's hyperparameter rows (fk.HYPER), float64 per member as the population optimizer keeps them."""
        rows = [hyper[key].to(torch.float64).numpy() if key in hyper else np.zeros(self.members)
                for key in fk.HYPER[self.kind]]
        rows += [np.zeros(self.members)] * (8 - len(rows))
        return self._lanes(np.stack(rows, axis=1))

    def _state(self, optimizer: PopulationOptimizer, params: list[torch.Tensor]) -> tuple[list, list, float, bool]:
        """The optimizer's state tensors per kernel slot (made as its first step would make them when
        missing; None where this configuration keeps none), its step count, and whether SGD's
        momentum buffer is still to be born (the first step copies the gradient into it)."""
        part = optimizer.parts[0]
        fresh = False
        for p in params:
            if p not in optimizer.state or not optimizer.state[p]:
                made = part.fresh_state(p)
                if self.kind == "sgd" and bool(part.hyper["momentum"].any()):
                    made["momentum_buffer"] = torch.zeros_like(p)  # the kernel copies the first gradient in
                    fresh = True
                optimizer._keep(p, 0, part, made)
        states = [optimizer.state[p] if p in optimizer.state else {} for p in params]
        slots = [[st[name] for st in states] if name in states[0] else None for name in fk.STATE[self.kind]]
        steps = [st["step"] for st in states if "step" in st]
        return slots, steps, float(steps[0]) if steps else 0.0, fresh

    def run(self, optimizer: PopulationOptimizer, params: list[torch.Tensor], best: list[torch.Tensor],
            facts, x: torch.Tensor, y: torch.Tensor, first: int, epochs: int, stop) -> dict[str, np.ndarray]:
        """Epochs first+1 .. first+epochs; the parameters, optimizer state and the facts' buffers are
        updated in place. Returns the per-epoch arrays (row 0: the weights after ``first``)."""
        k = self.members
        slots, steps, step, fresh = self._state(optimizer, params)

        def flat(tensors: list[torch.Tensor]) -> np.ndarray:
            return torch.cat([t.detach().reshape(k, -1).float() for t in tensors], dim=1).numpy()

        P = self._lanes(flat(params))
        B = self._lanes(flat(best))
        S = np.stack([self._lanes(flat(s)) if s is not None else np.zeros_like(P) for s in slots], axis=1)
        chunks = P.shape[0]

        def member_array(t: torch.Tensor | float, pad, dtype) -> np.ndarray:
            out = np.full(chunks * self.lanes, pad, dtype=dtype)
            out[:k] = t.reshape(-1).numpy() if torch.is_tensor(t) else t
            return out.reshape(chunks, self.lanes)

        best_loss = member_array(facts.best_loss, np.inf, np.float32)
        best_epoch = member_array(facts.best_epoch, -1, np.int64)
        stopped_at = member_array(facts.stopped_at, 0, np.int64)  # padding lanes: done from the start
        diverged_at = member_array(facts.diverged_at, -1, np.int64)
        # each member's early-stop margin in float32, as the torch engine compares it
        margin = member_array(stop.margin if stop is not None else 0.0, 0.0, np.float32)
        out = {name: np.empty((chunks, epochs + 1, self.lanes), dtype)
               for name, dtype in (("loss", np.float32), ("worst", np.float32), ("right", np.int8))}
        X = np.ascontiguousarray(x.detach().float().numpy())
        Y = np.ascontiguousarray(y.detach().float().reshape(-1).numpy())
        threads = max(1, min(self.threads, numba.config.NUMBA_NUM_THREADS, chunks))
        if threads > 1:
            numba.set_num_threads(threads)
        kernel = fk.run_block if threads > 1 else fk.run_block_serial  # the same _chunk either way
        kernel(X, Y, P, S, B, self.hyper, best_loss, best_epoch, stopped_at, diverged_at, margin,
               out["loss"], out["worst"], out["right"], first, epochs, step, self.act, self.loss,
               self.prob_in, fk.OPTIMIZERS.index(self.kind), fresh,
               stop is not None, int(stop.min_epochs) if stop else 0, float(TOLERANCE["logit"]))
        self._write(_unchunked(P, k), params)
        self._write(_unchunked(B, k), best)
        for s, tensors in enumerate(slots):
            if tensors is not None:
                self._write(_unchunked(S[:, s], k), tensors)
        for name, arr in (("best_loss", best_loss), ("best_epoch", best_epoch), ("stopped_at", stopped_at),
                          ("diverged_at", diverged_at)):
            getattr(facts, name).copy_(torch.from_numpy(arr.reshape(-1)[:k]))
        self._steps = steps
        return {name: np.ascontiguousarray(arr.transpose(1, 0, 2)).reshape(epochs + 1, -1)[:, :k]
                for name, arr in out.items()}

    def count_steps(self, steps: int) -> None:
        """Add the block's optimizer steps to the step counters (one per epoch trained)."""
        for t in self._steps:
            t.add_(steps)

    @staticmethod
    def _write(flat: torch.Tensor, tensors: list[torch.Tensor]) -> None:
        start = 0
        with torch.no_grad():
            for t in tensors:
                size = t[0].numel()
                t.copy_(flat[:, start:start + size].reshape(t.shape))
                start += size
