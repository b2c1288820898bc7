"""The control endpoint: real measurements on loopback, and 4xx JSON for every bad request."""

from __future__ import annotations

from pathlib import Path

import httpx
import msgspec
import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from collector.app import CONTROL_PATH, build_helper_app
from collector.control.helper import HelperConfig
from probe.model import ControlReply
from tests.probe.loopback import Internet, start_internet


async def control_url(nursery: trio.Nursery, config: HelperConfig) -> str:
    hc = HypercornConfig()
    hc.bind = ["127.0.0.1:0"]
    hc.accesslog = None
    hc.loglevel = "WARNING"
    binds = await nursery.start(serve, build_helper_app(config), hc)
    return f"{binds[0]}{CONTROL_PATH}"


async def test_control_measures_dns_tcp_tls_and_http_with_redirects(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet: Internet = await start_internet(nursery, tmp_path)
    url = f"http://127.0.0.1:{internet.control}{CONTROL_PATH}"
    async with httpx.AsyncClient() as client:
        r = await client.post(
            url, json={"url": internet.url("redirect.example.test"), "addresses": ["127.0.0.1"]}
        )
    assert r.status_code == 200
    reply = msgspec.json.decode(r.content, type=ControlReply)
    assert reply.dns.addresses == ["127.0.0.1"]
    assert [t.failure for t in reply.tcp] == [None]
    assert reply.http.status_code == 200 and reply.http.title == "Example News Today"
    assert reply.http.redirects == [internet.url("redirect.example.test")]
    assert reply.http.final_url is not None and reply.http.final_url.startswith("https://news.")


async def test_control_without_the_lab_flag_refuses_loopback(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    url = await control_url(nursery, HelperConfig(udp_resolver=("127.0.0.1", 9), doh_url=None))
    async with httpx.AsyncClient() as client:
        r = await client.post(url, json={"url": "http://127.0.0.1:8080/"})
        assert r.status_code == 403 and r.json()["error"] == "target_refused"
        r = await client.post(
            url, json={"url": "http://x.test/", "addresses": ["127.0.0.1", "10.0.0.1"]}
        )
    assert r.status_code == 200
    reply = msgspec.json.decode(r.content, type=ControlReply)
    assert reply.tcp == [] and reply.addresses == []


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{not json", 400, "bad_request", None),
        (b'{"url": 5}', 422, "invalid_field", "url"),
        (b'{"url": "http://a.test/", "addresses": "1.2.3.4"}', 422, "invalid_field", "addresses"),
        (b'{"url": "http://a.test/", "unknown": 1}', 422, "invalid_field", None),
        (b'{"url": "gopher://a.test/"}', 422, "invalid_field", "url"),
        (
            b'{"url": "http://a.test/", "addresses": '
            + b'["1.1.1.1"]' * 0
            + b"["
            + b",".join([b'"1.1.1.1"'] * 40)
            + b"]}",
            422,
            "invalid_field",
            "addresses",
        ),
        (b'{"url": "' + b"a" * 70_000 + b'"}', 413, "payload_too_large", None),
    ],
    ids=[
        "malformed",
        "wrong-type",
        "wrong-list",
        "unknown-field",
        "bad-scheme",
        "too-many",
        "huge",
    ],
)
async def test_bad_requests_get_a_4xx_json_error(
    nursery: trio.Nursery, body: bytes, status: int, code: str, field: str | None
) -> None:
    url = await control_url(nursery, HelperConfig(udp_resolver=("127.0.0.1", 9), doh_url=None))
    async with httpx.AsyncClient() as client:
        r = await client.post(url, content=body)
        assert r.status_code == status, r.text
        assert r.json()["error"] == code
        if field is not None:
            assert r.json()["field"] == field
        assert (await client.get(url)).status_code == 200
        assert (await client.put(url)).status_code == 405
        assert (await client.get(url.replace("control", "nothing"))).status_code == 404
