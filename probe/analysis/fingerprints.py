"""Blockpage and false-positive fingerprints: parse OONI CSV and Censored Planet JSONL; match.

Pure: parsers take text, matchers take responses; reading files is the caller's job.
False-positive signatures are checked first and a response they match is never called a blockpage.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import msgspec

from probe.analysis.fingerprint_index import (
    WORD,
    CandidateIndex,
    RequiredText,
    plain_text_of,
    required_text_of,
)
from probe.model import FingerprintMatch

MATCH_BODY_BYTES = 128 * 1024
"""Only this much of a body is searched: blockpages are small and regexes are not free."""

_PATTERN_TYPES = frozenset({"full", "prefix", "contains", "regexp"})
_CP_FALSE_POSITIVE_PREFIXES = ("x_", "r_fp", "p_fp", "satellite_fp")


class FingerprintError(ValueError):
    """A fingerprint file could not be parsed."""


@dataclass(frozen=True)
class Fingerprint:
    """One signature: where it looks, how it matches, and whether it marks a false positive."""

    name: str
    source: str
    location: str
    pattern_type: str
    pattern: str
    scope: str | None = None
    is_false_positive: bool = False
    regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    """The compiled pattern of a `regexp` fingerprint that is not plain text."""
    plain_text: str | None = field(default=None, compare=False, repr=False)
    """What a `regexp` fingerprint that is plain text matches, never compiled (most are)."""
    required: RequiredText | None = field(default=None, init=False, compare=False, repr=False)
    """Text every match of `regex` contains: a text without it is not searched (a search of a
    3 KB page by a case-insensitive pattern costs about 0.2 ms; looking for the text, 2 µs)."""

    def __post_init__(self) -> None:
        if self.regex is not None:
            object.__setattr__(self, "required", required_text_of(self.pattern))

    def matches(self, text: str) -> bool:
        """Return whether the text at this fingerprint's location matches it."""
        if self.pattern_type == "full":
            return text == self.pattern
        if self.pattern_type == "prefix":
            return text.startswith(self.pattern)
        if self.pattern_type == "contains":
            return self.pattern in text
        if self.plain_text is not None:
            return self.plain_text in text
        assert self.regex is not None
        required = self.required
        if required is not None and not _contains(text, required):
            return False
        return self.regex.search(text) is not None


def _contains(text: str, required: RequiredText) -> bool:
    """Return whether `text` contains the required text; True when that cannot be told
    without the regular expression (a case-insensitive pattern and a text not all ASCII)."""
    if not required.is_ascii_case_folded:
        return required.text in text
    return not text.isascii() or required.text in text.lower()


def _compile(pattern: str, where: str) -> re.Pattern[str] | None:
    """Return the compiled pattern, or None when it is plain text (valid by construction,
    matched with `in`: compiling all 1,094 shipped patterns cost 0.1 s at every start)."""
    if plain_text_of(pattern) is not None:
        return None
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise FingerprintError(f"{where}: bad regular expression: {exc}") from exc


def build_fingerprint(
    *,
    name: str,
    source: str,
    location: str,
    pattern_type: str,
    pattern: str,
    scope: str | None = None,
    is_false_positive: bool = False,
) -> Fingerprint:
    """Return a checked fingerprint (regular expressions compiled).

    Raises:
        FingerprintError: unknown pattern type, empty location or pattern, or a bad regex.
    """
    if pattern_type not in _PATTERN_TYPES:
        raise FingerprintError(f"{name}: unknown pattern_type {pattern_type!r}")
    if not location or not pattern:
        raise FingerprintError(f"{name}: empty location or pattern")
    return Fingerprint(
        name=name,
        source=source,
        location=location,
        pattern_type=pattern_type,
        pattern=pattern,
        scope=scope,
        is_false_positive=is_false_positive,
        regex=_compile(pattern, name) if pattern_type == "regexp" else None,
        plain_text=plain_text_of(pattern) if pattern_type == "regexp" else None,
    )


def parse_ooni_csv(text: str, source: str) -> tuple[Fingerprint, ...]:
    """Return the fingerprints of an OONI blocking-fingerprints CSV (DNS or HTTP file).

    Raises:
        FingerprintError: a row lacks a column or has an unknown pattern type or bad regex.
    """
    # Lines split at \n only, ends kept: what csv reads from a file opened with newline="".
    reader = csv.DictReader(line + "\n" for line in text.split("\n"))
    needed = {"name", "scope", "location_found", "pattern_type", "pattern"}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise FingerprintError(f"{source}: not an OONI fingerprint CSV (needs {sorted(needed)})")
    out: list[Fingerprint] = []
    for line, row in enumerate(reader, start=2):
        kind = (row.get("pattern_type") or "").strip()
        pattern = row.get("pattern") or ""
        location = (row.get("location_found") or "").strip().lower()
        if kind not in _PATTERN_TYPES:
            raise FingerprintError(f"{source}:{line}: unknown pattern_type {kind!r}")
        if not location or not pattern:
            raise FingerprintError(f"{source}:{line}: empty location_found or pattern")
        scope = (row.get("scope") or "").strip() or None
        out.append(
            Fingerprint(
                name=(row.get("name") or "").strip() or f"{source}:{line}",
                source=source,
                location=location,
                pattern_type=kind,
                pattern=pattern,
                scope=scope,
                is_false_positive=scope == "fp",
                regex=_compile(pattern, f"{source}:{line}") if kind == "regexp" else None,
                plain_text=plain_text_of(pattern) if kind == "regexp" else None,
            )
        )
    return tuple(out)


class _CpLine(msgspec.Struct):
    fingerprint: str
    pattern: str


def _cp_scope(fingerprint: str) -> str | None:
    parts = fingerprint.split("_", 2)
    return parts[1] if len(parts) > 1 else None


def parse_censoredplanet_jsonl(
    text: str, source: str, *, false_positive: bool | None = None
) -> tuple[Fingerprint, ...]:
    """Return the fingerprints of a Censored Planet signature file (JSON lines).

    `false_positive=None` infers the kind from the id prefix (x_, r_fp, p_fp, satellite_fp).

    Raises:
        FingerprintError: a line is not `{"fingerprint": ..., "pattern": ...}` or has a bad regex.
    """
    decoder = msgspec.json.Decoder(_CpLine)
    out: list[Fingerprint] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise FingerprintError(f"{source}:{line_no}: {exc}") from exc
        is_fp = (
            item.fingerprint.startswith(_CP_FALSE_POSITIVE_PREFIXES)
            if false_positive is None
            else false_positive
        )
        out.append(
            Fingerprint(
                name=item.fingerprint,
                source=source,
                location="response",
                pattern_type="regexp",
                pattern=item.pattern,
                scope="fp"
                if is_fp
                else item.fingerprint.split("_", 2)[1]
                if "_" in item.fingerprint
                else None,
                is_false_positive=is_fp,
                regex=_compile(item.pattern, f"{source}:{line_no}"),
                plain_text=plain_text_of(item.pattern),
            )
        )
    return tuple(out)


def _response_text(status_code: int, headers: Sequence[tuple[str, str]], body: str) -> str:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {status_code}\r\n{head}\r\n{body}"


class FingerprintSet:
    """An indexed collection of fingerprints, ready to match DNS answers and HTTP responses."""

    def __init__(self, fingerprints: Iterable[Fingerprint] = ()) -> None:
        self.fingerprints: tuple[Fingerprint, ...] = tuple(fingerprints)
        self._dns: dict[str, Fingerprint] = {}
        self._false_positive: list[Fingerprint] = []
        self._blockpage: list[Fingerprint] = []
        for fp in self.fingerprints:
            if fp.location == "dns":
                self._dns.setdefault(fp.pattern.strip(), fp)
            elif fp.is_false_positive:
                self._false_positive.append(fp)
            else:
                self._blockpage.append(fp)
        self._false_positive_index = CandidateIndex(self._false_positive)
        self._blockpage_index = CandidateIndex(self._blockpage)
        digest = hashlib.sha256()
        for fp in self.fingerprints:
            digest.update(
                "\x1f".join(
                    [
                        fp.name,
                        fp.source,
                        fp.location,
                        fp.pattern_type,
                        fp.pattern,
                        fp.scope or "",
                        str(fp.is_false_positive),
                    ]
                ).encode()
            )
            digest.update(b"\x1e")
        self.digest = digest.hexdigest()

    def __len__(self) -> int:
        return len(self.fingerprints)

    def match_dns(self, address: str) -> Fingerprint | None:
        """Return the DNS fingerprint naming this address as a blockpage address, if any."""
        return self._dns.get(address)

    def match_response(
        self,
        status_code: int,
        headers: Sequence[tuple[str, str]],
        body: str,
        *,
        depth: int = 0,
    ) -> list[FingerprintMatch]:
        """Return matches for one HTTP response: false positives if any match, else blockpages."""
        body = body[:MATCH_BODY_BYTES]
        lowered = [(name.lower(), value) for name, value in headers]
        whole: str | None = None

        def text_at(location: str) -> list[str]:
            nonlocal whole
            if location == "body":
                return [body]
            if location == "response":
                if whole is None:
                    whole = _response_text(status_code, headers, body)
                return [whole]
            if location.startswith("header."):
                wanted = location.removeprefix("header.")
                return [value for name, value in lowered if name == wanted]
            return []

        words: dict[str, set[str]] = {}

        def words_at(location: str) -> set[str]:
            if location not in words:
                words[location] = {w for text in text_at(location) for w in WORD.findall(text)}
            return words[location]

        for group, index in (
            (self._false_positive, self._false_positive_index),
            (self._blockpage, self._blockpage_index),
        ):
            found = [
                FingerprintMatch(
                    name=fp.name,
                    source=fp.source,
                    location=fp.location,
                    scope=fp.scope,
                    is_false_positive=fp.is_false_positive,
                    depth=depth,
                )
                for fp in (group[position] for position in index.candidates(words_at))
                if any(fp.matches(text) for text in text_at(fp.location))
            ]
            if found:
                return found
        return []
