"""Who sends requests to the collector: where they are, how they are keyed, what they may take.

Modules: `geoip` (where an uploader's address is; the address is never stored), `uploaders`
(the keyed hash of an uploading network), `quota` (daily measurements and bytes per uploader),
`export_slots` (concurrent exports per source and in all).

Must not: store an address, or know HTTP; the API hands it addresses and counts.
"""
