"""The end of a measurement: the analysed `Measurement` from its records, with packet evidence
and censor localisation when they are on.
"""

from __future__ import annotations

import platform
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from probe.analysis import analyse
from probe.identity import SOFTWARE_NAME, SOFTWARE_VERSION, new_uid
from probe.measure.run import Run, lookup_result
from probe.model import Analysis, Measurement, PacketEvidence, Verdict

if TYPE_CHECKING:
    from probe.measure.session import MeasureSession

PENDING = Analysis(
    verdict=Verdict.INCONCLUSIVE, confidence=0.0, rules_version="pending", reference_digest=""
)


async def assemble(
    session: MeasureSession, run: Run, url: str, category_code: str | None, started: datetime
) -> Measurement:
    """Return the analysed measurement, with packet evidence and localisation if on."""
    target, clock, records = run.target, run.clock, run.records
    packets = await _packet_evidence(session, run)
    measurement = Measurement(
        uid=new_uid(),
        software_name=SOFTWARE_NAME,
        software_version=SOFTWARE_VERSION,
        input=url,
        url=target.url,
        category_code=category_code,
        start_time=started,
        runtime_ms=clock.ms(),
        probe=session.network,
        probe_id=session.probe_id,
        options=session.options,
        dns=records.all_dns(session.packets),
        tcp=records.tcp,
        tls=records.tls,
        http=records.http,
        control=records.control,
        packets=packets,
        analysis=PENDING,
        annotations={
            "platform": sys.platform,
            "python": platform.python_version(),
            "architecture": platform.machine(),
        },
    )
    measurement = msgspec.structs.replace(
        measurement, analysis=analyse(measurement, session.reference)
    )
    if session.packets is not None and session.packets.locate:
        localisation = await session.packets.localise(measurement, clock)
        if localisation is not None:
            evidence = measurement.packets or PacketEvidence(is_captured=True)
            measurement = msgspec.structs.replace(
                measurement,
                runtime_ms=clock.ms(),
                packets=msgspec.structs.replace(evidence, localisation=localisation),
            )
            measurement = msgspec.structs.replace(
                measurement, analysis=analyse(measurement, session.reference)
            )
    return measurement


async def _packet_evidence(session: MeasureSession, run: Run) -> PacketEvidence | None:
    """Return the packet evidence of a measurement: its failed flows (after listening a
    little longer for packets that race a reset) and its DNS bait queries; None if none."""
    bait = [lookup_result(lookup, session.packets) for lookup in run.records.bait]
    if session.packets is None:
        return PacketEvidence(bait=bait) if bait else None
    return await session.packets.evidence(run.records.failed_flows(), bait, run.clock)
