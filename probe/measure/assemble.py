"""The end of a measurement: the analysed `Measurement` from its records, with packet evidence
and censor localisation when they are on.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from datetime import datetime

import msgspec

from probe.analysis import ReferenceData, analyse
from probe.identity import SOFTWARE_NAME, SOFTWARE_VERSION, new_uid
from probe.measure.state import MeasurementState, lookup_result
from probe.model import (
    Analysis,
    Measurement,
    MeasurementOptions,
    PacketEvidence,
    ProbeNetwork,
    Verdict,
)

PENDING = Analysis(
    verdict=Verdict.INCONCLUSIVE, confidence=0.0, rules_version="pending", reference_digest=""
)


@dataclass(frozen=True)
class Provenance:
    """Who measured, how, and the reference data the analysis compares with."""

    network: ProbeNetwork
    probe_id: str | None
    options: MeasurementOptions
    reference: ReferenceData


async def assemble(
    provenance: Provenance,
    state: MeasurementState,
    url: str,
    category_code: str | None,
    started: datetime,
) -> Measurement:
    """Return the analysed measurement, with packet evidence and localisation if on."""
    target, clock, records = state.target, state.clock, state.records
    packets = await _packet_evidence(state)
    measurement = Measurement(
        uid=new_uid(),
        software_name=SOFTWARE_NAME,
        software_version=SOFTWARE_VERSION,
        input=url,
        url=target.url,
        category_code=category_code,
        start_time=started,
        runtime_ms=clock.ms(),
        probe=provenance.network,
        probe_id=provenance.probe_id,
        options=provenance.options,
        dns=records.all_dns(state.packets),
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
        measurement, analysis=analyse(measurement, provenance.reference)
    )
    if state.packets is not None and state.packets.locate:
        localisation = await state.packets.localise(measurement, clock)
        if localisation is not None:
            evidence = measurement.packets or PacketEvidence(is_captured=True)
            measurement = msgspec.structs.replace(
                measurement,
                runtime_ms=clock.ms(),
                packets=msgspec.structs.replace(evidence, localisation=localisation),
            )
            measurement = msgspec.structs.replace(
                measurement, analysis=analyse(measurement, provenance.reference)
            )
    return measurement


async def _packet_evidence(state: MeasurementState) -> PacketEvidence | None:
    """Return the packet evidence of a measurement: its failed flows (after listening a
    little longer for packets that race a reset) and its DNS bait queries; None if none."""
    bait = [lookup_result(lookup, state.packets) for lookup in state.records.bait]
    if state.packets is None:
        return PacketEvidence(bait=bait) if bait else None
    return await state.packets.evidence(state.records.failed_flows(), bait, state.clock)
