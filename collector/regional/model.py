"""Per-region verdicts: from counts of measurements to `blocked` / `not blocked` / `mixed` /
`insufficient data`, with a confidence, for a network and for a whole country.

Pure: no I/O, no clock. The model (docs/methodology.md, "Regional verdicts"):
- only `blocked` and `ok` measurements inform the blocked share; `down` (the site fails for the
  control too) and `inconclusive` are left out, and a `blocked` whose control failed counts half;
- each probe's weight is capped, and so is each uploader network's (the source /24 or /48 and
  AS the collector saw, `collector.sources.uploaders`) over all its probes and claimed networks,
  so one flooding source cannot decide a network or a country whatever ids or networks it claims;
  `min_probes` counts uploader networks;
- a Beta posterior on the blocked share gives the verdict and its confidence (the Wilson
  interval is reported beside it);
- the same domain's blocked share in other regions is a baseline for noise (a site that looks
  "blocked" everywhere is more likely broken for probes than censored everywhere).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from collector.regional import columns as by_column


class RegionalVerdict(StrEnum):
    """What the measurements say about a domain in a region."""

    BLOCKED = "blocked"
    NOT_BLOCKED = "not blocked"
    MIXED = "mixed"
    INSUFFICIENT = "insufficient data"


VERDICTS = (
    RegionalVerdict.BLOCKED,
    RegionalVerdict.NOT_BLOCKED,
    RegionalVerdict.MIXED,
    RegionalVerdict.INSUFFICIENT,
)
"""`RegionalVerdict` by the code `collector.regional.columns` uses."""


@dataclass(frozen=True)
class ModelSettings:
    """Thresholds of the regional model (documented defaults)."""

    min_measurements: int = 3
    min_probes: int = 2
    """Independent uploaders (uploader networks; probes of trusted sources) a network needs."""
    probe_weight_cap: float = 5.0
    uploader_weight_cap: float = 5.0
    """Most weight one uploader network has for a domain in a report, over all its probes and
    claimed networks."""
    count_contradicted: bool = False
    """Count measurements whose claimed network contradicts their source address's."""
    no_control_weight: float = 0.5
    blocked_share: float = 0.5
    partial_share: float = 0.3
    """A `mixed` network's or country's blocking is likely when P(share > this) >= decide_at."""
    decide_at: float = 0.8
    baseline_margin: float = 0.3
    baseline_countries: int = 3


@dataclass(frozen=True)
class ProbeCounts:
    """One probe's measurements of one domain in one network and window."""

    probe_id: str
    uploader: str = ""
    """The uploader network's key ('' for a trusted or unknown source: the probe stands alone)."""
    blocked: int = 0
    blocked_no_control: int = 0
    ok: int = 0
    down: int = 0
    inconclusive: int = 0
    confirmed: int = 0
    methods: Mapping[str, int] = field(default_factory=dict)

    @property
    def all_blocked(self) -> int:
        """Return the blocked measurements, with or without a working control."""
        return self.blocked + self.blocked_no_control

    def unit(self, asn: int) -> str:
        """Return the independent unit this probe's weight counts towards in network `asn`: its
        uploader network, or (trusted or unknown source) the probe in that network."""
        return f"u:{self.uploader}" if self.uploader else f"p:{asn}:{self.probe_id}"

    def probe_weight(self, settings: ModelSettings) -> float:
        """Return the factor capping this probe's informative measurements (1 when under)."""
        usable = self.all_blocked + self.ok
        return min(1.0, settings.probe_weight_cap / usable) if usable else 0.0


@dataclass(frozen=True)
class NetworkCounts:
    """One network's counts for a domain and window, with each probe's weight already capped.

    Built from `ProbeCounts` by `weigh_probes`, or directly by the storage's SQL (which applies
    the same cap), so reports never need one row per probe in Python.
    """

    asn: int
    blocked_w: float
    ok_w: float
    informative: int
    informative_probes: int
    probes: int
    blocked: int
    ok: int
    down: int
    inconclusive: int
    confirmed: int
    packet_confirmed: int = 0
    methods: Mapping[str, int] = field(default_factory=dict)
    name: str | None = None


@dataclass(frozen=True)
class SparseNetworks:
    """A domain's networks with too little data to decide (fewer than the minimum measurements
    or probes), summed: reports count them without listing each one."""

    networks: int
    measurements: int
    probes: int
    confirmed: int = 0
    packet_confirmed: int = 0
    methods: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkEstimate:
    """The verdict for one network (AS) and the numbers behind it."""

    asn: int
    verdict: RegionalVerdict
    confidence: float
    measurements: int
    probes: int
    blocked: int
    ok: int
    down: int
    inconclusive: int
    confirmed: int
    weighted_share: float | None
    interval: tuple[float, float] | None
    methods: dict[str, int]
    packet_confirmed: int = 0
    name: str | None = None


@dataclass(frozen=True)
class RegionEstimate:
    """The verdict for a domain in a country, combining its networks."""

    verdict: RegionalVerdict
    confidence: float
    networks: tuple[NetworkEstimate, ...]
    blocked_networks: int
    clear_networks: int
    measurements: int
    probes: int
    confirmed: int
    methods: dict[str, int]
    baseline: float | None
    packet_confirmed: int = 0
    sparse_networks: int = 0


def wilson_interval(
    successes: float, trials: float, z: float = by_column.Z_95
) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion (0, 1 for no trials)."""
    low, high = by_column.wilson_interval(
        np.array([successes], float), np.array([trials], float), z
    )
    return float(low[0]), float(high[0])


def posterior_above(successes: float, failures: float, threshold: float) -> float:
    """Return P(share > threshold) under a Beta(1 + successes, 1 + failures) posterior (counts
    rounded; exact: `by_column.posterior_above`)."""
    return float(
        by_column.posterior_above(
            np.array([successes], float), np.array([failures], float), np.array([threshold], float)
        )[0]
    )


def uploader_weights(
    networks: Mapping[int, Sequence[ProbeCounts]], settings: ModelSettings
) -> dict[str, float]:
    """Return, per unit (`ProbeCounts.unit`), the factor capping its probes' summed capped
    weight at `uploader_weight_cap` (1 when under). Pass every network of the domain in the
    report's scope: an uploader's cap covers all the networks it claims."""
    totals: dict[str, float] = {}
    for asn, probes in networks.items():
        for probe in probes:
            unit = probe.unit(asn)
            usable = probe.all_blocked + probe.ok
            totals[unit] = totals.get(unit, 0.0) + usable * probe.probe_weight(settings)
    return {
        unit: min(1.0, settings.uploader_weight_cap / total) if total else 0.0
        for unit, total in totals.items()
    }


def weigh_probes(
    asn: int,
    probes: Sequence[ProbeCounts],
    settings: ModelSettings,
    *,
    name: str | None = None,
    units: Mapping[str, float] | None = None,
) -> NetworkCounts:
    """Return one network's counts with each probe's weight capped at `probe_weight_cap` and
    each uploader network's at `uploader_weight_cap` (`units`: from `uploader_weights` over the
    whole domain; by default over this network's probes)."""
    factors = uploader_weights({asn: probes}, settings) if units is None else units
    methods: dict[str, int] = {}
    blocked_w = ok_w = 0.0
    informative = 0
    informative_units: set[str] = set()
    for probe in probes:
        for method, count in probe.methods.items():
            methods[method] = methods.get(method, 0) + count
        usable = probe.all_blocked + probe.ok
        if usable == 0:
            continue
        informative += usable
        unit = probe.unit(asn)
        informative_units.add(unit)
        weight = probe.probe_weight(settings) * factors[unit]
        blocked_w += (
            probe.blocked + probe.blocked_no_control * settings.no_control_weight
        ) * weight
        ok_w += probe.ok * weight
    return NetworkCounts(
        asn=asn,
        blocked_w=blocked_w,
        ok_w=ok_w,
        informative=informative,
        informative_probes=len(informative_units),
        probes=len(probes),
        blocked=sum(p.all_blocked for p in probes),
        ok=sum(p.ok for p in probes),
        down=sum(p.down for p in probes),
        inconclusive=sum(p.inconclusive for p in probes),
        confirmed=sum(p.confirmed for p in probes),
        methods=methods,
        name=name,
    )


def sorted_methods(methods: Mapping[str, int]) -> dict[str, int]:
    """Return `methods` most frequent first (ties by name)."""
    if len(methods) < 2:
        return dict(methods)
    return dict(sorted(methods.items(), key=lambda kv: (-kv[1], kv[0])))


def network_columns(
    networks: Sequence[NetworkCounts], baseline: float | None
) -> by_column.NetworkColumns:
    """Return the model's column inputs for `networks` (all of one domain's baseline)."""
    return by_column.NetworkColumns(
        blocked_w=np.array([n.blocked_w for n in networks], float),
        ok_w=np.array([n.ok_w for n in networks], float),
        informative=np.array([n.informative for n in networks], np.int64),
        informative_probes=np.array([n.informative_probes for n in networks], np.int64),
        confirmed=np.array([n.confirmed + n.packet_confirmed for n in networks], np.int64),
        baseline=np.full(len(networks), np.nan if baseline is None else baseline),
    )


def optional(value: float) -> float | None:
    """Return `value`, or None for NaN (a column's missing value)."""
    return None if math.isnan(value) else float(value)


def _estimates(
    networks: Sequence[NetworkCounts], decisions: by_column.NetworkDecisions
) -> tuple[NetworkEstimate, ...]:
    out = []
    for i, counts in enumerate(networks):
        low, high = optional(decisions.low[i]), optional(decisions.high[i])
        out.append(
            NetworkEstimate(
                asn=counts.asn,
                verdict=VERDICTS[decisions.verdict[i]],
                confidence=float(decisions.confidence[i]),
                measurements=counts.blocked + counts.ok + counts.down + counts.inconclusive,
                probes=counts.probes,
                blocked=counts.blocked,
                ok=counts.ok,
                down=counts.down,
                inconclusive=counts.inconclusive,
                confirmed=counts.confirmed,
                weighted_share=optional(decisions.share[i]),
                interval=None if low is None or high is None else (low, high),
                methods=sorted_methods(counts.methods),
                packet_confirmed=counts.packet_confirmed,
                name=counts.name,
            )
        )
    return tuple(out)


def decide_network(
    counts: NetworkCounts, settings: ModelSettings, *, baseline: float | None = None
) -> NetworkEstimate:
    """Return the verdict for one network from its (weighted) counts."""
    decisions = by_column.decide_networks(network_columns([counts], baseline), settings)
    return _estimates([counts], decisions)[0]


def estimate_network(
    asn: int,
    probes: Sequence[ProbeCounts],
    settings: ModelSettings,
    *,
    baseline: float | None = None,
) -> NetworkEstimate:
    """Return the verdict for one network from its probes' counts."""
    return decide_network(weigh_probes(asn, probes, settings), settings, baseline=baseline)


def estimate_region(
    networks: Mapping[int, Sequence[ProbeCounts]],
    settings: ModelSettings,
    *,
    baseline: float | None = None,
) -> RegionEstimate:
    """Return the verdict for a domain in a region from the counts of each of its networks."""
    units = uploader_weights(networks, settings)
    counts = [
        weigh_probes(asn, probes, settings, units=units) for asn, probes in sorted(networks.items())
    ]
    return combine_networks(counts, settings, baseline=baseline)


def combine_networks(
    networks: Sequence[NetworkCounts],
    settings: ModelSettings,
    *,
    baseline: float | None = None,
    sparse: SparseNetworks | None = None,
) -> RegionEstimate:
    """Return the verdict for a domain in a region from its networks' weighted counts.

    `sparse` sums the networks the caller already knows are too small to decide: they add to
    the totals and methods but not to the verdict (as if listed, each `insufficient data`).
    """
    ordered = sorted(networks, key=lambda n: n.asn)
    columns = network_columns(ordered, baseline)
    decisions = by_column.decide_networks(columns, settings)
    estimates = _estimates(ordered, decisions)
    domain = by_column.combine_domains(
        np.zeros(len(ordered), np.int64), 1, columns, decisions, settings
    )
    methods: dict[str, int] = dict(sparse.methods) if sparse else {}
    for e in estimates:
        for method, count in e.methods.items():
            methods[method] = methods.get(method, 0) + count
    return RegionEstimate(
        verdict=VERDICTS[domain.verdict[0]],
        confidence=float(domain.confidence[0]),
        networks=estimates,
        blocked_networks=int(domain.blocked_networks[0]),
        clear_networks=int(domain.clear_networks[0]),
        measurements=sum(e.measurements for e in estimates)
        + (sparse.measurements if sparse else 0),
        probes=sum(e.probes for e in estimates) + (sparse.probes if sparse else 0),
        confirmed=sum(e.confirmed for e in estimates) + (sparse.confirmed if sparse else 0),
        methods=sorted_methods(methods),
        baseline=baseline,
        packet_confirmed=sum(e.packet_confirmed for e in estimates)
        + (sparse.packet_confirmed if sparse else 0),
        sparse_networks=sparse.networks if sparse else 0,
    )


def baseline_share(elsewhere: Iterable[ProbeCounts]) -> float | None:
    """Return the domain's blocked share outside the region (None without data)."""
    blocked = ok = 0
    for probe in elsewhere:
        blocked += probe.blocked
        ok += probe.ok
    return blocked / (blocked + ok) if blocked + ok else None


@dataclass(frozen=True)
class Change:
    """A domain's regional verdict flipping on a day."""

    day: str
    before: RegionalVerdict
    after: RegionalVerdict


def detect_changes(timeline: Sequence[tuple[str, RegionalVerdict]]) -> list[Change]:
    """Return the days a verdict changed between decided states (insufficient days are skipped)."""
    changes: list[Change] = []
    previous: RegionalVerdict | None = None
    for day, verdict in timeline:
        if verdict is RegionalVerdict.INSUFFICIENT:
            continue
        if previous is not None and verdict is not previous:
            changes.append(Change(day=day, before=previous, after=verdict))
        previous = verdict
    return changes


def blocked_since(timeline: Sequence[tuple[str, RegionalVerdict]]) -> str | None:
    """Return the first day of the current run of `blocked` days, if it is blocked now."""
    since: str | None = None
    for day, verdict in timeline:
        if verdict is RegionalVerdict.INSUFFICIENT:
            continue
        since = (since or day) if verdict is RegionalVerdict.BLOCKED else None
    return since


def daily_verdict(blocked: float, ok: float, settings: ModelSettings) -> RegionalVerdict:
    """Return a country's verdict for one day from its blocked and ok counts.

    The daily series (for "since" and changes) pools the country's counts of that day, each
    uploader network capped at `uploader_weight_cap` (the report SQL weighs them, and leaves out
    days with fewer than `min_probes` uploader networks and no trusted source), without deciding
    per network: one day of one country is a small cell, and the window verdict is what a
    report leads with.
    """
    code = by_column.daily_verdicts(np.array([blocked], float), np.array([ok], float), settings)[0]
    return VERDICTS[code]


def noise_baseline(shares_elsewhere: Sequence[float], settings: ModelSettings) -> float | None:
    """Return the domain's typical blocked share elsewhere: the median over other countries,
    when at least `baseline_countries` have data (else None: no baseline).

    The median, not the pooled share, so that one other country really blocking the domain is
    not mistaken for noise; several countries looking "blocked" at once is what noise looks like.
    """
    if len(shares_elsewhere) < settings.baseline_countries:
        return None
    ordered = sorted(shares_elsewhere)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
