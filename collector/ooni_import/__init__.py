"""Import OONI's published measurements into the collector.

Its job: read OONI files as published (`documents`), convert each Web Connectivity measurement
with `probe.ooni` and count what is skipped (`convert`), compress, summarise and analyse it once
(`prepared`, in worker processes: `pool`), and hand the results to a store or a running
collector (`destinations`), rolled up like Crenel's own uploads.
It must not decide verdicts (the analysis does) or parse command lines (`collector.cli` does).
"""

from collector.ooni_import.convert import Converted, ImportSummary, Problem, convert
from collector.ooni_import.destinations import (
    Destination,
    ImportRefused,
    LocalDestination,
    RemoteDestination,
)
from collector.ooni_import.documents import (
    Document,
    FileReader,
    LineBlock,
    RawLine,
    Unreadable,
    split_blocks,
)
from collector.ooni_import.pool import PreparationPool
from collector.ooni_import.prepared import Prepared, PreparedChunk, prepare_chunk

__all__ = [
    "Converted",
    "Destination",
    "Document",
    "FileReader",
    "ImportRefused",
    "ImportSummary",
    "LineBlock",
    "LocalDestination",
    "PreparationPool",
    "Prepared",
    "PreparedChunk",
    "Problem",
    "RawLine",
    "RemoteDestination",
    "Unreadable",
    "convert",
    "prepare_chunk",
    "split_blocks",
]
