"""Load the probe's reference data (fingerprint files) from disk into a `ReferenceData`.

OONI CSV files end in .csv; Censored Planet JSON-lines files end in .json or .jsonl (a file whose
name mentions "false_positive" holds false-positive signatures).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from probe.analysis import (
    BogonPolicy,
    Fingerprint,
    FingerprintError,
    FingerprintSet,
    ReferenceData,
    parse_censoredplanet_jsonl,
    parse_ooni_csv,
)
from probe.errors import ConfigError


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
    fingerprint_paths: Sequence[Path], public_networks: Sequence[str], throttle_kbps: float
) -> ReferenceData:
    """Return the reference data the analysis uses.

    Raises:
        ConfigError: a fingerprint file cannot be read or parsed.
    """
    return ReferenceData(
        fingerprints=FingerprintSet(load_fingerprints(fingerprint_paths)),
        bogons=BogonPolicy(public_networks=tuple(public_networks)),
        throttle_kbps=throttle_kbps,
    )
