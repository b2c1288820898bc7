"""The byte patterns a censor looks for: DNS names, TLS SNI, HTTP Host and path keywords.

Pure: no I/O. `nft` renders them as iptables string matches and `injector` searches for the same
bytes, so the packet filter and the injector always agree on which packet is the trigger.
"""

from __future__ import annotations

import struct

from lab.servers.names import normalise_name

# xt_string refuses longer patterns (XT_STRING_MAX_PATTERN_SIZE in linux/netfilter/xt_string.h).
MAX_PATTERN_BYTES = 128
SNI_HOST_NAME = 0  # NameType host_name, RFC 6066 section 3
# Bytes iptables' --hex-string may carry as plain text; everything else goes between |...|.
_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:/_")


def _checked(pattern: bytes) -> bytes:
    """Return `pattern` if the kernel's string match can hold it.

    Raises:
        ValueError: it is empty or longer than MAX_PATTERN_BYTES.
    """
    if not pattern:
        raise ValueError("empty match pattern")
    if len(pattern) > MAX_PATTERN_BYTES:
        raise ValueError(f"match pattern longer than {MAX_PATTERN_BYTES} bytes: {pattern!r}")
    return pattern


def dns_name_pattern(name: str) -> bytes:
    """Return the DNS wire encoding of `name` (length-prefixed lower-case labels, root label).

    It matches the question of a query for `name` or any name below it.

    Raises:
        ValueError: the name is invalid or too long to match.
    """
    labels = normalise_name(name).split(".")
    wire = b"".join(bytes([len(label)]) + label.encode("ascii") for label in labels) + b"\0"
    return _checked(wire)


def sni_pattern(server_name: str) -> bytes:
    """Return the tail of a TLS server_name entry: name type, 16-bit length, then the name.

    The length prefix keeps the pattern off an HTTP Host header carrying the same name.

    Raises:
        ValueError: the name is invalid or too long to match.
    """
    name = normalise_name(server_name).encode("ascii")
    return _checked(struct.pack("!BH", SNI_HOST_NAME, len(name)) + name)


def host_pattern(host: str) -> bytes:
    """Return `Host: <name>` as it opens an HTTP/1.1 Host header line.

    Raises:
        ValueError: the name is invalid or too long to match.
    """
    return _checked(b"Host: " + normalise_name(host).encode("ascii"))


def path_pattern(keyword: str) -> bytes:
    """Return the bytes of a path keyword (UTF-8).

    Raises:
        ValueError: the keyword is empty or too long to match.
    """
    return _checked(keyword.encode("utf-8"))


def http_pattern(host: str | None, path_keyword: str | None) -> bytes:
    """Return the pattern of an HTTP rule that names exactly one of a host and a path keyword.

    Raises:
        ValueError: both or neither are given, or the pattern is invalid.
    """
    if (host is None) == (path_keyword is None):
        raise ValueError("an HTTP rule needs exactly one of host and path_keyword")
    return host_pattern(host) if host is not None else path_pattern(path_keyword or "")


def contains(payload: bytes, pattern: bytes) -> bool:
    """Return whether `payload` holds `pattern`, ignoring ASCII case (as xt_string --icase)."""
    return pattern.lower() in payload.lower()


def hex_string(pattern: bytes) -> str:
    """Return `pattern` as an iptables --hex-string argument: plain text, other bytes in |hex|."""
    parts: list[str] = []
    hex_run: list[str] = []
    for byte in pattern:
        if byte in _PLAIN:
            if hex_run:
                parts.append("|" + "".join(hex_run) + "|")
                hex_run = []
            parts.append(chr(byte))
        else:
            hex_run.append(f"{byte:02x}")
    if hex_run:
        parts.append("|" + "".join(hex_run) + "|")
    return "".join(parts)
