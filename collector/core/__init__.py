"""The collector's leaves: what every stage may import, and which imports no other collector code.

Modules: `errors` (the collector's errors, their HTTP status and stable codes), `metrics` (the
Prometheus metrics), `ratelimit` (per-source token buckets).

Must not: import anything else of the collector (a layers contract in pyproject.toml holds it).
"""
