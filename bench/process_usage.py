"""CPU time and resident memory of a process and its children (the collector and its analysis
workers), sampled in a background thread while a bench runs.

`ProcessUsage.cpu_s()` is the tree's CPU seconds so far (exited children count too: their last
sample); `rss_samples` are (seconds since start, MB of the whole tree), and `rss_slope` fits a
least-squares line through the samples after a given moment.
"""

from __future__ import annotations

import statistics
import threading
import time

import psutil


class ProcessUsage:
    """Samples one process tree every `interval_s` until stopped; a context manager."""

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.rss_samples: list[tuple[float, float]] = []
        self._started = time.perf_counter()
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessUsage:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sample()

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _sample(self) -> None:
        rss = 0
        for process in self._tree():
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    rss += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            self._cpu[process.pid] = times.user + times.system
        if rss:
            self.rss_samples.append((time.perf_counter() - self._started, rss / 1e6))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):  # bounded by the bench's own deadline
            self._sample()

    def cpu_s(self) -> float:
        """Return the CPU seconds (user + system) the tree has used so far."""
        self._sample()
        return sum(self._cpu.values())

    def cpu_split(self) -> tuple[float, float]:
        """Return the CPU seconds of the root process and of its children so far."""
        total = self.cpu_s()
        root = self._cpu.get(self.root.pid, 0.0)
        return root, total - root

    def rss_peak(self) -> float:
        """Return the largest RSS sample of the tree, in MB."""
        return max((mb for _, mb in self.rss_samples), default=0.0)

    def rss_slope(self, after_s: float) -> float:
        """Return the least-squares slope of the tree's RSS after `after_s`, in MB per minute."""
        points = [(t, mb) for t, mb in self.rss_samples if t >= after_s]
        if len(points) < 3:
            return 0.0
        slope, _ = statistics.linear_regression([t for t, _ in points], [mb for _, mb in points])
        return slope * 60.0
