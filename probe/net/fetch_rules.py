"""The rules of fetching a URL, shared by the probe and the control (test helper): the request
headers, which ports to check, how many addresses a hop tries, and where a response leads next.

Pure: no I/O. `probe.net.redirects` drives the hops by these rules; both sides use it, so the
probe's and the control's views of a URL differ only by the network they measure from.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe.model.failures import Failure, unknown_failure
from probe.model.observations import HttpTransaction
from probe.net.http_responses import redirect_target
from probe.net.names import WebTarget

ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_LANGUAGE = "en-US,en;q=0.9"
TLS_CHECK_PORT = 443
"""Also checked (TCP, then TLS) for http URLs on port 80: a site may be blocked on one only."""
MAX_ADDRESSES_PER_HOP = 4
"""Addresses tried for one hop when connecting fails (a browser would try the next one too)."""


@dataclass(frozen=True)
class NextHop:
    """What a fetched hop leads to: another URL, the end of the chain, or a failure."""

    url: str | None = None
    """The next URL to fetch; None when the chain ends here."""
    failure: str | None = None
    """Why the chain stops here, when it does not end with a final response."""
    marks_transaction: bool = False
    """Whether `failure` belongs on the hop's transaction (the redirect itself is at fault)."""


@dataclass(frozen=True)
class FetchRules:
    """How a URL is fetched: headers, the redirect limit, addresses tried per hop."""

    user_agent: str
    """The probe's `user_agent` setting (the control: the one the probe sent, else the
    probe's default)."""
    max_redirects: int = 10
    max_addresses_per_hop: int = MAX_ADDRESSES_PER_HOP

    def request_headers(self) -> list[tuple[str, str]]:
        """Return the headers of every request (those of a common browser)."""
        return [
            ("User-Agent", self.user_agent),
            ("Accept", ACCEPT),
            ("Accept-Language", ACCEPT_LANGUAGE),
        ]

    def next_hop(self, transaction: HttpTransaction, depth: int) -> NextHop:
        """Return where the hop at `depth` whose last attempt is `transaction` leads."""
        if transaction.failure is not None or transaction.response is None:
            return NextHop(failure=transaction.failure or unknown_failure("no response"))
        target = redirect_target(transaction)
        if target is None:
            return NextHop()
        if target.failure is not None or target.url is None:
            failure = target.failure or Failure.HTTP_INVALID_REDIRECT_LOCATION
            return NextHop(failure=failure.value, marks_transaction=True)
        if depth >= self.max_redirects:
            return NextHop(failure=Failure.HTTP_TOO_MANY_REDIRECTS.value, marks_transaction=True)
        return NextHop(url=target.url)


def endpoint_ports(target: WebTarget) -> list[int]:
    """Return the ports to check for a URL: its own, and 443 too for http on port 80."""
    if target.scheme == "http" and target.port == 80:
        return [80, TLS_CHECK_PORT]
    return [target.port]


def needs_tls(target: WebTarget, port: int) -> bool:
    """Return whether a TLS handshake follows a TCP connect to `port` (never for an IP host)."""
    if target.is_host_ip:
        return False
    return target.scheme == "https" or port == TLS_CHECK_PORT
