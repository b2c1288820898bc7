"""Whether packet evidence runs: off by default, on where privileges allow, said once if not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from probe.config import load_config
from probe.volunteer.evidence import off_line, packet_recorder


def test_packet_evidence_is_off_unless_asked(tmp_path: Path) -> None:
    said: list[str] = []
    config = load_config({}, {}, table_override={}, config_path=tmp_path / "p.toml")
    assert packet_recorder(config, say=said.append) is None
    assert said == []


def test_asked_as_root_it_runs_and_says_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (CAP_NET_RAW and CAP_NET_ADMIN)")
    said: list[str] = []
    table = {"packet_evidence": "on", "locate_censor": "on"}
    config = load_config({}, {}, table_override=table, config_path=tmp_path / "p.toml")
    recorder = packet_recorder(config, say=said.append)
    assert recorder is not None and recorder.locate and said == []


def test_the_off_line_names_what_and_why() -> None:
    assert off_line("packet evidence", "no CAP_NET_RAW") == (
        "crenel-probe: packet evidence is off: no CAP_NET_RAW"
    )
