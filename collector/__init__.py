"""crenel-collector, the central service: test helper, ingest, storage, analysis, reports."""
