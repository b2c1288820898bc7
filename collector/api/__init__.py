"""The collector's HTTP API: thin handlers over `collector.runtime`.

Modules: `routes` (the route table: paths, parameters, bodies, answers), `openapi` (the
document generated from it), `ingest` (uploads), `query` (search, fetch, aggregation, export),
`checkin` (check-in, geolookup), `admin` (token-protected actions), `status` (health, metrics,
OpenAPI), `control` (the test helper endpoint), `params` (query parameters), `schemas` (JSON
bodies), `errors` (exceptions to 4xx JSON). Request bodies are read by `collector.ingest.body`.

Must not: hold logic of its own (validation, analysis, verdicts, SQL); it parses requests,
calls the stages through `collector.runtime.Runtime` and encodes their answers.
"""
