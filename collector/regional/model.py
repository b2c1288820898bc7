"""The regional model's vocabulary: its settings, the verdicts (and their column codes, defined
here once), and the count records the store hands it.

Pure: no I/O, no clock. The arithmetic is `collector.regional.columns`, over numpy columns for
one network, one domain or a whole country at once (docs/methodology.md, "Regional verdicts"):
- only `blocked` and `ok` measurements inform the blocked share; `down` (the site fails for the
  control too) and `inconclusive` are left out, and a `blocked` whose control failed counts half;
- each probe's weight is capped, and so is each uploader network's (the source /24 or /48 and
  AS the collector saw, `collector.sources.uploaders`) over all its probes and claimed networks,
  so one flooding source cannot decide a network or a country whatever ids or networks it claims;
  `min_probes` counts uploader networks (the store's report SQL applies these caps);
- a Beta posterior on the blocked share gives the verdict and its confidence (the Wilson
  interval is reported beside it); below the confidence floor the verdict is `insufficient data`;
- a domain's country verdict is a function of its network verdicts (`columns.combine_verdicts`).

tests/collector/regional_oracle.py is the same model written one probe at a time in plain Python:
a property test holds this one to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class RegionalVerdict(StrEnum):
    """What the measurements say about a domain in a region."""

    BLOCKED = "blocked"
    NOT_BLOCKED = "not blocked"
    MIXED = "mixed"
    INSUFFICIENT = "insufficient data"


VERDICTS: tuple[RegionalVerdict, ...] = tuple(RegionalVerdict)
"""Every verdict, indexed by its column code: the only definition of the codes."""


def verdict_code(verdict: RegionalVerdict) -> int:
    """Return the column code of `verdict` (its index in `VERDICTS`)."""
    return VERDICTS.index(verdict)


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
    """A network is `mixed` when P(this < share < 1 - this) clears the decision level."""
    decide_at: float = 0.8
    """The confidence floor: no verdict but `insufficient data` (and `blocked` confirmed by a
    fingerprint or packet evidence) is given below it."""
    baseline_margin: float = 0.3
    baseline_countries: int = 3


@dataclass(frozen=True)
class NetworkCounts:
    """One network's counts for a domain and window, with each probe's weight already capped
    (by the storage's report SQL)."""

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
