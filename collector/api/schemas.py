"""The JSON bodies the collector API sends and receives (besides measurements and the control).

msgspec records: the handlers encode them and `collector.api.openapi` derives their schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from collector.storage import AggregationRow, CheckInUrl, MeasurementSummary, TestListUrl

Doc = msgspec.Meta


class ErrorReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Every 4xx (and 503) answer."""

    error: Annotated[str, Doc(description="Stable error code; see docs/errors.md.")]
    detail: Annotated[str, Doc(description="What was wrong, for people.")]
    field: Annotated[
        str | None, Doc(description="The offending field or parameter, as a JSON path.")
    ] = None
    line: Annotated[int | None, Doc(description="The offending line of an NDJSON batch.")] = None


class IngestReply(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to an upload: sent only once every listed measurement is durably stored."""

    uids: Annotated[
        list[str], Doc(description="Every accepted measurement's uid, in upload order.")
    ]
    stored: Annotated[int, Doc(description="Measurements stored by this upload.")]
    duplicates: Annotated[
        int, Doc(description="Measurements already stored before (idempotent re-upload).")
    ]


class MeasurementPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a measurement search, newest first."""

    results: list[MeasurementSummary]
    next_cursor: Annotated[
        str | None, Doc(description="Pass as `cursor` to get the next page; null at the end.")
    ]
    next_url: Annotated[str | None, Doc(description="This query's next page, ready to GET.")]


class AggregationReply(msgspec.Struct, frozen=True, kw_only=True):
    """Counts per cell of one or two axes."""

    axis_x: str
    axis_y: str | None
    result: list[AggregationRow]
    query_ms: Annotated[float, Doc(description="Time the database took.")]


class FingerprintOffer(msgspec.Struct, frozen=True, kw_only=True):
    """The collector's fingerprint set, announced at check-in: a probe with an older one
    fetches it from `url` and checks it against `digest` before using it."""

    version: Annotated[str, Doc(description="The set's version (dot-separated numbers).")]
    digest: Annotated[
        str, Doc(pattern="^[0-9a-f]{64}$", description="SHA-256 of the set's canonical bytes.")
    ]
    size_bytes: Annotated[int, Doc(ge=1, description="Length of those bytes.")]
    url: Annotated[str, Doc(description="Where to GET the set: a path on this collector.")]


class CheckInReply(msgspec.Struct, frozen=True, kw_only=True):
    """What a probe should measure next, and with which control."""

    probe_cc: Annotated[str, Doc(description="The country used to pick the list.")]
    probe_asn: Annotated[str, Doc(description="The AS used to weigh the list (ASnnn).")]
    probe_network_name: str
    control_url: Annotated[str, Doc(description="The control (test helper) to use.")]
    utc_time: datetime
    urls: list[CheckInUrl]
    fingerprints: Annotated[
        FingerprintOffer | None,
        Doc(description="The collector's fingerprint set (version, digest, where to fetch it)."),
    ] = None


class GeoLookupReply(msgspec.Struct, frozen=True, kw_only=True):
    """The caller's network as the collector sees it."""

    cc: Annotated[str, Doc(description="Country of the source address; ZZ if unknown.")]
    asn: Annotated[str, Doc(description="AS of the source address; AS0 if unknown.")]
    network_name: str
    address: Annotated[
        str,
        Doc(
            description="The source address as seen here, so the probe can scrub it from its "
            "measurements. The collector does not store it."
        ),
    ]


class HealthReply(msgspec.Struct, frozen=True, kw_only=True):
    """Liveness and the sizes an operator watches."""

    status: str
    version: str
    schema_version: Annotated[
        int,
        Doc(
            description="The newest migration applied to the store, in its backend's own "
            "numbering (DuckDB's and PostgreSQL's migrations are numbered apart)."
        ),
    ]
    measurements: int
    pending_analysis: int
    test_list_urls: int
    queue_depth: int
    rules_version: str
    reference_digest: str
    geoip: Annotated[bool, Doc(description="A GeoIP database is configured.")]


class ReanalyseRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Admin: which stored measurements to analyse again."""

    everything: Annotated[
        bool,
        Doc(description="All of them; otherwise those analysed with other rules or references."),
    ] = False


class ReanalyseReply(msgspec.Struct, frozen=True, kw_only=True):
    """Admin: how many measurements were flagged for analysis."""

    flagged: int
    rules_version: str
    reference_digest: str


class TestListImport(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Admin: the complete set of test-list URLs, replacing what is stored."""

    __test__ = False  # not a pytest test class

    origin: Annotated[str, Doc(description="Where the lists come from (for the import log).")]
    urls: list[TestListUrl]


class TestListImportReply(msgspec.Struct, frozen=True, kw_only=True):
    """Admin: how many URLs are stored now."""

    __test__ = False  # not a pytest test class

    stored: int
