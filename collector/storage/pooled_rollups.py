"""The pooled rollup: blocked and ok counts per (day, country, domain, uploader network, whether
the claimed network contradicts the source, origin), without the probe, network and region.

What the report cells that pool a whole country read (the noise baselines of the other
countries, a country's daily shares): the per-probe rollup has about one row per probe and
domain a day, this one one per uploader network and domain a day, so those queries aggregate
a fraction of the rows. Derived from `rollup_probe_day` only: filled from it (migration 5 and
every rebuild) and moved by the same deltas (`rollup_writes.apply_deltas`), in the same
transaction, so the two never disagree.
"""

from __future__ import annotations

TABLE = """
    CREATE TABLE rollup_uploader_day (
        day DATE NOT NULL,
        probe_cc VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        uploader VARCHAR NOT NULL,
        contradicted BOOLEAN NOT NULL,
        origin VARCHAR NOT NULL,
        blocked BIGINT NOT NULL,
        blocked_no_control BIGINT NOT NULL,
        ok BIGINT NOT NULL,
        PRIMARY KEY (day, probe_cc, domain, uploader, contradicted, origin)
    )
"""

FILL = """
    INSERT INTO rollup_uploader_day
    SELECT day, probe_cc, domain, uploader, contradicted, origin,
           sum(blocked)::BIGINT, sum(blocked_no_control)::BIGINT, sum(ok)::BIGINT
    FROM rollup_probe_day
    GROUP BY day, probe_cc, domain, uploader, contradicted, origin
    ORDER BY day, probe_cc
"""
"""Fill the (empty) pooled rollup from `rollup_probe_day`, in day and country order (so a
window's and a country's row groups can be skipped by their min/max)."""

UPSERT = """
INSERT INTO rollup_uploader_day
SELECT day, probe_cc, domain, uploader, contradicted, origin,
       sum(blocked)::BIGINT, sum(blocked_no_control)::BIGINT, sum(ok)::BIGINT
FROM probe_day_delta
GROUP BY day, probe_cc, domain, uploader, contradicted, origin
ON CONFLICT (day, probe_cc, domain, uploader, contradicted, origin) DO UPDATE SET
    blocked = blocked + excluded.blocked,
    blocked_no_control = blocked_no_control + excluded.blocked_no_control,
    ok = ok + excluded.ok
"""
"""Add a batch's per-probe deltas (the registered `probe_day_delta`) to the pooled rollup."""
