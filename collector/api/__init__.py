"""The collector's HTTP API: thin handlers over `collector.service`.

Modules: `routes` (the route table: paths, parameters, bodies, answers), `openapi` (the
document generated from it), `ingest` (uploads), `query` (search, fetch, aggregation, export),
`checkin` (check-in, geolookup), `admin` (token-protected actions), `status` (health, metrics,
OpenAPI), `control` (the test helper endpoint), `params` (query parameters), `schemas` (JSON
bodies), `body` (streaming request bodies with their limits, JSON decoding), `inflate`
(undoing a Content-Encoding piece by piece with a bounded output), `errors` (exceptions to 4xx
JSON).
"""
