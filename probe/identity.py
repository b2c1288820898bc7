"""Who made a measurement: software name and version, measurement ids, the probe's pseudonym.

UUIDv7 (RFC 9562) ids sort by creation time, so stores and collectors can page by them.
"""

from __future__ import annotations

import os
import time
import uuid
from importlib import metadata

SOFTWARE_NAME = "crenel-probe"


def _version() -> str:
    try:
        return metadata.version("crenel")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


SOFTWARE_VERSION = _version()


def new_uid(now_ns: int | None = None, random_bytes: bytes | None = None) -> str:
    """Return a new UUIDv7: 48-bit Unix milliseconds, version 7, variant 10, 74 random bits."""
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    rand = int.from_bytes(random_bytes if random_bytes is not None else os.urandom(10), "big")
    rand &= (1 << 74) - 1
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 62) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def new_probe_id() -> str:
    """Return a fresh random pseudonymous probe id (not derived from anything about the host)."""
    return "p-" + os.urandom(12).hex()
