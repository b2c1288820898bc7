"""How long a country report takes with 10 million measurements stored.

Generates 10M analysed measurement summaries directly in a DuckDB store (20 countries of
unequal size, each with 150 networks where a few carry most probes as in real data, 8 regions,
2,000 domains of which 100 are censored in each country, 20,000 probes, 60 days), builds the
rollups the collector keeps at ingest (timed too), then times the reports of the largest
country (`collector.reports.build`): over the default 7-day window (the headline), over all 60
days, for its largest network, one domain's page, the all-countries overview, and the 7-day
report encoded as JSON (median of 5 runs after one warm-up; wall time, and the process's CPU
time over all its threads, steadier when other work shares the machine). Reports read only
rollups. Then the same report and overview asked again through the collector's `ReportCache`
while the rollups are unchanged (what a repeated request costs). The headline is the report
built cold.

Generating 10M rows and their rollups takes minutes, so the generated store is kept in
`CACHE_DIR` (the system's temporary directory) under a name made of the row count and a digest
of the generator and of the migrations' statements: a changed generator or schema makes a new
file. Each run copies it and times the copy (migrated first, if this code has newer
migrations); at most `CACHE_KEEP` stores are kept, the least recently used go. `--fresh`
ignores and replaces the kept store.

With `--store pg-temp` (a throw-away PostgreSQL cluster) or `--store postgresql://...`, the
same generated data's rollups (and the censored domain's measurement rows, for its page) are
copied into PostgreSQL with COPY and the reports are timed on the PostgreSQL backend. Copying
10 M's rollups takes minutes: `--keep --store pg-temp` leaves the cluster running and prints
its database's URL, and `--keep --store URL` then reuses that database's rollups (migrating it
first, so new rollup tables are filled by their migrations) without copying them again.

With --db-memory-mb the timed store gets the memory limit `crenel-collector serve
--db-memory-mb` gives it (without: DuckDB's own default, 80 % of the machine's memory).

Usage: python bench/report_latency.py [--quick] [--rows N] [--fresh]
       [--store duckdb|pg-temp|URL] [--keep] [--week-only] [--db-memory-mb MIB]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec

from collector.regional.model import ModelSettings
from collector.reports.build import countries, country_report, domain_detail
from collector.reports.cache import ReportCache
from collector.storage import ReportQuery
from collector.storage.duckdb import DuckDBStorage
from collector.storage.migrations import MIGRATIONS
from collector.storage.rollups import REBUILD

START = date(2026, 9, 1)
DAYS = 60
RUNS = 5
COUNTRIES = ("IR", "RU", "CN", "TR", "IN", "EG", "MM", "BY", "VE", "PK", "SA", "VN", "US", "DE",
             "BR", "ID", "NG", "KZ", "UA", "CU")  # fmt: skip
CC_INDEX = {cc: i for i, cc in enumerate(COUNTRIES)}
CENSORED_PER_COUNTRY = 2000 // 20
GENERATE = """
INSERT INTO measurements (uid, received_at, start_time, day, probe_cc, probe_asn,
    probe_network_name, probe_id, region, input, domain, category_code, software_name,
    software_version, format_version, probe_verdict, probe_methods, probe_confidence, verdict,
    methods, confidence, fingerprint_confirmed, rules_version, reference_digest, analysed_at,
    needs_analysis, control_failed, raw, packet_confirmed, analysis)
SELECT
    ('01900000-0000-7000-8000-' || lpad(printf('%x', i), 12, '0'))::UUID,
    TIMESTAMP '2026-09-01' + to_seconds(hash(i * 23) % 5184000),
    TIMESTAMP '2026-09-01' + to_seconds(hash(i * 23) % 5184000),
    CAST(TIMESTAMP '2026-09-01' + to_seconds(hash(i * 23) % 5184000) AS DATE),
    ?[1 + k],
    (1000 + k * 150 + least(149, floor(150 * pow(hash(i * 7) % 1000000 / 1000000.0, 4))))
        ::UINTEGER,
    'Net', 'p-' || (k * 1000 + probe)::VARCHAR, 'Region ' || (probe % 8)::VARCHAR,
    'https://site' || site::VARCHAR || '.example/', 'site' || site::VARCHAR || '.example',
    ['NEWS','HUMR','POLR','ANON'][1 + (hash(i * 5) % 4)::INTEGER],
    'crenel-probe', '0.1.0', '1.1', verdict, []::VARCHAR[], 0.9, verdict,
    CASE WHEN verdict = 'blocked' THEN [['dns.nxdomain','tcp.reset','http.blockpage',
        'tls.reset'][1 + (hash(i * 11) % 4)::INTEGER]] ELSE []::VARCHAR[] END,
    0.9, verdict = 'blocked' AND site % 20 = k AND hash(i) % 3 = 0, '2', 'digest',
    TIMESTAMP '2026-11-01',
    false, hash(i * 19) % 50 = 0, ''::BLOB, false,
    '{"fingerprints": [{"name": "bench.blockpage", "is_false_positive": false}]}'
FROM (
    SELECT *,
        -- one domain in 20 is censored in each country (most of its measurements blocked, a
        -- third confirmed by a blockpage fingerprint); elsewhere 8% of measurements still say
        -- blocked, unconfirmed: the noise the model must ignore
        CASE WHEN site % 20 = k AND roll < 85 THEN 'blocked' WHEN roll < 80 THEN 'ok'
             WHEN roll < 88 THEN 'blocked' WHEN roll < 95 THEN 'down'
             ELSE 'inconclusive' END AS verdict
    FROM (
        SELECT i, least(19, floor(20 * pow(hash(i) % 1000000 / 1000000.0, 1.5)))::INTEGER AS k,
               hash(i * 3) % 2000 AS site, hash(i * 17) % 100 AS roll, hash(i * 13) % 1000 AS probe
        FROM range(?, ?) t(i)
    )
)
"""


CACHE_DIR = Path(tempfile.gettempdir())
CACHE_PREFIX = "crenel-bench-report-latency-"
CACHE_KEEP = 2
"""Generated stores kept between runs (10 M rows: about 1.5 GB each)."""


def _cache_path(rows: int) -> Path:
    """Return where the generated store of `rows` measurements is kept for this generator and
    schema."""
    digest = hashlib.sha256(GENERATE.encode())
    for migration in MIGRATIONS:
        digest.update(f"{migration.version}:{migration.statements}".encode())
    return CACHE_DIR / f"{CACHE_PREFIX}{rows}-{digest.hexdigest()[:12]}.duckdb"


def _generate(path: Path, rows: int) -> tuple[float, float]:
    """Write a store of `rows` generated measurements and their rollups at `path`; return the
    seconds generating and rebuilding the rollups took."""
    store = DuckDBStorage(path)
    try:
        started = time.perf_counter()
        con = store._con  # the bench writes directly, as the generator needs raw SQL
        step = 2_000_000
        for low in range(0, rows, step):
            con.execute(GENERATE, [list(COUNTRIES), low, min(rows, low + step)])
        generated = time.perf_counter() - started
        started = time.perf_counter()
        for statement in REBUILD:
            con.execute(statement)
        con.execute("CHECKPOINT")
        return generated, time.perf_counter() - started
    finally:
        store.close()


def _stored(rows: int, fresh: bool, into: Path) -> str:
    """Copy the kept generated store of `rows` measurements to `into` (generating and keeping
    it first when missing or `fresh`); return how it was obtained."""
    kept = _cache_path(rows)
    how = f"kept store {kept}"
    if fresh or not kept.exists():
        kept.unlink(missing_ok=True)
        for stale in CACHE_DIR.glob(f"{kept.name}.*.partial*"):  # an interrupted run's
            stale.unlink(missing_ok=True)
        partial = kept.with_name(kept.name + f".{os.getpid()}.partial")
        generated, rolled = _generate(partial, rows)
        partial.rename(kept)
        how = f"generated in {generated:.1f} s, rollups rebuilt in {rolled:.1f} s, kept as {kept}"
    os.utime(kept)
    shutil.copyfile(kept, into)
    others = sorted(
        (p for p in CACHE_DIR.glob(f"{CACHE_PREFIX}*.duckdb") if p != kept),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in others[CACHE_KEEP - 1 :]:
        old.unlink(missing_ok=True)
    return how


def _ms(value: float) -> str:
    """Return milliseconds to the nearest one, or to hundredths below 10."""
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 million measurements")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--fresh", action="store_true", help="regenerate the kept store")
    parser.add_argument(
        "--store", default="duckdb", help="duckdb, pg-temp (a throw-away cluster) or a URL"
    )
    parser.add_argument(
        "--week-only",
        action="store_true",
        help="time only the 7-day report, built and asked again (the headline)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="PostgreSQL: leave a pg-temp cluster running (its URL is printed); with a URL, use "
        "that database as is, copying the rollups only when it has none, and never drop it",
    )
    parser.add_argument(
        "--db-memory-mb", type=int, help="DuckDB's memory limit (default: DuckDB's own)"
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        postgres = None
        if args.store != "duckdb":
            from pg_store import postgres_database

            postgres = stack.enter_context(postgres_database(args.store, args.keep))
        return run(args, postgres)


def run(args: argparse.Namespace, postgres: str | None) -> int:
    """Generate, roll up and time the reports (on PostgreSQL when `postgres` is a URL)."""
    rows = 1_000_000 if args.quick else args.rows
    settings = ModelSettings()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "collector.duckdb"
        how = _stored(rows, args.fresh, path)
        started = time.perf_counter()
        store = DuckDBStorage(path, memory_mb=args.db_memory_mb)
        opened = time.perf_counter() - started
        try:
            con = store._con  # the bench reads the generated data directly
            ((cc, count),) = con.execute(
                "SELECT probe_cc, count(*) FROM measurements GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            ).fetchall()
            rollup_rows = con.execute("SELECT count(*) FROM rollup_probe_day").fetchone()
            now = datetime(2026, 10, 30, tzinfo=UTC)
            last = START + timedelta(days=DAYS - 1)
            week = ReportQuery(cc=cc, since=last - timedelta(days=6), until=last)
            season = ReportQuery(cc=cc, since=START, until=last)
            top_asn = int(str(con.execute(
                "SELECT probe_asn FROM measurements WHERE probe_cc = ? GROUP BY 1 "
                "ORDER BY count(*) DESC LIMIT 1", [cc]).fetchall()[0][0]))  # fmt: skip
            censored = f"site{CC_INDEX[cc]}.example"
            backend = "duckdb"
            if postgres is not None:
                from pg_store import copy_rollups, is_loaded

                from collector.storage import open_backend

                loaded = args.keep and is_loaded(postgres)
                pg_store = open_backend(postgres)  # migrates the database
                if loaded:
                    print(f"postgresql: reusing the rollups already in {postgres}")
                else:
                    started = time.perf_counter()
                    copied = copy_rollups(con, postgres, censored)
                    print(f"postgresql: {copied:,} rollup rows copied in "
                          f"{time.perf_counter() - started:.1f} s into {postgres}")  # fmt: skip
                store.close()
                store = pg_store  # type: ignore[assignment]
                backend = "postgresql"
            cache = ReportCache()
            cases: dict[str, Callable[[], object]] = {
                "country report, 7 days (the default)": lambda: country_report(
                    store, week, settings, now
                ),
                "country report, 60 days": lambda: country_report(store, season, settings, now),
                "one network, 60 days": lambda: country_report(
                    store, dataclasses.replace(season, asn=top_asn), settings, now
                ),
                "domain page, 60 days": lambda: domain_detail(
                    store, dataclasses.replace(season, domain=censored), settings
                ),
                "countries overview, 7 days": lambda: countries(
                    store, week.since, week.until, settings, now
                ),
                "7-day report as JSON": lambda: msgspec.json.encode(
                    country_report(store, week, settings, now)
                ),
                "7-day report as JSON, asked again (cache, rollups unchanged)": lambda: (
                    cache.country_json(store, week, settings, now)
                ),
                "countries overview, asked again (cache)": lambda: countries(
                    store, week.since, week.until, settings, now, report_of=cache.country_report
                ),
            }
            if args.week_only or (args.quick and postgres is not None):  # --quick: < 1 min
                keep = ("country report, 7 days (the default)",
                        "7-day report as JSON, asked again (cache, rollups unchanged)")  # fmt: skip
                cases = {label: case for label, case in cases.items() if label in keep}
            results: dict[str, float] = {}
            for label, case in cases.items():
                case()
                times, cpu = [], []
                for _ in range(RUNS):
                    t0, c0 = time.perf_counter(), time.process_time()
                    case()
                    times.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                results[label] = statistics.median(times)
                print(
                    f"{label}: median {_ms(results[label])} ms "
                    f"(runs: {', '.join(_ms(t) for t in times)}; "
                    f"CPU time, all threads: median {_ms(statistics.median(cpu))} ms)"
                )
            for label, query in (("7 days", week), ("60 days", season)):
                report = country_report(store, query, settings, now)
                verdicts = Counter(d.verdict for d in report.domains)
                print(
                    f"{label}: {report.measurements:,} measurements, {len(report.domains)} "
                    f"domains, {len(report.networks)} networks; "
                    + ", ".join(f"{v}: {n}" for v, n in sorted(verdicts.items()))
                    + f" (censored by the generator: {CENSORED_PER_COUNTRY})"
                )
        finally:
            store.close()
    print(
        f"stored: {rows:,} measurements ({how}); opened (and migrated) in {opened:.1f} s; "
        f"{rollup_rows[0] if rollup_rows else 0:,} per-probe rollup rows"
    )
    print(f"largest country: {cc} with {count:,} measurements; backend: {backend}")
    limit = "DuckDB's default" if args.db_memory_mb is None else f"{args.db_memory_mb} MiB"
    print(f"DuckDB memory limit: {limit}")
    headline = results["country report, 7 days (the default)"]
    cached = results["7-day report as JSON, asked again (cache, rollups unchanged)"]
    print(
        f"report: {headline:.0f} ms for one country with {rows:,} measurements stored "
        f"(built; {_ms(cached)} ms asked again with unchanged rollups)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
