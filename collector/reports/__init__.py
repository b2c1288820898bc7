"""Per-region blocking reports: build them from rollups, render them; they decide nothing.

Modules: `model` (the report records the API serves), `build` (reads rollups, applies
`collector.regional`), `render` (JSON, CSV, table, Markdown, HTML).
"""
