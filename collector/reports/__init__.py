"""Per-region blocking reports: build them from rollups, render them; they decide nothing.

Modules: `model` (the report records the API serves), `build` (reads rollups through the
storage interface's `ReportStore`, applies `collector.regional`), `domains` (every domain's
report line at once, by columns), `cache` (reports kept until the rollups change), `render`
(JSON, CSV, table, Markdown, HTML), `gauges` (the Prometheus gauges of country verdicts).

Must not: decide anything the regional model did not, query a backend other than through
`collector.storage.ReportStore`, or know HTTP and the command line (`api`, `cli` do).
"""
