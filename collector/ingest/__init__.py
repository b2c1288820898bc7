"""Ingest: upload bytes in, durable storage rows out.

The path of one upload: `body` (stream the request body with its size limits), `inflate` (undo
gzip/zstd with a bounded output), `lines` (split it into measurements as it streams), `prepare`
(decode and validate each measurement, scrub the uploader's address out of it; all or nothing),
`rows` (a measurement and its analysis as storage rows), `writer` (group commit: acknowledged
only once durable). `test_lists` reads Citizen Lab test lists, the other thing the store takes in.

Must not: analyse measurements or build reports (`collector.analyse`, `collector.reports`), nor
know which storage backend it writes to (only `collector.storage.Storage`).
"""
