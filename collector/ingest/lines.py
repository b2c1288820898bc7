"""Split an upload into its measurements as the decoded body arrives, refusing as soon as a limit
is passed: too many measurements, or one too large.

Pure and synchronous (callers run `feed` in a worker thread). Blank lines cost no Python work per
line: a run of them is skipped with one strip and counted with one `bytes.count`, so a body of
64 MiB of newlines is a few milliseconds of C, never a list of 64 million empty lines.
"""

from __future__ import annotations

from collector.config import Limits
from collector.core.errors import BadEncoding, PayloadTooLarge

_BLANK = b" \t\r\n"


class LineSplitter:
    """Collects (line number, bytes) of each measurement of one JSON or NDJSON body.

    `lines` grows as the body is fed; `count` is how many measurements have been seen so far.
    """

    def __init__(self, kind: str, limits: Limits) -> None:
        self.kind = kind
        self.limits = limits
        self.lines: list[tuple[int, bytes]] = []
        self._partial = bytearray()
        self._has_partial = False
        self._number = 1
        self._content_end = 0

    @property
    def count(self) -> int:
        """Return the number of measurements seen so far (a started last line counts)."""
        return len(self.lines) + (1 if self._has_partial else 0)

    def feed(self, data: bytes) -> None:
        """Take the next decoded bytes of the body; return nothing.

        Raises:
            PayloadTooLarge: too many measurements, or one too large.
        """
        if self.kind == "json":
            self._feed_json(data)
            return
        start = 0
        while start < len(data):
            if not self._has_partial:
                # Leading blanks of a line are not kept: the line starts at its first byte.
                first = len(data) - len(data[start:].lstrip(_BLANK))
                self._number += data.count(b"\n", start, first)
                if first == len(data):
                    return
                start = first
                self._has_partial = True
                self._check_count(len(self.lines) + 1)
            end = data.find(b"\n", start)
            self._partial += data[start : len(data) if end < 0 else end]
            self._check_size(self._number, len(self._partial) - self._partial.endswith(b"\r"))
            if end < 0:
                return
            self._end_line()
            start = end + 1

    def finish(self) -> list[tuple[int, bytes]]:
        """Return every measurement of the body, in order.

        Raises:
            BadEncoding: the body holds no measurement.
        """
        if self.kind == "json":
            if self._has_partial:
                self.lines.append((1, bytes(self._partial[: self._content_end])))
        elif self._has_partial:
            self._end_line()
        if not self.lines:
            raise BadEncoding("the body holds no measurement")
        return self.lines

    def _end_line(self) -> None:
        line = bytes(self._partial).rstrip(b"\r")
        self.lines.append((self._number, line))
        self._partial.clear()
        self._has_partial = False
        self._number += 1

    def _feed_json(self, data: bytes) -> None:
        if not self._has_partial:
            data = data.lstrip(_BLANK)
            if not data:
                return
            self._has_partial = True
        stripped = len(data.rstrip(_BLANK))
        if stripped:
            self._content_end = len(self._partial) + stripped
        self._check_size(1, self._content_end)
        self._partial += data

    def _check_count(self, count: int) -> None:
        if count > self.limits.max_batch_lines:
            raise PayloadTooLarge(
                f"more than {self.limits.max_batch_lines} measurements in one request; "
                f"the limit is {self.limits.max_batch_lines}"
            )

    def _check_size(self, number: int, size: int) -> None:
        if size > self.limits.max_line_bytes:
            raise PayloadTooLarge(
                f"line {number}: more than {self.limits.max_line_bytes} bytes; one measurement "
                f"may have at most {self.limits.max_line_bytes}"
            )


def split_lines(body: bytes, kind: str, limits: Limits) -> list[tuple[int, bytes]]:
    """Return (line number, bytes) of each measurement in a whole body; blank lines are skipped.

    Raises:
        PayloadTooLarge: too many measurements, or one too large.
        BadEncoding: the body holds no measurement.
    """
    splitter = LineSplitter(kind, limits)
    splitter.feed(body)
    return splitter.finish()
