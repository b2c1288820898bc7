"""Load the probe's reference data into a `ReferenceData`: the versioned fingerprint set (the one
shipped in `probe.fingerprints`, or a newer one a collector handed over), plus local files.

OONI CSV files end in .csv; Censored Planet JSON-lines files end in .json or .jsonl (a file whose
name mentions "false_positive" holds false-positive signatures).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from probe.analysis import (
    BogonPolicy,
    Fingerprint,
    FingerprintError,
    FingerprintSet,
    ReferenceData,
    VersionedSet,
    is_newer,
    make_versioned_set,
    parse_censoredplanet_jsonl,
    parse_ooni_csv,
    read_versioned_set,
)
from probe.errors import ConfigError

BUNDLED_VERSION = "2025.6.29.1"
"""The shipped set: Censored Planet's signatures of 2025-06-29, Crenel's CDN set revision 1.
Raise it whenever a file in `probe/fingerprints/` changes."""
BUNDLED_FILES = (
    # False positives first: a response they match is never a blockpage.
    ("crenel_cdn_challenges.json", True),
    ("censoredplanet_false_positive_signatures.json", True),
    ("censoredplanet_blockpage_signatures.json", False),
)
BUNDLED_NOTICE = (
    "censoredplanet_*: Censored Planet's signatures (github.com/censoredplanet/"
    "censoredplanet-analysis @ 31830c6e), Apache License 2.0; crenel_cdn_challenges: Crenel."
)
STORED_SET_NAME = "fingerprint-set.json"
"""A newer set from the collector, kept in the probe's data directory."""

logger = logging.getLogger(__name__)


@functools.cache
def bundled_set() -> VersionedSet:
    """Return the fingerprint set shipped with Crenel (read once per process)."""
    package = resources.files("probe.fingerprints")
    items: list[Fingerprint] = []
    for name, is_false_positive in BUNDLED_FILES:
        text = (package / name).read_text(encoding="utf-8")
        items.extend(parse_censoredplanet_jsonl(text, name, false_positive=is_false_positive))
    return make_versioned_set(BUNDLED_VERSION, items, BUNDLED_NOTICE)


def read_set_file(path: Path) -> VersionedSet:
    """Return the versioned fingerprint set in a file.

    Raises:
        ConfigError: the file cannot be read or is not a valid set.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read fingerprint set {path}: {exc}") from exc
    try:
        return read_versioned_set(data, str(path))
    except FingerprintError as exc:
        raise ConfigError(str(exc)) from exc


def active_set(data_dir: Path) -> VersionedSet:
    """Return the set to use: the stored one when it is valid and newer than the bundled one.

    A stored set that cannot be read is logged and ignored (the bundled set stays in use).
    """
    shipped = bundled_set()
    path = data_dir / STORED_SET_NAME
    if not path.exists():
        return shipped
    try:
        stored = read_set_file(path)
    except ConfigError as exc:
        logger.warning("ignoring the stored fingerprint set: %s", exc.message)
        return shipped
    return stored if is_newer(stored.version, shipped.version) else shipped


def store_set(data_dir: Path, fingerprint_set: VersionedSet) -> Path:
    """Write the set's canonical bytes to the data directory atomically; return the path.

    Raises:
        ConfigError: the file cannot be written.
    """
    path = data_dir / STORED_SET_NAME
    partial = path.with_name(path.name + ".partial")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as f:
            f.write(fingerprint_set.data)
            f.flush()
            os.fsync(f.fileno())
        partial.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot store the fingerprint set in {path}: {exc}") from exc
    return path


def load_fingerprints(paths: Sequence[Path]) -> list[Fingerprint]:
    """Return the fingerprints of every file, in order.

    Raises:
        ConfigError: a file cannot be read or parsed.
    """
    out: list[Fingerprint] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read fingerprint file {path}: {exc}") from exc
        try:
            if path.suffix.lower() == ".csv":
                out.extend(parse_ooni_csv(text, path.name))
            elif path.suffix.lower() in (".json", ".jsonl"):
                is_fp = True if "false_positive" in path.name else None
                out.extend(parse_censoredplanet_jsonl(text, path.name, false_positive=is_fp))
            else:
                raise ConfigError(
                    f"{path}: unknown fingerprint format (use .csv for OONI, .json/.jsonl for "
                    "Censored Planet)"
                )
        except FingerprintError as exc:
            raise ConfigError(str(exc)) from exc
    return out


def load_reference(
    fingerprint_paths: Sequence[Path],
    public_networks: Sequence[str],
    throttle_kbps: float,
    *,
    fingerprint_set: VersionedSet | None = None,
) -> ReferenceData:
    """Return the reference data the analysis uses: the versioned set (the bundled one unless
    another is given) and then the fingerprints of the local files.

    Raises:
        ConfigError: a fingerprint file cannot be read or parsed.
    """
    versioned = fingerprint_set if fingerprint_set is not None else bundled_set()
    return ReferenceData(
        fingerprints=FingerprintSet(
            [*versioned.fingerprints, *load_fingerprints(fingerprint_paths)]
        ),
        fingerprint_set=versioned,
        bogons=BogonPolicy(public_networks=tuple(public_networks)),
        throttle_kbps=throttle_kbps,
    )
