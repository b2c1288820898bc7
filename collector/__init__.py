"""crenel-collector, the central service: ingest, storage, analysis, check-in, research API.

Modules:
- `launcher`: the console script's entry; says which extra to install when it is missing.
- `app`: builds the ASGI apps (the whole API; the control alone) from `api.routes`.
- `cli/`: `crenel-collector serve|helper|testlists|reanalyse|export|report`, exit codes.
- `config`: flags and CRENEL_COLLECTOR_* resolved into a frozen `CollectorConfig`.
- `service`: the running collector (storage, writer, analyser, GeoIP, limits, metrics, control).
- `api/`: thin HTTP handlers, the route table, OpenAPI, error responses, request bodies.
- `lines`: split an upload into measurements as it streams, with the line and count limits.
- `ingest`: validate an upload into rows (all or nothing); `summary`: the summary columns.
- `writer`: group commit (acknowledged only once durable); `storage/`: the DuckDB store.
- `reanalyse`: the collector's own analysis, on ingest and again; `regional`: regional verdicts.
- `geoip`: where uploaders are (never stored); `ratelimit`: per-source token buckets.
- `testlists`: Citizen Lab lists for check-in; `metrics`: Prometheus metrics.
- `control/`: the test helper; `errors`: the collector's errors and their HTTP codes.
"""
