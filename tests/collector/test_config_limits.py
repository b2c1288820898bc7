"""Limits set one by one: flags win over CRENEL_COLLECTOR_* variables, which win over defaults;
a value of the wrong shape is refused with the flag's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import Limits, load_collector_config
from collector.core.errors import ConfigInvalid


def test_export_limits_come_from_flags_then_the_environment(tmp_path: Path) -> None:
    base = {"data_dir": str(tmp_path)}
    env = {"CRENEL_COLLECTOR_EXPORTS_TOTAL": "6", "CRENEL_COLLECTOR_EXPORTS_PER_SOURCE": "3"}
    limits = load_collector_config({**base, "exports_per_source": 2}, env).limits
    assert (limits.exports_per_source, limits.exports_total) == (2, 6)
    default = load_collector_config(base, {}).limits
    assert (default.exports_per_source, default.exports_total) == (
        Limits.exports_per_source,
        Limits.exports_total,
    )


def test_quotas_prefix_and_retention_are_configurable(tmp_path: Path) -> None:
    env = {
        "CRENEL_COLLECTOR_QUOTA_MEASUREMENTS_PER_DAY": "5000",
        "CRENEL_COLLECTOR_IPV6_PREFIX": "48",
        "CRENEL_COLLECTOR_RAW_RETENTION_DAYS": "90",
    }
    config = load_collector_config({"data_dir": str(tmp_path), "quota_bytes_per_day": 0}, env)
    assert config.limits.quota_measurements_per_day == 5000
    assert config.limits.quota_bytes_per_day == 0
    assert config.limits.ipv6_prefix == 48
    assert config.raw_retention_days == 90
    default = load_collector_config({"data_dir": str(tmp_path)}, {})
    assert default.raw_retention_days == 0 and default.limits.ipv6_prefix == 64


@pytest.mark.parametrize(
    ("key", "value", "flag"),
    [
        ("ipv6_prefix", "16", "--ipv6-prefix"),
        ("ipv6_prefix", "129", "--ipv6-prefix"),
        ("quota_measurements_per_day", "-1", "--quota-measurements-per-day"),
        ("raw_retention_days", "1.5", "--raw-retention-days"),
        ("exports_total", "0", "--exports-total"),
        ("exports_per_source", "1.5", "--exports-per-source"),
        ("exports_per_source", "many", "--exports-per-source"),
    ],
)
def test_a_limit_of_the_wrong_shape_names_its_flag(
    tmp_path: Path, key: str, value: str, flag: str
) -> None:
    with pytest.raises(ConfigInvalid, match=flag):
        load_collector_config({"data_dir": str(tmp_path), key: value}, {})
