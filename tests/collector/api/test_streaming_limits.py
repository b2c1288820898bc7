"""Limits apply while an upload streams in, before work: a 65 KB gzip body of 64 MiB of newlines
is refused in bounded memory without stalling the service, too many lines are refused before the
rest of the body is sent, and a source over its rate is refused before it sends any (issue 13)."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from collector.config import Limits
from collector.core.errors import BadEncoding, PayloadTooLarge
from collector.ingest.body import FEED_BYTES
from collector.ingest.inflate import Inflater
from collector.ingest.lines import LineSplitter
from tests.collector.running import measurement, ndjson, start_collector

NEWLINES_BYTES = 64 << 20
HEALTH_BOUND_S = 2.0
"""Generous: /health answered in 5.6 s with one bomb in flight, 20-26 s with four, before."""
ANSWER_BOUND_S = 30.0
"""Only so a broken collector cannot hang the test."""
PEAK_BOUND_BYTES = 16 << 20
"""Before, splitting the bomb allocated ~590 MiB (a list of 64 million empty lines)."""


@pytest.fixture(scope="module")
def newline_bomb() -> bytes:
    """Return ~65 KB of gzip that inflates to 64 MiB of newlines."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunk = b"\n" * (1 << 20)
    body = b"".join(packer.compress(chunk) for _ in range(NEWLINES_BYTES >> 20))
    return body + packer.flush()


def split_gzip(body: bytes, limits: Limits) -> list[tuple[int, bytes]]:
    splitter = LineSplitter("ndjson", limits)
    inflater = Inflater("gzip", limits.max_decoded_bytes, splitter.feed)
    for start in range(0, len(body), 64 * 1024):
        inflater.feed(body[start : start + 64 * 1024])
    inflater.finish()
    return splitter.finish()


@pytest.mark.parametrize(
    ("decoded_limit", "error"),
    [(NEWLINES_BYTES, BadEncoding), (NEWLINES_BYTES // 2, PayloadTooLarge)],
    ids=["within-decoded-limit", "over-decoded-limit"],
)
def test_a_gzip_bomb_of_newlines_is_refused_in_bounded_memory(
    newline_bomb: bytes, decoded_limit: int, error: type[Exception]
) -> None:
    assert len(newline_bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(error):
            split_gzip(newline_bomb, Limits(max_decoded_bytes=decoded_limit))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BOUND_BYTES


def test_lines_numbers_and_bytes_are_the_same_however_the_body_is_cut() -> None:
    body = b"\n\n " + b'{"a": 1}\r\n' + b"\n" * 5000 + b'{"b": 2}\n  \t\n{"c": 3}'
    expected = [(3, b'{"a": 1}'), (5004, b'{"b": 2}'), (5006, b'{"c": 3}')]
    for step in (1, 2, 7, 64, len(body)):
        splitter = LineSplitter("ndjson", Limits())
        for start in range(0, len(body), step):
            splitter.feed(body[start : start + step])
        assert splitter.finish() == expected, step


async def test_health_answers_while_four_bombs_are_in_flight_and_each_gets_a_4xx(
    nursery: trio.Nursery, tmp_path: Path, newline_bomb: bytes
) -> None:
    running = await start_collector(nursery, tmp_path, limits=Limits(requests_per_s=0))
    sent = [trio.Event() for _ in range(4)]
    answers: list[httpx.Response] = []
    order: list[str] = []

    async def bomb(index: int, client: httpx.AsyncClient) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield newline_bomb
            sent[index].set()

        with trio.fail_after(ANSWER_BOUND_S):
            response = await client.post(
                "/measurements",
                content=body(),
                headers={"content-type": "application/x-ndjson", "content-encoding": "gzip"},
            )
        answers.append(response)
        order.append(f"bomb-{index}")

    async with httpx.AsyncClient(base_url=running.api, timeout=ANSWER_BOUND_S) as client:
        async with trio.open_nursery() as bombs:
            for index in range(4):
                bombs.start_soon(bomb, index, client)
            for event in sent:
                await event.wait()
            with trio.fail_after(HEALTH_BOUND_S):
                health = await client.get("/health")
            order.append("health")
        assert health.status_code == 200
    assert len(answers) == 4 and "health" in order
    for response in answers:
        assert response.status_code in (400, 413), response.text
        assert response.json()["error"] in ("bad_encoding", "payload_too_large")


async def read_head(stream: trio.SocketStream) -> bytes:
    """Return the response's status line and headers (and whatever followed in the same read)."""
    data = b""
    with trio.fail_after(ANSWER_BOUND_S):
        while b"\r\n\r\n" not in data:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            data += chunk
    return data


async def test_too_many_lines_are_refused_before_the_rest_of_the_body_is_sent(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    limits = Limits(requests_per_s=0, measurements_per_s=0, max_batch_lines=20)
    running = await start_collector(nursery, tmp_path, limits=limits)
    host, port = running.url.removeprefix("http://").rsplit(":", 1)
    lines = ndjson([measurement() for _ in range(21)])
    lines += b"\n" * FEED_BYTES  # the 21st line reaches the splitter in a full piece
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(
            b"POST /api/v1/measurements HTTP/1.1\r\nHost: collector.test\r\n"
            b"Content-Type: application/x-ndjson\r\nContent-Length: 10000000\r\n\r\n" + lines
        )
        head = await read_head(stream)
    # Less than a tenth of the declared body was sent: the refusal did not wait for the rest.
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"payload_too_large" in head or b"content-type: application/json" in head.lower()


async def test_a_source_over_its_rate_is_refused_before_it_sends_a_body(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    # One measurement per 1000 s: nothing refills while the test runs.
    limits = Limits(requests_per_s=0, measurements_per_s=0.001, measurements_burst=5)
    running = await start_collector(nursery, tmp_path, limits=limits)
    async with httpx.AsyncClient(base_url=running.api) as client:
        spent = await client.post(
            "/measurements",
            content=ndjson([measurement() for _ in range(5)]),
            headers={"content-type": "application/x-ndjson"},
        )
        assert spent.status_code == 200, spent.text
    host, port = running.url.removeprefix("http://").rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(
            b"POST /api/v1/measurements HTTP/1.1\r\nHost: collector.test\r\n"
            b"Content-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n"
        )
        head = await read_head(stream)
    assert head.startswith(b"HTTP/1.1 429"), head[:200]
    assert b"retry-after" in head.lower()


def test_gzip_of_a_good_batch_still_decodes_in_pieces() -> None:
    body = ndjson([measurement() for _ in range(3)])
    lines = split_gzip(gzip.compress(body), Limits())
    assert [n for n, _ in lines] == [1, 2, 3]
