"""The uploading network of a measurement: what an uploader cannot choose freely.

Pure except `load_uploader_secret` (one file in the data directory). A probe chooses its
`probe_id` and claims its network; it cannot choose the address the collector sees. Reports cap
the weight of each *uploader network*: a keyed hash of the source /24 (IPv4) or /48 (IPv6) and
the AS the collector's GeoIP maps it to. Only the hash is stored, never the address or prefix;
the key is the collector's own secret, so the hash cannot be reversed by trying every /24.

Sources in `trusted_networks` (a relay or the operator's own import on loopback) are not
grouped: their measurements are weighed per probe, as the probe ids say.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from collector.core.errors import ConfigInvalid
from collector.ingest.rows import SourceNetwork
from probe.model import parse_address

SECRET_FILE = "uploader-key"
SECRET_BYTES = 32
IPV4_PREFIX = 24
IPV6_PREFIX = 48

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _unmapped(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    ip = parse_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def source_prefix(address: str | None) -> IpNetwork | None:
    """Return the /24 (IPv4) or /48 (IPv6) holding `address`, or None when it is not an IP."""
    if address is None:
        return None
    ip = _unmapped(address)
    if ip is None:
        return None
    bits = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return ipaddress.ip_network(f"{ip}/{bits}", strict=False)


class UploaderKeys:
    """Names uploader networks by a keyed hash, never keeping an address."""

    def __init__(self, secret: bytes, trusted_networks: Sequence[str] = ()) -> None:
        if len(secret) < 16:
            raise ValueError("the uploader secret must have at least 16 bytes")
        self._key = hashlib.blake2b(secret, digest_size=32, person=b"crenel-uploader").digest()
        self._trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_networks)

    def is_trusted(self, address: str) -> bool:
        """Return whether `address` is in a trusted network (its probes are weighed one by one)."""
        ip = _unmapped(address)
        if ip is None:
            return False
        return any(ip in net for net in self._trusted if net.version == ip.version)

    def tag(self, source: SourceNetwork | None, address: str | None) -> SourceNetwork:
        """Return `source` (what GeoIP says; None without GeoIP) with its uploader network."""
        found = source or SourceNetwork()
        key = self.key_of(address, found.asn)
        return dataclasses.replace(found, uploader_network=key)

    def key_of(self, address: str | None, source_asn: int | None) -> str | None:
        """Return the uploader network's key (hex), or None for a trusted or unknown source."""
        prefix = source_prefix(address)
        if prefix is None or address is None or self.is_trusted(address):
            return None
        text = f"{prefix}|AS{source_asn or 0}".encode()
        return hashlib.blake2b(text, key=self._key, digest_size=12).hexdigest()


def load_uploader_secret(data_dir: Path) -> bytes:
    """Return the collector's uploader secret, created (mode 0600) on first use.

    The secret outlives restarts, so one network keeps one key in stored measurements.

    Raises:
        ConfigInvalid: the file cannot be read or created, or is too short.
    """
    path = data_dir / SECRET_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            secret = path.read_bytes()
        else:
            secret = os.urandom(SECRET_BYTES)
            with os.fdopen(fd, "wb") as out:
                out.write(secret)
                out.flush()
                os.fsync(out.fileno())
    except OSError as exc:
        raise ConfigInvalid(f"cannot read or create the uploader secret {path}: {exc}") from exc
    if len(secret) < 16:
        raise ConfigInvalid(f"the uploader secret {path} is shorter than 16 bytes; remove it")
    return secret
