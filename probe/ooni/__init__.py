"""OONI's data format: read OONI Web Connectivity measurements as Crenel measurements.

Modules:
- `reader`: one decoded OONI document (or one line read into `shape`'s Structs) in, one
  `Measurement` out (pure, no I/O).
- `shape`: the parts of an OONI Web Connectivity document the reader reads, as Structs.
- `writer`: one `Measurement` in, one OONI `web_connectivity` document out (pure).
"""

from probe.ooni.reader import (
    OONI_RULES_VERSION,
    OoniDocumentError,
    OtherOoniTest,
    crenel_uid,
    measurement_from_ooni,
    ooni_failure,
    read_ooni_line,
)
from probe.ooni.shape import OoniDocument
from probe.ooni.writer import ooni_from_measurement, ooni_json_line

__all__ = [
    "OONI_RULES_VERSION",
    "OoniDocument",
    "OoniDocumentError",
    "OtherOoniTest",
    "crenel_uid",
    "measurement_from_ooni",
    "ooni_failure",
    "ooni_from_measurement",
    "ooni_json_line",
    "read_ooni_line",
]
