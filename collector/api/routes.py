"""The API's route table: every endpoint's method, path, parameters, bodies and answers.

The single source for both the Starlette routes (`collector.app`) and the OpenAPI document
(`collector.api.openapi`), so the two cannot drift apart. Data only: no handlers here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.api.params import FILTER_PARAMS, ORIGINS
from collector.api.schemas import (
    AggregationReply,
    CheckInReply,
    ErrorReply,
    GeoLookupReply,
    HealthReply,
    IngestReply,
    MeasurementPage,
    ReanalyseReply,
    ReanalyseRequest,
    TestListImport,
    TestListImportReply,
)
from collector.reports.model import ChangesReply, CountriesReply, CountryReport, DomainDetail
from collector.storage import Axis
from probe.model import ControlReply, ControlRequest, Measurement, Method

API = "/api/v1"
CONTROL_PATH = f"{API}/control"
FINGERPRINTS_PATH = f"{API}/fingerprints"
NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class Param:
    """One query or path parameter."""

    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    location: str = "query"
    required: bool = False


@dataclass(frozen=True)
class Reply:
    """One documented answer."""

    status: int
    description: str
    body: Any = None
    """A msgspec type, or None for no JSON body."""
    media_type: str = "application/json"


@dataclass(frozen=True)
class Endpoint:
    """One method on one path."""

    method: str
    path: str
    name: str
    summary: str
    params: tuple[Param, ...] = ()
    body: Any = None
    body_media_types: tuple[str, ...] = ("application/json",)
    replies: tuple[Reply, ...] = ()
    admin: bool = False
    rate_limited: bool = True
    tag: str = "research"

    @property
    def param_names(self) -> frozenset[str]:
        """Return the names of the query parameters this endpoint accepts."""
        return frozenset(p.name for p in self.params if p.location == "query")


def _list_of(enum_values: list[str]) -> dict[str, Any]:
    return {"type": "string", "description": "Comma-separated; any of: " + ", ".join(enum_values)}


ORIGIN = Param(
    "origin",
    "Only measurements made by Crenel's probes (crenel) or imported from OONI (ooni); absent: all.",
    {"type": "string", "enum": list(ORIGINS)},
)

FILTERS: tuple[Param, ...] = (
    Param("country", "Probe countries, ISO alpha-2, comma-separated (IR,RU)."),
    Param("asn", "Probe networks, comma-separated (AS197207,12389)."),
    Param("domain", "Hosts of the measured URLs, comma-separated."),
    Param("input", "The exact URL measured."),
    Param("category", "Test-list categories, comma-separated (NEWS,HUMR)."),
    Param(
        "verdict",
        "The collector's verdicts, comma-separated; `pending` = not analysed yet.",
        _list_of(["ok", "blocked", "down", "inconclusive", "pending"]),
    ),
    Param(
        "method",
        "Blocking methods found by the collector, comma-separated (any of them matches).",
        _list_of([m.value for m in Method]),
    ),
    Param("since", "Measurements started at or after: YYYY-MM-DD or RFC 3339 (UTC)."),
    Param("until", "Measurements started before: RFC 3339, or YYYY-MM-DD (that whole day)."),
    Param("software", "Probe software as NAME or NAME/VERSION (crenel-probe/0.1.0)."),
    Param(
        "confirmed", "Only with (true) or without (false) a fingerprint match.", {"type": "boolean"}
    ),
    Param(
        "geo_mismatch",
        "Only measurements whose uploader geolocated elsewhere (true) or not (false).",
        {"type": "boolean"},
    ),
    ORIGIN,
)
assert tuple(p.name for p in FILTERS) == FILTER_PARAMS

_AXES = [a.value for a in Axis]
_WINDOW: tuple[Param, ...] = (
    Param("since", "First day of the window, YYYY-MM-DD (default: 6 days before until)."),
    Param("until", "Last day of the window, YYYY-MM-DD (default: today, UTC)."),
    ORIGIN,
)
_BAD = Reply(400, "Malformed request or body.", ErrorReply)
_INVALID = Reply(422, "A parameter or field has the wrong type or value.", ErrorReply)
_LIMITED = Reply(429, "Rate limit or queue full; retry after `Retry-After` seconds.", ErrorReply)
_NOT_FOUND = Reply(404, "No such measurement.", ErrorReply)
_ADMIN = (
    Reply(401, "Missing or wrong admin token.", ErrorReply),
    Reply(403, "Admin actions over HTTP are disabled (no admin token configured).", ErrorReply),
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{API}/measurements",
        "upload_measurements",
        "Upload one measurement (JSON) or a batch (NDJSON); gzip or zstd bodies accepted.",
        body=Measurement,
        body_media_types=("application/json", NDJSON),
        replies=(
            Reply(200, "Every measurement is durably stored (or already was).", IngestReply),
            _BAD,
            Reply(413, "Body, decompressed body, a line or the batch is too large.", ErrorReply),
            Reply(415, "Unsupported Content-Type or Content-Encoding.", ErrorReply),
            Reply(422, "A measurement is invalid; `line` and `field` say where.", ErrorReply),
            Reply(
                429,
                "Rate limit, daily quota or queue full; retry after `Retry-After` seconds.",
                ErrorReply,
            ),
            Reply(503, "Storage failed; nothing was acknowledged, retry later.", ErrorReply),
        ),
        tag="probes",
    ),
    Endpoint(
        "GET",
        f"{API}/measurements",
        "search_measurements",
        "Find measurements, newest first, with keyset (cursor) pagination.",
        params=(
            *FILTERS,
            Param("cursor", "The `next_cursor` of the previous page."),
            Param(
                "limit",
                "Results per page (default 100, at most 1000).",
                {"type": "integer", "minimum": 1, "maximum": 1000},
            ),
        ),
        replies=(Reply(200, "One page of results.", MeasurementPage), _INVALID, _LIMITED),
    ),
    Endpoint(
        "GET",
        f"{API}/measurements/{{uid}}",
        "get_measurement",
        "The stored measurement, byte for byte as accepted (after scrubbing).",
        params=(Param("uid", "The measurement's uid.", location="path", required=True),),
        replies=(Reply(200, "The measurement.", Measurement), _NOT_FOUND, _LIMITED),
    ),
    Endpoint(
        "GET",
        f"{API}/aggregation",
        "aggregate_measurements",
        "Counts (ok, blocked, down, inconclusive, pending, per method) by one or two axes.",
        params=(
            Param("axis_x", "First axis.", {"type": "string", "enum": _AXES}, required=True),
            Param("axis_y", "Second axis (optional).", {"type": "string", "enum": _AXES}),
            Param(
                "format",
                "json (default) or csv; `Accept: text/csv` also selects csv.",
                {"type": "string", "enum": ["json", "csv"]},
            ),
            Param(
                "max_per_probe",
                "Weigh each probe at most this many measurements' worth per cell (a probe with "
                "n > cap has each measurement weighted cap / n): one flooding probe cannot "
                "dominate a region.",
                {"type": "integer", "minimum": 1},
            ),
            Param(
                "probes",
                "Also count distinct probes per cell (costs another scan).",
                {"type": "boolean"},
            ),
            *FILTERS,
        ),
        replies=(
            Reply(200, "The counts (JSON, or CSV with `format=csv`).", AggregationReply),
            _INVALID,
            _LIMITED,
        ),
    ),
    Endpoint(
        "GET",
        f"{API}/export",
        "export_measurements",
        "Bulk export of a time range: parquet (one file), jsonl or csv, streamed.",
        params=(
            Param("since", "Start (inclusive): YYYY-MM-DD or RFC 3339.", required=True),
            Param("until", "End (exclusive; a bare date includes that day).", required=True),
            Param(
                "format",
                "parquet, jsonl or csv.",
                {"type": "string", "enum": ["parquet", "jsonl", "csv"]},
                required=True,
            ),
            *(p for p in FILTERS if p.name not in ("since", "until")),
        ),
        replies=(
            Reply(200, "The export file.", None, "application/octet-stream"),
            _INVALID,
            Reply(
                429,
                "Rate limit, or this source already runs an export; retry after `Retry-After`.",
                ErrorReply,
            ),
            Reply(503, "As many exports as allowed are running; retry later.", ErrorReply),
        ),
    ),
    Endpoint(
        "GET",
        f"{API}/check-in",
        "check_in",
        "The URLs a probe should measure next (least measured in its network first), and the "
        "control to use.",
        params=(
            Param("cc", "The probe's country (default: from the source address, else ZZ)."),
            Param("asn", "The probe's AS (default: from the source address, else AS0)."),
            Param("categories", "Only these test-list categories, comma-separated."),
            Param(
                "limit",
                "How many URLs (default 100, at most 2000).",
                {"type": "integer", "minimum": 1, "maximum": 2000},
            ),
        ),
        replies=(Reply(200, "The URL list.", CheckInReply), _INVALID, _LIMITED),
        tag="probes",
    ),
    Endpoint(
        "GET",
        FINGERPRINTS_PATH,
        "fingerprint_set",
        "The collector's versioned fingerprint set (format crenel-fingerprint-set/1), as the "
        "canonical bytes whose SHA-256 the check-in announces (also the `ETag`).",
        replies=(Reply(200, "The fingerprint set."), _LIMITED),
        tag="probes",
    ),
    Endpoint(
        "GET",
        f"{API}/geolookup",
        "geolookup",
        "The caller's country and AS from its source address (which is not stored).",
        replies=(Reply(200, "The caller's network.", GeoLookupReply), _LIMITED),
        tag="probes",
    ),
    Endpoint(
        "POST",
        CONTROL_PATH,
        "control",
        "The control (test helper): measure a URL from the collector's network.",
        body=ControlRequest,
        replies=(
            Reply(200, "What the control saw.", ControlReply),
            _BAD,
            Reply(403, "The control refuses that target (private, loopback...).", ErrorReply),
            _INVALID,
            Reply(429, "The control is busy; retry.", ErrorReply),
        ),
        tag="probes",
    ),
    Endpoint(
        "GET",
        CONTROL_PATH,
        "control_info",
        "What the control endpoint is.",
        replies=(Reply(200, "Name, version and usage."),),
        tag="probes",
    ),
    Endpoint(
        "GET",
        f"{API}/health",
        "health",
        "Liveness, sizes and the analysis version.",
        replies=(Reply(200, "The collector is serving.", HealthReply),),
        rate_limited=False,
        tag="operators",
    ),
    Endpoint(
        "GET",
        f"{API}/metrics",
        "metrics",
        "Prometheus metrics (text format).",
        replies=(Reply(200, "Metrics.", None, "text/plain"),),
        rate_limited=False,
        tag="operators",
    ),
    Endpoint(
        "GET",
        f"{API}/openapi.json",
        "openapi",
        "This API's OpenAPI document.",
        replies=(Reply(200, "OpenAPI 3.1 document."),),
        tag="operators",
    ),
    Endpoint(
        "GET",
        f"{API}/reports",
        "report_countries",
        "Every country with data over the window, ranked by the number of blocked domains.",
        params=_WINDOW,
        replies=(Reply(200, "Countries.", CountriesReply), _INVALID, _LIMITED),
        tag="reports",
    ),
    Endpoint(
        "GET",
        f"{API}/reports/{{cc}}",
        "report_country",
        "A country's report: every tested domain's regional verdict, confidence, methods, "
        "per-network verdicts (JSON, or CSV with format=csv).",
        params=(
            Param("cc", "ISO 3166 alpha-2 country.", location="path", required=True),
            Param("asn", "Only this network (AS12389 or 12389)."),
            Param("region", "Only this sub-national region (as the GeoIP data names it)."),
            Param("category", "Only this test-list category (NEWS)."),
            Param("format", "json (default) or csv.", {"type": "string", "enum": ["json", "csv"]}),
            *_WINDOW,
        ),
        replies=(
            Reply(
                200,
                "The report (as text/csv, one row per domain and network, with format=csv).",
                CountryReport,
            ),
            _INVALID,
            _LIMITED,
        ),
        tag="reports",
    ),
    Endpoint(
        "GET",
        f"{API}/reports/{{cc}}/domains/{{domain}}",
        "report_domain",
        "One domain in one country: its verdict, a daily timeline per network, changes, "
        "fingerprint evidence and sample measurements.",
        params=(
            Param("cc", "ISO 3166 alpha-2 country.", location="path", required=True),
            Param(
                "domain", "The domain (host of the measured URLs).", location="path", required=True
            ),
            Param("asn", "Only this network."),
            Param("region", "Only this sub-national region."),
            *_WINDOW,
        ),
        replies=(
            Reply(200, "The domain's page.", DomainDetail),
            Reply(404, "No measurements of the domain there in the window.", ErrorReply),
            _INVALID,
            _LIMITED,
        ),
        tag="reports",
    ),
    Endpoint(
        "GET",
        f"{API}/changes",
        "report_changes",
        "Days on which a domain's daily verdict in a country flipped (newly blocked or "
        "unblocked), newest first.",
        params=(Param("cc", "ISO 3166 alpha-2 country.", required=True), *_WINDOW),
        replies=(Reply(200, "Changes.", ChangesReply), _INVALID, _LIMITED),
        tag="reports",
    ),
    Endpoint(
        "POST",
        f"{API}/admin/reanalyse",
        "reanalyse",
        "Admin: analyse stored measurements again (changed rules or fingerprints, or all).",
        body=ReanalyseRequest,
        replies=(Reply(200, "Measurements flagged.", ReanalyseReply), *_ADMIN, _INVALID),
        admin=True,
        tag="operators",
    ),
    Endpoint(
        "POST",
        f"{API}/admin/test-lists",
        "import_test_lists",
        "Admin: replace the test lists (the CLI reads a checkout and sends it here).",
        body=TestListImport,
        replies=(Reply(200, "URLs stored.", TestListImportReply), *_ADMIN, _INVALID),
        admin=True,
        tag="operators",
    ),
)
"""Every endpoint, in the order the OpenAPI document lists them."""

ALIASES = {"/health": f"{API}/health", "/metrics": f"{API}/metrics"}
"""Unversioned paths operators' tooling expects, served by the same handlers."""
