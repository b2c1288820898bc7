"""The fetch rules the probe and the control share: headers, ports, the next redirect hop."""

from __future__ import annotations

import pytest

from probe.config import DEFAULT_USER_AGENT
from probe.model import Failure, HttpResponse, HttpTransaction
from probe.net import FetchRules, NextHop, endpoint_ports, needs_tls, parse_web_url


def _tx(
    status: int | None, location: str | None = None, failure: str | None = None
) -> HttpTransaction:
    response = None
    if status is not None:
        response = HttpResponse(
            status_code=status,
            http_version="HTTP/1.1",
            headers=[("Location", location)] if location else [],
            body_length=0,
            body_is_complete=True,
            body_sha256="0" * 64,
        )
    return HttpTransaction(
        id=1,
        url="http://www.example.test/a",
        address="192.0.2.1",
        port=80,
        t0_ms=0.0,
        t_ms=1.0,
        response=response,
        failure=failure,
    )


@pytest.mark.parametrize(
    ("tx", "depth", "expected"),
    [
        (_tx(200), 0, NextHop()),
        (_tx(302, "/b"), 0, NextHop(url="http://www.example.test/b")),
        (_tx(302, "/b"), 9, NextHop(url="http://www.example.test/b")),
        (_tx(302, "/b"), 10, NextHop(failure="http_too_many_redirects", marks_transaction=True)),
        (
            _tx(301, "ftp://x.test/"),
            0,
            NextHop(failure=Failure.HTTP_INVALID_REDIRECT_LOCATION.value, marks_transaction=True),
        ),
        (_tx(None, failure="connection_reset"), 0, NextHop(failure="connection_reset")),
        (_tx(None), 0, NextHop(failure="unknown_failure: no response")),
        (_tx(404, "/b"), 0, NextHop()),
    ],
    ids=["final", "redirect", "last-allowed", "too-many", "bad-location", "reset", "no-response",
         "404-with-location"],
)  # fmt: skip
def test_next_hop(tx: HttpTransaction, depth: int, expected: NextHop) -> None:
    assert (
        FetchRules(user_agent=DEFAULT_USER_AGENT, max_redirects=10).next_hop(tx, depth) == expected
    )


def test_every_request_names_the_user_agent_and_accepts_html() -> None:
    headers = dict(FetchRules(user_agent="crenel-test/1").request_headers())
    assert headers["User-Agent"] == "crenel-test/1"
    assert headers["Accept"].startswith("text/html")
    assert "Accept-Language" in headers


@pytest.mark.parametrize(
    ("url", "ports", "tls_ports"),
    [
        ("http://www.example.test/", [80, 443], [443]),
        ("http://www.example.test:80/", [80, 443], [443]),
        ("http://www.example.test:8080/", [8080], []),
        ("https://www.example.test/", [443], [443]),
        ("https://www.example.test:8443/", [8443], [8443]),
        ("https://192.0.2.1/", [443], []),
    ],
)
def test_ports_checked_and_where_tls_follows(
    url: str, ports: list[int], tls_ports: list[int]
) -> None:
    target = parse_web_url(url)
    assert endpoint_ports(target) == ports
    assert [p for p in ports if needs_tls(target, p)] == tls_ports
