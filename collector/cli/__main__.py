"""`python -m collector.cli`: run crenel-collector as its console script does."""

from collector.cli.program import console_script

console_script()
