"""The regional model: from counts of measurements per network to per-network and per-country
verdicts, changes and "blocked since".

Modules: `model` (settings, the verdicts and their column codes, the counts records), `columns`
(the model's one implementation, over numpy columns: networks, domains, days at once), `changes`
(changes and "blocked since" from a daily series), `incomplete_beta` (the regularised incomplete
beta function the posteriors need). tests/collector/regional_oracle.py is a plain-Python oracle.

Must not: read storage, a clock or any I/O; the store and the reports hand it counts.
"""
