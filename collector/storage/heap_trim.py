"""Keep the C heap DuckDB allocates from small: fewer arenas, large blocks mapped on their own,
and free pages given back after DuckDB drops a lot of memory.

DuckDB allocates with the C library's malloc. glibc keeps freed memory in per-thread arenas
(up to eight per core) and returns little of it on its own, so after a checkpoint frees the
in-memory copy of the WAL the process keeps its size (measured in the soak: 82 MB free but held
of 190 MB in the heap after 4 minutes). `malloc_trim(0)` hands every whole free page back.

Between checkpoints the free-but-held part still grew (the soak: held 38 → 158 MB in 17 minutes
while 80 MB were in use), so `limit_heap_fragmentation` also caps the arenas at two and fixes
the size from which an allocation gets its own mapping at 128 KiB: DuckDB's 256 KiB blocks then
go back to the system as soon as they are freed, instead of glibc raising that size after the
first free and carving later blocks out of the arenas. Elsewhere (not glibc) both are no-ops,
and so they are when the environment already tunes glibc's malloc (`MALLOC_ARENA_MAX`,
`MALLOC_MMAP_THRESHOLD_`, or `glibc.malloc.*` in `GLIBC_TUNABLES`): the operator's choice wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable

ARENAS = 2
"""malloc arenas the process may use (glibc's default: eight per core)."""
MMAP_THRESHOLD = 128 << 10
"""Allocations from this size get a mapping of their own (glibc's starting value, kept fixed)."""
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_OPERATOR_TUNING = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def _malloc_trim() -> Callable[[int], int] | None:
    libc = _libc()
    if libc is None:
        return None
    trim: Callable[[int], int] = libc.malloc_trim
    return trim


def release_free_heap() -> bool:
    """Return whether the C library gave free heap pages back (False: none, or not glibc)."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@functools.cache
def limit_heap_fragmentation() -> bool:
    """Cap glibc's arenas at `ARENAS` and fix its mmap threshold at `MMAP_THRESHOLD`, once per
    process; return whether glibc took both (False: not glibc, or the environment tunes malloc
    itself). Call it before DuckDB starts its threads: arenas that already exist stay."""
    libc = _libc()
    tuned = any(name in os.environ for name in _OPERATOR_TUNING)
    if libc is None or tuned or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    mallopt: Callable[[int, int], int] = libc.mallopt
    return bool(mallopt(_M_ARENA_MAX, ARENAS)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
