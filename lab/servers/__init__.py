"""The lab's real servers, written on trio: DNS, DNS-over-HTTPS and HTTP/HTTPS with latency.

Modules:
- `names`: hostname normalisation (Unicode/IDNA, case, trailing dot). Pure.
- `zone`: DNS records, per-name behaviours (delay, drop, rcode, empty, injection) and
  `plan_replies`, which turns a query into timed reply packets. Pure.
- `listeners`: `ServerLimits`, binding UDP/TCP sockets (IP literals only), the bounded accept loop.
- `dns`: `serve_dns`, UDP and TCP on one port, sending what `zone` plans.
- `certs`: certificate authorities issuing EC P-256 server certificates; `server_context`.
- `sites`: sites, routes, route selection, response bodies and `html_page`. Pure.
- `tls`: `TlsSetup` and the SNI context presenting each site's certificate.
- `doh`: RFC 8484 request parsing and reply choice. Pure.
- `http1`: reading one request within the limits and writing within a deadline (h11).
- `web`: `serve_web`, HTTP/1.1 (h11) with optional TLS and DoH.
- `proxy`: `serve_transparent_proxy`, an ISP proxy that fetches the real site for the Host asked.
"""

from lab.servers.certs import CertificateAuthority, IssuedCertificate, server_context
from lab.servers.dns import serve_dns
from lab.servers.doh import DNS_MESSAGE_TYPE, DOH_PATH
from lab.servers.listeners import ServerLimits, bind_tcp
from lab.servers.proxy import serve_transparent_proxy
from lab.servers.sites import ClientRoute, Route, Site, filler_bytes, html_page, select_route
from lab.servers.tls import TlsSetup, sni_context
from lab.servers.web import serve_web
from lab.servers.zone import (
    Answer,
    DnsRecord,
    Injection,
    NameBehaviour,
    PlannedReply,
    Zone,
    plan_replies,
)

__all__ = [
    "DNS_MESSAGE_TYPE",
    "DOH_PATH",
    "Answer",
    "CertificateAuthority",
    "ClientRoute",
    "DnsRecord",
    "Injection",
    "IssuedCertificate",
    "NameBehaviour",
    "PlannedReply",
    "Route",
    "ServerLimits",
    "Site",
    "TlsSetup",
    "Zone",
    "bind_tcp",
    "filler_bytes",
    "html_page",
    "plan_replies",
    "select_route",
    "serve_dns",
    "serve_transparent_proxy",
    "serve_web",
    "server_context",
    "sni_context",
]
