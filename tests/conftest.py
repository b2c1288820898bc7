"""Shared test configuration: markers that skip with a reason when a privilege is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_cluster import PostgresCluster, pg_skip_reason, running_cluster

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `netns` tests when not root or when `ip` is missing, saying why."""
    reason = None
    if os.geteuid() != 0:
        reason = "needs root to create network namespaces (CI runs as root)"
    elif shutil.which("ip") is None:
        reason = "needs iproute2 (`ip`) to create network namespaces"
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "netns" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shared_data() -> Path:
    """Return ../shared/data, or skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Return a throw-away PostgreSQL cluster for the whole session (skip when none can run)."""
    reason = pg_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_cluster() as cluster:
        yield cluster
