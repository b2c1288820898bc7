"""Pure readers of setting values: text from flags, CRENEL_* environment or TOML -> typed values.

Pure: no I/O. Each raises `ConfigError` for a value of the wrong shape.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from probe.config.settings import PACKET_MODES, PacketMode
from probe.errors import ConfigError


def system_nameserver(resolv_conf: str) -> str | None:
    """Return the first nameserver address in resolv.conf text, if any."""
    for line in resolv_conf.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            return parts[1].split("%", 1)[0]
    return None


def parse_endpoint(text: str, default_port: int = 53) -> tuple[str, int]:
    """Return (address, port) from `IP`, `IP:PORT` or `[IPv6]:PORT`.

    Raises:
        ConfigError: not an IP address with an optional port.
    """
    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, text)
    try:
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise ConfigError(f"not an IP address (with optional :port): {text!r}") from exc
    return host, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"bad port in {whole!r}")
    return int(text)


def check_networks(values: tuple[str, ...]) -> tuple[str, ...]:
    """Return `values` unchanged once each is known to be a network (CIDR).

    Raises:
        ConfigError: one is not.
    """
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ConfigError(f"not a network (CIDR): {value!r}") from exc
    return values


def check_url(value: str | None, what: str) -> str | None:
    """Return `value` unchanged once it is known to be an http(s) URL (or None).

    Raises:
        ConfigError: it is something else.
    """
    if value is None:
        return None
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{what} must be an http:// or https:// URL, got {value!r}")
    return value


def typed_value(key: str, value: str) -> Any:
    """Return the TOML value for a setting given as text (`config set KEY VALUE`).

    Raises:
        ConfigError: the text does not fit the key.
    """
    if key in ("packet_evidence", "locate_censor"):
        return parse_packet_mode(value, key)
    if key in ("fingerprints", "geoip", "public_networks"):
        return [v.strip() for v in value.split(",") if v.strip()]
    if key == "system_resolver":
        if value.lower() not in ("true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"{key} must be true or false")
        return value.lower() in ("true", "yes", "on")
    if key in ("concurrency", "per_host", "body_cap_bytes"):
        if not value.isdigit():
            raise ConfigError(f"{key} must be a whole number")
        return int(value)
    if key.endswith(("_s", "_ms", "_kbps")):
        try:
            return float(value)
        except ValueError as exc:
            raise ConfigError(f"{key} must be a number") from exc
    return value


def parse_number(value: Any, key: str, *, minimum: float = 0.0) -> float | None:
    """Return `value` as a number of at least `minimum`, or None when it is not set.

    Raises:
        ConfigError: not a number, or too small.
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be a number, got {value!r}") from exc
    if number < minimum:
        raise ConfigError(f"{key} must be at least {minimum}, got {number}")
    return number


def parse_paths(value: Any) -> tuple[Path, ...]:
    """Return the paths in a comma-separated text or a TOML list (user-expanded)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(Path(str(v)).expanduser() for v in items if str(v).strip())


def parse_strings(value: Any) -> tuple[str, ...]:
    """Return the non-empty items of a comma-separated text or a TOML list, stripped."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(v).strip() for v in items if str(v).strip())


def parse_resolver(value: Any, resolv_conf: str | None) -> tuple[str, int] | None:
    """Return the UDP resolver: an endpoint, the system's nameserver (unset or `system`), or None
    (`off`, or no nameserver known).

    Raises:
        ConfigError: not an IP address with an optional port.
    """
    if value is None or str(value).lower() == "system":
        if resolv_conf is None:
            return None
        server = system_nameserver(resolv_conf)
        return parse_endpoint(server) if server else None
    if str(value).lower() in ("off", "none", ""):
        return None
    return parse_endpoint(str(value))


def parse_boolean(value: Any, key: str) -> bool | None:
    """Return `value` as a boolean, or None when it is not set.

    Raises:
        ConfigError: not a recognised true or false.
    """
    if value is None or isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r}")


def parse_packet_mode(value: Any, key: str) -> PacketMode:
    """Return off, on or required from a flag, environment or TOML value (booleans too).

    Raises:
        ConfigError: anything else.
    """
    if value is None or value is False:
        return "off"
    if value is True:
        return "on"
    text = str(value).strip().lower()
    aliases: dict[str, PacketMode] = {
        "0": "off", "false": "off", "no": "off", "off": "off",
        "1": "on", "true": "on", "yes": "on", "on": "on", "auto": "on",
        "required": "required", "require": "required",
    }  # fmt: skip
    if text not in aliases:
        raise ConfigError(f"{key} must be one of {', '.join(PACKET_MODES)}, got {value!r}")
    return aliases[text]


def parse_bait(value: Any) -> str | None:
    """Return the DNS bait's address in canonical form, or None when it is off.

    Raises:
        ConfigError: not an IP address.
    """
    if value is None or str(value).strip().lower() in ("", "off", "none"):
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError as exc:
        raise ConfigError(f"dns_bait must be an IP address, got {value!r}") from exc
