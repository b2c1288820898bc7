"""Stream OONI documents out of files as published, in constant memory.

Accepted: one JSON document per file (as `ooniprobe` and the API's `raw_measurement` write it),
JSON lines, gzip'd JSON lines (OONI's S3 cans), and the API's `measurement_meta?full=true`
answer (the document inside its `raw_measurement` string). A file is read line by line; only a
file holding one (pretty-printed) document is read whole, up to `MAX_DOCUMENT_BYTES`. A named
pipe (`mkfifo`, `/dev/stdin`) is read like a file, so a can can be streamed without landing on
disk.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

MAX_DOCUMENT_BYTES = 256 << 20
"""Largest single-document file read whole (a measurement with many bodies is a few MB)."""
READ_BYTES = 1 << 18
"""Compressed bytes read (and gunzipped) at once."""
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS


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
class RawLine:
    """One line of a JSON lines file, not decoded yet (a worker process decodes it)."""

    path: Path
    line: int
    text: bytes


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
        self._read_bytes = 0

    @property
    def position(self) -> int:
        """Return how many bytes of the file (compressed, for gzip) have been read so far."""
        if self._raw is None or self._raw.closed:
            return 0
        if self._raw.seekable():
            return self._raw.tell()
        return self._read_bytes

    def documents(self) -> Iterator[Document | Unreadable]:
        """Yield each document of the file, or what could not be read and where."""
        for item in self.lines():
            yield decode_line(item) if isinstance(item, RawLine) else item

    def lines(self) -> Iterator[RawLine | Document | Unreadable]:
        """Yield each line of the file undecoded (a whole-file document decoded), or what could
        not be read and where."""
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            yield Unreadable(self.path, 0, "unreadable_file", exc.strerror or str(exc))
            return
        self._raw = raw
        with raw:
            try:
                # peek, not read and seek back: a pipe cannot seek.
                is_gzip = raw.peek(2)[:2] == _GZIP_MAGIC
            except OSError as exc:
                yield Unreadable(self.path, 0, "unreadable_file", exc.strerror or str(exc))
                return
            if is_gzip:
                yield from self._lines(GzipLines(raw), count_bytes=False)
            else:
                yield from self._lines(raw, count_bytes=True)

    def _lines(
        self, stream: _ByteStream, *, count_bytes: bool
    ) -> Iterator[RawLine | Document | Unreadable]:
        number = 0
        try:
            for line in stream:
                number += 1
                if count_bytes:
                    self._read_bytes += len(line)
                text = line.strip()
                if not text:
                    continue
                if number == 1 and text.startswith(b"{"):
                    try:
                        msgspec.json.decode(text)
                    except msgspec.DecodeError:
                        # Not a complete line: one document spread over the whole file.
                        yield self._whole(text, stream)
                        return
                yield RawLine(self.path, number, text)
        except (EOFError, zlib.error) as exc:
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


class GzipLines:
    """The lines of a gzip stream (one member or several, one after another), then the rest.

    Gunzips large blocks with `zlib` and splits them itself: a third cheaper than reading lines
    through `gzip.GzipFile` (measured on OONI cans, 45 KB lines). Raises `EOFError` when the
    stream ends inside a member and `zlib.error` when it is not gzip.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._blocks = self._inflated()
        self._head = b""
        self._block = b""
        self._start = 0

    def _inflated(self) -> Iterator[bytes]:
        inflater = zlib.decompressobj(_GZIP_WBITS)
        is_inside_member = False
        while block := self._raw.read(READ_BYTES):
            while block:
                is_inside_member = True
                yield inflater.decompress(block)
                if not inflater.eof:
                    break
                # The member ended: what follows is the next member (or padding).
                block = inflater.unused_data.lstrip(b"\x00")
                inflater = zlib.decompressobj(_GZIP_WBITS)
                is_inside_member = False
        if is_inside_member:
            yield inflater.flush()
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    def __iter__(self) -> Iterator[bytes]:
        # Between lines, the unread bytes are `_head` then `_block[_start:]`, for `read`.
        for block in self._blocks:
            end = block.find(b"\n")
            if end < 0:
                self._head += block
                continue
            line = self._head + block[: end + 1]
            self._head, self._block, self._start = b"", block, end + 1
            yield line
            while (end := block.find(b"\n", self._start)) >= 0:
                line = block[self._start : end + 1]
                self._start = end + 1
                yield line
            self._head, self._block, self._start = block[self._start :], b"", 0
        if self._head:
            line, self._head = self._head, b""
            yield line

    def read(self, size: int = -1, /) -> bytes:
        """Return up to `size` bytes (all with -1) after the lines read so far."""
        parts = [self._head, self._block[self._start :]]
        self._head, self._block, self._start = b"", b"", 0
        have = sum(map(len, parts))
        for block in self._blocks:
            if 0 <= size <= have:
                break
            parts.append(block)
            have += len(block)
        data = b"".join(parts)
        if 0 <= size < len(data):
            self._head = data[size:]
            return data[:size]
        return data


def decode_line(item: RawLine) -> Document | Unreadable:
    """Return the document of one line, or why it is not one."""
    try:
        return Document(item.path, item.line, unwrap(msgspec.json.decode(item.text)))
    except msgspec.DecodeError as exc:
        return Unreadable(item.path, item.line, "not_json", str(exc))


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
