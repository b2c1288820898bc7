"""The regional model's Beta tail agrees with exact binomial sums and with scipy's betainc."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.regional.columns import posterior_above
from collector.regional.incomplete_beta import beta_survival, regularised_incomplete_beta

TOLERANCE = 1e-12
# The ranges reports use: whole counts (weighted counts are rounded) up to a country's worth of
# capped probes, thresholds between the partial share 0.3 and the baseline ceiling 0.95.
COUNTS = st.integers(min_value=0, max_value=200_000)
THRESHOLDS = st.floats(min_value=0.3, max_value=0.95)


def exact_survival(blocked: int, ok: int, threshold: float) -> Fraction:
    """P(Beta(1 + blocked, 1 + ok) > t) = P(Binomial(blocked + ok + 1, t) <= blocked), exactly."""
    t = Fraction(threshold)
    n = blocked + ok + 1
    total = Fraction(0)
    coefficient = 1
    for k in range(blocked + 1):
        total += coefficient * t**k * (1 - t) ** (n - k)
        coefficient = coefficient * (n - k) // (k + 1)
    return total


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    blocked=st.integers(min_value=0, max_value=60),
    ok=st.integers(min_value=0, max_value=60),
    threshold=THRESHOLDS,
)
def test_the_tail_equals_the_exact_binomial_sum(blocked: int, ok: int, threshold: float) -> None:
    ours = float(posterior_above(np.array([blocked]), np.array([ok]), np.array([threshold]))[0])
    assert abs(ours - float(exact_survival(blocked, ok, threshold))) <= TOLERANCE


@settings(max_examples=400, deadline=None, derandomize=True)
@given(blocked=COUNTS, ok=COUNTS, threshold=THRESHOLDS)
def test_the_tail_agrees_with_scipy_at_any_count(blocked: int, ok: int, threshold: float) -> None:
    special = pytest.importorskip("scipy.special")
    a, b, t = np.array([1.0 + blocked]), np.array([1.0 + ok]), np.array([threshold])
    ours = float(beta_survival(a, b, t)[0])
    reference = float(special.betainc(b, a, 1.0 - t)[0])
    assert abs(ours - reference) <= TOLERANCE


def test_a_column_near_the_mode_and_at_large_counts_agrees_with_scipy() -> None:
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(20261203)
    a = rng.integers(1, 100_001, 20_000).astype(np.float64)
    b = rng.integers(1, 100_001, 20_000).astype(np.float64)
    # Half the thresholds sit at the posterior's mode, where the tail is steepest.
    t = np.where(
        np.arange(a.size) % 2 == 0, np.clip(a / (a + b), 0.3, 0.95), rng.uniform(0.3, 0.95, a.size)
    )
    difference = np.abs(beta_survival(a, b, t) - special.betainc(b, a, 1.0 - t))
    assert float(difference.max()) <= TOLERANCE


def test_edges_and_values_outside_the_unit_interval() -> None:
    x = np.array([0.0, 1.0, -0.1, 1.1])
    values = regularised_incomplete_beta(np.full(4, 2.0), np.full(4, 3.0), x)
    assert values[0] == 0.0 and values[1] == 1.0
    assert np.isnan(values[2]) and np.isnan(values[3])
    assert regularised_incomplete_beta(np.array([]), np.array([]), np.array([])).size == 0
