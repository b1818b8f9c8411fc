"""The statistics a run reports: the success rate's Wilson interval (closed forms, textbook values
and an independent derivation), percentiles, the survival curve."""

import math

import pytest

from xor_lightning.core.stats import percentile, wilson_interval

Z2 = 1.959963984540054**2


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (5, 10, 0.2366, 0.7634),   # symmetric about 1/2
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, Z2 / (10 + Z2)),  # upper bound at 0/n: z^2 / (n + z^2) = 0.2775
        (10, 10, 10 / (10 + Z2), 1.0),  # lower bound at n/n: n / (n + z^2) = 0.7225
        (500, 1000, 0.4691, 0.5309),
    ],
)
def test_wilson_interval_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


@pytest.mark.parametrize("k, n", [(999, 1000), (1000, 1000), (3, 7), (1, 10000), (62, 100)])
def test_wilson_bounds_are_the_roots_of_the_score_equation(k, n):
    # The bounds are the x with (k/n - x)^2 = z^2 x (1 - x) / n: an independent derivation.
    z, p = 1.959963984540054, k / n
    a, b, c = 1 + z * z / n, -(2 * p + z * z / n), p * p
    disc = math.sqrt(b * b - 4 * a * c)
    roots = ((-b - disc) / (2 * a), (-b + disc) / (2 * a))
    assert wilson_interval(k, n) == pytest.approx((max(0.0, roots[0]), min(1.0, roots[1])), abs=1e-9)


def test_wilson_interval_narrows_with_more_seeds_and_stays_in_0_1():
    widths = [math.fsum((-a, b)) for a, b in (wilson_interval(n // 2, n) for n in (10, 100, 1000, 10000))]
    assert widths == sorted(widths, reverse=True)
    for k in (0, 1, 99, 100):
        lo, hi = wilson_interval(k, 100)
        assert 0.0 <= lo <= k / 100 <= hi <= 1.0


def test_wilson_interval_rejects_empty_population():
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_percentile_matches_linear_interpolation():
    assert percentile([7], 90) == 7
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30, 40, 50], 90) == pytest.approx(46.0)
    assert percentile([], 50) is None


def test_survival_steps_down_at_each_first_solved_epoch_and_ends_at_the_failure_rate():
    from xor_lightning.core.stats import as_steps, survival

    epochs, left = survival([5, 3, 5, 9], total=5, last_epoch=20)
    assert epochs == [0, 3, 5, 9, 20]
    assert left == [1.0, 0.8, 0.4, 0.2, 0.2]  # one member never solved
    assert survival([], total=3, last_epoch=7) == ([0, 7], [1.0, 1.0])
    assert as_steps([0, 3, 5], [1.0, 0.5, 0.0]) == ([0, 3, 3, 5, 5], [1.0, 1.0, 0.5, 0.5, 0.0])
