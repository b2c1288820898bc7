"""The collector's layout holds what its contracts and docstrings promise: every probe module is
either allowed to the collector or forbidden to it, every stage says its job and what it must
not do, and the storage interface is the whole of what the DuckDB backend offers."""

from __future__ import annotations

import importlib
import inspect
import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest

from collector.core.errors import ConfigInvalid, StorageUnavailable
from collector.storage import Storage, database_url, open_backend
from collector.storage.duckdb import DuckDBStorage
from collector.storage.postgres.store import PostgresStorage
from collector.storage.replica_reads import ReplicaReads
from tests.postgres_cluster import PostgresCluster

ROOT = Path(__file__).resolve().parents[2]

ALLOWED_PROBE_MODULES = {
    "analysis",
    "commandline",
    "config",
    "errors",
    "geo",
    "identity",
    "model",
    "net",
    "ooni",
    "privacy",
    "references",
}
"""The probe modules the collector may use (the contract's name lists the same)."""


def _contract(prefix: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    found = [c for c in contracts if str(c["name"]).startswith(prefix)]
    assert len(found) == 1, f"one contract named {prefix!r}..."
    return found[0]


def test_every_probe_module_is_allowed_to_the_collector_or_forbidden() -> None:
    probe = ROOT / "probe"
    modules = {
        p.stem if p.is_file() else p.name
        for p in probe.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    contract = _contract("the collector uses only the probe's")
    forbidden = {str(m).removeprefix("probe.") for m in contract["forbidden_modules"]}
    assert contract["source_modules"] == ["collector"]
    assert not forbidden & ALLOWED_PROBE_MODULES
    assert forbidden | ALLOWED_PROBE_MODULES == modules, "classify the new probe module"


def test_every_layer_is_a_package_that_says_its_job_and_what_it_must_not_do() -> None:
    layers = _contract("the collector is layered")["layers"]
    names = [n.strip() for layer in layers for n in str(layer).split("|")]
    packages = [n for n in names if (ROOT / "collector" / n / "__init__.py").is_file()]
    assert {"core", "regional", "storage", "ingest", "analyse", "reports", "api"} <= set(packages)
    for name in packages:
        doc = inspect.getdoc(importlib.import_module(f"collector.{name}")) or ""
        assert "must not" in doc.lower(), f"collector.{name} says what it must not do"


@pytest.mark.parametrize("backend", [DuckDBStorage, PostgresStorage, ReplicaReads])
def test_the_storage_interface_is_everything_each_backend_offers(backend: type) -> None:
    public = {
        name
        for name, _ in inspect.getmembers(backend)
        if not name.startswith("_") and not isinstance(getattr(backend, name, None), type)
    }
    interface = {name for name in dir(Storage) if not name.startswith("_")}
    assert public == interface


def test_the_backend_comes_from_the_database_url(tmp_path: Path) -> None:
    store = open_backend(database_url(tmp_path / "c.duckdb"))
    try:
        assert isinstance(store, DuckDBStorage)
        assert store.counts().measurements == 0
    finally:
        store.close()
    with pytest.raises(ConfigInvalid, match="postgresql"):
        open_backend("mysql://db.invalid/crenel")


def test_a_postgresql_url_opens_the_postgresql_backend(postgres_cluster: PostgresCluster) -> None:
    store = open_backend(postgres_cluster.create_database())
    try:
        assert isinstance(store, PostgresStorage)
        assert store.counts().measurements == 0
    finally:
        store.close()


def test_an_unreachable_postgresql_server_is_storage_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: the connection is refused
        with pytest.raises(StorageUnavailable, match="PostgreSQL"):
            open_backend(f"postgresql://crenel@127.0.0.1:{port}/crenel")


def test_the_architecture_doc_draws_the_layers_of_the_contract() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## The collector's layers", 1)[1].split("```text", 1)[1]
    drawing = section.split("```", 1)[0]
    drawn = [
        line.strip().split("  ", 1)[0].removeprefix("collector.")
        for line in drawing.strip("\n").splitlines()
        if line.startswith(" collector.")
    ]
    layers = [
        " | ".join(n.strip() for n in str(layer).split("|"))
        for layer in _contract("the collector is layered")["layers"]
    ]
    assert drawn == layers
