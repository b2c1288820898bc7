"""crenel-probe, run by volunteers: measures URLs and says whether and how they are blocked.

Packages: `model` (the measurement format), `net` (network steps), `analysis` (pure verdicts),
`packet` (scapy evidence), `cli` (the command line). Modules: `measure` (one URL), `runner` (many
URLs), `control` (asking the test helper), `config`, `geo`, `privacy`, `references`, `store`,
`testlists`, `identity`, `errors`.
"""
