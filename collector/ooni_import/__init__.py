"""Import OONI's published measurements into the collector.

Its job: read OONI files as published (`documents`), convert each Web Connectivity measurement
with `probe.ooni` and count what is skipped (`convert`), and hand the results to a store or a
running collector (`destinations`), which analyse and roll them up like Crenel's own uploads.
It must not decide verdicts (the analysis does) or parse command lines (`collector.cli` does).
"""

from collector.ooni_import.convert import Converted, ImportSummary, Problem, convert
from collector.ooni_import.destinations import (
    Destination,
    ImportRefused,
    LocalDestination,
    RemoteDestination,
)
from collector.ooni_import.documents import Document, FileReader, Unreadable

__all__ = [
    "Converted",
    "Destination",
    "Document",
    "FileReader",
    "ImportRefused",
    "ImportSummary",
    "LocalDestination",
    "Problem",
    "RemoteDestination",
    "Unreadable",
    "convert",
]
