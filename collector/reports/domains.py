"""Every domain's report line of a country in one pass: the storage's columns in, the model's
column verdicts (`collector.regional.columns`), `DomainReport` records out.

The per-domain path (`regional.combine_networks`) gives the same answers one domain at a time;
a country has thousands of (domain, network) rows, so its report is decided by columns.
"""

from __future__ import annotations

import math

import numpy as np

from collector.regional import columns as by_column
from collector.regional.columns import Floats
from collector.regional.model import VERDICTS, ModelSettings, optional, sorted_methods
from collector.reports.model import DomainReport, NetworkReport
from collector.storage import ReportTable


def _decide(
    table: ReportTable, baselines: dict[str, float], settings: ModelSettings
) -> tuple[Floats, by_column.NetworkDecisions, by_column.DomainDecisions]:
    """Return each domain's baseline, and the verdicts of its networks and of itself."""
    rows = table.networks
    groups = len(table.domains)
    baseline = np.array([baselines.get(d, math.nan) for d in table.domains], dtype=np.float64)
    inputs = by_column.NetworkColumns(
        blocked_w=rows.blocked_w,
        ok_w=rows.ok_w,
        informative=rows.informative,
        informative_probes=rows.informative_probes,
        confirmed=rows.confirmed + rows.packet_confirmed,
        baseline=baseline[rows.group] if groups else np.empty(0),
    )
    decided = by_column.decide_networks(inputs, settings)
    domains = by_column.combine_domains(rows.group, groups, inputs, decided, settings)
    return baseline, decided, domains


def domain_verdicts(
    table: ReportTable, baselines: dict[str, float], settings: ModelSettings
) -> list[str]:
    """Return the verdict of every domain of `table`, in domain order: those of
    `domain_reports`, without building the report lines."""
    texts = [v.value for v in VERDICTS]
    return [texts[code] for code in _decide(table, baselines, settings)[2].verdict.tolist()]


def domain_reports(
    table: ReportTable,
    baselines: dict[str, float],
    names: dict[int, str | None],
    settings: ModelSettings,
) -> list[DomainReport]:
    """Return the report line of every domain of `table` (without `since`), in domain order."""
    rows = table.networks
    groups = len(table.domains)
    baseline, decided, domains = _decide(table, baselines, settings)
    measurements = rows.blocked + rows.ok + rows.down + rows.inconclusive
    per_domain: list[list[NetworkReport]] = [[] for _ in range(groups)]
    totals = [[0, 0, 0, 0] for _ in range(groups)]  # measurements, probes, confirmed, packet
    methods: list[dict[str, int]] = [{} for _ in range(groups)]
    order = np.lexsort((rows.asn, rows.group)).tolist()
    group, asn = rows.group.tolist(), rows.asn.tolist()
    verdict, confidence = decided.verdict.tolist(), decided.confidence.tolist()
    share, low, high = decided.share.tolist(), decided.low.tolist(), decided.high.tolist()
    texts = [v.value for v in VERDICTS]
    columns = [
        c.tolist()
        for c in (
            measurements,
            rows.probes,
            rows.blocked,
            rows.ok,
            rows.down,
            rows.inconclusive,
            rows.confirmed,
            rows.packet_confirmed,
        )
    ]
    ordered = [[c[i] for c in columns] for i in order] if order else []
    for i, (total, probes, blocked, ok, down, inconclusive, confirmed, packet) in zip(
        order, ordered, strict=True
    ):
        g = group[i]
        network_asn = asn[i]
        low_i = low[i]
        undecided = math.isnan(low_i)
        per_domain[g].append(
            NetworkReport(
                asn=network_asn,
                name=names.get(network_asn),
                verdict=texts[verdict[i]],
                confidence=confidence[i],
                measurements=total,
                probes=probes,
                blocked=blocked,
                ok=ok,
                down=down,
                inconclusive=inconclusive,
                confirmed=confirmed,
                packet_confirmed=packet,
                weighted_share=None if undecided else share[i],
                interval=None if undecided else [low_i, high[i]],
                methods=sorted_methods(rows.methods[i]),
            )
        )
        sums = totals[g]
        sums[0] += total
        sums[1] += probes
        sums[2] += confirmed
        sums[3] += packet
        into = methods[g]
        for method, count in rows.methods[i].items():
            into[method] = into.get(method, 0) + count
    out: list[DomainReport] = []
    domain_verdict, domain_confidence = domains.verdict.tolist(), domains.confidence.tolist()
    blocked_networks = domains.blocked_networks.tolist()
    clear_networks = domains.clear_networks.tolist()
    for g, domain in enumerate(table.domains):
        sums, into = totals[g], methods[g]
        sparse = table.sparse.get(domain)
        if sparse is not None:
            sums = [
                sums[0] + sparse.measurements,
                sums[1] + sparse.probes,
                sums[2] + sparse.confirmed,
                sums[3] + sparse.packet_confirmed,
            ]
            for method, count in sparse.methods.items():
                into[method] = into.get(method, 0) + count
        out.append(
            DomainReport(
                domain=domain,
                category=table.categories.get(domain),
                verdict=texts[domain_verdict[g]],
                confidence=domain_confidence[g],
                since=None,
                methods=sorted_methods(into),
                measurements=sums[0],
                probes=sums[1],
                networks_blocked=blocked_networks[g],
                networks_clear=clear_networks[g],
                networks_sparse=sparse.networks if sparse else 0,
                confirmed=sums[2],
                packet_confirmed=sums[3],
                baseline=optional(round(float(baseline[g]), 4)),
                networks=per_domain[g],
            )
        )
    return out
