"""Where the probe's settings come from and how they are resolved: flags, then CRENEL_*
environment, then the TOML file (`ConfigFile`), then defaults -> one frozen `ProbeConfig`.

The only module that reads the environment, the TOML file and resolv.conf; the CLI calls it once.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from probe.config.settings import DEFAULT_DOH_URL, DEFAULT_USER_AGENT, Budgets, ProbeConfig
from probe.config.values import (
    check_networks,
    check_url,
    parse_bait,
    parse_boolean,
    parse_number,
    parse_packet_mode,
    parse_paths,
    parse_resolver,
    parse_strings,
    typed_value,
)
from probe.errors import ConfigError

APP_NAME = "crenel"
RESOLV_CONF = Path("/etc/resolv.conf")


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
            table[key] = typed_value(key, value)
        load_config({}, {}, table_override=table, config_path=self.path)
        self.write(table)


def _pick(
    flags: Mapping[str, Any], env: Mapping[str, str], table: Mapping[str, Any], key: str
) -> Any:
    if flags.get(key) is not None:
        return flags[key]
    env_key = "CRENEL_" + key.upper()
    if env.get(env_key):
        return env[env_key]
    return table.get(key)


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
        dns_s=parse_number(pick("dns_timeout_s"), "dns_timeout_s", minimum=0.05) or defaults.dns_s,
        tcp_s=parse_number(pick("tcp_timeout_s"), "tcp_timeout_s", minimum=0.05) or defaults.tcp_s,
        tls_s=parse_number(pick("tls_timeout_s"), "tls_timeout_s", minimum=0.05) or defaults.tls_s,
        http_s=parse_number(pick("http_timeout_s"), "http_timeout_s", minimum=0.05)
        or defaults.http_s,
        control_s=parse_number(pick("control_timeout_s"), "control_timeout_s", minimum=0.05)
        or defaults.control_s,
    )
    doh = pick("doh")
    doh_url = (
        DEFAULT_DOH_URL
        if doh is None
        else (None if str(doh).lower() in ("off", "none") else str(doh))
    )
    capture_ms = parse_number(pick("capture_window_ms"), "capture_window_ms")
    system_resolver = parse_boolean(pick("system_resolver"), "system_resolver")
    concurrency = parse_number(pick("concurrency"), "concurrency", minimum=1)
    per_host = parse_number(pick("per_host"), "per_host", minimum=1)
    body_cap = parse_number(pick("body_cap_bytes"), "body_cap_bytes")
    max_runtime = parse_number(flags.get("max_runtime_s"), "max_runtime", minimum=1)
    throttle = parse_number(pick("throttle_kbps"), "throttle_kbps", minimum=1)
    ca_bundle = pick("ca_bundle")
    return ProbeConfig(
        data_dir=data_dir,
        config_path=path,
        control_url=check_url(pick("control"), "control"),
        collector_url=check_url(pick("collector"), "collector"),
        system_resolver=True if system_resolver is None else system_resolver,
        udp_resolver=parse_resolver(pick("resolver"), resolv_conf),
        doh_url=check_url(doh_url, "doh"),
        ca_bundle=Path(ca_bundle).expanduser() if ca_bundle else None,
        fingerprint_paths=parse_paths(pick("fingerprints")),
        geoip_paths=parse_paths(pick("geoip")),
        public_networks=check_networks(parse_strings(pick("public_networks"))),
        budgets=budgets,
        capture_window_s=0.5 if capture_ms is None else capture_ms / 1000.0,
        body_cap_bytes=1 << 20 if body_cap is None else int(body_cap),
        concurrency=16 if concurrency is None else int(concurrency),
        per_host=2 if per_host is None else int(per_host),
        user_agent=str(pick("user_agent") or DEFAULT_USER_AGENT),
        throttle_kbps=256.0 if throttle is None else throttle,
        max_runtime_s=max_runtime,
        packet_evidence=parse_packet_mode(pick("packet_evidence"), "packet_evidence"),
        locate_censor=parse_packet_mode(pick("locate_censor"), "locate_censor"),
        dns_bait=parse_bait(pick("dns_bait")),
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
