"""OONI's data format: read OONI Web Connectivity measurements as Crenel measurements.

Modules:
- `reader`: one decoded OONI document in, one `Measurement` out (pure, no I/O).
- `writer`: one `Measurement` in, one OONI `web_connectivity` document out (pure).
"""

from probe.ooni.reader import (
    OONI_RULES_VERSION,
    OoniDocumentError,
    OtherOoniTest,
    crenel_uid,
    measurement_from_ooni,
    ooni_failure,
)
from probe.ooni.writer import ooni_from_measurement, ooni_json_line

__all__ = [
    "OONI_RULES_VERSION",
    "OoniDocumentError",
    "OtherOoniTest",
    "crenel_uid",
    "measurement_from_ooni",
    "ooni_failure",
    "ooni_from_measurement",
    "ooni_json_line",
]
