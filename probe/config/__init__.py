"""The probe's settings: flags, then CRENEL_* environment, then the TOML file, then defaults.

Resolved once into a frozen `ProbeConfig` by the CLI and passed down; nothing else reads the
environment. `ConfigFile` reads and writes the TOML file (consent, `config set`).

Modules:
- `settings`: `ProbeConfig` and `Budgets`, the frozen resolved settings and their defaults (pure).
- `values`: readers of setting values from text (endpoints, numbers, packet modes), pure.
- `sources`: `ConfigFile`, the environment and resolv.conf; `load_config` resolves them in order.
"""

from probe.config.settings import (
    DEFAULT_USER_AGENT,
    Budgets,
    PacketMode,
    ProbeConfig,
    with_overrides,
)
from probe.config.sources import ConfigFile, environment, load_config, read_resolv_conf
from probe.config.values import parse_endpoint, system_nameserver

__all__ = [
    "DEFAULT_USER_AGENT",
    "Budgets",
    "ConfigFile",
    "PacketMode",
    "ProbeConfig",
    "environment",
    "load_config",
    "parse_endpoint",
    "read_resolv_conf",
    "system_nameserver",
    "with_overrides",
]
