"""Stream OONI documents out of files as published, in constant memory.

Accepted: one JSON document per file (as `ooniprobe` and the API's `raw_measurement` write it),
JSON lines, gzip'd JSON lines (OONI's S3 cans), and the API's `measurement_meta?full=true`
answer (the document inside its `raw_measurement` string). A file is read line by line; only a
file holding one (pretty-printed) document is read whole, up to `MAX_DOCUMENT_BYTES`.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

MAX_DOCUMENT_BYTES = 256 << 20
"""Largest single-document file read whole (a measurement with many bodies is a few MB)."""
_GZIP_MAGIC = b"\x1f\x8b"


class _ByteStream(Protocol):
    """A binary file or a gzip stream: lines, then the rest."""

    def __iter__(self) -> Iterator[bytes]: ...

    def read(self, size: int = -1, /) -> bytes:
        """Return up to `size` bytes."""
        ...


@dataclass(frozen=True)
class Document:
    """One decoded JSON document and where it was found (line 1 for a whole-file document)."""

    path: Path
    line: int
    value: Any


@dataclass(frozen=True)
class Unreadable:
    """A line or file that could not be read, with a short stable reason and the detail."""

    path: Path
    line: int
    reason: str
    detail: str


class FileReader:
    """The documents of one file; `position` says how many of its bytes have been read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._raw: IO[bytes] | None = None

    @property
    def position(self) -> int:
        """Return how many bytes of the file (compressed, for gzip) have been read so far."""
        if self._raw is None or self._raw.closed:
            return 0
        return self._raw.tell()

    def documents(self) -> Iterator[Document | Unreadable]:
        """Yield each document of the file, or what could not be read and where."""
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            yield Unreadable(self.path, 0, "unreadable_file", exc.strerror or str(exc))
            return
        self._raw = raw
        with raw:
            is_gzip = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if is_gzip:
                with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                    yield from self._lines(unzipped)
            else:
                yield from self._lines(raw)

    def _lines(self, stream: _ByteStream) -> Iterator[Document | Unreadable]:
        number = 0
        try:
            for line in stream:
                number += 1
                text = line.strip()
                if not text:
                    continue
                try:
                    value = msgspec.json.decode(text)
                except msgspec.DecodeError as exc:
                    if number == 1 and text.startswith(b"{"):
                        # Not a complete line: one document spread over the whole file.
                        yield self._whole(text, stream)
                        return
                    yield Unreadable(self.path, number, "not_json", str(exc))
                    continue
                yield Document(self.path, number, unwrap(value))
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield Unreadable(self.path, number + 1, "truncated_gzip", str(exc) or "truncated")
        except OSError as exc:
            yield Unreadable(self.path, number + 1, "unreadable_file", exc.strerror or str(exc))

    def _whole(self, first: bytes, stream: _ByteStream) -> Document | Unreadable:
        rest = stream.read(MAX_DOCUMENT_BYTES + 1 - len(first))
        if len(first) + len(rest) > MAX_DOCUMENT_BYTES:
            return Unreadable(self.path, 1, "too_large", f"over {MAX_DOCUMENT_BYTES} bytes")
        try:
            return Document(self.path, 1, unwrap(msgspec.json.decode(first + rest)))
        except msgspec.DecodeError as exc:
            return Unreadable(self.path, 1, "not_json", str(exc))


def unwrap(value: Any) -> Any:
    """Return the measurement inside an API answer (`raw_measurement`), or `value` itself."""
    if isinstance(value, dict) and "test_keys" not in value and "raw_measurement" in value:
        inner = value["raw_measurement"]
        if isinstance(inner, str):
            try:
                return msgspec.json.decode(inner)
            except msgspec.DecodeError:
                return value
        return inner
    return value
