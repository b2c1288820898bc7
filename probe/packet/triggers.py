"""What a localisation resends: the trigger (the blocked TLS ClientHello or HTTP request) and a
harmless control payload, and which failed flow of a measurement to localise.

Pure apart from OpenSSL producing a ClientHello in memory (no socket, no network).
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from probe.model import Failure, HttpTransaction, Measurement, Method, TriggerKind, Verdict
from probe.net.names import encode_hostname, parse_web_url

CONTROL_NAME = "example.com"
"""The harmless name of the control payload (RFC 2606 reserves it; no censor lists it)."""
TLS_METHODS = frozenset({Method.TLS_RESET, Method.TLS_EOF, Method.TLS_TIMEOUT})
HTTP_METHODS = frozenset(
    {
        Method.HTTP_RESET,
        Method.HTTP_EOF,
        Method.HTTP_TIMEOUT,
        Method.HTTP_BLOCKPAGE,
        Method.HTTP_DIFF,
    }
)
_FLOW_FAILURES = frozenset(
    {Failure.CONNECTION_RESET.value, Failure.EOF.value, Failure.GENERIC_TIMEOUT.value}
)


@dataclass(frozen=True)
class TriggerTarget:
    """The flow to localise: where it went and what it carried."""

    kind: TriggerKind
    address: str
    port: int
    server_name: str
    path: str = "/"


def _failed_after_connect(tx: HttpTransaction) -> bool:
    return tx.connect_ms is not None and tx.failure in _FLOW_FAILURES


def choose_target(m: Measurement) -> TriggerTarget | None:
    """Return the flow whose trigger (ClientHello or request) a blocked measurement failed on.

    Only blocking by reset, close, silence after the trigger, or an injected page qualifies
    (DNS- and IP-level blocking have no trigger to resend); IPv4 only.
    """
    analysis = m.analysis
    if analysis.verdict is not Verdict.BLOCKED:
        return None
    methods = set(analysis.methods)
    if methods & TLS_METHODS:
        for hs in m.tls:
            if hs.depth == 0 and hs.failure in _FLOW_FAILURES and ":" not in hs.address:
                return TriggerTarget(TriggerKind.TLS, hs.address, hs.port, hs.server_name)
        for tx in m.http:
            is_https = urlsplit(tx.url).scheme == "https"
            if (
                is_https
                and tx.tls_ms is None
                and ":" not in tx.address
                and _failed_after_connect(tx)
            ):
                host = parse_web_url(tx.url).host
                return TriggerTarget(TriggerKind.TLS, tx.address, tx.port, host)
    if methods & HTTP_METHODS:
        chain = sorted(m.http, key=lambda t: (t.depth, t.id))
        for tx in reversed(chain):
            if urlsplit(tx.url).scheme != "http" or ":" in tx.address:
                continue
            if _failed_after_connect(tx) or (tx.failure is None and tx.response is not None):
                target = parse_web_url(tx.url)
                parts = urlsplit(tx.url)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                return TriggerTarget(
                    TriggerKind.HTTP, tx.address, tx.port, target.host_header, path
                )
    return None


def http_request(host_header: str, path: str, user_agent: str) -> bytes:
    """Return a GET request as the probe sends it (request line, Host, User-Agent, Accept)."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host_header}",
        f"User-Agent: {user_agent}",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language: en-US,en;q=0.9",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def client_hello(server_name: str) -> bytes:
    """Return the bytes of a TLS ClientHello with SNI `server_name`, made by OpenSSL in memory."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2", "http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=encode_hostname(server_name))
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the ServerHello, as planned
        tls.do_handshake()
    return outgoing.read()


def payloads(target: TriggerTarget, user_agent: str) -> tuple[bytes, bytes]:
    """Return (trigger, control): the same kind of payload naming the target and CONTROL_NAME."""
    if target.kind is TriggerKind.TLS:
        return client_hello(target.server_name), client_hello(CONTROL_NAME)
    return (
        http_request(target.server_name, target.path, user_agent),
        http_request(CONTROL_NAME, "/", user_agent),
    )
