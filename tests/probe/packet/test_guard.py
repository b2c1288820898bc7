"""The temporary nftables rule that keeps the kernel's RSTs off the localisation's raw flows."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from probe.packet.guard import render_guard, table_name


def test_the_guard_drops_plain_rsts_from_the_reserved_ports_only() -> None:
    script = render_guard("crenel_probe_1_1", [40002, 40001, 40002])
    assert "table inet crenel_probe_1_1 {" in script
    assert "type filter hook output priority filter; policy accept;" in script
    assert "tcp sport { 40001, 40002 } tcp flags & (rst | ack) == rst drop" in script
    with pytest.raises(ValueError):
        render_guard("t", [])
    with pytest.raises(ValueError):
        render_guard("t", [0])
    assert table_name(3) == f"crenel_probe_{os.getpid()}_3"


GUARDED = textwrap.dedent(
    """
    import subprocess
    from probe.packet.guard import ResetGuard

    def tables():
        out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        return [line for line in out.splitlines() if "crenel_probe_" in line]

    with ResetGuard(3) as guard:
        assert len(guard.ports) == 3 and len(set(guard.ports)) == 3
        ruleset = subprocess.run(["nft", "list", "table", "inet", guard.table],
                                 capture_output=True, text=True).stdout
        assert "tcp sport" in ruleset and "drop" in ruleset, ruleset
        assert tables() == [f"table inet {guard.table}"]
    assert tables() == []
    print("OK")
    """
)


@pytest.mark.netns
def test_the_guard_table_exists_only_while_it_is_held() -> None:
    # In a namespace of its own, so the host's ruleset is never touched.
    namespace = f"crenel-test-guard-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True, timeout=10)
    try:
        result = subprocess.run(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", GUARDED],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0 and result.stdout.strip() == "OK", result.stderr
    finally:
        subprocess.run(["ip", "netns", "delete", namespace], check=False, timeout=10)
