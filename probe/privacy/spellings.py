"""Regular expressions that match an IP address in every spelling a web page or a name can use.

Pure: no I/O. One pattern per address covers zero padding, octal and hex octets, the 32-bit
integer in decimal and hex, PTR-style names (`192-0-2-2.dyn.example`, `2.2.0.192.in-addr.arpa`,
`2-2-0-192`), concatenated octets (`192000002002`), IPv4-mapped, compatible and NAT64 IPv6,
every compression of an IPv6 address in any case with or without leading zeros, its ip6.arpa
nibbles, and separators written URL-encoded (`%2E`, `%3A`, also `%252E`), as HTML entities
(`&#46;`, `&#x2e;`, `&#58;`), escaped (`\\x2e`, `\\u002e`), or as `-` and `_`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DOT = r"(?:[._\-]|%(?:25)?2e|&#0*46;|&#x0*2e;|\\x2e|\\u002e)"
"""Any separator between IPv4 octets (and ip6.arpa nibbles)."""
_COLON = r"(?::|-|%(?:25)?3a|&#0*58;|&#x0*3a;|\\x3a|\\u003a)"
"""Any separator between IPv6 groups; a compressed run is two of them."""
_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"
_NOT_HEX_BEFORE = r"(?<![0-9a-f])"
_NOT_HEX_AFTER = r"(?![0-9a-f])"
_NOT_GROUP_BEFORE = r"(?<![0-9a-f:])"
_NOT_GROUP_AFTER = r"(?![0-9a-f:])"
_SMALLEST_INTEGER_FORM = 1 << 24
"""Addresses below 1.0.0.0 are not matched as bare integers: those would hit ordinary numbers."""
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


def _number(value: int) -> str:
    """Return a pattern for a non-negative number in decimal, octal or hex, zero-padded."""
    decimal = "0+" if value == 0 else f"0*{value}"
    forms = [f"0x0*{value:x}(?![0-9a-f])", f"{decimal}(?![0-9])"]
    if value >= 8:
        forms.append(f"0+{value:o}(?![0-9])")
    return "(?:" + "|".join(forms) + ")"


def _octets(parts: Iterable[int], separator: str = _DOT) -> str:
    return separator.join(_number(part) for part in parts)


Spelling = tuple[str, str]
"""The characters a spelling can start with, and its pattern."""


def _starting(first: str, pattern: str) -> Spelling:
    return first, pattern


def _guarded(first: str, pattern: str) -> str:
    """Return `pattern` behind a lookahead on its possible first characters.

    Python's `re` tries every alternative at every position; a lookahead that fails in one
    step on most characters of a page makes scrubbing several times faster.
    """
    chars = "".join(re.escape(char) for char in sorted(set(first)))
    return f"(?=[{chars}])(?:{pattern})"


def _lead(value: int) -> str:
    """Return the characters a spelling of the number can start with (0 for padding/0x/octal)."""
    return "0" + str(value)[0]


def ipv4_patterns(ip: ipaddress.IPv4Address) -> list[Spelling]:
    """Return regular expressions (case-insensitive) for every spelling of an IPv4 address."""
    a, b, c, d = ip.packed
    value = int(ip)
    patterns = [
        _starting(_lead(a), _NOT_DIGIT_BEFORE + _octets((a, b, c, d))),
        # inet_aton's shorter forms: a.b.16bit and a.24bit.
        _starting(_lead(a), _NOT_DIGIT_BEFORE + _octets((a, b, (c << 8) | d))),
        _starting(_lead(a), _NOT_DIGIT_BEFORE + _octets((a, (b << 16) | (c << 8) | d))),
        _starting(_lead(a), _NOT_DIGIT_BEFORE + f"{a:03d}{b:03d}{c:03d}{d:03d}" + _NOT_DIGIT_AFTER),
        # Reversed, as in PTR names: dotted only before in-addr.arpa (else it is another
        # address), with dashes or underscores anywhere.
        _starting(
            _lead(d),
            _NOT_DIGIT_BEFORE + _octets((d, c, b, a)) + f"(?={_DOT}in{_DOT}addr{_DOT}arpa)",
        ),
        _starting(_lead(d), _NOT_DIGIT_BEFORE + _octets((d, c, b, a), r"[_\-]")),
    ]
    if value >= _SMALLEST_INTEGER_FORM:
        patterns += [
            _starting(_lead(value), _NOT_DIGIT_BEFORE + f"0*{value}" + _NOT_DIGIT_AFTER),
            _starting("0", _NOT_DIGIT_BEFORE + f"0x0*{value:x}" + _NOT_HEX_AFTER),
            _starting("0" + f"{value:x}"[0], _NOT_HEX_BEFORE + f"0*{value:08x}" + _NOT_HEX_AFTER),
        ]
    return patterns


def _group(value: int) -> str:
    return "0+" if value == 0 else f"0*{value:x}"


def _compressions(tokens: list[str | None]) -> list[str]:
    """Return every way to write the groups (None = a zero group) with one run compressed."""
    text = [_group(0) if t is None else t for t in tokens]
    forms = [_COLON.join(text)]
    for start in range(len(tokens)):
        for end in range(start + 1, len(tokens) + 1):
            if tokens[end - 1] is not None:
                break
            left = _COLON.join(text[:start])
            right = _COLON.join(text[end:])
            forms.append(f"{left}{_COLON}{_COLON}{right}")
    return forms


def ipv6_patterns(ip: ipaddress.IPv6Address) -> list[Spelling]:
    """Return regular expressions (case-insensitive) for every spelling of an IPv6 address."""
    groups = [int.from_bytes(ip.packed[i : i + 2], "big") for i in range(0, 16, 2)]
    tokens: list[str | None] = [None if g == 0 else _group(g) for g in groups]
    forms = _compressions(tokens)
    # The last 32 bits written as dotted IPv4 (::ffff:192.0.2.2, 2001:db8::192.0.2.2).
    tail = _octets(ip.packed[12:])
    for head in _compressions(tokens[:6]):
        forms.append(head + tail if head.endswith(_COLON + _COLON) else head + _COLON + tail)
    nibbles = ip.exploded.replace(":", "")[::-1]
    first = "0" + f"{groups[0]:x}"[0] + (":-%&\\" if groups[0] == 0 else "")
    return [
        _starting(first, _NOT_GROUP_BEFORE + "(?:" + "|".join(forms) + ")" + _NOT_GROUP_AFTER),
        _starting(nibbles[0], _NOT_HEX_BEFORE + _DOT.join(nibbles) + _NOT_HEX_AFTER),
    ]


def related_addresses(ip: IpAddress) -> set[IpAddress]:
    """Return the address and the other addresses that embed it (mapped, compatible, NAT64)."""
    found: set[IpAddress] = {ip}
    if isinstance(ip, ipaddress.IPv4Address):
        found.add(ipaddress.IPv6Address(f"::ffff:{ip}"))
        found.add(ipaddress.IPv6Address(f"::{ip}"))
        found.add(ipaddress.IPv6Address(int(NAT64_PREFIX.network_address) | int(ip)))
    elif ip.ipv4_mapped is not None:
        found |= related_addresses(ip.ipv4_mapped)
    elif ip in NAT64_PREFIX:
        found |= related_addresses(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def spelling_pattern(addresses: Iterable[IpAddress]) -> re.Pattern[str] | None:
    """Return one case-insensitive pattern matching every spelling of any of `addresses`.

    None when there is nothing to match.
    """
    everything: set[IpAddress] = set()
    for ip in addresses:
        everything |= related_addresses(ip)
    parts: list[Spelling] = []
    for ip in sorted(everything, key=lambda i: (i.version, int(i))):
        if isinstance(ip, ipaddress.IPv4Address):
            parts += ipv4_patterns(ip)
        else:
            parts += ipv6_patterns(ip)
    if not parts:
        return None
    first = "".join(chars for chars, _ in parts)
    alternatives = "|".join(_guarded(chars, pattern) for chars, pattern in parts)
    return re.compile(_guarded(first, alternatives), re.IGNORECASE)
