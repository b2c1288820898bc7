"""A hostile page cannot make a measurement too large for the collector (issue 13, item 8)."""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path

import httpx
import msgspec
import trio

from collector.config import Limits
from lab.servers import Route, Site, serve_web
from probe.analysis import BogonPolicy, ReferenceData
from probe.config import Budgets, ProbeConfig
from probe.measure import MeasureSession
from probe.measure.budget import (
    COLLECTOR_LINE_LIMIT_BYTES,
    MEASUREMENT_BUDGET_BYTES,
    SCRUB_GROWTH,
    encoded_size,
    fit_budget,
)
from probe.model import Measurement
from tests.collector.running import start_collector

HOST = "127.0.0.1"
HOPS = 11
NUL_BODY = b"\x00" * (1 << 20)


def test_the_budget_fits_the_collectors_limit_even_after_its_scrubbing() -> None:
    assert Limits().max_line_bytes == COLLECTOR_LINE_LIMIT_BYTES
    assert MEASUREMENT_BUDGET_BYTES * SCRUB_GROWTH < COLLECTOR_LINE_LIMIT_BYTES


async def _serve_hops(nursery: trio.Nursery) -> int:
    routes = {
        f"/{hop}": Route(
            body=NUL_BODY,
            redirect_to=f"/{hop + 1}",
            headers=(("content-type", "application/octet-stream"),),
        )
        for hop in range(HOPS)
    }
    routes[f"/{HOPS}"] = Route(body=NUL_BODY)
    port: int = await nursery.start(functools.partial(serve_web, [Site(HOST, routes)], host=HOST))
    return port


async def test_eleven_hops_of_nul_megabytes_fit_and_are_accepted(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await _serve_hops(nursery)
    config = ProbeConfig(
        data_dir=tmp_path,
        config_path=tmp_path / "probe.toml",
        system_resolver=False,
        doh_url=None,
        public_networks=("127.0.0.0/8",),
        budgets=Budgets(dns_s=2.0, tcp_s=2.0, tls_s=2.0, http_s=20.0, control_s=5.0),
    )
    reference = ReferenceData(bogons=BogonPolicy(public_networks=("127.0.0.0/8",)))
    async with MeasureSession(config, reference) as session:
        m = await session.measure(f"http://{HOST}:{port}/0")
    line = msgspec.json.encode(m)
    # Every hop's body arrived whole; kept in full it would be a ~69 MB line.
    responses = [tx.response for tx in m.http if tx.response is not None]
    assert len(responses) == HOPS
    digest = hashlib.sha256(NUL_BODY).hexdigest()
    assert all(r.body_length == len(NUL_BODY) and r.body_sha256 == digest for r in responses)
    assert sum(6 * r.body_length for r in responses) > COLLECTOR_LINE_LIMIT_BYTES
    assert len(line) <= MEASUREMENT_BUDGET_BYTES
    assert all(r.body_prefix_is_trimmed for r in responses)
    # The final hop's body is the one kept first: as much of it as fits (6 bytes a NUL).
    final = responses[-1].body_prefix
    assert final is not None and len(final) > (MEASUREMENT_BUDGET_BYTES // 2) // 6
    assert final == NUL_BODY.decode()[: len(final)]
    # The verdict was reached on the whole bodies: a site that redirects forever is not blocked.
    assert m.analysis.verdict.value != "blocked", m.analysis
    collector = await start_collector(nursery, tmp_path)
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{collector.api}/measurements",
            content=line,
            headers={"content-type": "application/json"},
        )
        assert answer.status_code in (200, 201, 202), answer.text
        stored = await client.get(f"{collector.api}/measurements/{m.uid}")
    assert stored.status_code == 200 and stored.content == line


def test_a_measurement_within_the_budget_is_left_as_it_is() -> None:
    from tests.probe.analysis.build import healthy

    m = healthy().build()
    assert fit_budget(m) is m
    assert encoded_size(m) == len(msgspec.json.encode(m))


def test_budget_cuts_text_and_base64_prefixes_to_fit() -> None:
    from tests.probe.analysis.build import healthy

    m = healthy().build()
    response = m.http[0].response
    assert response is not None
    big_text = msgspec.structs.replace(response, body_prefix="\x01" * 200_000)
    big_binary = msgspec.structs.replace(
        response, body_prefix=None, body_prefix_base64=base64.b64encode(b"\xff" * 300_000).decode()
    )
    http = [
        msgspec.structs.replace(m.http[0], response=big_binary, id=1, depth=0),
        msgspec.structs.replace(m.http[0], response=big_text, id=2, depth=1),
    ]
    heavy = msgspec.structs.replace(m, http=http)
    budget = encoded_size(m) + 6 * 200_000 + 200_000
    fitted = fit_budget(heavy, budget)
    assert encoded_size(fitted) <= budget
    final, first = fitted.http[1].response, fitted.http[0].response
    assert final is not None and first is not None
    assert final.body_prefix == "\x01" * 200_000 and not final.body_prefix_is_trimmed
    assert first.body_prefix_is_trimmed and first.body_prefix_base64 is not None
    assert msgspec.json.decode(msgspec.json.encode(fitted), type=Measurement) == fitted
