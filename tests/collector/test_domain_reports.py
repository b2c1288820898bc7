"""A country's report lines, decided by columns, must equal the plain-Python oracle's answers
(tests/collector/regional_oracle.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.regional.model import ModelSettings, NetworkCounts, SparseNetworks
from collector.reports.domains import decide_table, domain_reports
from collector.storage import NetworkTable, ReportTable
from tests.collector.regional_oracle import decide_region, region_estimate

S = ModelSettings()

network = st.builds(
    lambda asn, b, o, probes, confirmed: NetworkCounts(
        asn=asn,
        blocked_w=float(b),
        ok_w=float(o),
        informative=b + o,
        informative_probes=min(probes, b + o),
        probes=probes,
        blocked=b,
        ok=o,
        down=1,
        inconclusive=0,
        confirmed=confirmed,
        methods={"tls.reset": b} if b else {},
    ),
    st.integers(1, 400),
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(1, 6),
    st.integers(0, 1),
)


def _table(domains: list[list[NetworkCounts]], sparse: dict[str, SparseNetworks]) -> ReportTable:
    rows = [(g, n) for g, networks in enumerate(domains) for n in networks]

    def ints(attr: str) -> np.ndarray:
        return np.array([getattr(n, attr) for _, n in rows], dtype=np.int64)

    return ReportTable(
        domains=[f"d{g}.example" for g in range(len(domains))],
        categories={},
        networks=NetworkTable(
            group=np.array([g for g, _ in rows], dtype=np.int64),
            asn=ints("asn"),
            blocked_w=np.array([n.blocked_w for _, n in rows]),
            ok_w=np.array([n.ok_w for _, n in rows]),
            informative=ints("informative"),
            informative_probes=ints("informative_probes"),
            probes=ints("probes"),
            blocked=ints("blocked"),
            ok=ints("ok"),
            down=ints("down"),
            inconclusive=ints("inconclusive"),
            confirmed=ints("confirmed"),
            packet_confirmed=ints("packet_confirmed"),
            methods=[dict(n.methods) for _, n in rows],
        ),
        sparse=sparse,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(network, max_size=5, unique_by=lambda n: n.asn), min_size=1, max_size=6),
    st.lists(st.one_of(st.none(), st.floats(0.0, 1.0)), min_size=6, max_size=6),
)
def test_columns_and_one_domain_model_agree(
    domains: list[list[NetworkCounts]], baselines: list[float | None]
) -> None:
    sparse = {"d0.example": SparseNetworks(networks=2, measurements=3, probes=2, methods={"x": 1})}
    table = _table(domains, sparse)
    known = {f"d{g}.example": b for g, b in enumerate(baselines) if b is not None}
    lines = domain_reports(decide_table(table, known, S), {})
    for g, (line, networks) in enumerate(zip(lines, domains, strict=True)):
        expected = region_estimate(decide_region(networks, S, baseline=known.get(line.domain)))
        extra = sparse.get(line.domain)
        assert line.domain == f"d{g}.example"
        assert line.verdict == expected.verdict.value
        assert line.confidence == pytest.approx(expected.confidence, abs=1.1e-3)
        assert (
            line.networks_blocked,
            line.networks_mixed,
            line.networks_clear,
            line.networks_sparse,
        ) == (
            expected.blocked_networks,
            expected.mixed_networks,
            expected.clear_networks,
            extra.networks if extra else 0,
        )
        assert line.measurements == sum(n.measurements for n in expected.networks) + (
            extra.measurements if extra else 0
        )
        got = [(n.asn, n.verdict, n.weighted_share) for n in line.networks]
        assert got == [(n.asn, n.verdict.value, n.weighted_share) for n in expected.networks]
        assert [n.confidence for n in line.networks] == pytest.approx(
            [n.confidence for n in expected.networks], abs=1.1e-3
        )
