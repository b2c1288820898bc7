"""The probe's settings: flags, then CRENEL_* environment, then the TOML file, then defaults.

Resolved once into a frozen `ProbeConfig` by the CLI and passed down; nothing else reads the
environment. `ConfigFile` reads and writes the TOML file (consent, `config set`).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import platformdirs
import tomli_w

from probe.errors import ConfigError

APP_NAME = "crenel"
DEFAULT_DOH_URL = "https://dns.google/dns-query"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
RESOLV_CONF = Path("/etc/resolv.conf")
PacketMode = Literal["off", "on", "required"]
"""Packet evidence and localisation: off, on where privileges allow, or required (exit 4)."""
PACKET_MODES: tuple[PacketMode, ...] = ("off", "on", "required")


@dataclass(frozen=True)
class Budgets:
    """Time allowed for each step, in seconds (OONI's Web Connectivity uses similar ones)."""

    dns_s: float = 4.0
    tcp_s: float = 10.0
    tls_s: float = 10.0
    http_s: float = 15.0
    control_s: float = 30.0


@dataclass(frozen=True)
class ProbeConfig:
    """Everything that shapes how the probe measures, stores and reports."""

    data_dir: Path
    config_path: Path
    control_url: str | None = None
    collector_url: str | None = None
    system_resolver: bool = True
    udp_resolver: tuple[str, int] | None = None
    doh_url: str | None = DEFAULT_DOH_URL
    ca_bundle: Path | None = None
    fingerprint_paths: tuple[Path, ...] = ()
    geoip_paths: tuple[Path, ...] = ()
    public_networks: tuple[str, ...] = ()
    budgets: Budgets = field(default_factory=Budgets)
    capture_window_s: float = 0.5
    body_cap_bytes: int = 1 << 20
    max_body_bytes: int = 64 << 20
    max_redirects: int = 10
    concurrency: int = 16
    per_host: int = 2
    user_agent: str = DEFAULT_USER_AGENT
    throttle_kbps: float = 256.0
    max_runtime_s: float | None = None
    packet_evidence: PacketMode = "off"
    locate_censor: PacketMode = "off"
    dns_bait: str | None = None

    @property
    def store_path(self) -> Path:
        """Return the path of the local measurement store."""
        return self.data_dir / "measurements.sqlite3"


def default_config_path(env: Mapping[str, str]) -> Path:
    """Return the TOML file's path: CRENEL_CONFIG, else the platform's config directory."""
    if env.get("CRENEL_CONFIG"):
        return Path(env["CRENEL_CONFIG"]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "probe.toml"


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Return the data directory: CRENEL_DATA_DIR, else the platform's data directory."""
    if env.get("CRENEL_DATA_DIR"):
        return Path(env["CRENEL_DATA_DIR"]).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME))


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


def _check_networks(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ConfigError(f"not a network (CIDR): {value!r}") from exc
    return values


def _check_url(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{what} must be an http:// or https:// URL, got {value!r}")
    return value


class ConfigFile:
    """The probe's TOML settings file: read it, change a key, write it back atomically."""

    KEYS: frozenset[str] = frozenset(
        {
            "control",
            "collector",
            "resolver",
            "doh",
            "system_resolver",
            "ca_bundle",
            "fingerprints",
            "geoip",
            "public_networks",
            "capture_window_ms",
            "body_cap_bytes",
            "concurrency",
            "per_host",
            "user_agent",
            "throttle_kbps",
            "dns_timeout_s",
            "tcp_timeout_s",
            "tls_timeout_s",
            "http_timeout_s",
            "control_timeout_s",
            "packet_evidence",
            "locate_censor",
            "dns_bait",
        }
    )

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        """Return the file's table, or an empty one if the file does not exist.

        Raises:
            ConfigError: the file is not valid TOML.
        """
        try:
            return tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path}: not valid TOML: {exc}") from exc

    def write(self, table: Mapping[str, Any]) -> None:
        """Replace the file's content with `table` (atomically, mode 0600)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(tomli_w.dumps(dict(table)), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.path)

    def set(self, key: str, value: str) -> None:
        """Set one known key from its text form; `none` or an empty value removes it.

        Raises:
            ConfigError: unknown key or a value of the wrong shape.
        """
        if key not in self.KEYS:
            raise ConfigError(f"unknown setting {key!r}; known: {', '.join(sorted(self.KEYS))}")
        table = self.read()
        if value.strip().lower() in ("", "none"):
            table.pop(key, None)
        else:
            table[key] = _typed(key, value)
        load_config({}, {}, table_override=table, config_path=self.path)
        self.write(table)


def _typed(key: str, value: str) -> Any:
    if key in ("packet_evidence", "locate_censor"):
        return _packet_mode(value, key)
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


def _pick(
    flags: Mapping[str, Any], env: Mapping[str, str], table: Mapping[str, Any], key: str
) -> Any:
    if flags.get(key) is not None:
        return flags[key]
    env_key = "CRENEL_" + key.upper()
    if env.get(env_key):
        return env[env_key]
    return table.get(key)


def _number(value: Any, key: str, *, minimum: float = 0.0) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be a number, got {value!r}") from exc
    if number < minimum:
        raise ConfigError(f"{key} must be at least {minimum}, got {number}")
    return number


def _paths(value: Any) -> tuple[Path, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(Path(str(v)).expanduser() for v in items if str(v).strip())


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(v).strip() for v in items if str(v).strip())


def _resolver(value: Any, resolv_conf: str | None) -> tuple[str, int] | None:
    if value is None or str(value).lower() == "system":
        if resolv_conf is None:
            return None
        server = system_nameserver(resolv_conf)
        return parse_endpoint(server) if server else None
    if str(value).lower() in ("off", "none", ""):
        return None
    return parse_endpoint(str(value))


def _boolean(value: Any, key: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r}")


def _packet_mode(value: Any, key: str) -> PacketMode:
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


def _bait(value: Any) -> str | None:
    if value is None or str(value).strip().lower() in ("", "off", "none"):
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError as exc:
        raise ConfigError(f"dns_bait must be an IP address, got {value!r}") from exc


def load_config(
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    table_override: Mapping[str, Any] | None = None,
    config_path: Path | None = None,
    resolv_conf: str | None = None,
) -> ProbeConfig:
    """Return the settings resolved from flags, then environment, then the TOML file, then defaults.

    `flags` holds parsed command-line values keyed like the TOML keys (None when not given).

    Raises:
        ConfigError: a setting has the wrong shape (bad URL, address, number or network).
    """
    path = config_path or (
        Path(flags["config"]) if flags.get("config") else default_config_path(env)
    )
    table = dict(table_override) if table_override is not None else ConfigFile(path).read()
    data_dir = Path(flags["data_dir"]) if flags.get("data_dir") else default_data_dir(env)

    def pick(key: str) -> Any:
        return _pick(flags, env, table, key)

    defaults = Budgets()
    budgets = Budgets(
        dns_s=_number(pick("dns_timeout_s"), "dns_timeout_s", minimum=0.05) or defaults.dns_s,
        tcp_s=_number(pick("tcp_timeout_s"), "tcp_timeout_s", minimum=0.05) or defaults.tcp_s,
        tls_s=_number(pick("tls_timeout_s"), "tls_timeout_s", minimum=0.05) or defaults.tls_s,
        http_s=_number(pick("http_timeout_s"), "http_timeout_s", minimum=0.05) or defaults.http_s,
        control_s=_number(pick("control_timeout_s"), "control_timeout_s", minimum=0.05)
        or defaults.control_s,
    )
    doh = pick("doh")
    doh_url = (
        DEFAULT_DOH_URL
        if doh is None
        else (None if str(doh).lower() in ("off", "none") else str(doh))
    )
    capture_ms = _number(pick("capture_window_ms"), "capture_window_ms")
    system_resolver = _boolean(pick("system_resolver"), "system_resolver")
    concurrency = _number(pick("concurrency"), "concurrency", minimum=1)
    per_host = _number(pick("per_host"), "per_host", minimum=1)
    body_cap = _number(pick("body_cap_bytes"), "body_cap_bytes")
    max_runtime = _number(flags.get("max_runtime_s"), "max_runtime", minimum=1)
    throttle = _number(pick("throttle_kbps"), "throttle_kbps", minimum=1)
    ca_bundle = pick("ca_bundle")
    return ProbeConfig(
        data_dir=data_dir,
        config_path=path,
        control_url=_check_url(pick("control"), "control"),
        collector_url=_check_url(pick("collector"), "collector"),
        system_resolver=True if system_resolver is None else system_resolver,
        udp_resolver=_resolver(pick("resolver"), resolv_conf),
        doh_url=_check_url(doh_url, "doh"),
        ca_bundle=Path(ca_bundle).expanduser() if ca_bundle else None,
        fingerprint_paths=_paths(pick("fingerprints")),
        geoip_paths=_paths(pick("geoip")),
        public_networks=_check_networks(_strings(pick("public_networks"))),
        budgets=budgets,
        capture_window_s=0.5 if capture_ms is None else capture_ms / 1000.0,
        body_cap_bytes=1 << 20 if body_cap is None else int(body_cap),
        concurrency=16 if concurrency is None else int(concurrency),
        per_host=2 if per_host is None else int(per_host),
        user_agent=str(pick("user_agent") or DEFAULT_USER_AGENT),
        throttle_kbps=256.0 if throttle is None else throttle,
        max_runtime_s=max_runtime,
        packet_evidence=_packet_mode(pick("packet_evidence"), "packet_evidence"),
        locate_censor=_packet_mode(pick("locate_censor"), "locate_censor"),
        dns_bait=_bait(pick("dns_bait")),
    )


def read_resolv_conf() -> str | None:
    """Return /etc/resolv.conf's text, or None when it cannot be read."""
    try:
        return RESOLV_CONF.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def environment() -> dict[str, str]:
    """Return the process environment (read once by the CLI)."""
    return dict(os.environ)


def with_overrides(config: ProbeConfig, **changes: Any) -> ProbeConfig:
    """Return a copy of `config` with some fields replaced."""
    return replace(config, **changes)
