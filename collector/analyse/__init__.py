"""The collector's own analysis of stored measurements, the first time and again (one path).

Modules: `analyser` (the worker pool that re-runs `probe.analysis` with the collector's reference
data, the first time right after a commit and again when the rules or fingerprints change) and
`worker_processes` (spawned workers that end with their parent, also the OONI importer's).

Must not: touch HTTP, ingest uploads or decide regional verdicts; it reads and writes storage
only through `collector.storage.ThreadedStorage`.
"""
