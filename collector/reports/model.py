"""What a report says, as msgspec records: the JSON the API serves and the CLI and dashboard show.

Pure: no I/O. Built by `collector.reports.build`, rendered by `collector.reports.render`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Doc = msgspec.Meta


class _Record(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of report records."""


class NetworkReport(_Record, frozen=True, kw_only=True, gc=False):
    """A domain's verdict in one network (AS)."""

    asn: int
    name: str | None = None
    verdict: Annotated[str, Doc(description="blocked, not blocked, mixed or insufficient data.")]
    confidence: float
    measurements: int
    probes: int
    blocked: int
    ok: int
    down: int
    inconclusive: int
    confirmed: Annotated[int, Doc(description="Measurements confirmed by a fingerprint.")]
    packet_confirmed: Annotated[int, Doc(description="Measurements confirmed by packet evidence.")]
    weighted_share: Annotated[
        float | None, Doc(description="Blocked share with each probe's weight capped.")
    ]
    interval: Annotated[list[float] | None, Doc(description="95% Wilson interval of the share.")]
    methods: dict[str, int]


class DomainReport(_Record, frozen=True, kw_only=True, gc=False):
    """A domain's verdict in a country, and in each of its networks."""

    domain: str
    category: str | None
    verdict: str
    confidence: float
    since: Annotated[str | None, Doc(description="First day of the current blocked run.")]
    methods: dict[str, int]
    measurements: int
    probes: int
    networks_blocked: int
    networks_mixed: Annotated[
        int, Doc(description="Networks where some, not all, attempts are likely blocked.")
    ] = 0
    networks_clear: int
    networks_sparse: Annotated[
        int,
        Doc(description="Networks with too few measurements or probes to decide (not listed)."),
    ] = 0
    confirmed: int
    packet_confirmed: int
    baseline: Annotated[
        float | None, Doc(description="The domain's blocked share in other countries.")
    ]
    networks: list[NetworkReport]


class CountryNetwork(_Record, frozen=True, kw_only=True, gc=False):
    """A network seen in a country's report."""

    asn: int
    name: str | None
    measurements: int


class CountryReport(_Record, frozen=True, kw_only=True, gc=False):
    """Every tested domain of a country (optionally one network or category) over a window."""

    cc: str
    since: str
    until: str
    asn: int | None = None
    region: Annotated[str | None, Doc(description="Sub-national region, where asked for.")] = None
    category: str | None = None
    origin: Annotated[
        str | None,
        Doc(description="Whose measurements are counted (`crenel`, `ooni`); null: all."),
    ] = None
    generated_at: str
    measurements: int
    networks: list[CountryNetwork]
    domains: list[DomainReport]


class Change(_Record, frozen=True, kw_only=True, gc=False):
    """A domain's daily verdict in a country flipping."""

    cc: str
    domain: str
    day: str
    before: str
    after: str


class ChangesReply(_Record, frozen=True, kw_only=True, gc=False):
    """Verdict changes, newest first."""

    since: str
    until: str
    changes: list[Change]


class TimelineNetwork(_Record, frozen=True, kw_only=True, gc=False):
    """One network on one day."""

    asn: int
    verdict: str
    share: float | None
    measurements: int


class TimelineDay(_Record, frozen=True, kw_only=True, gc=False):
    """A domain in a country on one day."""

    day: str
    verdict: Annotated[
        str,
        Doc(
            description="The domain's country verdict that day, decided like the window's; "
            "`insufficient data` on a day with too little data (or none)."
        ),
    ]
    measurements: Annotated[int, Doc(description="Measurements of the domain that day.")] = 0
    networks: list[TimelineNetwork]


class SampleMeasurement(_Record, frozen=True, kw_only=True, gc=False):
    """A stored measurement to open (GET /api/v1/measurements/{uid})."""

    uid: str
    start_time: str
    asn: int
    verdict: str | None
    methods: list[str]


class FingerprintCount(_Record, frozen=True, kw_only=True, gc=False):
    """How often one blockpage fingerprint matched."""

    name: str
    count: int


class DomainDetail(_Record, frozen=True, kw_only=True, gc=False):
    """One domain in one country: the summary, a daily timeline per network, evidence."""

    cc: str
    domain: str
    since: str
    until: str
    summary: DomainReport
    timeline: list[TimelineDay]
    changes: list[Change]
    fingerprints: list[FingerprintCount]
    samples: list[SampleMeasurement]


class CountrySummaryReport(_Record, frozen=True, kw_only=True, gc=False):
    """One line of the overview."""

    cc: str
    blocked: int
    mixed: int
    domains: int
    networks: int
    measurements: int
    last_day: str | None


class CountriesReply(_Record, frozen=True, kw_only=True, gc=False):
    """Every country with data, ranked by blocked domains."""

    since: str
    until: str
    countries: list[CountrySummaryReport]
