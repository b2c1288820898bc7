"""Every spelling of an address a hostile server may use to echo it, for tests."""

from __future__ import annotations

import ipaddress

SEPARATORS_V4 = [".", "-", "_", "%2E", "%2e", "&#46;", "&#x2e;", "&#X2E;", "%252E"]
SEPARATORS_V6 = [":", "%3A", "%3a", "&#58;", "&#x3a;"]


def ipv4_spellings(ip: ipaddress.IPv4Address) -> list[str]:
    """Return the address written in every spelling the scrubber must catch."""
    a, b, c, d = ip.packed
    value = int(ip)
    forms = [f"{a}{s}{b}{s}{c}{s}{d}" for s in SEPARATORS_V4]
    forms += [
        f"{a:03d}.{b:03d}.{c:03d}.{d:03d}",
        f"ip{a}-{b}-{c}-{d}.dyn.isp.example",
        f"{a}.{b}.{c}.{d}.example",
        f"{d}.{c}.{b}.{a}.in-addr.arpa",
        f"{d}-{c}-{b}-{a}",
        f"{a}_{b}_{c}_{d}",
        f"0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}",
        f"0{a:o}.0{b:o}.0{c:o}.0{d:o}",
        f"::ffff:{a}.{b}.{c}.{d}",
        f"::FFFF:{a}.{b}.{c}.{d}",
        ipaddress.IPv6Address(f"::ffff:{ip}").exploded,
        f"::ffff:{(a << 8) | b:x}:{(c << 8) | d:x}",
        f"[::ffff:{ip}]:80",
        f"{a}.{b}.{(c << 8) | d}",
    ]
    if value >= 1 << 24:
        forms += [str(value), f"0x{value:08x}", f"0X{value:08X}"]
    return forms


def ipv6_spellings(ip: ipaddress.IPv6Address) -> list[str]:
    """Return the IPv6 address written in every spelling the scrubber must catch."""
    compressed = ip.compressed
    exploded = ip.exploded
    forms = [compressed, compressed.upper(), exploded, exploded.upper()]
    forms += [compressed.replace(":", s) for s in SEPARATORS_V6]
    forms += [exploded.replace(":", s) for s in SEPARATORS_V6]
    forms += [compressed.replace(":", "-") + ".dyn.isp.example"]
    forms += [".".join(reversed(exploded.replace(":", ""))) + ".ip6.arpa"]
    forms += [f"[{compressed}]:443", f"http://[{compressed}]/"]
    return forms
