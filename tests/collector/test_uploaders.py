"""Uploader networks: a keyed hash of the source /24 or /48 and AS, never the address."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from collector.core.errors import ConfigInvalid
from collector.ingest.rows import SourceNetwork
from collector.sources.uploaders import UploaderKeys, load_uploader_secret, source_prefix

SECRET = b"s" * 32


def test_one_24_or_48_is_one_uploader_network_and_the_as_splits_it() -> None:
    keys = UploaderKeys(SECRET)
    same = {keys.key_of(a, 64500) for a in ("192.0.2.1", "192.0.2.254", "::ffff:192.0.2.9")}
    assert len(same) == 1 and None not in same
    assert keys.key_of("192.0.3.1", 64500) not in same
    assert keys.key_of("192.0.2.1", 64501) not in same
    v6 = {keys.key_of(a, None) for a in ("2001:db8:1::1", "2001:db8:1:ffff::9")}
    assert len(v6) == 1 and keys.key_of("2001:db8:2::1", None) not in v6
    assert str(source_prefix("2001:db8:1:2::3")) == "2001:db8:1::/48"


def test_the_key_depends_on_the_secret_and_never_shows_the_address() -> None:
    one, other = UploaderKeys(SECRET), UploaderKeys(b"t" * 32)
    key = one.key_of("198.51.100.7", 64500)
    assert key is not None and key != other.key_of("198.51.100.7", 64500)
    assert "198" not in key and "51.100" not in key and len(key) == 24


def test_trusted_and_unknown_sources_have_no_uploader_network() -> None:
    keys = UploaderKeys(SECRET, ("127.0.0.1/32",))
    assert keys.key_of("127.0.0.1", None) is None
    assert keys.key_of("testclient", None) is None and keys.key_of(None, None) is None
    assert keys.key_of("127.0.0.2", None) is not None
    tagged = keys.tag(SourceNetwork(cc="CN", asn=64500), "127.0.0.2")
    assert tagged.cc == "CN" and tagged.uploader_network == keys.key_of("127.0.0.2", 64500)
    assert keys.tag(None, "127.0.0.2").uploader_network == keys.key_of("127.0.0.2", None)


def test_the_secret_is_created_once_private_and_kept(tmp_path: Path) -> None:
    first = load_uploader_secret(tmp_path / "data")
    assert load_uploader_secret(tmp_path / "data") == first and len(first) == 32
    mode = (tmp_path / "data" / "uploader-key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    (tmp_path / "data" / "uploader-key").write_bytes(b"short")
    with pytest.raises(ConfigInvalid, match="shorter"):
        load_uploader_secret(tmp_path / "data")
