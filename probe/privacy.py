"""Remove the probe's own addresses from everything it stores or uploads.

`scrub_measurement` is pure. `own_addresses` reads the host's interface addresses (psutil); the
collector may also tell the probe its public address, which is then scrubbed as well.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Any

import msgspec
import psutil

from probe.model import Measurement

SCRUBBED = "[scrubbed]"
_BASE64_FIELDS = frozenset({"body_prefix_base64"})


def own_addresses() -> frozenset[str]:
    """Return this host's interface addresses that could identify it (no loopback/link-local)."""
    found: set[str] = set()
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            text = addr.address.split("%", 1)[0]
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                continue
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.add(str(ip))
    return frozenset(found)


_IPV4 = r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])"
_IPV6 = (
    r"(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:[0-9A-Fa-f]{1,4}|(?:[0-9]{1,3}\.){3}[0-9]{1,3})?(?![0-9A-Za-z:])"
)
_CANDIDATE = re.compile(f"{_IPV4}|{_IPV6}")


class _Scrubber:
    """Replaces any spelling of the given addresses (loopback excepted) in text."""

    def __init__(self, addresses: Iterable[str]) -> None:
        found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        for address in addresses:
            try:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                continue
            if not ip.is_loopback:
                found.add(ip)
        self.addresses = frozenset(found)

    def _replace(self, match: re.Match[str]) -> str:
        try:
            ip = ipaddress.ip_address(match.group(0))
        except ValueError:
            return match.group(0)
        return SCRUBBED if ip in self.addresses else match.group(0)

    def text(self, value: str) -> str:
        """Return `value` with every occurrence of the addresses replaced."""
        return _CANDIDATE.sub(self._replace, value)


def scrub_text(text: str, addresses: Iterable[str]) -> str:
    """Return `text` with every occurrence (any spelling) of `addresses` replaced."""
    return _Scrubber(addresses).text(text)


def _scrub(value: Any, scrubber: _Scrubber, key: str | None = None) -> Any:
    if isinstance(value, str):
        if key in _BASE64_FIELDS:
            raw = base64.b64decode(value)
            cleaned = scrubber.text(raw.decode("latin-1")).encode("latin-1")
            return base64.b64encode(cleaned).decode()
        return scrubber.text(value)
    if isinstance(value, list | tuple):
        return [_scrub(item, scrubber) for item in value]
    if isinstance(value, dict):
        return {k: _scrub(v, scrubber, k) for k, v in value.items()}
    return value


def scrub_measurement(measurement: Measurement, addresses: Iterable[str]) -> Measurement:
    """Return the measurement with the probe's own addresses replaced by `[scrubbed]` everywhere.

    Loopback addresses are left alone: they identify nobody (and the lab and tests use them).
    """
    scrubber = _Scrubber(addresses)
    if not scrubber.addresses:
        return measurement
    raw = msgspec.to_builtins(measurement)
    return msgspec.convert(_scrub(raw, scrubber), Measurement)
