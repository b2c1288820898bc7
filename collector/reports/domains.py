"""Every domain's report line of a country in one pass: the storage's columns in, the model's
column verdicts (`collector.regional.columns`), `DomainReport` records out.

One window table and one table per day of the window are decided the same way; each network's
window verdict is then reconciled with its daily verdicts, and each domain's verdict is combined
from its (reconciled) network verdicts, so the country line, the network rows, the timeline and
the changes cannot contradict each other (docs/methodology.md, "Coherent reports").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.regional import columns as by_column
from collector.regional.model import VERDICTS, ModelSettings, RegionalVerdict
from collector.reports.model import DomainReport, NetworkReport
from collector.storage import NetworkTable, ReportTable

Series = list[tuple[str, RegionalVerdict]]
"""A domain's country verdict on each day of a window, oldest first."""


def sorted_methods(methods: Mapping[str, int]) -> dict[str, int]:
    """Return `methods` most frequent first (ties by name)."""
    if len(methods) < 2:
        return dict(methods)
    return dict(sorted(methods.items(), key=lambda kv: (-kv[1], kv[0])))


def optional(value: float) -> float | None:
    """Return `value`, or None for NaN (a column's missing value)."""
    return None if math.isnan(value) else float(value)


def empty_table() -> ReportTable:
    """Return a report table with no domains (a day without data)."""
    ints, floats = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    return ReportTable(
        domains=[],
        categories={},
        networks=NetworkTable(
            group=ints,
            asn=ints,
            blocked_w=floats,
            ok_w=floats,
            informative=ints,
            informative_probes=ints,
            probes=ints,
            blocked=ints,
            ok=ints,
            down=ints,
            inconclusive=ints,
            confirmed=ints,
            packet_confirmed=ints,
            methods=[],
        ),
        sparse={},
    )


@dataclass(frozen=True)
class TableDecisions:
    """A report table's network and domain decisions, as columns."""

    table: ReportTable
    baseline: by_column.Floats
    """Per domain of the table (NaN: none)."""
    networks: by_column.NetworkDecisions
    domains: by_column.DomainDecisions


def decide_table(
    table: ReportTable, baselines: Mapping[str, float], settings: ModelSettings
) -> TableDecisions:
    """Return the verdict of every (domain, network) row of `table` and of every domain."""
    [decided] = decide_tables([(table, baselines)], settings)
    return decided


def decide_tables(
    tables: Sequence[tuple[ReportTable, Mapping[str, float]]], settings: ModelSettings
) -> list[TableDecisions]:
    """Return `decide_table` of each (table, baselines) pair, computed in one pass over all
    their rows (the model's arithmetic is per network and per domain, so the result is the
    same as deciding each table alone; one pass saves the per-call cost of the Beta tails)."""
    if not tables:
        return []
    sizes = [len(table.domains) for table, _ in tables]
    offsets = np.cumsum([0, *sizes]).tolist()
    lengths = [len(table.networks.group) for table, _ in tables]
    starts = np.cumsum([0, *lengths]).tolist()
    baselines = [
        np.array([known.get(d, math.nan) for d in table.domains], dtype=np.float64)
        for table, known in tables
    ]
    every = [table.networks for table, _ in tables]

    def joined(name: str, dtype: type) -> npt.NDArray[Any]:
        return np.concatenate([np.asarray(getattr(rows, name), dtype=dtype) for rows in every])

    group = np.concatenate(
        [rows.group.astype(np.int64) + offset for rows, offset in zip(every, offsets, strict=False)]
    )
    baseline = np.concatenate(baselines)
    inputs = by_column.NetworkColumns(
        blocked_w=joined("blocked_w", np.float64),
        ok_w=joined("ok_w", np.float64),
        informative=joined("informative", np.int64),
        informative_probes=joined("informative_probes", np.int64),
        confirmed=joined("confirmed", np.int64) + joined("packet_confirmed", np.int64),
        baseline=baseline[group],
    )
    networks = by_column.decide_networks(inputs, settings, group)
    domains = by_column.combine_verdicts(group, offsets[-1], networks.verdict, networks.confidence)
    out = []
    for i, (table, _) in enumerate(tables):
        rows = slice(starts[i], starts[i + 1])
        names = slice(offsets[i], offsets[i + 1])
        out.append(
            TableDecisions(
                table=table,
                baseline=baselines[i],
                networks=by_column.NetworkDecisions(
                    verdict=networks.verdict[rows],
                    confidence=networks.confidence[rows],
                    share=networks.share[rows],
                    low=networks.low[rows],
                    high=networks.high[rows],
                ),
                domains=by_column.DomainDecisions(
                    verdict=domains.verdict[names],
                    confidence=domains.confidence[names],
                    blocked_networks=domains.blocked_networks[names],
                    mixed_networks=domains.mixed_networks[names],
                    clear_networks=domains.clear_networks[names],
                ),
            )
        )
    return out


def _keys(decided: TableDecisions, domain_index: by_column.Ints) -> by_column.Ints:
    """Return one int64 key per network row: its domain's index in the window, and its AS."""
    rows = decided.table.networks
    return domain_index[rows.group] * (1 << 32) + rows.asn


def reconcile_days(window: TableDecisions, days: Sequence[TableDecisions]) -> TableDecisions:
    """Return `window` with each network's verdict reconciled with its verdicts on `days`
    (`columns.reconcile`) and each domain's verdict combined again from them."""
    table = window.table
    names = np.array(table.domains, dtype=object)
    window_keys = _keys(window, np.arange(len(names), dtype=np.int64))
    order = np.argsort(window_keys, kind="stable")
    member_of: list[by_column.Ints] = []
    verdicts: list[by_column.Codes] = []
    confidences: list[by_column.Floats] = []
    for day in days:
        if not day.table.domains or not len(window_keys):
            continue
        day_names = np.array(day.table.domains, dtype=object)
        where = np.minimum(np.searchsorted(names, day_names), len(names) - 1)
        where = np.where(names[where] == day_names, where, -1).astype(np.int64)
        keys = _keys(day, where)  # -1: a domain the window lacks, matching no window key
        at = np.minimum(np.searchsorted(window_keys[order], keys), len(order) - 1)
        found = window_keys[order][at] == keys
        member_of.append(order[at][found])
        verdicts.append(day.networks.verdict[found])
        confidences.append(day.networks.confidence[found])
    if not member_of:
        return window
    verdict, confidence = by_column.reconcile(
        window.networks.verdict,
        window.networks.confidence,
        np.concatenate(member_of),
        np.concatenate(verdicts),
        np.concatenate(confidences),
    )
    networks = by_column.NetworkDecisions(
        verdict=verdict,
        confidence=np.round(confidence, 3),
        share=window.networks.share,
        low=window.networks.low,
        high=window.networks.high,
    )
    domains = by_column.combine_verdicts(
        table.networks.group, len(table.domains), verdict, networks.confidence
    )
    return TableDecisions(table=table, baseline=window.baseline, networks=networks, domains=domains)


def daily_series(
    domains: Sequence[str], days: Sequence[tuple[date, TableDecisions]]
) -> dict[str, Series]:
    """Return each of `domains`' (sorted) country verdict on each of `days` (`insufficient
    data` on a day without data)."""
    names = np.array(domains, dtype=object)
    codes = np.full((len(days), len(names)), by_column.INSUFFICIENT, dtype=np.int8)
    for row, (_, decided) in enumerate(days):
        if not decided.table.domains or not len(names):
            continue
        day_names = np.array(decided.table.domains, dtype=object)
        where = np.minimum(np.searchsorted(names, day_names), len(names) - 1)
        found = names[where] == day_names
        codes[row, where[found]] = decided.domains.verdict[found]
    texts = [day.isoformat() for day, _ in days]
    return {
        domain: [(text, VERDICTS[code]) for text, code in zip(texts, column, strict=True)]
        for domain, column in zip(domains, codes.T.tolist(), strict=True)
    }


def domain_reports(decided: TableDecisions, names: Mapping[int, str | None]) -> list[DomainReport]:
    """Return the report line of every domain of the decided table (without `since`), in
    domain order."""
    table = decided.table
    rows = table.networks
    groups = len(table.domains)
    networks, domains = decided.networks, decided.domains
    measurements = rows.blocked + rows.ok + rows.down + rows.inconclusive
    per_domain: list[list[NetworkReport]] = [[] for _ in range(groups)]
    totals = [[0, 0, 0, 0] for _ in range(groups)]  # measurements, probes, confirmed, packet
    methods: list[dict[str, int]] = [{} for _ in range(groups)]
    order = np.lexsort((rows.asn, rows.group)).tolist()
    group, asn = rows.group.tolist(), rows.asn.tolist()
    verdict, confidence = networks.verdict.tolist(), networks.confidence.tolist()
    share, low, high = networks.share.tolist(), networks.low.tolist(), networks.high.tolist()
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
    mixed_networks = domains.mixed_networks.tolist()
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
                networks_mixed=mixed_networks[g],
                networks_clear=clear_networks[g],
                networks_sparse=sparse.networks if sparse else 0,
                confirmed=sums[2],
                packet_confirmed=sums[3],
                baseline=optional(round(float(decided.baseline[g]), 4)),
                networks=per_domain[g],
            )
        )
    return out
