"""What keeps the store's memory bounded: DuckDB's limit and checkpoint threshold as the
collector sets them, glibc's arenas capped before DuckDB starts, and the C heap handed back
after a checkpoint."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import zstandard

from collector.config import Limits
from collector.ingest.rows import measurement_row as summarise
from collector.storage import duckdb as duckdb_store
from collector.storage import heap_trim
from collector.storage.base import MeasurementRow
from collector.storage.duckdb import DuckDBStorage
from tests.collector.running import NOW, measurement


def _row(n: int) -> MeasurementRow:
    m = measurement(url=f"https://site{n}.example/")
    raw = zstandard.ZstdCompressor().compress(msgspec.json.encode(m))
    return summarise(m, raw, received_at=NOW, source=None)


def _setting(store: DuckDBStorage, name: str) -> str:
    with store._reader() as cur:  # type: ignore[attr-defined]
        row = cur.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return str(row[0])


def _mib(text: str) -> float:
    number, unit = text.replace("MiB", " MiB").replace("GiB", " GiB").split()[:2]
    return float(number) * (1024 if unit == "GiB" else 1)


def test_the_collectors_store_holds_at_most_its_documented_budget(tmp_path: Path) -> None:
    store = DuckDBStorage(tmp_path / "c.duckdb", memory_mb=Limits().db_memory_mb)
    try:
        # The soak showed 256 MiB of WAL held in memory and a 512 MiB limit never reached a
        # plateau in 30 minutes; both are smaller now (docs/reliability.md, "Soak").
        assert _mib(_setting(store, "memory_limit")) == 128
        assert _mib(_setting(store, "checkpoint_threshold")) == pytest.approx(
            64e6 / (1 << 20), abs=0.1
        )
    finally:
        store.close()


def test_a_checkpoint_hands_the_freed_heap_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trims: list[int] = []
    monkeypatch.setattr(duckdb_store, "release_free_heap", lambda: trims.append(1) or True)
    store = DuckDBStorage(tmp_path / "c.duckdb")
    try:
        store.insert([_row(n) for n in range(3)])
        assert trims == []  # the WAL only grew
        store._con.execute("SET checkpoint_threshold = '1KB'")  # type: ignore[attr-defined]
        store.insert([_row(3)])
        assert store._wal_size < 1024  # type: ignore[attr-defined]
        assert trims == [1]
    finally:
        store.close()


def test_the_heap_trim_reaches_glibc_on_linux() -> None:
    if not sys.platform.startswith("linux") or "libc.so" not in str(ctypes.util.find_library("c")):
        pytest.skip("malloc_trim is glibc's; elsewhere releasing the heap is a no-op")
    assert heap_trim._malloc_trim() is not None  # type: ignore[attr-defined]
    assert isinstance(heap_trim.release_free_heap(), bool)


_COUNT_ARENAS = """
import ctypes, ctypes.util, sys, threading
from collector.storage.heap_trim import limit_heap_fragmentation
if sys.argv[1] == "limit":
    assert limit_heap_fragmentation()
if sys.argv[1] == "operator":
    assert not limit_heap_fragmentation()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
started, done = threading.Barrier(9), threading.Event()
def allocate():
    block = libc.malloc(1000)
    started.wait()
    done.wait()
    libc.free(block)
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
started.wait()
out = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
done.set()
for thread in threads:
    thread.join()
"""


def _arenas_with_eight_threads(tmp_path: Path, mode: str, **environment: str) -> int:
    """Return how many malloc arenas a fresh interpreter uses with eight allocating threads."""
    report = tmp_path / f"malloc-info-{mode}.xml"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    env.update(environment)
    subprocess.run(
        [sys.executable, "-c", _COUNT_ARENAS, mode, str(report)],
        env=env,
        check=True,
        timeout=60,
    )
    return report.read_text().count("<heap nr=")


def test_the_store_caps_glibcs_arenas_before_duckdb_starts_its_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(duckdb_store, "limit_heap_fragmentation", lambda: calls.append("limit"))
    opened = duckdb_store.duckdb.connect
    monkeypatch.setattr(
        duckdb_store.duckdb, "connect", lambda *a, **k: calls.append("connect") or opened(*a, **k)
    )
    DuckDBStorage(tmp_path / "c.duckdb").close()
    assert calls[:2] == ["limit", "connect"]


def test_eight_threads_share_two_arenas_once_the_heap_is_limited(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux") or "libc.so" not in str(ctypes.util.find_library("c")):
        pytest.skip("mallopt and malloc_info are glibc's; elsewhere the limit is a no-op")
    assert _arenas_with_eight_threads(tmp_path, "default") > heap_trim.ARENAS
    assert _arenas_with_eight_threads(tmp_path, "limit") <= heap_trim.ARENAS


def test_an_operators_own_malloc_tuning_is_left_alone(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux") or "libc.so" not in str(ctypes.util.find_library("c")):
        pytest.skip("mallopt and malloc_info are glibc's; elsewhere the limit is a no-op")
    tunables = "glibc.malloc.arena_max=6"
    assert _arenas_with_eight_threads(tmp_path, "operator", GLIBC_TUNABLES=tunables) == 6


def test_a_rollup_rebuild_runs_without_the_serving_limit_which_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild (and a migration) of a large store needs more than the serving limit: it runs
    under DuckDB's own limit, and the serving limit is set again afterwards."""
    from collector.storage import rollups

    seen = "CREATE OR REPLACE TEMP TABLE seen_limit AS SELECT current_setting('memory_limit') AS m"
    monkeypatch.setattr(rollups, "REBUILD", [*rollups.REBUILD, seen])
    store = DuckDBStorage(tmp_path / "collector.duckdb", memory_mb=64)
    try:
        assert _mib(_setting(store, "memory_limit")) == pytest.approx(64, abs=1)
        store.rebuild_rollups()
        during = store._con.execute("SELECT m FROM seen_limit").fetchone()  # type: ignore[attr-defined]
        assert during is not None and _mib(str(during[0])) > 64
        assert _mib(_setting(store, "memory_limit")) == pytest.approx(64, abs=1)
    finally:
        store.close()
