"""How fast the collector ingests, and how fast it aggregates a large store.

Ingest: `crenel-collector serve` runs in its own process (fresh data directory, rate limits off,
its default analysis workers). Concurrent uploaders on loopback POST pre-built gzip NDJSON
batches of realistic ~5 KB measurements for a fixed time over keep-alive connections (a
minimal HTTP/1.1 client, so the load generator does not eat the two cores it measures); the
rate counts only acknowledged (durably committed) measurements. Afterwards the collector's own
analysis is timed until it has caught up. The collector's process tree is sampled throughout:
CPU per acknowledged measurement (its main process and its analysis workers), RSS peak and slope.
Then the storage engine alone (`ingest_engine.py`) inserts the same rows at the collector's mean
commit size, with the same durability, and the collector's rate is given as a share of it.

Aggregation: 10 million summary rows are generated with SQL straight into a DuckDB store with
the collector's schema, then the per-country aggregation the API runs (counts per verdict, per
method and distinct probes) is timed: first run after opening, then the median of 5.

With `--store pg-temp` (a throw-away PostgreSQL cluster) or `--store postgresql://...`, the
ingest runs against PostgreSQL with `--instances N` collector processes sharing it, the
uploaders spread evenly over them (as a round-robin balancer would); the aggregation part is
DuckDB's and is skipped.

Usage: python bench/collector_ingest.py [--quick] [--seconds 30] [--uploaders 16] [--batch 10]
       [--rows 10000000] [--skip-ingest] [--skip-aggregation] [--skip-engine] [--code DIR]
       [--build-rate 12000] [--pool 150000] [--store duckdb|pg-temp|URL] [--instances N]
Prints its headline on the last line:
`ingest: N measurements/s, P % of the engine (E rows/s at C rows a commit)`
(on PostgreSQL: `ingest: N measurements/s`).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import trio
from ingest_engine import engine_rate, engine_rows
from process_usage import ProcessUsage

from collector.config import Limits
from collector.storage import AggregationQuery, Axis, Filters, database_url
from collector.storage.duckdb import DuckDBStorage
from probe.identity import new_uid
from probe.model import (
    Analysis,
    Certificate,
    ControlAddressInfo,
    ControlDns,
    ControlExchange,
    ControlHttp,
    ControlReply,
    ControlTcp,
    ControlTls,
    DnsAnswer,
    DnsQuery,
    DnsResponse,
    HttpResponse,
    HttpTransaction,
    Measurement,
    MeasurementOptions,
    ProbeNetwork,
    ResolverKind,
    TcpConnect,
    TlsHandshake,
    Verdict,
)

ROOT = Path(__file__).resolve().parents[1]
COUNTRIES = ["IR", "RU", "CN", "TR", "IN", "EG", "MM", "BY", "VE", "PK", "SA", "VN", "US", "DE"]
WORDS = [
    *("news", "rights", "freedom", "press", "report", "election"),
    *("protest", "court", "media", "voice", "open", "world"),
]
RECONNECTS = 3
STOP_TIMEOUT_S = 180.0
_SERVING = re.compile(r"serving (http://127\.0\.0\.1:\d+)/api/v1")


def realistic(i: int, start: datetime) -> Measurement:
    """Return a schema-valid measurement of an HTTPS site with a control reply (~5 KB)."""
    host = f"site{i % 5000}.example"
    address = f"198.51.100.{i % 250 + 1}"
    words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(90))
    body = f"<html><head><title>{host} {WORDS[i % len(WORDS)]}</title></head><body>{words}</body>"
    sha = hashlib.sha256(body.encode()).hexdigest()
    answers = [DnsAnswer(answer_type="A", address=address, ttl=300)]
    dns = [
        DnsQuery(
            id=n + 1,
            resolver_kind=kind,
            resolver_address=where,
            hostname=host,
            query_type=qtype,
            t0_ms=1.0,
            t_ms=12.0 + n,
            rcode="NOERROR",
            answers=answers if qtype == "A" else [],
            responses=[
                DnsResponse(
                    t_ms=12.0 + n,
                    delay_ms=11.0,
                    source=where,
                    ip_ttl=58,
                    rcode="NOERROR",
                    answers=answers if qtype == "A" else [],
                )
            ]
            if kind is ResolverKind.UDP
            else [],
        )
        for n, (kind, where, qtype) in enumerate(
            [
                (ResolverKind.UDP, "192.0.2.53:53", "A"),
                (ResolverKind.UDP, "192.0.2.53:53", "AAAA"),
                (ResolverKind.DOH, "https://dns.example/dns-query", "A"),
                (ResolverKind.DOH, "https://dns.example/dns-query", "AAAA"),
            ]
        )
    ]
    cert = Certificate(
        sha256=sha,
        subject=f"CN={host}",
        issuer="CN=Example CA,O=Example",
        not_before="2026-01-01T00:00:00Z",
        not_after="2027-01-01T00:00:00Z",
        dns_names=[host, f"www.{host}"],
    )
    headers = [
        ("content-type", "text/html; charset=utf-8"),
        ("server", "nginx"),
        ("cache-control", "max-age=600"),
        ("content-length", str(len(body))),
    ]
    return Measurement(
        uid=new_uid(int(start.timestamp() * 1e9), os.urandom(10)),
        software_name="crenel-probe",
        software_version="0.1.0",
        input=f"https://{host}/",
        url=f"https://{host}/",
        category_code=["NEWS", "HUMR", "POLR", "ANON"][i % 4],
        start_time=start,
        runtime_ms=812.5,
        probe=ProbeNetwork(cc=COUNTRIES[i % len(COUNTRIES)], asn=f"AS{1000 + i % 300}"),
        probe_id=f"p-bench{i % 200:04d}",
        options=MeasurementOptions(),
        dns=dns,
        tcp=[TcpConnect(id=10, address=address, port=443, t0_ms=14.0, t_ms=40.0)],
        tls=[
            TlsHandshake(
                id=11,
                address=address,
                port=443,
                server_name=host,
                t0_ms=14.0,
                t_ms=90.0,
                tls_version="TLSv1.3",
                cipher_suite="TLS_AES_256_GCM_SHA384",
                negotiated_protocol="http/1.1",
                peer_certificates=[cert],
                is_verified=True,
            )
        ],
        http=[
            HttpTransaction(
                id=12,
                url=f"https://{host}/",
                address=address,
                port=443,
                request_headers=[("User-Agent", "Mozilla/5.0"), ("Accept", "text/html")],
                t0_ms=14.0,
                t_ms=300.0,
                connect_ms=40.0,
                tls_ms=90.0,
                request_sent_ms=91.0,
                headers_ms=200.0,
                tls_version="TLSv1.3",
                response=HttpResponse(
                    status_code=200,
                    http_version="HTTP/1.1",
                    headers=headers,
                    body_prefix=body,
                    body_length=len(body),
                    body_is_complete=True,
                    body_sha256=sha,
                    title=f"{host} {WORDS[i % len(WORDS)]}",
                ),
            )
        ],
        control=ControlExchange(
            endpoint="https://collector.example/api/v1/control",
            t0_ms=13.0,
            t_ms=700.0,
            reply=ControlReply(
                software_name="crenel-helper",
                software_version="0.1.0",
                dns=ControlDns(addresses=[address]),
                tcp=[ControlTcp(address=address, port=443)],
                tls=[
                    ControlTls(address=address, port=443, server_name=host, tls_version="TLSv1.3")
                ],
                http=ControlHttp(
                    status_code=200,
                    body_length=len(body),
                    title=f"{host} {WORDS[i % len(WORDS)]}",
                    headers=headers,
                    final_url=f"https://{host}/",
                ),
                addresses=[ControlAddressInfo(address=address, asn=64500, is_tls_valid=True)],
                runtime_ms=650.0,
            ),
        ),
        analysis=Analysis(
            verdict=Verdict.OK, confidence=0.9, rules_version="1", reference_digest="0" * 64
        ),
        annotations={"platform": "linux", "python": "3.11.7", "architecture": "x86_64"},
    )


def build_batches(count: int, batch: int) -> tuple[list[bytes], int]:
    """Return gzip NDJSON bodies of `batch` measurements each, and the mean measurement size."""
    start = datetime.now(UTC) - timedelta(hours=1)
    bodies, sizes = [], []
    for first in range(0, count, batch):
        lines = [
            msgspec.json.encode(realistic(i, start + timedelta(milliseconds=i)))
            for i in range(first, min(first + batch, count))
        ]
        sizes.extend(len(line) for line in lines)
        bodies.append(gzip.compress(b"\n".join(lines) + b"\n", 6))
    return bodies, int(statistics.mean(sizes))


def start_collector(
    data_dir: Path, extra: list[str], *, cwd: Path = ROOT
) -> tuple[subprocess.Popen[str], str]:
    """Start `crenel-collector serve` (from the code in `cwd`) and return the process and its
    base URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collector.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
            *extra,
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = _SERVING.search(line)
    if match is None:
        process.kill()
        raise SystemExit(f"the collector did not start: {line!r}")
    return process, match.group(1)


class _Connection:
    """A minimal keep-alive HTTP/1.1 client: a load generator must not eat the CPU it measures
    (httpx costs about a millisecond per request, as much as the server's own handling)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        await self.stream.send_all(request)
        while b"\r\n\r\n" not in self.buffer:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise ConnectionError("the collector closed the connection")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise ConnectionError("the collector closed the connection")
            rest += chunk
        self.buffer = rest[length:]
        return status, rest[:length]


_UID = re.compile(rb'"uid":"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{4}')


def recycled(body: bytes, turn: int) -> bytes:
    """Return a gzip NDJSON body again with new uids (4 of their random hex digits replaced by
    `turn`), so a long run can reuse the measurements it built without sending duplicates."""
    mark = b"%04x" % (turn % 0x10000)
    lines = _UID.sub(lambda m: b'"uid":"' + m.group(1) + mark, gzip.decompress(body))
    return gzip.compress(lines, 1)


def upload_request(host: str, body: bytes) -> bytes:
    """Return the bytes of one upload request."""
    head = (
        f"POST /api/v1/measurements HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def upload_for(
    url: str, bodies: list[bytes], uploaders: int, seconds: float
) -> tuple[int, list[float], float]:
    """Return (acknowledged measurements, request latencies, elapsed) of a timed upload run."""
    host_port = url.removeprefix("http://")
    host, _, port = host_port.partition(":")
    requests = [upload_request(host_port, body) for body in bodies]
    acked = 0
    latencies: list[float] = []
    next_body = 0
    deadline = trio.current_time() + seconds
    started = time.perf_counter()

    async def uploader() -> None:
        nonlocal acked, next_body
        connection: _Connection | None = None
        try:
            while trio.current_time() < deadline:
                turn, index = divmod(next_body, len(requests))
                next_body += 1
                if turn == 0:
                    request = requests[index]
                else:
                    request = upload_request(host_port, recycled(bodies[index], turn))
                t0 = time.perf_counter()
                for _attempt in range(RECONNECTS):
                    if connection is None:
                        connection = _Connection(await trio.open_tcp_stream(host, int(port)))
                    try:
                        status, answer = await connection.exchange(request)
                        break
                    except (ConnectionError, trio.BrokenResourceError):
                        # The server ends a keep-alive connection after so many requests
                        # (hypercorn: 1,000): open another and send the request again.
                        await connection.stream.aclose()
                        connection = None
                else:
                    raise ConnectionError(f"the collector closed {RECONNECTS} connections in a row")
                latencies.append(time.perf_counter() - t0)
                if status == 200:
                    acked += len(msgspec.json.decode(answer)["uids"])
        finally:
            if connection is not None:
                await connection.stream.aclose()

    async with trio.open_nursery() as nursery:
        for _ in range(uploaders):
            nursery.start_soon(uploader)
    return acked, latencies, time.perf_counter() - started


def wait_analysed(url: str, timeout_s: float) -> tuple[int, float]:
    """Return (measurements still pending, seconds waited): analysis caught up, or time ran out."""
    started = time.perf_counter()
    pending = -1
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        for _ in range(int(timeout_s * 10)):
            pending = int(client.get(f"{url}/api/v1/health").json()["pending_analysis"])
            if pending == 0:
                break
            time.sleep(0.1)
    return pending, time.perf_counter() - started


@dataclass(frozen=True)
class IngestRun:
    """What one timed ingest run measured."""

    rate: float
    bodies: list[bytes]
    acked: int
    commit_rows: float


def mean_commit_rows(url: str) -> float:
    """Return the collector's mean measurements per commit so far (from its /metrics)."""
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        text = client.get(f"{url}/api/v1/metrics").text
    total = re.search(r"^crenel_ingest_commit_rows_sum (\S+)$", text, re.M)
    count = re.search(r"^crenel_ingest_commit_rows_count (\S+)$", text, re.M)
    if total is None or count is None or float(count.group(1)) == 0:
        return 0.0
    return float(total.group(1)) / float(count.group(1))


def bench_ingest(args: argparse.Namespace, tmp: Path) -> IngestRun:
    seconds = 8.0 if args.quick else args.seconds
    expected = min(int(seconds * args.build_rate), args.pool)
    print(f"building {expected} measurements in batches of {args.batch}...", flush=True)
    bodies, mean_size = build_batches(expected, args.batch)
    extra = [f"--fingerprints={f}" for f in args.fingerprints]
    # One source sends everything: its daily quota (200,000 by default) would end a long run.
    extra += ["--quota-measurements-per-day=0", "--quota-bytes-per-day=0"]
    process, url = start_collector(tmp / "ingest", extra, cwd=args.code)
    try:
        with ProcessUsage(process.pid) as usage:
            before = usage.cpu_split()
            acked, latencies, elapsed = trio.run(upload_for, url, bodies, args.uploaders, seconds)
            during = usage.cpu_split()
            pending, waited = wait_analysed(url, 30.0 if args.quick else 600.0)
            after = usage.cpu_split()
        commit_rows = mean_commit_rows(url)
        rate = acked / elapsed
        ordered = sorted(latencies)
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[int(len(ordered) * 0.99)] * 1000
        print(
            f"ingest: {acked} measurements (mean {mean_size} B, batches of {args.batch}, "
            f"{args.uploaders} uploaders) in {elapsed:.1f} s; request latency p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms; {commit_rows:.0f} measurements a commit",
            flush=True,
        )
        state = "caught up" if pending == 0 else f"{pending} still pending"
        print(f"analysis: {state} {waited:.1f} s after the uploads ended", flush=True)
        per = 1e6 / max(acked, 1)
        main_up, workers_up = during[0] - before[0], during[1] - before[1]
        main_all, workers_all = after[0] - before[0], after[1] - before[1]
        print(
            f"collector CPU per measurement: {(main_up + workers_up) * per:.0f} µs while "
            f"uploading (main process {main_up * per:.0f}, analysis workers "
            f"{workers_up * per:.0f}); {(main_all + workers_all) * per:.0f} µs until analysis "
            f"caught up (main {main_all * per:.0f}, workers {workers_all * per:.0f})",
            flush=True,
        )
        warm = min(60.0, elapsed / 2)
        print(
            f"collector RSS (main + workers): peak {usage.rss_peak():.0f} MB; slope "
            f"{usage.rss_slope(warm):+.1f} MB/min after the first {warm:.0f} s",
            flush=True,
        )
    finally:
        process.terminate()
        try:
            # Closing checkpoints the WAL: long after a large run on a busy machine.
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    return IngestRun(rate=rate, bodies=bodies, acked=acked, commit_rows=commit_rows)


def engine_url(args: argparse.Namespace, tmp: Path) -> str:
    """Return the URL of the fresh store the engine-alone run writes to."""
    return database_url(tmp / "engine" / "collector.duckdb")


def bench_engine(args: argparse.Namespace, tmp: Path, run: IngestRun) -> float:
    """Return the engine's rows/s inserting the collector's rows at its mean commit size."""
    count = min(run.acked, 20_000 if args.quick else 100_000)
    bodies = run.bodies[: max(1, -(-count // args.batch))]
    rows = engine_rows(bodies)
    commit = max(1, round(run.commit_rows))
    rate = engine_rate(engine_url(args, tmp), rows, commit, Limits().db_memory_mb)
    print(
        f"engine alone: {rate:.0f} rows/s ({len(rows)} of the same rows, {commit} a commit, "
        "one durable transaction each, one thread)",
        flush=True,
    )
    return rate


GENERATE = """
INSERT INTO measurements
SELECT
    ('01900000-0000-7000-8000-' || lpad(printf('%x', i), 12, '0'))::UUID,
    TIMESTAMP '2026-09-01' + to_seconds(i % 5184000),
    TIMESTAMP '2026-09-01' + to_seconds(i % 5184000),
    CAST(TIMESTAMP '2026-09-01' + to_seconds(i % 5184000) AS DATE),
    ['IR','RU','CN','TR','IN','EG','MM','BY','VE','PK','SA','VN','US','DE','BR','ID','NG','KZ',
     'UA','CU'][1 + (hash(i) % 20)::INTEGER],
    (1000 + hash(i * 7) % 3000)::UINTEGER,
    'Net', 'p-' || (hash(i * 13) % 20000)::VARCHAR, NULL,
    'https://site' || (hash(i * 3) % 2000)::VARCHAR || '.example/',
    'site' || (hash(i * 3) % 2000)::VARCHAR || '.example',
    ['NEWS','HUMR','POLR','ANON'][1 + (hash(i * 5) % 4)::INTEGER],
    'crenel-probe', '0.1.0', '1.0',
    'ok', []::VARCHAR[], 0.9,
    v.verdict,
    CASE WHEN v.verdict = 'blocked' THEN [['dns.nxdomain','tcp.reset','http.blockpage',
        'tls.reset'][1 + (hash(i * 11) % 4)::INTEGER]] WHEN v.verdict IS NULL THEN NULL
        ELSE []::VARCHAR[] END,
    0.9, NULL, NULL, v.verdict = 'blocked' AND hash(i) % 3 = 0, '1', 'digest',
    TIMESTAMP '2026-11-01', NULL, v.verdict IS NULL, false, NULL, NULL, NULL, ''::BLOB, false,
    NULL, 'crenel'
FROM (
    SELECT i, CASE WHEN hash(i * 17) % 100 < 80 THEN 'ok' WHEN hash(i * 17) % 100 < 88
        THEN 'blocked' WHEN hash(i * 17) % 100 < 95 THEN 'down' WHEN hash(i * 17) % 100 < 99
        THEN 'inconclusive' END AS verdict
    FROM range(?, ?) t(i)
) v
"""


def bench_aggregation(args: argparse.Namespace, tmp: Path) -> float:
    rows = 1_000_000 if args.quick else args.rows
    path = tmp / "aggregate" / "collector.duckdb"
    store = DuckDBStorage(path)
    started = time.perf_counter()
    step = 1_000_000
    with store._transaction() as con:  # the bench reaches past the interface on purpose
        for first in range(0, rows, step):
            con.execute(GENERATE, [first, min(first + step, rows)]).fetchall()
    con.execute("CHECKPOINT").fetchall()
    generated = time.perf_counter() - started
    store.close()
    size_mb = path.stat().st_size / 1e6
    print(f"aggregation: generated {rows} rows in {generated:.1f} s ({size_mb:.0f} MB)", flush=True)

    store = DuckDBStorage(path)
    try:
        country = AggregationQuery(axis_x=Axis.COUNTRY)
        queries = {
            "per country": country,
            "per country x day": AggregationQuery(axis_x=Axis.COUNTRY, axis_y=Axis.DAY),
            "per day, one country": AggregationQuery(
                axis_x=Axis.DAY, filters=Filters(country=("IR",))
            ),
            "per country, max 10 per probe": AggregationQuery(
                axis_x=Axis.COUNTRY, max_per_probe=10
            ),
        }
        headline = 0.0
        for name, query in queries.items():
            t0 = time.perf_counter()
            result = store.aggregate(query)
            first = (time.perf_counter() - t0) * 1000
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                store.aggregate(query)
                runs.append((time.perf_counter() - t0) * 1000)
            median = statistics.median(runs)
            if query is country:
                headline = median
            print(
                f"aggregation {name}: median {median:.0f} ms (first {first:.0f} ms), "
                f"{len(result)} cells",
                flush=True,
            )
        t0 = time.perf_counter()
        store.summaries(Filters(country=("IR",), verdict=("blocked",)), None, 100)
        print(f"search page (IR, blocked, 100 rows): {(time.perf_counter() - t0) * 1000:.0f} ms")
    finally:
        store.close()
    print(f"aggregation per country over {rows} rows: {headline:.0f} ms", flush=True)
    return headline


async def upload_spread(
    urls: list[str], bodies: list[bytes], uploaders: int, seconds: float
) -> tuple[int, list[float], float]:
    """Return `upload_for`'s figures with the uploaders and batches spread over `urls`."""
    results: list[tuple[int, list[float], float]] = []

    async def one(index: int) -> None:
        share = bodies[index :: len(urls)]
        results.append(
            await upload_for(urls[index], share, max(1, uploaders // len(urls)), seconds)
        )

    async with trio.open_nursery() as nursery:
        for index in range(len(urls)):
            nursery.start_soon(one, index)
    return (
        sum(r[0] for r in results),
        [t for r in results for t in r[1]],
        max(r[2] for r in results),
    )


def bench_ingest_shared(args: argparse.Namespace, tmp: Path, store: str) -> float:
    """Time the ingest of `args.instances` collectors sharing the database `store`."""
    seconds = 8.0 if args.quick else args.seconds
    expected = int(seconds * 6000)
    print(f"building {expected} measurements in batches of {args.batch}...", flush=True)
    bodies, mean_size = build_batches(expected, args.batch)
    processes = []
    try:
        for index in range(args.instances):
            extra = ["--store", store, *(f"--fingerprints={f}" for f in args.fingerprints)]
            processes.append(start_collector(tmp / f"ingest-{index}", extra))
        urls = [url for _, url in processes]
        acked, latencies, elapsed = trio.run(upload_spread, urls, bodies, args.uploaders, seconds)
        ordered = sorted(latencies)
        print(
            f"ingest: {acked} measurements (mean {mean_size} B, batches of {args.batch}, "
            f"{args.uploaders} uploaders, {args.instances} collector instances on one "
            f"PostgreSQL) in {elapsed:.1f} s; request latency p50 "
            f"{ordered[len(ordered) // 2] * 1000:.1f} ms, "
            f"p99 {ordered[int(len(ordered) * 0.99)] * 1000:.1f} ms",
            flush=True,
        )
        pending, waited = wait_analysed(urls[0], 30.0 if args.quick else 600.0)
        state = "caught up" if pending == 0 else f"{pending} still pending"
        print(f"analysis: {state} {waited:.1f} s after the uploads ended", flush=True)
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(timeout=30)
    return acked / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="8 s of ingest, 1 M rows (< 1 min)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--uploaders", type=int, default=16)
    parser.add_argument("--batch", type=int, default=10, help="measurements per upload request")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--fingerprints", action="append", default=[], metavar="FILE")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-aggregation", action="store_true")
    parser.add_argument("--skip-engine", action="store_true", help="no engine-alone comparison")
    parser.add_argument(
        "--code",
        type=Path,
        default=ROOT,
        help="run the collector from this checkout (before/after comparisons on one machine)",
    )
    parser.add_argument(
        "--build-rate",
        type=int,
        default=12_000,
        help="measurements built per second of upload (more than the collector can take)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=150_000,
        help="most measurements built; a longer run sends them again with new uids",
    )
    parser.add_argument(
        "--store", default="duckdb", help="duckdb, pg-temp (a throw-away cluster) or a URL"
    )
    parser.add_argument("--instances", type=int, default=1, help="collectors (PostgreSQL)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)
    if args.store != "duckdb":
        from pg_store import postgres_database

        with tempfile.TemporaryDirectory() as name, postgres_database(args.store) as url:
            rate = 0.0 if args.skip_ingest else bench_ingest_shared(args, Path(name), url)
        print(f"ingest: {rate:.0f} measurements/s")
        return 0
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if not args.skip_aggregation:
            bench_aggregation(args, tmp)
        if args.skip_ingest:
            print("ingest: skipped")
            return 0
        run = bench_ingest(args, tmp)
        engine = 0.0 if args.skip_engine else bench_engine(args, tmp, run)
    share = f"{100 * run.rate / engine:.0f} %" if engine else "n/a"
    print(
        f"ingest: {run.rate:.0f} measurements/s, {share} of the engine "
        f"({engine:.0f} rows/s at {max(1, round(run.commit_rows))} rows a commit)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
