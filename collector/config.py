"""The collector's settings: flags, then CRENEL_COLLECTOR_* environment, then defaults.

Resolved once by the CLI into a frozen `CollectorConfig` and passed down; nothing else reads the
environment. Zero set-up: every field has a default (data in the per-user data directory).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from collector.control.helper import HelperConfig
from collector.core.errors import ConfigInvalid
from probe.config import parse_endpoint
from probe.errors import ConfigError
from probe.identity import SOFTWARE_VERSION

APP_NAME = "crenel"
ENV_PREFIX = "CRENEL_COLLECTOR_"
DEFAULT_LISTEN = ("127.0.0.1", 8080)
DEFAULT_CONTROL_DOH = "https://dns.google/dns-query"


def utc_now() -> datetime:
    """Return the current time in UTC (the collector's default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """Sizes and rates that bound what one client can make the collector do."""

    max_body_bytes: int = 16 << 20
    """Largest request body as sent (compressed or not)."""
    max_decoded_bytes: int = 64 << 20
    """Largest request body after undoing its Content-Encoding."""
    max_line_bytes: int = 8 << 20
    """Largest single measurement."""
    max_batch_lines: int = 1000
    """Most measurements in one NDJSON batch."""
    requests_per_s: float = 50.0
    """Sustained requests per second from one source address; 0 disables the limit."""
    requests_burst: float = 200.0
    measurements_per_s: float = 500.0
    """Sustained measurements per second uploaded from one source address; 0 disables it."""
    measurements_burst: float = 5000.0
    queue_rows: int = 20_000
    """Measurements waiting for the writer before uploads are told to retry later."""
    commit_rows: int = 2_000
    """Most measurements committed in one transaction."""
    commit_window_ms: float = 20.0
    """Longest a commit waits for uploads already being read and validated (group commit)."""
    queue_wait_s: float = 10.0
    """How long an upload may wait for room in the writer's queue."""
    read_threads: int = 4
    """Queries run at once (each in a worker thread with its own cursor)."""
    body_threads: int = 2
    """Request bodies decoded and parsed at once (each piece in a worker thread)."""
    checkin_max_urls: int = 2_000
    page_max: int = 1_000
    export_max_days: int = 31
    """Longest range one HTTP export may cover (the CLI has no limit)."""
    quota_measurements_per_day: int = 200_000
    """Measurements one source may upload per UTC day (429 `quota_exceeded` beyond; 0: none)."""
    quota_bytes_per_day: int = 1 << 30
    """Bytes one source's measurements may take in the database per UTC day (estimated:
    compressed body, text columns, a fixed overhead per row; 0: no quota)."""
    ipv6_prefix: int = 64
    """An IPv6 source is its network of this many bits for every per-source limit."""
    exports_per_source: int = 1
    """HTTP exports one source address may run at once (429 `too_many_exports` beyond)."""
    exports_total: int = 2
    db_memory_mb: int = 128
    """DuckDB's memory limit (buffer cache, uncheckpointed rows and query memory, MiB). DuckDB's
    own default is 80 % of the machine's RAM, which a long-running collector slowly fills."""
    db_threads: int = 0
    """DuckDB's worker threads; 0 keeps DuckDB's default (one per core)."""
    """HTTP exports running at once from all sources (503 `exports_busy` beyond); kept below
    `read_threads` so searches and reports always find a reader."""
    future_skew_s: float = 3600.0
    """A measurement starting further in the future than this is refused."""
    report_gauges_s: float = 300.0
    """How often the blocking gauges of /metrics are recomputed."""
    report_cache_bytes: int = 256 << 20
    """Memory the cache of built country reports may hold (`collector.reports.cache`)."""


@dataclass(frozen=True)
class CollectorConfig:
    """Everything that shapes how the collector stores, analyses and serves measurements."""

    data_dir: Path
    listen: tuple[str, int] = DEFAULT_LISTEN
    geoip_paths: tuple[Path, ...] = ()
    fingerprint_paths: tuple[Path, ...] = ()
    fingerprint_set_path: Path | None = None
    """A versioned fingerprint set to analyse with and hand to probes at check-in, instead of
    the one shipped with Crenel (`fingerprint_paths` are matched too, but never handed over)."""
    public_networks: tuple[str, ...] = ()
    throttle_kbps: float = 256.0
    admin_token: str | None = None
    control_url: str | None = None
    """The control announced at check-in; None means this collector's own /api/v1/control."""
    helper: HelperConfig = field(default_factory=HelperConfig)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    analysis_workers: int = 0
    """Worker processes for the collector's analysis; 0 analyses in a thread of this process."""
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], datetime] = utc_now
    """The collector's only clock: ingest's future check, report windows, check-in, analysis
    times. Tests pass a fixed instant so they pass at any hour and on any date."""
    raw_retention_days: int = 0
    """Strip the accepted bytes of measurements received more than this many days ago (their
    summary, analysis and rollups stay); 0 keeps them forever."""
    trusted_uploaders: tuple[str, ...] = ()
    """Source networks whose uploads are weighed per probe id, not per uploading network."""
    count_contradicted: bool = False
    """Count in reports measurements whose claimed network contradicts their source address
    (`regional.ModelSettings.count_contradicted`)."""
    store: str | None = None
    """The database URL (`postgresql://...`, `duckdb:///...`); None: the DuckDB file in
    `data_dir` (`database_path`)."""
    read_store: str | None = None
    """A database URL researchers' queries, exports and reports read instead (a replica of
    `store`); None: they read `store`."""

    @property
    def database_path(self) -> Path:
        """Return the DuckDB file inside the data directory."""
        return self.data_dir / "collector.duckdb"


STORE_SCHEMES = ("duckdb://", "postgresql://", "postgres://")
"""The database URLs `--store` and `--read-store` accept (`collector.storage.open_backend`)."""


def _store_url(value: Any, what: str) -> str | None:
    if value is None:
        return None
    url = str(value).strip()
    if not url.startswith(STORE_SCHEMES):
        raise ConfigInvalid(
            f"{what} must be a duckdb:///PATH or postgresql://... URL, got {url.split(':')[0]!r}"
        )
    return url


def default_data_dir() -> Path:
    """Return the per-user data directory of the collector."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "collector"


def _pick(flags: Mapping[str, Any], env: Mapping[str, str], key: str) -> Any:
    value = flags.get(key)
    if value is not None and value not in ([], ()):
        return value
    text = env.get(ENV_PREFIX + key.upper())
    return text if text else None


def _many(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(v).strip() for v in items if str(v).strip())


def _networks(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ConfigInvalid(f"{what}: not a network (CIDR): {value!r}") from exc
    return values


def _file(value: Any, what: str) -> Path | None:
    if value is None:
        return None
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise ConfigInvalid(f"{what}: no such file: {path}")
    return path


def _fingerprint_files(
    set_value: Any, file_values: tuple[str, ...]
) -> tuple[Path | None, tuple[Path, ...]]:
    """Return the fingerprint set file and extra fingerprint files, parsed once here so a bad
    one is a one-line error before the collector starts (not a failed start-up)."""
    from probe.references import load_fingerprints, read_set_file

    set_path = _file(set_value, "--fingerprint-set")
    paths = tuple(p for p in (_file(v, "--fingerprints") for v in file_values) if p is not None)
    try:
        if set_path is not None:
            read_set_file(set_path)
        load_fingerprints(paths)
    except ConfigError as exc:
        raise ConfigInvalid(exc.message) from exc
    return set_path, paths


def _endpoint(value: Any, what: str, default_port: int) -> tuple[str, int] | None:
    if value is None:
        return None
    try:
        return parse_endpoint(str(value), default_port=default_port)
    except ConfigError as exc:
        raise ConfigInvalid(f"{what}: {exc}") from exc


def _listen(value: Any) -> tuple[str, int]:
    if value is None:
        return DEFAULT_LISTEN
    text = str(value).strip()
    if text.endswith(":0"):  # any free port (tests, benchmarks); the CLI prints the one chosen
        host = _endpoint(text[:-2], "--listen", DEFAULT_LISTEN[1])
        assert host is not None
        return host[0], 0
    found = _endpoint(text, "--listen", DEFAULT_LISTEN[1])
    assert found is not None
    return found


def _url(value: Any, what: str) -> str | None:
    if value is None:
        return None
    text = str(value)
    if not text.startswith(("http://", "https://")):
        raise ConfigInvalid(f"{what} must be an http:// or https:// URL, got {text!r}")
    return text


def _number(value: Any, what: str, *, minimum: float = 0.0) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigInvalid(f"{what} must be a number, got {value!r}") from exc
    if number < minimum:
        raise ConfigInvalid(f"{what} must be at least {minimum:g}, got {number:g}")
    return number


def _flag(value: Any, what: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigInvalid(f"{what} must be true or false, got {value!r}")


def read_admin_token(path: Path) -> str:
    """Return the admin token stored in `path` (first line, stripped).

    Raises:
        ConfigInvalid: unreadable, empty or shorter than 16 characters.
    """
    try:
        token = path.read_text(encoding="utf-8").strip().splitlines()[0:1]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigInvalid(f"cannot read the admin token file {path}: {exc}") from exc
    if not token or len(token[0].strip()) < 16:
        raise ConfigInvalid(f"the admin token in {path} must be at least 16 characters")
    return token[0].strip()


def load_collector_config(flags: Mapping[str, Any], env: Mapping[str, str]) -> CollectorConfig:
    """Return the settings from flags, then CRENEL_COLLECTOR_* variables, then defaults.

    `flags` holds parsed values keyed like the environment names without the prefix, lower case
    (`data_dir`, `listen`, `geoip`...); None or empty where a flag was not given.

    Raises:
        ConfigInvalid: a setting has the wrong shape or names a missing file.
    """

    def pick(key: str) -> Any:
        return _pick(flags, env, key)

    data_dir = Path(str(pick("data_dir"))).expanduser() if pick("data_dir") else default_data_dir()
    listen = _listen(pick("listen"))
    token_file = _file(pick("admin_token_file"), "--admin-token-file")
    resolver = _endpoint(pick("control_resolver"), "--control-resolver", 53)
    doh = _url(pick("control_doh"), "--control-doh")
    ca_bundle = _file(pick("ca_bundle"), "--ca-bundle")
    helper = HelperConfig(
        udp_resolver=resolver,
        doh_url=None if resolver else (doh or DEFAULT_CONTROL_DOH),
        allowed_networks=_networks(_many(pick("allow_network")), "--allow-network"),
        ca_bundle=ca_bundle,
        software_version=SOFTWARE_VERSION,
    )
    cert, key = _file(pick("tls_cert"), "--tls-cert"), _file(pick("tls_key"), "--tls-key")
    if (cert is None) != (key is None):
        raise ConfigInvalid("--tls-cert and --tls-key go together")
    workers = _number(pick("analysis_workers"), "--analysis-workers")
    rate = _number(pick("rate_limit"), "--rate-limit")
    limits = Limits()
    if rate is not None:
        limits = Limits(
            requests_per_s=rate,
            requests_burst=max(rate * 4, 1.0),
            measurements_per_s=rate * 10,
            measurements_burst=max(rate * 100, 1.0),
        )
    limits = dataclasses.replace(limits, **_limit_overrides(pick))
    fingerprint_set, fingerprint_paths = _fingerprint_files(
        pick("fingerprint_set"), _many(pick("fingerprints"))
    )
    retention = _number(pick("raw_retention_days"), "--raw-retention-days")
    if retention is not None and retention != int(retention):
        raise ConfigInvalid(f"--raw-retention-days must be a whole number, got {retention:g}")
    return CollectorConfig(
        data_dir=data_dir,
        listen=listen,
        geoip_paths=tuple(
            p for p in (_file(v, "--geoip") for v in _many(pick("geoip"))) if p is not None
        ),
        fingerprint_paths=fingerprint_paths,
        fingerprint_set_path=fingerprint_set,
        public_networks=_networks(_many(pick("public_network")), "--public-network"),
        admin_token=read_admin_token(token_file) if token_file else None,
        control_url=_url(pick("control_url"), "--control-url"),
        helper=helper,
        tls_cert=cert,
        tls_key=key,
        analysis_workers=int(workers) if workers is not None else default_analysis_workers(),
        limits=limits,
        raw_retention_days=int(retention or 0),
        trusted_uploaders=_networks(_many(pick("trusted_uploader")), "--trusted-uploader"),
        count_contradicted=_flag(pick("count_contradicted"), "--count-contradicted"),
        store=_store_url(pick("store"), "--store"),
        read_store=_store_url(pick("read_store"), "--read-store"),
    )


LIMIT_FLAGS: dict[str, tuple[str, float, float]] = {
    "exports_per_source": ("--exports-per-source", 1, 1e6),
    "exports_total": ("--exports-total", 1, 1e6),
    "quota_measurements_per_day": ("--quota-measurements-per-day", 0, 1e12),
    "quota_bytes_per_day": ("--quota-bytes-per-day", 0, 1e15),
    "ipv6_prefix": ("--ipv6-prefix", 32, 128),
    "db_memory_mb": ("--db-memory-mb", 64, 1e7),
    "db_threads": ("--db-threads", 0, 1024),
}
"""The `Limits` fields set one by one from flags or the environment: flag, minimum, maximum."""


def _limit_overrides(pick: Callable[[str], Any]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, (flag, minimum, maximum) in LIMIT_FLAGS.items():
        value = _number(pick(name), flag, minimum=minimum)
        if value is None:
            continue
        if value > maximum:
            raise ConfigInvalid(f"{flag} must be at most {maximum:g}, got {value:g}")
        kind = type(getattr(Limits, name))
        if kind is int and value != int(value):
            raise ConfigInvalid(f"{flag} must be a whole number, got {value:g}")
        overrides[name] = kind(value)
    return overrides


def default_analysis_workers() -> int:
    """Return 1 analysis process when the machine has two cores or more, else 0 (a thread)."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def environment() -> dict[str, str]:
    """Return the process environment (read once by the CLI)."""
    return dict(os.environ)
