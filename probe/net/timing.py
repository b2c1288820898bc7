"""The measurement clock: milliseconds since the measurement started, from trio's clock.

Every record's `t0_ms` and `t_ms` come from one `StepClock`, so times in a measurement compare.
"""

from __future__ import annotations

import trio


class StepClock:
    """Reads milliseconds elapsed since a `trio.current_time()` value taken at measurement start."""

    __slots__ = ("start",)

    def __init__(self, start: float) -> None:
        self.start = start

    @classmethod
    def starting_now(cls) -> StepClock:
        """Return a clock whose zero is the current trio time."""
        return cls(trio.current_time())

    def ms(self) -> float:
        """Return the milliseconds since the start, never negative, rounded to 0.001."""
        return round(max(0.0, (trio.current_time() - self.start) * 1000.0), 3)

    def ms_after(self, t_ms: float, seconds: float) -> float:
        """Return the time `seconds` after `t_ms`, on this clock's scale, rounded to 0.001."""
        return round(t_ms + max(0.0, seconds) * 1000.0, 3)
