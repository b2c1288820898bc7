"""Per-region verdicts: from counts of measurements to `blocked` / `not blocked` / `mixed` /
`insufficient data`, with a confidence, for a network and for a whole country.

Pure: no I/O, no clock. The model (docs/methodology.md, "Regional verdicts"):
- only `blocked` and `ok` measurements inform the blocked share; `down` (the site fails for the
  control too) and `inconclusive` are left out, and a `blocked` whose control failed counts half;
- each probe's weight is capped, so one probe (or one flooding source) cannot decide a network;
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

Z_95 = 1.959964


class RegionalVerdict(StrEnum):
    """What the measurements say about a domain in a region."""

    BLOCKED = "blocked"
    NOT_BLOCKED = "not blocked"
    MIXED = "mixed"
    INSUFFICIENT = "insufficient data"


@dataclass(frozen=True)
class ModelSettings:
    """Thresholds of the regional model (documented defaults)."""

    min_measurements: int = 3
    min_probes: int = 2
    probe_weight_cap: float = 5.0
    no_control_weight: float = 0.5
    blocked_share: float = 0.5
    decide_at: float = 0.8
    baseline_margin: float = 0.3


@dataclass(frozen=True)
class ProbeCounts:
    """One probe's measurements of one domain in one network and window."""

    probe_id: str
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


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion (0, 1 for no trials)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def posterior_above(successes: float, failures: float, threshold: float) -> float:
    """Return P(share > threshold) under a Beta(1 + successes, 1 + failures) posterior.

    Uses the identity P(Beta(a, b) <= x) = P(Binomial(a + b - 1, x) >= a) with counts rounded
    to whole measurements (weights make them fractional).
    """
    a = 1 + round(successes)
    b = 1 + round(failures)
    n = a + b - 1
    below = sum(
        math.comb(n, k) * threshold**k * (1 - threshold) ** (n - k) for k in range(a, n + 1)
    )
    return max(0.0, min(1.0, 1.0 - below))


def estimate_network(
    asn: int,
    probes: Sequence[ProbeCounts],
    settings: ModelSettings,
    *,
    baseline: float | None = None,
) -> NetworkEstimate:
    """Return the verdict for one network from its probes' counts."""
    methods: dict[str, int] = {}
    blocked_w = ok_w = 0.0
    informative_probes = informative = 0
    for probe in probes:
        for method, count in probe.methods.items():
            methods[method] = methods.get(method, 0) + count
        usable = probe.all_blocked + probe.ok
        if usable == 0:
            continue
        informative += usable
        informative_probes += 1
        weight = min(1.0, settings.probe_weight_cap / usable)
        blocked_w += (
            probe.blocked + probe.blocked_no_control * settings.no_control_weight
        ) * weight
        ok_w += probe.ok * weight
    confirmed = sum(p.confirmed for p in probes)

    def make(
        verdict: RegionalVerdict,
        confidence: float,
        share: float | None,
        interval: tuple[float, float] | None,
    ) -> NetworkEstimate:
        return NetworkEstimate(
            asn=asn,
            verdict=verdict,
            confidence=round(confidence, 3),
            measurements=sum(p.all_blocked + p.ok + p.down + p.inconclusive for p in probes),
            probes=len(probes),
            blocked=sum(p.all_blocked for p in probes),
            ok=sum(p.ok for p in probes),
            down=sum(p.down for p in probes),
            inconclusive=sum(p.inconclusive for p in probes),
            confirmed=confirmed,
            weighted_share=None if share is None else round(share, 4),
            interval=interval,
            methods=dict(sorted(methods.items(), key=lambda kv: (-kv[1], kv[0]))),
        )

    trials = blocked_w + ok_w
    share = blocked_w / trials if trials else None
    if informative < settings.min_measurements or informative_probes < settings.min_probes:
        return make(RegionalVerdict.INSUFFICIENT, 0.0, share, None)
    assert share is not None
    block_at = settings.blocked_share
    if baseline is not None:
        block_at = max(block_at, min(0.95, baseline + settings.baseline_margin))
    above = posterior_above(blocked_w, ok_w, block_at)
    if above >= settings.decide_at or (share >= block_at and confirmed > 0):
        verdict, confidence = RegionalVerdict.BLOCKED, above
    elif above <= 1.0 - settings.decide_at:
        verdict, confidence = RegionalVerdict.NOT_BLOCKED, 1.0 - above
    else:
        verdict, confidence = RegionalVerdict.MIXED, 1.0 - abs(above - 0.5) * 2
    low, high = wilson_interval(blocked_w, trials)
    return make(verdict, confidence, share, (round(low, 4), round(high, 4)))


def estimate_region(
    networks: Mapping[int, Sequence[ProbeCounts]],
    settings: ModelSettings,
    *,
    baseline: float | None = None,
) -> RegionEstimate:
    """Return the verdict for a domain in a region from the counts of each of its networks."""
    estimates = tuple(
        estimate_network(asn, probes, settings, baseline=baseline)
        for asn, probes in sorted(networks.items())
    )
    decided = [e for e in estimates if e.verdict is not RegionalVerdict.INSUFFICIENT]
    blocked = [e for e in decided if e.verdict is RegionalVerdict.BLOCKED]
    clear = [e for e in decided if e.verdict is RegionalVerdict.NOT_BLOCKED]
    methods: dict[str, int] = {}
    for e in estimates:
        for method, count in e.methods.items():
            methods[method] = methods.get(method, 0) + count
    if not decided:
        verdict, confidence = RegionalVerdict.INSUFFICIENT, 0.0
    elif blocked and len(blocked) == len(decided):
        verdict = RegionalVerdict.BLOCKED
        confidence = 1.0 - math.prod(1.0 - e.confidence for e in blocked)
    elif clear and len(clear) == len(decided):
        verdict = RegionalVerdict.NOT_BLOCKED
        confidence = min(e.confidence for e in clear)
    elif blocked:
        verdict = RegionalVerdict.MIXED
        confidence = min(e.confidence for e in blocked)
    else:
        verdict = RegionalVerdict.MIXED
        confidence = min(e.confidence for e in decided)
    return RegionEstimate(
        verdict=verdict,
        confidence=round(min(0.999, confidence), 3),
        networks=estimates,
        blocked_networks=len(blocked),
        clear_networks=len(clear),
        measurements=sum(e.measurements for e in estimates),
        probes=sum(e.probes for e in estimates),
        confirmed=sum(e.confirmed for e in estimates),
        methods=dict(sorted(methods.items(), key=lambda kv: (-kv[1], kv[0]))),
        baseline=baseline,
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
