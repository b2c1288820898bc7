"""Undo a body's Content-Encoding (identity, gzip, zstd) piece by piece, with a bounded output.

Synchronous and CPU-bound: callers run `feed` and `finish` in a worker thread. No piece of output
is larger than `STEP_BYTES` (about), and the decoded total is refused as soon as it passes the
limit, so a small bomb costs at most the limit in work and one step in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import zstandard

from collector.core.errors import BadEncoding, PayloadTooLarge

STEP_BYTES = 1 << 20
"""Most decoded bytes produced by one decompression step."""
_ZSTD_STEP_BYTES = 256
"""Compressed bytes per zstd step: an RLE block of a few bytes can expand to 128 KiB, so small
steps bound one step's output to a few MiB."""
_ZSTD_MAX_FRAMES = 1024


class Inflater:
    """Decodes one body's content coding incrementally and hands each decoded piece to `sink`.

    Raises (from `feed` and `finish`):
        BadEncoding: the body does not decode as its coding says.
        PayloadTooLarge: the decoded body exceeds `limit_bytes`.
    """

    def __init__(self, coding: str, limit_bytes: int, sink: Callable[[bytes], None]) -> None:
        self.coding = coding
        self.limit_bytes = limit_bytes
        self.decoded_bytes = 0
        self._sink = sink
        self._gzip = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16) if coding == "gzip" else None
        self._zstd = self._new_zstd() if coding == "zstd" else None
        self._zstd_frames = 1
        self._zstd_ended = False

    @staticmethod
    def _new_zstd() -> zstandard.ZstdDecompressionObj:
        return zstandard.ZstdDecompressor().decompressobj()

    def _emit(self, piece: bytes) -> None:
        if not piece:
            return
        self.decoded_bytes += len(piece)
        if self.decoded_bytes > self.limit_bytes:
            what = "body" if self.coding == "identity" else "decompressed body"
            raise PayloadTooLarge(f"{what} exceeds the limit of {self.limit_bytes} bytes")
        self._sink(piece)

    def feed(self, data: bytes) -> None:
        """Decode the next bytes of the body and pass what they decode to on; return nothing."""
        if self.coding == "gzip":
            for piece in self._gunzip(data):
                self._emit(piece)
        elif self.coding == "zstd":
            for piece in self._unzstd(data):
                self._emit(piece)
        else:
            for start in range(0, len(data), STEP_BYTES):
                self._emit(data[start : start + STEP_BYTES])

    def finish(self) -> None:
        """Check that the body ended where its coding ends; return nothing."""
        if self._gzip is not None:
            try:
                self._emit(self._gzip.flush())
            except zlib.error as exc:
                raise BadEncoding(f"body is not valid gzip: {exc}") from exc
            if not self._gzip.eof:
                raise BadEncoding("body is not valid gzip: truncated stream")
        if self._zstd is not None and not self._zstd_ended:
            raise BadEncoding("body is not valid zstd: truncated stream")

    def _gunzip(self, data: bytes) -> Iterator[bytes]:
        inflater = self._gzip
        assert inflater is not None
        pending = data
        try:
            while pending:
                if inflater.eof:
                    raise BadEncoding("body is not valid gzip: data after the end of the stream")
                yield inflater.decompress(pending, STEP_BYTES)
                pending = inflater.unconsumed_tail
                if inflater.unused_data:
                    raise BadEncoding("body is not valid gzip: data after the end of the stream")
        except zlib.error as exc:
            raise BadEncoding(f"body is not valid gzip: {exc}") from exc

    def _unzstd(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        try:
            start = 0
            while start < len(view):
                reader = self._zstd
                assert reader is not None
                if self._zstd_ended:
                    # Concatenated frames decode as one body (RFC 8878, section 3).
                    if self._zstd_frames >= _ZSTD_MAX_FRAMES:
                        raise BadEncoding("body is not valid zstd: too many frames")
                    reader = self._zstd = self._new_zstd()
                    self._zstd_frames += 1
                    self._zstd_ended = False
                step = bytes(view[start : start + _ZSTD_STEP_BYTES])
                start += len(step)
                yield reader.decompress(step)
                if reader.eof:
                    self._zstd_ended = True
                    rest = reader.unused_data
                    if rest:
                        # Whatever followed the frame's end is the next frame.
                        data = rest + bytes(view[start:])
                        view = memoryview(data)
                        start = 0
        except zstandard.ZstdError as exc:
            raise BadEncoding(f"body is not valid zstd: {exc}") from exc
