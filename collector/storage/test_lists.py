"""The test lists in the store: replacing them on import, and choosing a probe's URLs at
check-in (its country's list over the global one, least recently measured first).

Runs on DuckDB connections handed in by `duckdb.DuckDBStorage` (a write transaction for
`replace`, a reader cursor for `check_in_urls`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from collector.storage.arrow_batches import registered
from collector.storage.base import CheckInUrl, TestListUrl
from collector.storage.sql import naive_utc


def unique(urls: Sequence[TestListUrl]) -> list[TestListUrl]:
    """Return `urls` without repeats of a (country, URL) pair, the first one kept."""
    seen: dict[tuple[str, str], TestListUrl] = {}
    for entry in urls:
        seen.setdefault((entry.cc, entry.url), entry)
    return list(seen.values())


def replace(con: duckdb.DuckDBPyConnection, urls: Sequence[TestListUrl], origin: str) -> None:
    """Replace every stored test list with `urls` and record the import (inside the caller's
    transaction)."""
    table = pa.table(
        {
            "url": pa.array([u.url for u in urls], pa.string()),
            "category_code": pa.array([u.category_code for u in urls], pa.string()),
            "cc": pa.array([u.cc for u in urls], pa.string()),
            "date_added": pa.array([u.date_added for u in urls], pa.date32()),
            "source": pa.array([u.source for u in urls], pa.string()),
        }
    )
    con.execute("DELETE FROM test_list_urls").fetchall()
    with registered(con, "list_batch", table):
        con.execute(
            "INSERT INTO test_list_urls SELECT url, category_code, cc, date_added, source "
            "FROM list_batch"
        ).fetchall()
    con.execute(
        "INSERT INTO test_list_imports VALUES (?, ?, ?)",
        [datetime.now(UTC).replace(tzinfo=None), origin, len(urls)],
    ).fetchall()


def check_in_urls(
    cur: duckdb.DuckDBPyConnection,
    *,
    cc: str,
    asn: int,
    categories: Sequence[str],
    limit: int,
    since: datetime,
) -> list[CheckInUrl]:
    """Return the URLs for this network: global plus its country, least measured first (ties
    at random, so probes of one network spread over equally covered URLs)."""
    params: list[object] = [cc, asn, naive_utc(since), cc]
    category_clause = ""
    if categories:
        category_clause = f"WHERE c.category_code IN ({', '.join('?' for _ in categories)}) "
        params.extend(categories)
    params.append(limit)
    # A country's list overrides the global one for the same URL (its category wins).
    sql = (
        "WITH recent AS (SELECT input, count(*) AS n FROM measurements "
        "WHERE probe_cc = ? AND probe_asn = ? AND received_at >= ? GROUP BY input), "
        "candidates AS (SELECT url, category_code, cc FROM test_list_urls "
        "WHERE cc = '' OR cc = ? "
        "QUALIFY row_number() OVER (PARTITION BY url ORDER BY cc DESC) = 1) "
        "SELECT c.url, c.category_code, c.cc, coalesce(r.n, 0) AS n FROM candidates c "
        f"LEFT JOIN recent r ON r.input = c.url {category_clause}"
        "ORDER BY n, random() LIMIT ?"
    )
    rows = cur.execute(sql, params).fetchall()
    return [
        CheckInUrl(url=url, category_code=category, list=list_cc or "global", recent_measurements=n)
        for url, category, list_cc, n in rows
    ]
