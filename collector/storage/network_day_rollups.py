"""The per-day network rollup: what a report's daily verdicts read, kept at ingest.

For each day, country, domain and network with enough data to decide that day under the
default model settings (`report_records.NETWORK_DAY_SETTINGS`), the row the daily report query
(`reports.daily_domain_rows`) returns: each probe's and uploader network's weight capped per
day, the weighted and plain sums. Without it, the daily verdicts of a country's week aggregate
every probe's day rows (158,662 for the largest country at 10 million measurements) into the
8,042 rows this table holds.

Kept exact in the transaction that saves a batch's analyses (`rollup_writes.apply_deltas`):
every (day, country, domain) the batch touches is computed afresh from `rollup_probe_day`,
after that table took the batch (the uploader weights span all networks of a domain's day, so
a group is recomputed whole, never adjusted). Reports read it only for a whole country with
the settings it was computed with; other settings and filtered queries run the daily query.
No primary key: DuckDB refuses to re-insert a key deleted in the same transaction.
"""

from __future__ import annotations

from collector.storage import reports

TABLE = """
CREATE TABLE rollup_network_day (
    day DATE NOT NULL,
    probe_cc VARCHAR NOT NULL,
    domain VARCHAR NOT NULL,
    probe_asn UINTEGER NOT NULL,
    bw DOUBLE NOT NULL,
    ow DOUBLE NOT NULL,
    informative BIGINT NOT NULL,
    ip BIGINT NOT NULL,
    probes BIGINT NOT NULL,
    blocked BIGINT NOT NULL,
    ok BIGINT NOT NULL,
    down BIGINT NOT NULL,
    inconclusive BIGINT NOT NULL,
    confirmed BIGINT NOT NULL,
    packet_confirmed BIGINT NOT NULL
)
"""

_COLUMNS = """
    day, probe_cc, domain, decided_asn, bw, ow, informative, ip, probes, blocked, ok, down,
    inconclusive, confirmed, packet_confirmed
"""


def _rows(where: str) -> str:
    """Return the INSERT of the daily query's rows of every country, over the
    `rollup_probe_day` rows `where` selects, with the default settings as literals."""
    query = reports.daily_rows_sql("day, probe_cc, ", where)
    return (
        f"INSERT INTO rollup_network_day SELECT {_COLUMNS} FROM ({query}) "
        "ORDER BY day, probe_cc, domain, decided_asn"
    )


FILL = _rows("true")
"""Fill the (empty) table from `rollup_probe_day` (migration 6, rebuilds)."""

_TOUCHED = """
EXISTS (SELECT 1 FROM probe_day_delta t WHERE t.day = {table}.day
        AND t.probe_cc = {table}.probe_cc AND t.domain = {table}.domain)
"""

DELETE_TOUCHED = "DELETE FROM rollup_network_day WHERE " + _TOUCHED.format(
    table="rollup_network_day"
)
"""Delete the rows of every (day, country, domain) of a batch's deltas (`probe_day_delta`)."""

INSERT_TOUCHED = _rows(_TOUCHED.format(table="rollup_probe_day"))
"""Insert them again from `rollup_probe_day`, which already holds the batch."""
