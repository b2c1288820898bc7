"""Settings precedence and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.config import ConfigFile, load_config, parse_endpoint, system_nameserver
from probe.errors import ConfigError


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    ConfigFile(path).write(
        {
            "control": "https://file.test/c",
            "resolver": "192.0.2.1",
            "concurrency": 4,
            "tcp_timeout_s": 3,
        }
    )
    env = {"CRENEL_CONTROL": "https://env.test/c", "CRENEL_DATA_DIR": str(tmp_path / "d")}
    config = load_config({"config": str(path)}, env, resolv_conf="nameserver 198.51.100.9\n")
    assert config.control_url == "https://env.test/c"
    assert config.udp_resolver == ("192.0.2.1", 53)
    assert config.concurrency == 4 and config.budgets.tcp_s == 3.0
    assert config.budgets.dns_s == 4.0
    assert config.data_dir == tmp_path / "d"
    flagged = load_config({"config": str(path), "control": "https://flag.test/c"}, env)
    assert flagged.control_url == "https://flag.test/c"


def test_resolver_defaults_to_the_system_nameserver_and_can_be_turned_off(tmp_path: Path) -> None:
    path = str(tmp_path / "none.toml")
    assert load_config(
        {"config": path}, {}, resolv_conf="nameserver 192.0.2.53\n"
    ).udp_resolver == ("192.0.2.53", 53)
    assert load_config({"config": path, "resolver": "off"}, {}).udp_resolver is None
    assert load_config({"config": path, "doh": "off"}, {}).doh_url is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"control": "ftp://x"}, "control"),
        ({"resolver": "resolver.example"}, "not an IP"),
        ({"resolver": "192.0.2.1:99999"}, "bad port"),
        ({"public_networks": ["not-a-net"]}, "CIDR"),
        ({"dns_timeout_s": -1}, "dns_timeout_s"),
    ],
    ids=["bad-control-url", "resolver-name", "resolver-port", "network", "negative-timeout"],
)
def test_bad_settings_are_rejected_with_a_clear_message(
    tmp_path: Path, flags: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({"config": str(tmp_path / "x.toml"), **flags}, {})


def test_config_set_validates_and_persists(tmp_path: Path) -> None:
    settings = ConfigFile(tmp_path / "p.toml")
    settings.set("collector", "https://collector.test/")
    settings.set("fingerprints", "a.csv, b.json")
    assert settings.read() == {
        "collector": "https://collector.test/",
        "fingerprints": ["a.csv", "b.json"],
    }
    with pytest.raises(ConfigError, match="unknown setting"):
        settings.set("colector", "x")
    with pytest.raises(ConfigError):
        settings.set("collector", "not a url")
    settings.set("collector", "none")
    assert "collector" not in settings.read()


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("control = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML"):
        ConfigFile(path).read()


def test_endpoint_parsing() -> None:
    assert parse_endpoint("[2001:db8::1]:5353") == ("2001:db8::1", 5353)
    assert parse_endpoint("2001:db8::1") == ("2001:db8::1", 53)
    assert system_nameserver("# x\nnameserver fe80::1%eth0\n") == "fe80::1"


@pytest.mark.parametrize(
    ("value", "mode"),
    [(None, "off"), (False, "off"), (True, "on"), ("yes", "on"), ("auto", "on"), ("required", "required")],
)  # fmt: skip
def test_packet_settings_take_off_on_or_required(value: object, mode: str, tmp_path: Path) -> None:
    table = {} if value is None else {"packet_evidence": value, "locate_censor": value}
    config = load_config({}, {}, table_override=table, config_path=tmp_path / "p.toml")
    assert (config.packet_evidence, config.locate_censor) == (mode, mode)


def test_packet_flags_beat_the_file_and_the_bait_must_be_an_address(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    ConfigFile(path).set("packet_evidence", "on")
    ConfigFile(path).set("dns_bait", "198.51.100.77")
    config = load_config({"config": str(path), "packet_evidence": "required"}, {})
    assert config.packet_evidence == "required" and config.dns_bait == "198.51.100.77"
    env = {"CRENEL_LOCATE_CENSOR": "on", "CRENEL_DNS_BAIT": "off"}
    from_env = load_config({"config": str(path)}, env)
    assert from_env.locate_censor == "on" and from_env.dns_bait is None
    with pytest.raises(ConfigError, match="dns_bait"):
        ConfigFile(path).set("dns_bait", "bait.example")
    with pytest.raises(ConfigError, match="packet_evidence"):
        ConfigFile(path).set("packet_evidence", "sometimes")
