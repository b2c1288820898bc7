"""Network steps: each sends one kind of traffic and returns an observation record, never raises.

Modules:
- `timing`: `StepClock`, milliseconds since the measurement started.
- `names`: IDNA (UTS-46) hostnames, http(s) URLs split into host, port and Host header.
- `classify`: exception chains to failure strings; the only module that knows exception types.
- `dns`: one-shot lookups through getaddrinfo and TCP; the record of a lookup that timed out.
- `dns_udp`: `UdpLookup`, a UDP query recording every response in a capture window, with IP TTL.
- `udp_sockets`: what a UDP socket tells about a packet: IP TTL (ancillary data), sender, port.
- `dns_answers`: pure readers of DNS responses: answer records, the failure an rcode stands for.
- `doh`: DNS over HTTPS (RFC 8484 POST).
- `tcp`: a TCP connect to one address.
- `tls`: a TLS handshake with a chosen SNI; the presented chain as `Certificate` records.
- `http`: one GET pinned to an address, with body limits, byte samples and `HttpProgress`.
- `http_responses`: pure readers of HTTP results: page title, redirect target.
- `fetch_rules`: pure rules shared with the control: headers, ports, the next redirect hop.
- `redirects`: the one redirect loop (hop by hop, per-hop address fallback), by those rules.
The caller owns every deadline: build `*_timed_out(...)` (or keep the `HttpProgress` /
`UdpLookup`) before the step, run the step under `trio.move_on_after`.
"""

from probe.net.classify import FAILURES_NOT_FROM_EXCEPTIONS, NETWORK_ERRORS, classify
from probe.net.dns import dns_timed_out, resolve_system, resolve_tcp
from probe.net.dns_udp import UdpLookup, resolve_udp
from probe.net.doh import resolve_doh
from probe.net.fetch_rules import (
    FetchRules,
    NextHop,
    endpoint_ports,
    needs_tls,
)
from probe.net.http import HttpProgress, abandon_body, fetch_http, make_http_client
from probe.net.http_responses import RedirectTarget, extract_title, redirect_target
from probe.net.names import WebTarget, encode_hostname, parse_web_url
from probe.net.redirects import (
    Fetcher,
    HopAddresses,
    HopResolver,
    RedirectChain,
    follow_redirects,
)
from probe.net.tcp import connect_tcp, tcp_timed_out
from probe.net.timing import StepClock
from probe.net.tls import (
    certificate_record,
    handshake_tls,
    make_ssl_context,
    tls_timed_out,
)

__all__ = [
    "FAILURES_NOT_FROM_EXCEPTIONS",
    "NETWORK_ERRORS",
    "FetchRules",
    "Fetcher",
    "HopAddresses",
    "HopResolver",
    "HttpProgress",
    "NextHop",
    "RedirectChain",
    "RedirectTarget",
    "StepClock",
    "UdpLookup",
    "WebTarget",
    "abandon_body",
    "certificate_record",
    "classify",
    "connect_tcp",
    "dns_timed_out",
    "encode_hostname",
    "endpoint_ports",
    "extract_title",
    "fetch_http",
    "follow_redirects",
    "handshake_tls",
    "make_http_client",
    "make_ssl_context",
    "needs_tls",
    "parse_web_url",
    "redirect_target",
    "resolve_doh",
    "resolve_system",
    "resolve_tcp",
    "resolve_udp",
    "tcp_timed_out",
    "tls_timed_out",
]
