"""crenel-collector, the central service, laid out as its pipeline.

One upload, in the order it happens: `api` (the HTTP handler) -> `ingest/` (decode, validate,
scrub, rows, group commit) -> `storage/` (the `Storage` interface and its DuckDB backend; the
rollups change in the same transaction as each analysis) -> `analyse/` (the collector's own
analysis, first time and again) -> `regional/` (the regional model) -> `reports/` -> the
interfaces: `api/`, `cli/`, `dashboard/`.

Beside the path: `launcher` (the console script's entry; names a missing extra), `app` (the
ASGI apps, wired from `api.routes`), `runtime` (the running parts, opened together),
`ooni_import/` (OONI's published files into the store), `sources/` (GeoIP, uploader keys,
quotas, export slots), `config` (flags and CRENEL_COLLECTOR_* into a frozen `CollectorConfig`),
`control/` (the test helper), `core/` (the leaves: errors, metrics, rate limits).
The layers are an import-linter contract in pyproject.toml (docs/architecture.md draws them).
"""
