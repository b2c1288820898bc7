"""The PostgreSQL backend: one database that several collector processes share.

Modules:
- `store`: `PostgresStorage`, the `Storage` of a PostgreSQL database (a psycopg 3 connection
  pool; every method blocks, so trio code calls it through `storage.threads`).
- `schema`: its numbered migrations (`schema_migrations`, taken under an advisory lock).
- `partitions`: month partitions of `measurements`, created ahead and on demand.
- `batches`: COPY of a write's rows into the session's staging tables.
- `rollup_upserts`: a batch's rollup deltas as upserts (counts computed by `storage.rollups`).
- `derived_rollups`: the pooled and rolling-window rollups, moved by the same deltas.
- `queries`: researcher search, aggregation and check-in in PostgreSQL's dialect.
- `reports`: the report reads of the rollups.
- `exports`: exports, page by page (`storage.export_pages` encodes them).
- `transfer`: `copy_store`, which moves a DuckDB deployment into PostgreSQL, resumable and
  verified per day.

Must not: be imported outside `collector.storage` (`backends.open_backend` is the way in), nor
hold any logic the DuckDB backend also needs (that lives in the backend-neutral modules).
"""
