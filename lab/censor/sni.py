"""Read the server name (SNI) from the first bytes of a TLS connection: the ClientHello.

Pure: no I/O. RFC 8446 section 4.1.2 (ClientHello) and RFC 6066 section 3 (server_name).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RECORD_HEADER_BYTES = 5
HANDSHAKE_HEADER_BYTES = 4
CONTENT_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1
EXTENSION_SERVER_NAME = 0
NAME_TYPE_HOST = 0
MAX_RECORD_BYTES = (1 << 14) + 2048  # TLSCiphertext limit, RFC 8446 section 5.2
# A ClientHello larger than this is refused: real ones (even with post-quantum key shares)
# stay under a few kilobytes, and the caller buffers everything until the hello is complete.
MAX_HELLO_BYTES = 32 * 1024


@dataclass(frozen=True)
class ClientHello:
    """What the censor reads from a complete ClientHello."""

    server_name: str | None  # the host_name entry, lower-case without a trailing dot


def _handshake_bytes(data: bytes) -> bytes | None:
    """Return the handshake message carried by the leading handshake records, as far as present.

    Returns None when `data` holds no complete record header yet.

    Raises:
        ValueError: a record is not a TLS handshake record or is too long.
    """
    message = bytearray()
    offset = 0
    while offset + RECORD_HEADER_BYTES <= len(data):  # each pass consumes one record header
        content_type, major, _minor, length = struct.unpack_from("!BBBH", data, offset)
        if content_type != CONTENT_HANDSHAKE or major != 3:
            raise ValueError("not a TLS handshake record")
        if length == 0 or length > MAX_RECORD_BYTES:
            raise ValueError(f"TLS record length {length} out of range")
        start = offset + RECORD_HEADER_BYTES
        message += data[start : start + length]
        offset = start + length
        if len(message) >= HANDSHAKE_HEADER_BYTES:
            needed = HANDSHAKE_HEADER_BYTES + int.from_bytes(message[1:4], "big")
            if len(message) >= needed:
                break
    return bytes(message) if offset else None


class _Reader:
    """A cursor over a byte string that raises ValueError when a field runs past the end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise ValueError("ClientHello field runs past its end")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_bytes: int) -> bytes:
        return self.take(self.number(length_bytes))

    @property
    def at_end(self) -> bool:
        return self.offset >= len(self.data)


def _server_name(extension: bytes) -> str | None:
    """Return the host_name of a server_name extension body, if it has one.

    Raises:
        ValueError: the extension is malformed or the name is not ASCII.
    """
    names = _Reader(_Reader(extension).vector(2))
    while not names.at_end:  # each pass consumes at least three bytes
        name_type = names.number(1)
        name = names.vector(2)
        if name_type == NAME_TYPE_HOST:
            try:
                text = name.decode("ascii")
            except UnicodeDecodeError as exc:
                raise ValueError("SNI host_name is not ASCII") from exc
            return text.lower().removesuffix(".") or None
    return None


def parse_client_hello(data: bytes) -> ClientHello | None:
    """Return the ClientHello at the start of `data`, or None while it is still incomplete.

    Raises:
        ValueError: the bytes are not a TLS ClientHello (or one larger than MAX_HELLO_BYTES).
    """
    if data and data[0] != CONTENT_HANDSHAKE:
        raise ValueError("not a TLS handshake record")
    message = _handshake_bytes(data[: MAX_HELLO_BYTES + RECORD_HEADER_BYTES * 4])
    if message is None or len(message) < HANDSHAKE_HEADER_BYTES:
        if len(data) > MAX_HELLO_BYTES:
            raise ValueError("ClientHello too large")
        return None
    if message[0] != HANDSHAKE_CLIENT_HELLO:
        raise ValueError("the first handshake message is not a ClientHello")
    length = int.from_bytes(message[1:4], "big")
    if length > MAX_HELLO_BYTES:
        raise ValueError("ClientHello too large")
    if len(message) < HANDSHAKE_HEADER_BYTES + length:
        return None
    hello = _Reader(message[HANDSHAKE_HEADER_BYTES : HANDSHAKE_HEADER_BYTES + length])
    hello.take(2 + 32)  # legacy_version, random
    hello.vector(1)  # legacy_session_id
    hello.vector(2)  # cipher_suites
    hello.vector(1)  # legacy_compression_methods
    if hello.at_end:
        return ClientHello(server_name=None)  # no extensions at all (SSL 3.0 style)
    extensions = _Reader(hello.vector(2))
    while not extensions.at_end:  # each pass consumes at least four bytes
        extension_type = extensions.number(2)
        body = extensions.vector(2)
        if extension_type == EXTENSION_SERVER_NAME:
            return ClientHello(server_name=_server_name(body))
    return ClientHello(server_name=None)
