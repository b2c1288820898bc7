"""Transaction-scoped advisory locks over groups of rollup rows, bounded in number.

A batch of analyses recomputes every (day, country, domain) group it touched, and two instances
touching the same group must take turns. One lock per group would hold as many locks as the
batch has groups (tens of thousands for a large batch), more than PostgreSQL's shared lock table
holds (`max_locks_per_transaction` × connections: 6,400 at the defaults), and the save would fail
with "out of shared memory" every time it is tried. Groups are therefore hashed into `BUCKETS`
buckets per lock space: a transaction holds at most `BUCKETS` locks a space, two groups in one
bucket merely take turns, and buckets are taken in ascending order, so two transactions never
wait for each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

BUCKETS = 256
"""Advisory locks a space at most per transaction (a power of two: the bucket is a bit mask)."""

_LOCK_BUCKETS = (
    "SELECT pg_advisory_xact_lock(%s, b) FROM "
    "(SELECT DISTINCT hashtext(k) & %s AS b FROM unnest(%s::TEXT[]) AS t(k) ORDER BY b) AS s"
)


def lock_groups(cur: psycopg.Cursor[Any], space: int, keys: Sequence[str]) -> None:
    """Take (inside the caller's transaction) the advisory locks of `space` that cover every
    group named in `keys`; return nothing. Locks are released when the transaction ends."""
    if keys:
        cur.execute(_LOCK_BUCKETS, [space, BUCKETS - 1, list(keys)])
