"""Replace the probe's own addresses, in every spelling, in text and in whole measurements.

Pure: no I/O, no clock. Used by the probe before it stores anything and by the collector at
ingest (with the uploader's address as the collector saw it).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from probe.model import Measurement, identifies_host, parse_address
from probe.privacy.spellings import IpAddress, spelling_pattern

SCRUBBED = "[scrubbed]"
_TYPE_INFO = msgspec.json.Decoder(Measurement)
"""Built at import, on the importing thread. msgspec builds a type's info on first use, and
two threads doing that at once crashed the probe (SIGSEGV in a lab run, 1 in 6): the info is
built here, before the probe scrubs in worker threads."""
_BASE64_FIELDS = frozenset({"body_prefix_base64"})
_BODY_FIELDS = ("body_prefix", "body_prefix_base64")
_IDENTIFIER_FIELDS = frozenset(
    {"uid", "format_version", "cc", "asn", "resolver_asn", "sha256", "body_sha256",
     "reference_digest", "rules_version", "flags", "digest"}
)  # fmt: skip
"""Fields the probe makes itself with a fixed shape (ids, digests, AS numbers): never text a
server chose, and a `[scrubbed]` inside would break their pattern (AS3221225986 is an AS)."""
_NUL = "\x00"


def scrubbable(addresses: Iterable[str]) -> frozenset[IpAddress]:
    """Return the addresses worth scrubbing: valid ones, scope ids dropped, loopback excepted.

    Loopback identifies nobody (and the lab and tests use it): `probe.model.identifies_host`.
    """
    found: set[IpAddress] = set()
    for address in addresses:
        ip = parse_address(address)
        if ip is not None and identifies_host(address):
            found.add(ip)
    return frozenset(found)


@functools.lru_cache(maxsize=64)
def _compiled(addresses: frozenset[IpAddress]) -> re.Pattern[str] | None:
    return spelling_pattern(addresses)


class Scrubber:
    """Replaces every spelling of some addresses in text."""

    def __init__(self, addresses: Iterable[str]) -> None:
        self.addresses = scrubbable(addresses)
        self.pattern = _compiled(self.addresses)

    def text(self, value: str) -> str:
        """Return `value` with every spelling of the addresses replaced by `[scrubbed]`.

        Text with NUL characters (UTF-16 read as UTF-8 or Latin-1) is also searched with the
        NULs left out, and what matches there is replaced in the original.
        """
        if self.pattern is None:
            return value
        cleaned = self._replace(value)
        if _NUL in cleaned:
            cleaned = self._without_nuls(cleaned)
        return cleaned

    def measurement(self, measurement: Measurement) -> Measurement:
        """Return the measurement with every spelling replaced (`scrub_measurement`); a
        scrubber made once serves many measurements."""
        if self.pattern is None:
            return measurement
        raw = msgspec.to_builtins(measurement)
        return msgspec.convert(_scrub(raw, self), Measurement)

    def _spans(self, value: str) -> list[tuple[int, int]]:
        """Return where the addresses are spelled in `value`, in order, without overlaps."""
        assert self.pattern is not None
        return [found.span() for found in self.pattern.finditer(value)]

    def _replace(self, value: str) -> str:
        assert self.pattern is not None
        return self.pattern.sub(SCRUBBED, value)

    def _without_nuls(self, value: str) -> str:
        assert self.pattern is not None
        if self.pattern.search(value.replace(_NUL, "")) is None:
            return value
        kept = [i for i, char in enumerate(value) if char != _NUL]
        squeezed = "".join(value[i] for i in kept)
        spans = [(kept[start], kept[end - 1] + 1) for start, end in self._spans(squeezed)]
        return _replace_spans(value, spans)


def _replace_spans(value: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return value
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces += [value[last:start], SCRUBBED]
        last = end
    pieces.append(value[last:])
    return "".join(pieces)


def scrub_text(text: str, addresses: Iterable[str]) -> str:
    """Return `text` with every spelling of `addresses` replaced by `[scrubbed]`."""
    return Scrubber(addresses).text(text)


def _body_bytes(response: dict[str, Any]) -> bytes:
    if response.get("body_prefix") is not None:
        return str(response["body_prefix"]).encode("utf-8")
    if response.get("body_prefix_base64") is not None:
        return base64.b64decode(response["body_prefix_base64"])
    return b""


def _scrub(value: Any, scrubber: Scrubber, key: str | None = None) -> Any:
    if isinstance(value, str):
        if key in _IDENTIFIER_FIELDS:
            return value
        if key in _BASE64_FIELDS:
            raw = base64.b64decode(value)
            cleaned = scrubber.text(raw.decode("latin-1")).encode("latin-1")
            return value if cleaned == raw else base64.b64encode(cleaned).decode()
        return scrubber.text(value)
    if isinstance(value, list | tuple):
        return [_scrub(item, scrubber) for item in value]
    if isinstance(value, dict):
        cleaned_dict = {k: _scrub(v, scrubber, k) for k, v in value.items()}
        if "body_sha256" in value and any(
            cleaned_dict.get(field) != value.get(field) for field in _BODY_FIELDS
        ):
            # The digest of bytes that held the address would let anyone who knows the rest
            # of the page find the address by trying all of them: digest what is kept instead.
            cleaned_dict["body_sha256"] = hashlib.sha256(_body_bytes(cleaned_dict)).hexdigest()
            cleaned_dict["body_is_scrubbed"] = True
        return cleaned_dict
    return value


def scrub_measurement(measurement: Measurement, addresses: Iterable[str]) -> Measurement:
    """Return the measurement with every spelling of `addresses` replaced by `[scrubbed]`.

    Where a body prefix changed, `body_sha256` becomes the digest of the scrubbed prefix and
    `body_is_scrubbed` is set. Loopback addresses are left alone.
    """
    return Scrubber(addresses).measurement(measurement)
