"""Turn OONI documents into the bytes Crenel stores, counting what was skipped and why.

Pure apart from the counting: a document in, a converted measurement (or a recorded skip) out.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import msgspec

from collector.ooni_import.documents import Document, RawLine, Unreadable, decode_line
from probe.model import Measurement
from probe.ooni import (
    OoniDocumentError,
    OtherOoniTest,
    measurement_from_ooni,
    read_ooni_line,
)
from probe.privacy import scrub_measurement

MAX_LISTED_PROBLEMS = 100
"""Skipped lines listed one by one in the summary; the rest are only counted."""


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One skipped line: where, and why."""

    file: str
    line: int
    reason: str
    detail: str


class ImportSummary(msgspec.Struct, kw_only=True):
    """What an import read, stored and skipped (printed at the end, or as --json)."""

    files: int = 0
    documents: int = 0
    """JSON documents read (every test)."""
    converted: int = 0
    """Web Connectivity measurements converted."""
    stored: int = 0
    """New measurements stored."""
    duplicates: int = 0
    """Measurements already stored (imported before)."""
    other_tests: dict[str, int] = {}
    """OONI tests other than Web Connectivity, skipped, per test name."""
    skipped: dict[str, int] = {}
    """Unreadable or unconvertible lines, per reason."""
    problems: list[Problem] = []
    """The first skipped lines with file and line number."""
    analysed: int = 0
    """Measurements analysed by the collector's analysis (local imports)."""

    def skip(self, path: str, line: int, reason: str, detail: str) -> None:
        """Count a skipped line (and list it while the list is short); return nothing."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(Problem(file=path, line=line, reason=reason, detail=detail[:300]))

    def add(self, part: ImportSummary) -> None:
        """Count what a later part of the import (a chunk of lines) counted; return nothing."""
        self.files += part.files
        self.documents += part.documents
        self.converted += part.converted
        self.stored += part.stored
        self.duplicates += part.duplicates
        self.analysed += part.analysed
        for name, n in part.other_tests.items():
            self.other_tests[name] = self.other_tests.get(name, 0) + n
        for reason, n in part.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n
        room = MAX_LISTED_PROBLEMS - len(self.problems)
        if room > 0:
            self.problems.extend(part.problems[:room])


@dataclass(frozen=True)
class Converted:
    """One OONI measurement as Crenel stores it: the measurement and its JSON bytes."""

    measurement: Measurement
    data: bytes
    path: str
    line: int


def convert_line(item: RawLine, summary: ImportSummary) -> Converted | None:
    """Return the converted measurement of a line, or None after counting why not.

    A named Web Connectivity measurement is read straight into the reader's Structs (only the
    fields it reads); any other line is decoded as JSON and converted like a document."""
    doc = read_ooni_line(item.text)
    if doc is None:
        return convert(decode_line(item), summary)
    summary.documents += 1
    try:
        measurement = measurement_from_ooni(doc)
    except OoniDocumentError as exc:
        summary.skip(str(item.path), item.line, exc.reason, str(exc))
        return None
    return _scrubbed(measurement, doc.probe_ip, item.path, item.line, summary)


def convert(item: Document | Unreadable, summary: ImportSummary) -> Converted | None:
    """Return the converted measurement of a document, or None after counting why not."""
    if isinstance(item, Unreadable):
        summary.skip(str(item.path), item.line, item.reason, item.detail)
        return None
    summary.documents += 1
    try:
        measurement = measurement_from_ooni(item.value)
    except OtherOoniTest as exc:
        summary.other_tests[exc.test_name] = summary.other_tests.get(exc.test_name, 0) + 1
        return None
    except OoniDocumentError as exc:
        summary.skip(str(item.path), item.line, exc.reason, str(exc))
        return None
    probe_ip = item.value.get("probe_ip") if isinstance(item.value, dict) else None
    return _scrubbed(measurement, probe_ip, item.path, item.line, summary)


def _scrubbed(
    measurement: Measurement, probe_ip: object, path: Path, line: int, summary: ImportSummary
) -> Converted:
    address = _probe_address(probe_ip)
    if address is not None:
        # OONI scrubs its probes' addresses before publishing; if one is left, it goes here.
        measurement = scrub_measurement(measurement, [address])
    summary.converted += 1
    return Converted(measurement, msgspec.json.encode(measurement), str(path), line)


def _probe_address(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return None if ip.is_loopback or ip.is_unspecified else str(ip)
