"""Versioned fingerprint sets: one JSON document, a version, and a digest of its canonical bytes.

Pure: takes and returns bytes; reading, storing and fetching sets is the caller's job. A collector
serves its set's canonical bytes; a probe checks the digest the check-in announced against the
bytes it received before it uses them, and every analysis records the set's version and digest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import msgspec

from probe.analysis.fingerprints import Fingerprint, FingerprintError, build_fingerprint
from probe.model import FingerprintSetRef

SET_FORMAT: Literal["crenel-fingerprint-set/1"] = "crenel-fingerprint-set/1"
MAX_SET_BYTES = 4 << 20
"""Largest set a probe fetches or a collector serves; the bundled set is about 0.2 MB."""
VERSION_PATTERN = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9}){0,3}$")


class _Entry(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    source: str
    location: str
    pattern_type: str
    pattern: str
    scope: str | None = None
    is_false_positive: bool = False


class _Document(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["crenel-fingerprint-set/1"]
    version: str
    fingerprints: list[_Entry]
    notice: str = ""


_decoder = msgspec.json.Decoder(_Document)


@dataclass(frozen=True)
class VersionedSet:
    """A fingerprint set with its version, notice, canonical bytes and their SHA-256."""

    version: str
    fingerprints: tuple[Fingerprint, ...]
    notice: str
    data: bytes
    digest: str

    @property
    def ref(self) -> FingerprintSetRef:
        """Return the (version, digest) pair an analysis records."""
        return FingerprintSetRef(version=self.version, digest=self.digest)


def version_key(version: str) -> tuple[int, ...]:
    """Return a sortable key for a set version ("2025.6.29.1" -> (2025, 6, 29, 1)).

    Raises:
        FingerprintError: the version is not 1-4 dot-separated numbers.
    """
    if not VERSION_PATTERN.match(version):
        raise FingerprintError(f"bad fingerprint set version {version!r} (want e.g. 2025.6.29.1)")
    return tuple(int(part) for part in version.split("."))


def is_newer(candidate: str, current: str) -> bool:
    """Return whether version `candidate` is newer than `current` (missing parts count as 0)."""
    a, b = version_key(candidate), version_key(current)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) > b + (0,) * (width - len(b))


def make_versioned_set(
    version: str, fingerprints: Iterable[Fingerprint], notice: str = ""
) -> VersionedSet:
    """Return the set of these fingerprints under `version`, with its canonical bytes and digest.

    Raises:
        FingerprintError: the version is malformed.
    """
    version_key(version)
    items = tuple(fingerprints)
    document = _Document(
        format=SET_FORMAT,
        version=version,
        notice=notice,
        fingerprints=[
            _Entry(
                name=fp.name,
                source=fp.source,
                location=fp.location,
                pattern_type=fp.pattern_type,
                pattern=fp.pattern,
                scope=fp.scope,
                is_false_positive=fp.is_false_positive,
            )
            for fp in items
        ],
    )
    data = msgspec.json.encode(document)
    return VersionedSet(
        version=version,
        fingerprints=items,
        notice=notice,
        data=data,
        digest=hashlib.sha256(data).hexdigest(),
    )


def read_versioned_set(data: bytes, source: str) -> VersionedSet:
    """Return the set a JSON document holds; its digest is over the canonical re-encoding.

    Raises:
        FingerprintError: too large, not a fingerprint set, a bad version, pattern or regex.
    """
    if len(data) > MAX_SET_BYTES:
        raise FingerprintError(
            f"{source}: a fingerprint set of {len(data)} bytes is over the {MAX_SET_BYTES} limit"
        )
    try:
        document = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise FingerprintError(f"{source}: not a Crenel fingerprint set: {exc}") from exc
    try:
        fingerprints = [
            build_fingerprint(
                name=entry.name,
                source=entry.source,
                location=entry.location,
                pattern_type=entry.pattern_type,
                pattern=entry.pattern,
                scope=entry.scope,
                is_false_positive=entry.is_false_positive,
            )
            for entry in document.fingerprints
        ]
        return make_versioned_set(document.version, fingerprints, document.notice)
    except FingerprintError as exc:
        raise FingerprintError(f"{source}: {exc}") from exc
