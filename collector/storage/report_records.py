"""The records the report reads of the storage interface carry: what a report covers and the
per-(domain, network) counts, networks, countries and samples a backend returns for it.

Backend-neutral: a backend fills them from its rollups (`reports` for DuckDB).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from collector.regional.columns import Floats, Ints
from collector.regional.model import ModelSettings, NetworkCounts, SparseNetworks


@dataclass(frozen=True)
class ReportQuery:
    """Which rollup rows a report covers (days inclusive)."""

    cc: str
    since: date
    until: date
    asn: int | None = None
    region: str | None = None
    category: str | None = None
    domain: str | None = None
    origin: str | None = None
    """Only rollups of this origin (`crenel`, `ooni`); None: all."""


@dataclass(frozen=True)
class NetworkTable:
    """Every (domain, network) row of a report window with enough data to decide (all rows,
    for one domain), as columns: `group[i]` indexes row i's domain in `ReportTable.domains`."""

    group: Ints
    asn: Ints
    blocked_w: Floats
    ok_w: Floats
    informative: Ints
    informative_probes: Ints
    probes: Ints
    blocked: Ints
    ok: Ints
    down: Ints
    inconclusive: Ints
    confirmed: Ints
    packet_confirmed: Ints
    methods: list[dict[str, int]]

    def counts(self, i: int) -> NetworkCounts:
        """Return row `i` as one network's counts."""
        columns = (self.asn, self.blocked_w, self.ok_w, self.informative,
                   self.informative_probes, self.probes, self.blocked, self.ok, self.down,
                   self.inconclusive, self.confirmed, self.packet_confirmed)  # fmt: skip
        return network_counts([c[i].item() for c in columns], self.methods[i])


@dataclass(frozen=True)
class ReportTable:
    """A report window's domains (sorted), their decidable networks, and the sums of the rest."""

    domains: list[str]
    categories: dict[str, str]
    networks: NetworkTable
    sparse: dict[str, SparseNetworks]

    def network_counts(self, domain: str) -> list[NetworkCounts]:
        """Return one domain's network rows as `NetworkCounts`."""
        index = self.domains.index(domain)
        rows = np.flatnonzero(self.networks.group == index)
        return [self.networks.counts(int(i)) for i in rows]


@dataclass(frozen=True)
class CountryNetwork:
    """A network of a report's window and how many measurements it has."""

    asn: int
    name: str | None
    measurements: int


@dataclass(frozen=True)
class CountrySummary:
    """A country's totals for the overview."""

    cc: str
    domains: int
    networks: int
    measurements: int
    last_day: date | None


@dataclass(frozen=True)
class Sample:
    """One stored measurement a report links to."""

    uid: str
    start_time: datetime
    asn: int
    verdict: str | None
    methods: list[str]


def parse_methods(text: str | None) -> dict[str, int]:
    """Return the counts per method of `method=count` pairs joined by ';' (a method repeated
    once per network is summed), as the report queries' `string_agg` gives them."""
    out: dict[str, int] = {}
    if text:
        for pair in text.split(";"):
            method, _, count = pair.rpartition("=")
            out[method] = out.get(method, 0) + int(count)
    return out


def fingerprint_names(analyses: Iterable[str | None]) -> Counter[str]:
    """Return how often each fingerprint matched (false positives left out) in the stored
    analyses' JSON."""
    names: Counter[str] = Counter()
    for analysis in analyses:
        if analysis is None:
            continue
        for match in json.loads(str(analysis)).get("fingerprints", []):
            if not match.get("is_false_positive"):
                names[str(match.get("name"))] += 1
    return names


def network_counts(values: Sequence[Any], methods: dict[str, int]) -> NetworkCounts:
    """Return `NetworkCounts` from values in the report queries' per-network column order
    (asn, weighted blocked and ok, informative, informative probes, probes, blocked, ok, down,
    inconclusive, confirmed, packet confirmed)."""
    asn, bw, ow, informative, ip, probes, blocked, ok, down, inconclusive, confirmed, packet = (
        values
    )
    return NetworkCounts(
        asn=int(asn),
        blocked_w=float(bw),
        ok_w=float(ow),
        informative=int(informative),
        informative_probes=int(ip),
        probes=int(probes),
        blocked=int(blocked),
        ok=int(ok),
        down=int(down),
        inconclusive=int(inconclusive),
        confirmed=int(confirmed),
        packet_confirmed=int(packet),
        methods=methods,
    )


NETWORK_DAY_SETTINGS = ModelSettings()
"""The settings the per-day network rollup (`rollup_network_day`) is computed with."""


def _row_settings(settings: ModelSettings) -> tuple[object, ...]:
    """Return the settings the daily report query's rows depend on."""
    return (
        settings.count_contradicted,
        settings.no_control_weight,
        settings.probe_weight_cap,
        settings.uploader_weight_cap,
        settings.min_measurements,
        settings.min_probes,
    )


def reads_network_day(query: ReportQuery, settings: ModelSettings) -> bool:
    """Return whether the daily rows of `query` are those `rollup_network_day` keeps: a whole
    country (no network, region, category, domain or origin) under its settings."""
    whole = (
        query.asn is None
        and query.region is None
        and query.category is None
        and query.domain is None
        and query.origin is None
    )
    return whole and weighs_as_network_rollups(settings)


def weighs_as_network_rollups(settings: ModelSettings) -> bool:
    """Return whether `settings` weigh and count a report's rows as the per-network rollups
    were computed (`NETWORK_DAY_SETTINGS`)."""
    return _row_settings(settings) == _row_settings(NETWORK_DAY_SETTINGS)
