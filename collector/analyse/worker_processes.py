"""Worker processes for CPU-bound analysis: a spawned process pool whose workers end with the
process that started them (killed with -9, a pool never shuts its workers down).

Used by the analyser and by the OONI importer's preparation pool.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

PARENT_CHECK_S = 1.0


def _exit_with_parent(parent: int) -> None:
    """End this worker when its parent is gone."""
    while os.getppid() == parent:  # a plain thread, bounded by the worker's lifetime
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _start_worker(
    parent: int, initializer: Callable[..., None], initargs: tuple[object, ...]
) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    initializer(*initargs)


def start_workers(
    workers: int, initializer: Callable[..., None], initargs: tuple[object, ...]
) -> ProcessPoolExecutor | None:
    """Return a pool of `workers` spawned processes, each prepared by `initializer(*initargs)`
    (a module-level function) and ending when this process is gone; None for no workers."""
    if workers <= 0:
        return None
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


def stop_workers(pool: ProcessPoolExecutor | None) -> None:
    """Shut a pool from `start_workers` down: queued work is cancelled, running work finishes."""
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
