"""crenel-probe, run by volunteers: measures URLs and says whether and how they are blocked.

Packages: `model` (the measurement format), `net` (network steps), `analysis` (pure verdicts),
`packet` (scapy evidence), `measure` (one URL), `config` (settings), `cli` (the command line),
`privacy` (scrubbing the probe's addresses in every spelling), `fingerprints` (the shipped
fingerprint set: data files and their attribution), `control` (asking the test helper: the
exchange, and its kept-alive HTTP/1.1 client).
Modules: `runner` (many URLs), `geo`, `references` (the
reference data: shipped or stored fingerprint set plus local files), `fingerprint_updates` (a
newer set from the collector), `store`, `testlists`, `identity`, `errors`.
"""
