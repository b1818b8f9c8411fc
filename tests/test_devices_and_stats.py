"""Device choice (availability simulated, so it runs on any CPU machine) and the run statistics."""

import math

import pytest

from xor_lightning.base.errors import UserError
from xor_lightning.core.devices import choose_accelerator
from xor_lightning.core.stats import percentile, wilson_interval

CPU_ONLY = {"cuda": False, "mps": False, "cpu": True}
CUDA = {"cuda": True, "mps": False, "cpu": True}
APPLE = {"cuda": False, "mps": True, "cpu": True}
BOTH = {"cuda": True, "mps": True, "cpu": True}


@pytest.mark.parametrize(
    "have, expected", [(CPU_ONLY, "cpu"), (CUDA, "cuda"), (APPLE, "mps"), (BOTH, "cuda")]
)
def test_auto_prefers_cuda_then_mps_then_cpu(have, expected):
    assert choose_accelerator("auto", have) == expected


@pytest.mark.parametrize("requested, have", [("cpu", BOTH), ("cuda", CUDA), ("mps", APPLE)])
def test_an_available_device_is_used_as_asked(requested, have):
    assert choose_accelerator(requested, have) == requested


@pytest.mark.parametrize("requested, have", [("cuda", CPU_ONLY), ("cuda", APPLE), ("mps", CUDA)])
def test_an_absent_device_is_refused_in_one_line(requested, have):
    with pytest.raises(UserError) as err:
        choose_accelerator(requested, have)
    msg = str(err.value)
    assert msg.startswith(f"device={requested}: no {requested.upper()} device") and "\n" not in msg
    assert "available: auto, cpu" in msg


def test_unknown_device_lists_the_choices():
    with pytest.raises(UserError, match=r"device='tpu' is not a device; choose one of: auto, cpu, cuda, mps"):
        choose_accelerator("tpu", CPU_ONLY)


@pytest.mark.parametrize(
    "k, n, lo, hi",
    [  # textbook values (Agresti & Coull 1998; Newcombe 1998) for the 95% Wilson score interval
        (0, 10, 0.0, 0.2775328),
        (5, 10, 0.2365931, 0.7634069),
        (10, 10, 0.7224672, 1.0),
    ],
)
def test_wilson_interval_matches_textbook_values(k, n, lo, hi):
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-6)


@pytest.mark.parametrize("k, n", [(999, 1000), (1000, 1000), (3, 7), (1, 10000), (62, 100)])
def test_wilson_bounds_are_the_roots_of_the_score_equation(k, n):
    # The bounds are the x with (k/n - x)^2 = z^2 x (1 - x) / n: an independent derivation.
    z, p = 1.959963984540054, k / n
    a, b, c = 1 + z * z / n, -(2 * p + z * z / n), p * p
    disc = math.sqrt(b * b - 4 * a * c)
    roots = ((-b - disc) / (2 * a), (-b + disc) / (2 * a))
    assert wilson_interval(k, n) == pytest.approx((max(0.0, roots[0]), min(1.0, roots[1])), abs=1e-9)


def test_percentile_interpolates_like_numpy():
    assert percentile([], 50) is None
    assert percentile([7], 90) == 7
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 11)), 90) == pytest.approx(9.1)
