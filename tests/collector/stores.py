"""Open an empty store of either backend for a test parametrised over both."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.storage import Storage
from collector.storage.duckdb import DuckDBStorage
from collector.storage.postgres.store import PostgresStorage

BACKENDS = ["duckdb", "postgresql"]
"""The values of a `params=BACKENDS` fixture."""


def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Return an empty store of `request.param`'s backend: a DuckDB file in `tmp_path`, or a new
    database on the session's PostgreSQL cluster (skips when none can run)."""
    if request.param == "duckdb":
        return DuckDBStorage(tmp_path / "collector.duckdb")
    return PostgresStorage(request.getfixturevalue("postgres_cluster").create_database())
