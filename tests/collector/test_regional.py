"""The regional model (its oracle, held to the product by test_regional_agreement.py) on
crafted counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.regional import columns as by_column
from collector.regional.changes import blocked_since, detect_changes
from collector.regional.model import ModelSettings, RegionalVerdict
from tests.collector.regional_oracle import (
    ProbeCounts,
    baseline_share,
    estimate_network,
    estimate_region,
    noise_baseline,
    posterior_above,
    wilson_interval,
)

S = ModelSettings()
B, N, M, INSUF = (
    RegionalVerdict.BLOCKED,
    RegionalVerdict.NOT_BLOCKED,
    RegionalVerdict.MIXED,
    RegionalVerdict.INSUFFICIENT,
)


def probe(pid: str, blocked: int = 0, ok: int = 0, **kw: int) -> ProbeCounts:
    methods = {"dns.forged": blocked} if blocked else {}
    return ProbeCounts(probe_id=pid, blocked=blocked, ok=ok, methods=methods, **kw)


def test_wilson_and_posterior_behave() -> None:
    low, high = wilson_interval(9, 10)
    assert 0.55 < low < 0.9 < high <= 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert posterior_above(3, 0, 0.5) == pytest.approx(1 - 0.5**4)
    assert posterior_above(0, 3, 0.5) == pytest.approx(0.5**4)


def test_consistent_blocking_from_several_probes_is_blocked() -> None:
    e = estimate_network(64500, [probe("a", blocked=3), probe("b", blocked=2)], S)
    assert e.verdict is B and e.confidence >= 0.9
    assert e.methods == {"dns.forged": 5}


def test_a_single_noisy_probe_does_not_make_a_domain_blocked() -> None:
    noisy = probe("noisy", blocked=50)
    honest = [probe(f"p{i}", ok=6) for i in range(3)]
    e = estimate_network(64500, [noisy, *honest], S)
    assert e.verdict is N, e
    assert estimate_network(64500, [noisy], S).verdict is INSUF


def test_one_probe_flooding_is_capped() -> None:
    flood = probe("flood", blocked=10_000)
    honest = [probe("a", ok=5), probe("b", ok=5)]
    e = estimate_network(64500, [flood, *honest], S)
    assert e.weighted_share is not None and e.weighted_share < 0.4
    assert e.verdict is not B


def test_too_few_measurements_or_probes_is_insufficient() -> None:
    assert estimate_network(1, [probe("a", blocked=1), probe("b", blocked=1)], S).verdict is INSUF
    assert estimate_network(1, [probe("a", blocked=9)], S).verdict is INSUF


def test_down_and_inconclusive_do_not_count_either_way() -> None:
    e = estimate_network(1, [probe("a", ok=0, down=10, inconclusive=5), probe("b", down=3)], S)
    assert e.verdict is INSUF and e.measurements == 18


def test_blocked_measurements_without_a_control_count_half() -> None:
    with_control = estimate_network(
        1, [probe("a", blocked=2), probe("b", blocked=2), probe("c", ok=2)], S
    )
    without = estimate_network(
        1,
        [
            ProbeCounts("a", blocked_no_control=2),
            ProbeCounts("b", blocked_no_control=2),
            probe("c", ok=2),
        ],
        S,
    )
    assert without.weighted_share is not None and with_control.weighted_share is not None
    assert without.weighted_share < with_control.weighted_share


def test_blocked_in_one_network_only_is_mixed_for_the_country() -> None:
    region = estimate_region(
        {
            64501: [probe("a", blocked=4), probe("b", blocked=3)],
            64502: [probe("c", ok=4), probe("d", ok=5)],
        },
        S,
    )
    assert region.verdict is M
    assert (region.blocked_networks, region.clear_networks) == (1, 1)


def test_blocked_in_every_network_is_blocked_and_more_networks_make_it_surer() -> None:
    one = estimate_region({1: [probe("a", blocked=3), probe("b", blocked=3)]}, S)
    two = estimate_region(
        {
            1: [probe("a", blocked=3), probe("b", blocked=3)],
            2: [probe("c", blocked=3), probe("d", blocked=3)],
        },
        S,
    )
    assert one.verdict is B and two.verdict is B
    assert two.confidence > one.confidence


def test_a_domain_that_looks_blocked_everywhere_needs_more_evidence() -> None:
    counts = [probe("a", blocked=3, ok=2), probe("b", blocked=3, ok=2)]
    plain = estimate_network(1, counts, S)
    noisy_everywhere = estimate_network(1, counts, S, baseline=0.5)
    assert noisy_everywhere.verdict is not B
    assert plain.weighted_share == noisy_everywhere.weighted_share
    assert baseline_share([probe("x", blocked=1, ok=3)]) == 0.25
    assert baseline_share([]) is None


def test_noise_baseline_needs_several_countries_and_ignores_one_real_censor() -> None:
    assert noise_baseline([1.0], S) is None
    assert noise_baseline([1.0, 0.0, 0.0], S) == 0.0
    assert noise_baseline([0.6, 0.5, 0.7, 0.4], S) == pytest.approx(0.55)


def test_changes_and_blocked_since() -> None:
    timeline = [("2026-11-01", N), ("2026-11-02", INSUF), ("2026-11-03", B), ("2026-11-04", B)]
    changes = detect_changes(timeline)
    assert [(c.day, c.before, c.after) for c in changes] == [("2026-11-03", N, B)]
    assert blocked_since(timeline) == "2026-11-03"
    assert blocked_since([*timeline, ("2026-11-05", N)]) is None


def test_posterior_stays_exact_where_its_first_binomial_term_underflows() -> None:
    # 0.05 ** 310 is below the smallest double: summed naively, every term is zero.
    above = posterior_above(300, 10, 0.95)
    assert 0.85 < above < 0.95
    assert posterior_above(390, 10, 0.95) > 0.99


def test_a_chance_blocked_network_among_many_does_not_make_a_domain_mixed() -> None:
    clear = {asn: [probe("a", ok=4), probe("b", ok=4)] for asn in range(1, 21)}
    lucky = [probe("c", blocked=2), probe("d", blocked=1)]  # 3 of 3: P = 0.94, by chance
    region = estimate_region({**clear, 99: lucky}, S)
    # Not significant at the level corrected for 21 networks, and no evidence of partial
    # blocking: the network says so itself, so the country's `not blocked` contradicts nothing.
    assert [n.verdict for n in region.networks if n.asn == 99] == [INSUF]
    assert region.verdict is N and region.confidence >= S.decide_at
    censored = [probe("c", blocked=15), probe("d", blocked=15)]  # one ISP really blocks
    assert estimate_region({**clear, 99: censored}, S).verdict is M


def test_an_undecided_network_does_not_contradict_a_blocking_one() -> None:
    blocking = [probe("a", blocked=5), probe("b", blocked=5)]
    undecided = [probe("c", blocked=2), probe("d", ok=1)]  # 2 of 3: P = 0.69, below the floor
    region = estimate_region({1: blocking, 2: undecided}, S)
    assert [n.verdict for n in region.networks] == [B, INSUF]
    assert region.verdict is B and region.confidence == min(0.999, region.networks[0].confidence)


def test_blocked_in_some_networks_and_clear_in_others_is_mixed_and_says_where() -> None:
    blocking = [probe("a", blocked=6), probe("b", blocked=6)]
    clear = [probe("c", ok=6), probe("d", ok=6)]
    region = estimate_region({1: blocking, 2: clear, 3: clear}, S)
    assert region.verdict is M and region.confidence >= S.decide_at
    assert (region.blocked_networks, region.mixed_networks, region.clear_networks) == (1, 0, 2)


def test_split_networks_alone_are_mixed_only_with_enough_data() -> None:
    few = estimate_region({1: [probe("a", blocked=1), probe("b", ok=2)]}, S)
    assert [n.verdict for n in few.networks] == [INSUF] and few.verdict is INSUF
    # A censor dropping about half of the attempts, seen by many probes: partial blocking.
    half = [probe(f"p{i}", blocked=2, ok=2) for i in range(30)]
    region = estimate_region({1: half}, S)
    assert region.verdict is M and region.confidence > 0.99


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 3000),
    st.integers(0, 3000),
    st.sampled_from([0.3, 0.5, 0.7, 0.8, 0.95]) | st.floats(0.01, 0.99),
)
def test_the_oracles_posterior_is_the_products(successes: int, failures: int, x: float) -> None:
    product = by_column.posterior_above(
        np.array([successes], float), np.array([failures], float), np.array([x])
    )[0]
    assert posterior_above(successes, failures, x) == pytest.approx(product, abs=1e-9)
