"""Uploads: batches are all-or-nothing, bad input gets a clear 4xx and stores nothing, re-uploads
are idempotent, and the service keeps serving after every refusal."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
import trio
import zstandard

from collector.config import Limits
from tests.collector.running import NOW, RunningCollector, measurement, ndjson, start_collector

NDJSON = {"content-type": "application/x-ndjson"}
LIMITS = Limits(
    requests_per_s=0,
    measurements_per_s=0,
    max_body_bytes=256 * 1024,
    max_decoded_bytes=512 * 1024,
    max_line_bytes=64 * 1024,
    max_batch_lines=20,
)


@pytest.fixture
async def running(nursery: trio.Nursery, tmp_path: Path) -> RunningCollector:
    return await start_collector(nursery, tmp_path, limits=LIMITS)


def builtins_of(**changes: object) -> dict[str, object]:
    value = msgspec.to_builtins(measurement())
    assert isinstance(value, dict)
    value.update(changes)
    return value


def encoded(value: object) -> bytes:
    return msgspec.json.encode(value)


async def stored_count(client: httpx.AsyncClient) -> int:
    health = await client.get("/health")
    assert health.status_code == 200
    return int(health.json()["measurements"])


GOOD = measurement()
WRONG_TYPE = builtins_of(probe={"cc": 5, "asn": "AS1", "network_name": ""})
UNKNOWN = builtins_of(colour="blue")
NESTED_UNKNOWN = builtins_of(probe={"cc": "IR", "asn": "AS1", "network_name": "", "x": 1})
MISSING = {k: v for k, v in builtins_of().items() if k != "uid"}
FUTURE = builtins_of(start_time=(NOW + timedelta(days=2)).isoformat())
BIG_ASN = builtins_of(probe={"cc": "IR", "asn": "AS9999999999", "network_name": ""})
BAD_UID = builtins_of(uid="not-a-uuid")


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "field"),
    [
        (b'{"uid": ', {}, 400, "bad_request", None),
        (b"", {}, 400, "bad_encoding", None),
        (encoded(WRONG_TYPE), {}, 422, "invalid_field", "probe.cc"),
        (encoded(UNKNOWN), {}, 422, "invalid_field", "colour"),
        (encoded(NESTED_UNKNOWN), {}, 422, "invalid_field", "probe.x"),
        (encoded(MISSING), {}, 422, "invalid_field", "uid"),
        (encoded(FUTURE), {}, 422, "invalid_field", "start_time"),
        (encoded(BIG_ASN), {}, 422, "invalid_field", "probe.asn"),
        (encoded(BAD_UID), {}, 422, "invalid_field", "uid"),
        (b"[" + encoded(GOOD) + b"]", {}, 422, "invalid_field", None),
        (encoded(GOOD), {"content-type": "text/plain"}, 415, "unsupported_media_type", None),
        (encoded(GOOD), {"content-encoding": "br"}, 415, "unsupported_media_type", None),
        (encoded(GOOD), {"content-encoding": "gzip"}, 400, "bad_encoding", None),
        (encoded(GOOD), {"content-encoding": "zstd"}, 400, "bad_encoding", None),
        (
            gzip.compress(encoded(GOOD))[:-8],
            {"content-encoding": "gzip"},
            400,
            "bad_encoding",
            None,
        ),
        (b"x" * 300_000, {}, 413, "payload_too_large", None),
        (
            gzip.compress(b" " * 2_000_000),
            {"content-encoding": "gzip"},
            413,
            "payload_too_large",
            None,
        ),
        (
            zstandard.ZstdCompressor().compress(b"\n" * 2_000_000),
            {"content-encoding": "zstd", **NDJSON},
            413,
            "payload_too_large",
            None,
        ),
        (ndjson([measurement() for _ in range(21)]), NDJSON, 413, "payload_too_large", None),
    ],
    ids=[
        "malformed-json",
        "empty",
        "wrong-type",
        "unknown-field",
        "nested-unknown-field",
        "missing-field",
        "future-start",
        "asn-out-of-range",
        "bad-uid",
        "array-not-object",
        "wrong-content-type",
        "unknown-compression",
        "not-gzip",
        "not-zstd",
        "truncated-gzip",
        "huge-body",
        "gzip-bomb",
        "zstd-bomb",
        "too-many-lines",
    ],
)
async def test_bad_uploads_get_a_clear_4xx_and_store_nothing(
    running: RunningCollector,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    field: str | None,
) -> None:
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post("/measurements", content=body, headers=headers)
        assert r.status_code == status, r.text
        error = r.json()
        assert error["error"] == code and error["detail"]
        if field is not None:
            assert error["field"] == field
        assert await stored_count(client) == 0
        ok = await client.post("/measurements", content=encoded(GOOD))
        assert ok.status_code == 200, ok.text
        assert await stored_count(client) == 1


async def test_a_batch_with_one_bad_line_names_it_and_stores_none_of_it(
    running: RunningCollector,
) -> None:
    good = [measurement() for _ in range(4)]
    lines = [encoded(m) for m in good[:2]] + [encoded(WRONG_TYPE)] + [encoded(good[2])]
    body = b"\n".join(lines) + b"\n\n" + encoded(good[3]) + b"\n"
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post("/measurements", content=body, headers=NDJSON)
        assert r.status_code == 422
        assert r.json()["line"] == 3 and r.json()["field"] == "probe.cc"
        assert "line 3" in r.json()["detail"]
        r = await client.post(
            "/measurements", content=b"\n".join([*lines[:2], b"{oops", lines[3]]), headers=NDJSON
        )
        assert r.status_code == 400 and r.json()["line"] == 3
        assert await stored_count(client) == 0
        for m in good:
            assert (await client.get(f"/measurements/{m.uid}")).status_code == 404


async def test_uploads_are_idempotent_on_the_uid_within_and_across_batches(
    running: RunningCollector,
) -> None:
    first, second = measurement(), measurement()
    twin = msgspec.structs.replace(first, runtime_ms=1.0)  # same uid, different bytes
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post(
            "/measurements",
            content=gzip.compress(ndjson([first, second, twin])),
            headers={**NDJSON, "content-encoding": "gzip"},
        )
        assert r.status_code == 200
        assert r.json() == {"uids": [first.uid, second.uid], "stored": 2, "duplicates": 0}
        r = await client.post(
            "/measurements",
            content=zstandard.ZstdCompressor().compress(encoded(first)),
            headers={"content-encoding": "zstd", "content-type": "application/json"},
        )
        assert r.json() == {"uids": [first.uid], "stored": 0, "duplicates": 1}
        assert await stored_count(client) == 2
        stored = await client.get(f"/measurements/{first.uid}")
        assert stored.content == encoded(first)


async def test_concurrent_uploads_are_committed_together_and_each_acknowledged(
    running: RunningCollector,
) -> None:
    batches = [[measurement() for _ in range(5)] for _ in range(20)]
    answers: list[dict[str, object]] = []
    async with httpx.AsyncClient(base_url=running.api) as client:

        async def send(batch: list[object]) -> None:
            r = await client.post("/measurements", content=ndjson(batch), headers=NDJSON)  # type: ignore[arg-type]
            answers.append(r.json())

        async with trio.open_nursery() as nursery:
            for batch in batches:
                nursery.start_soon(send, batch)
        assert sorted(a["stored"] for a in answers) == [5] * 20  # type: ignore[type-var]
        assert await stored_count(client) == 100
        metrics = (await client.get("/metrics")).text
    assert 'crenel_ingest_measurements_total{result="stored"} 100.0' in metrics
    assert "crenel_ingest_commit_rows_count" in metrics
    assert "crenel_ingest_queue_depth 0.0" in metrics


async def test_the_uploaders_address_is_scrubbed_from_what_is_stored(
    tmp_path: Path,
) -> None:
    from collector.ingest.lines import split_lines
    from collector.ingest.prepare import prepare

    leaked = msgspec.structs.replace(
        measurement(), annotations={"echo": "your address is 203.0.113.7, welcome"}
    )
    upload = prepare(
        split_lines(encoded(leaked), "json", LIMITS),
        now=NOW,
        source_address="203.0.113.7",
        source=None,
        limits=LIMITS,
    )
    raw = zstandard.ZstdDecompressor().decompress(upload.rows[0].raw_zstd)
    assert b"203.0.113.7" not in raw and b"your address is [scrubbed]" in raw


async def test_the_uploaders_address_is_scrubbed_in_every_spelling_even_behind_json_escapes(
    tmp_path: Path,
) -> None:
    from collector.ingest.lines import split_lines
    from collector.ingest.prepare import prepare

    utf16 = "you are 203.0.113.7".encode("utf-16-le").decode("latin-1")
    leaked = msgspec.structs.replace(
        measurement(),
        annotations={
            "ptr": "203-0-113-7.dyn.isp.example",
            "integer": "3405803783",
            "mapped": "::ffff:cb00:7107",
            "utf16": utf16,
        },
    )
    line = encoded(leaked)
    assert b"\\u0000" in line  # the UTF-16 text hides behind JSON escapes
    upload = prepare(
        split_lines(line, "json", LIMITS),
        now=NOW,
        source_address="203.0.113.7",
        source=None,
        limits=LIMITS,
    )
    raw = zstandard.ZstdDecompressor().decompress(upload.rows[0].raw_zstd)
    stored = msgspec.json.decode(raw)["annotations"]
    assert stored["ptr"] == "[scrubbed].dyn.isp.example"
    assert stored["integer"] == stored["mapped"] == "[scrubbed]"
    assert "203.0.113.7" not in stored["utf16"].replace("\x00", "")
