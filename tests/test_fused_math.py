"""The fused kernel's own exp, expm1, tanh, sigmoid, log, log1p and log_sigmoid (core/fused_math.py):
within a few ulp of the exact value over a wide range, as torch's float32 kernels are."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from xor_lightning.core import fused_math


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many float32 steps apart (0 where equal, both NaN, or both the same infinity)."""
    ia, ib = (x.astype(np.float32).view(np.int32).astype(np.int64) for x in (a, b))
    ia, ib = (np.where(i < 0, -(2**31) - i, i) for i in (ia, ib))
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(same, 0, np.abs(ia - ib))


WIDE = np.concatenate([
    np.linspace(-120, 120, 100_001), np.random.default_rng(0).standard_normal(50_000) * 4,
    np.logspace(-45, 2, 5_000), -np.logspace(-45, 2, 5_000), [0.0, -0.0, np.inf, -np.inf, np.nan],
]).astype(np.float32)

CASES = {  # name: (exact reference, its inputs)
    "exp": (torch.exp, WIDE),
    "expm1": (torch.expm1, WIDE[WIDE <= 40]),  # the kernel needs it below 40 only
    "tanh": (torch.tanh, WIDE),
    "sigmoid": (torch.sigmoid, WIDE),
    "log": (torch.log, np.abs(WIDE)),
    "log1p": (torch.log1p, np.concatenate([WIDE[WIDE > -1], np.linspace(-1, 0, 10_001, dtype=np.float32)])),
    "log_sigmoid": (F.logsigmoid, WIDE),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_within_two_ulp_of_exact_and_of_torch(name):
    reference, x = CASES[name]
    ours = fused_math.evaluate(name, x)
    exact = reference(torch.from_numpy(x.astype(np.float64))).numpy()
    with np.errstate(over="ignore"):
        exact32 = exact.astype(np.float32)
    # float32 exp and sigmoid underflow at ~-88.7 in torch too (1 / (1 + inf)): compare where it is normal
    normal = ~((np.abs(exact32) < np.finfo(np.float32).tiny) & (exact32 != 0))
    assert ulps(ours, exact32)[normal].max() <= 2, name
    assert ulps(ours, reference(torch.from_numpy(x)).numpy()).max() <= 2, name
