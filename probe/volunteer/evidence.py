"""Whether packet evidence and censor localisation run in this invocation, said once (the
caller's `say` prints it).

Without the privilege the probe says so in one line and measures as before (exit 0); only
`--packet-evidence=required` (or `--locate-censor=required`) turns a missing privilege into
exit code 4.
"""

from __future__ import annotations

from collections.abc import Callable

from probe.config import ProbeConfig
from probe.errors import PrivilegeMissing
from probe.packet import PacketRecorder, packet_capability


def off_line(what: str, problem: str) -> str:
    """Return the one stderr line saying that `what` is off and why."""
    return f"crenel-probe: {what} is off: {problem}"


def packet_recorder(config: ProbeConfig, *, say: Callable[[str], None]) -> PacketRecorder | None:
    """Return the packet recorder the settings ask for and the privileges allow, or None.

    `--locate-censor` implies packet capture. When a wanted part is impossible, `say` gets one
    line naming the missing privilege, and measuring goes on without it.

    Raises:
        PrivilegeMissing: a part set to `required` cannot run here.
    """
    locate = config.locate_censor != "off"
    if config.packet_evidence == "off" and not locate:
        return None
    capability = packet_capability(want_locate=locate)
    if capability.capture_problem is not None:
        if "required" in (config.packet_evidence, config.locate_censor):
            raise PrivilegeMissing(f"packet evidence is required but {capability.capture_problem}")
        say(off_line("packet evidence", capability.capture_problem))
        return None
    if locate and capability.locate_problem is not None:
        if config.locate_censor == "required":
            raise PrivilegeMissing(
                f"censor localisation is required but {capability.locate_problem}"
            )
        say(off_line("censor localisation", capability.locate_problem))
        locate = False
    return PacketRecorder(locate=locate, user_agent=config.user_agent)
