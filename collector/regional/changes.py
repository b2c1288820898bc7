"""A domain's daily verdicts over a window: the days it changed, and since when it is blocked.

Pure: no I/O, no clock; days are ISO dates handed in, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collector.regional.model import RegionalVerdict


@dataclass(frozen=True)
class Change:
    """A domain's regional verdict flipping on a day."""

    day: str
    before: RegionalVerdict
    after: RegionalVerdict


def detect_changes(timeline: Sequence[tuple[str, RegionalVerdict]]) -> list[Change]:
    """Return the days a verdict changed between decided states (insufficient days are skipped)."""
    changes: list[Change] = []
    previous: RegionalVerdict | None = None
    for day, verdict in timeline:
        if verdict is RegionalVerdict.INSUFFICIENT:
            continue
        if previous is not None and verdict is not previous:
            changes.append(Change(day=day, before=previous, after=verdict))
        previous = verdict
    return changes


def blocked_since(timeline: Sequence[tuple[str, RegionalVerdict]]) -> str | None:
    """Return the first day of the current run of `blocked` days, if it is blocked now."""
    since: str | None = None
    for day, verdict in timeline:
        if verdict is RegionalVerdict.INSUFFICIENT:
            continue
        since = (since or day) if verdict is RegionalVerdict.BLOCKED else None
    return since
