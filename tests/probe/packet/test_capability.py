"""What this process may capture, read from its capabilities."""

from __future__ import annotations

import os

import pytest

from probe.packet import packet_capability
from probe.packet.capability import CAP_NET_ADMIN, CAP_NET_RAW, effective_capabilities

STATUS = "Name:\tpython\nCapInh:\t0000000000000000\nCapEff:\t0000000000003000\n"


def test_the_effective_set_is_read_from_proc_status() -> None:
    mask = effective_capabilities(STATUS)
    assert mask is not None
    assert mask >> CAP_NET_RAW & 1 and mask >> CAP_NET_ADMIN & 1
    assert effective_capabilities("Name:\tx\n") is None
    assert effective_capabilities("CapEff:\tnot-hex\n") is None


def test_root_can_capture_and_locate_here() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    capability = packet_capability(want_locate=True)
    assert capability.can_capture and capability.can_locate, capability


def test_localisation_is_only_checked_when_wanted() -> None:
    assert packet_capability(want_locate=False).locate_problem is None
