"""Hostnames and URLs as the network steps send them: IDNA-encoded host, explicit port, Host header.

Pure: no I/O. Unicode hostnames are mapped with UTS-46 and encoded label by label.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import idna

DEFAULT_PORTS = {"http": 80, "https": 443}


def encode_hostname(hostname: str) -> str:
    """Return `hostname` in ASCII (IDNA A-labels, lower case); ASCII labels pass through unchanged.

    ASCII labels are kept as they are (only lower-cased) so names such as `_dmarc` or `my_host`,
    which IDNA 2008 rejects but DNS allows, still work.

    Raises:
        idna.IDNAError: a non-ASCII label cannot be encoded.
    """
    if hostname.isascii():
        return hostname.lower()
    mapped = idna.uts46_remap(hostname, std3_rules=False, transitional=False)
    labels = [
        label if label.isascii() else idna.alabel(label).decode("ascii")
        for label in mapped.split(".")
    ]
    return ".".join(labels).lower()


def hostname_for_record(hostname: str) -> str:
    """Return `hostname` IDNA-encoded for a record, or unchanged when it cannot be encoded."""
    try:
        return encode_hostname(hostname)
    except idna.IDNAError:
        return hostname


def is_ip_literal(host: str) -> bool:
    """Return whether `host` is an IPv4 or IPv6 address (without brackets)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address_family_is_ipv6(address: str) -> bool:
    """Return whether `address` is an IPv6 address.

    Raises:
        ValueError: `address` is not an IP address.
    """
    return ipaddress.ip_address(address).version == 6


def endpoint_text(address: str, port: int) -> str:
    """Return `ip:port`, with the IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


@dataclass(frozen=True, slots=True)
class WebTarget:
    """An http(s) URL split into what one request needs."""

    url: str
    """The URL with its host IDNA-encoded, as recorded in measurements."""
    scheme: str
    host: str
    """The IDNA-encoded host, without brackets for IPv6 literals."""
    port: int
    host_header: str
    """The Host header value: the host, with `:port` when the port is not the default."""

    @property
    def is_host_ip(self) -> bool:
        """Return whether the URL names its host by IP address (then no SNI is sent)."""
        return is_ip_literal(self.host)

    def pinned_url(self, address: str) -> str:
        """Return the URL with its host replaced by `address` (bracketed when IPv6)."""
        return str(httpx.URL(self.url).copy_with(host=address, port=self.port))


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def _is_dns_name(name: str) -> bool:
    """Return whether an ASCII name is made of valid DNS labels (letters, digits, -, _)."""
    labels = name.rstrip(".").split(".")
    return len(name) <= 253 and all(_LABEL.match(label) for label in labels)


def parse_web_url(url: str) -> WebTarget:
    """Return the `WebTarget` of an absolute http or https URL (a Unicode host is allowed).

    Credentials (`user:pass@`) and the fragment are dropped: they are never sent or recorded.

    Raises:
        ValueError: the URL is not absolute http(s), has no host, or its host or port is invalid
            (this includes `idna.IDNAError`).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"not an http or https URL: scheme {scheme or 'missing'}")
    host = parts.hostname
    if not host:
        raise ValueError("URL has no host")
    port = parts.port  # raises ValueError when out of range
    encoded = encode_hostname(host)
    if not is_ip_literal(encoded) and not _is_dns_name(encoded):
        raise ValueError(f"not a valid host name: {host!r}")
    netloc_host = f"[{encoded}]" if ":" in encoded else encoded
    netloc = netloc_host if port is None else f"{netloc_host}:{port}"
    try:
        canonical = httpx.URL(urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")))
    except httpx.InvalidURL as exc:
        raise ValueError(str(exc)) from exc
    effective_port = port if port is not None else DEFAULT_PORTS[scheme]
    is_default_port = effective_port == DEFAULT_PORTS[scheme]
    host_header = netloc_host if is_default_port else f"{netloc_host}:{effective_port}"
    return WebTarget(
        url=str(canonical),
        scheme=scheme,
        host=encoded,
        port=effective_port,
        host_header=host_header,
    )
