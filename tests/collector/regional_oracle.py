"""The regional model one probe, one network at a time, in plain Python: the test oracle.

The product decides with numpy columns (`collector.regional.columns`) over counts the store's
report SQL weighs; this module states the same model (docs/methodology.md, "Regional verdicts")
without numpy or SQL, so property tests can hold the product to it. Binomial tails summed term
by term, no shared code with the product beyond its records and settings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from collector.regional.model import ModelSettings, NetworkCounts, RegionalVerdict

B, N, M, INSUF = (
    RegionalVerdict.BLOCKED,
    RegionalVerdict.NOT_BLOCKED,
    RegionalVerdict.MIXED,
    RegionalVerdict.INSUFFICIENT,
)
Z_95 = 1.959964


@dataclass(frozen=True)
class ProbeCounts:
    """One probe's measurements of one domain in one network and window."""

    probe_id: str
    uploader: str = ""
    blocked: int = 0
    blocked_no_control: int = 0
    ok: int = 0
    down: int = 0
    inconclusive: int = 0
    confirmed: int = 0
    methods: Mapping[str, int] = field(default_factory=dict)

    @property
    def all_blocked(self) -> int:
        return self.blocked + self.blocked_no_control

    def unit(self, asn: int) -> str:
        return f"u:{self.uploader}" if self.uploader else f"p:{asn}:{self.probe_id}"

    def probe_weight(self, settings: ModelSettings) -> float:
        usable = self.all_blocked + self.ok
        return min(1.0, settings.probe_weight_cap / usable) if usable else 0.0


@dataclass(frozen=True)
class NetworkEstimate:
    asn: int
    verdict: RegionalVerdict
    confidence: float
    measurements: int
    probes: int
    weighted_share: float | None
    interval: tuple[float, float] | None
    methods: dict[str, int]


@dataclass(frozen=True)
class RegionEstimate:
    verdict: RegionalVerdict
    confidence: float
    networks: tuple[NetworkEstimate, ...]
    blocked_networks: int
    mixed_networks: int
    clear_networks: int


def posterior_above(successes: float, failures: float, threshold: float) -> float:
    """Return P(share > threshold) under Beta(1 + s, 1 + f), s and f rounded to 9 decimals
    (the store's weighted sums), then half to even: P(Binomial(s + f + 1, threshold) <= s), its
    terms summed one by one in log space."""
    s, f = round(round(successes, 9)), round(round(failures, 9))
    n = s + f + 1
    log_x, log_rest = math.log(threshold), math.log1p(-threshold)
    whole = math.lgamma(n + 1)
    terms = [
        math.exp(
            whole - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * log_x + (n - j) * log_rest
        )
        for j in range(s + 1)
    ]
    return min(1.0, math.fsum(terms))


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float]:
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def uploader_weights(
    networks: Mapping[int, Sequence[ProbeCounts]], settings: ModelSettings
) -> dict[str, float]:
    """Per unit, the factor capping its probes' summed capped weight at the uploader cap."""
    totals: dict[str, float] = {}
    for asn, probes in networks.items():
        for probe in probes:
            usable = probe.all_blocked + probe.ok
            unit = probe.unit(asn)
            totals[unit] = totals.get(unit, 0.0) + min(usable, settings.probe_weight_cap)
    return {
        unit: min(1.0, settings.uploader_weight_cap / total) if total else 0.0
        for unit, total in totals.items()
    }


def weigh_probes(
    asn: int,
    probes: Sequence[ProbeCounts],
    settings: ModelSettings,
    *,
    units: Mapping[str, float] | None = None,
) -> NetworkCounts:
    """One network's counts with each probe's and each uploader network's weight capped."""
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
        weight = probe.probe_weight(settings) * (factors[unit] if unit.startswith("u:") else 1.0)
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
    )


def _raised(share: float, baseline: float | None, settings: ModelSettings) -> float:
    if baseline is None:
        return share
    return max(share, min(0.95, baseline + settings.baseline_margin))


def has_enough(n: NetworkCounts, settings: ModelSettings) -> bool:
    return (
        n.informative >= settings.min_measurements
        and n.informative_probes >= settings.min_probes
        and n.blocked_w + n.ok_w > 0
    )


def decide_network(
    n: NetworkCounts, settings: ModelSettings, *, baseline: float | None = None, k: int = 1
) -> NetworkEstimate:
    """One network's verdict at the decision level corrected for k decidable networks."""
    measurements = n.blocked + n.ok + n.down + n.inconclusive
    trials = n.blocked_w + n.ok_w
    if not has_enough(n, settings):
        return NetworkEstimate(
            n.asn, INSUF, 0.0, measurements, n.probes, None, None, dict(n.methods)
        )
    level = 1.0 - (1.0 - settings.decide_at) / max(k, 1)
    share = n.blocked_w / trials
    block_at = _raised(settings.blocked_share, baseline, settings)
    above = posterior_above(n.blocked_w, n.ok_w, block_at)
    partly = posterior_above(
        n.blocked_w, n.ok_w, _raised(settings.partial_share, baseline, settings)
    ) - posterior_above(n.blocked_w, n.ok_w, 1.0 - settings.partial_share)
    confirmed = n.confirmed + n.packet_confirmed
    if above >= level or (share >= block_at and confirmed > 0):
        verdict, confidence = B, above
    elif above <= 1.0 - settings.decide_at:
        verdict, confidence = N, 1.0 - above
    elif partly >= level:
        verdict, confidence = M, partly
    else:
        verdict, confidence = INSUF, 0.0
    low, high = wilson_interval(n.blocked_w, trials)
    return NetworkEstimate(
        n.asn,
        verdict,
        round(confidence, 3),
        measurements,
        n.probes,
        round(share, 4),
        (round(low, 4), round(high, 4)),
        dict(n.methods),
    )


def set_rule(verdicts: Iterable[RegionalVerdict]) -> RegionalVerdict:
    """Several verdicts of one thing as one: all blocked, all clear, else mixed."""
    decided = [v for v in verdicts if v is not INSUF]
    if not decided:
        return INSUF
    if all(v is B for v in decided):
        return B
    if all(v is N for v in decided):
        return N
    return M


def combine(networks: Sequence[NetworkEstimate]) -> tuple[RegionalVerdict, float]:
    """A domain's country verdict and confidence from its networks'."""
    verdict = set_rule(n.verdict for n in networks)
    if verdict in (B, M):
        free = 1.0
        for n in networks:
            if n.verdict in (B, M):
                free *= 1.0 - min(n.confidence, 1.0)
        return verdict, round(min(0.999, 1.0 - free), 3)
    if verdict is N:
        return verdict, round(min(0.999, *(n.confidence for n in networks if n.verdict is N)), 3)
    return verdict, 0.0


def reconcile(window: NetworkEstimate, days: Sequence[NetworkEstimate]) -> NetworkEstimate:
    """A network's window verdict made to agree with its daily ones."""
    every = [window, *days]
    verdict = set_rule(e.verdict for e in every)
    if verdict is window.verdict:
        return window
    if verdict is M:
        confidence = max(e.confidence for e in every if e.verdict in (B, M))
    elif verdict is B:
        confidence = max(e.confidence for e in every if e.verdict is B)
    else:
        confidence = min(e.confidence for e in every if e.verdict is N)
    return NetworkEstimate(
        window.asn,
        verdict,
        confidence,
        window.measurements,
        window.probes,
        window.weighted_share,
        window.interval,
        window.methods,
    )


def decide_region(
    counts: Sequence[NetworkCounts], settings: ModelSettings, *, baseline: float | None = None
) -> tuple[NetworkEstimate, ...]:
    """Every network's verdict of one domain (Bonferroni over its decidable networks)."""
    k = sum(has_enough(n, settings) for n in counts)
    return tuple(
        decide_network(n, settings, baseline=baseline, k=k)
        for n in sorted(counts, key=lambda n: n.asn)
    )


def region_estimate(networks: Sequence[NetworkEstimate]) -> RegionEstimate:
    verdict, confidence = combine(networks)
    return RegionEstimate(
        verdict,
        confidence,
        tuple(networks),
        sum(n.verdict is B for n in networks),
        sum(n.verdict is M for n in networks),
        sum(n.verdict is N for n in networks),
    )


def estimate_region(
    networks: Mapping[int, Sequence[ProbeCounts]],
    settings: ModelSettings,
    *,
    baseline: float | None = None,
) -> RegionEstimate:
    """A domain's verdict in a country over one window, from its probes' counts per network."""
    units = uploader_weights(networks, settings)
    counts = [weigh_probes(asn, probes, settings, units=units) for asn, probes in networks.items()]
    return region_estimate(decide_region(counts, settings, baseline=baseline))


def estimate_network(
    asn: int,
    probes: Sequence[ProbeCounts],
    settings: ModelSettings,
    *,
    baseline: float | None = None,
) -> NetworkEstimate:
    """One network alone (k = 1)."""
    return decide_network(weigh_probes(asn, probes, settings), settings, baseline=baseline)


Days = Mapping[str, Mapping[int, Sequence[ProbeCounts]]]
"""Per ISO day, per network, the probes' counts of one domain."""


def window_of(days: Days) -> dict[int, list[ProbeCounts]]:
    """The window's counts: each probe's counts summed over the days."""
    out: dict[tuple[int, str, str], ProbeCounts] = {}
    for networks in days.values():
        for asn, probes in networks.items():
            for p in probes:
                key = (asn, p.uploader, p.probe_id)
                q = out.get(key, ProbeCounts(p.probe_id, p.uploader))
                out[key] = ProbeCounts(
                    p.probe_id,
                    p.uploader,
                    q.blocked + p.blocked,
                    q.blocked_no_control + p.blocked_no_control,
                    q.ok + p.ok,
                    q.down + p.down,
                    q.inconclusive + p.inconclusive,
                    q.confirmed + p.confirmed,
                )
    grouped: dict[int, list[ProbeCounts]] = {}
    for (asn, _, _), p in out.items():
        grouped.setdefault(asn, []).append(p)
    return grouped


def estimate_over_days(
    days: Days, settings: ModelSettings, *, baseline: float | None = None
) -> tuple[RegionEstimate, list[tuple[str, RegionalVerdict]]]:
    """The window's reconciled estimate and the daily country verdicts, oldest first."""
    daily = {
        day: estimate_region(networks, settings, baseline=baseline)
        for day, networks in days.items()
    }
    window = estimate_region(window_of(days), settings, baseline=baseline)
    reconciled = [
        reconcile(
            n,
            [d for e in daily.values() for d in e.networks if d.asn == n.asn],
        )
        for n in window.networks
    ]
    series = [(day, daily[day].verdict) for day in sorted(daily)]
    return region_estimate(reconciled), series


def noise_baseline(shares_elsewhere: Sequence[float], settings: ModelSettings) -> float | None:
    """The median of the domain's blocked shares elsewhere, given enough countries."""
    if len(shares_elsewhere) < settings.baseline_countries:
        return None
    ordered = sorted(shares_elsewhere)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def baseline_share(elsewhere: Iterable[ProbeCounts]) -> float | None:
    """The pooled blocked share of probes elsewhere (None without data)."""
    blocked = ok = 0
    for probe in elsewhere:
        blocked += probe.blocked
        ok += probe.ok
    return blocked / (blocked + ok) if blocked + ok else None
