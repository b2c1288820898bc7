"""The regional model: from counts of measurements per network to per-network and per-country
verdicts, changes and "blocked since".

Modules: `model` (settings, the counts records, one network or domain at a time), `columns`
(the same arithmetic over numpy columns, for a whole report at once), `incomplete_beta` (the
regularised incomplete beta function the posteriors need).

Must not: read storage, a clock or any I/O; the store and the reports hand it counts.
"""
