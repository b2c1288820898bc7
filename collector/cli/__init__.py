"""crenel-collector's command line.

Modules: `program` (parse, dispatch, exit codes; holds `main` and `console_script`); one per
subcommand: `serve` (serve and helper), `testlists` (testlists import), `reanalyse`, `export`,
`report` (flags; `country_report` makes and prints it), `completion` (shell completion scripts);
`options` (shared flags, `--json`, `--version`, resolved into the collector's config), `datadir`
(opening a stopped collector's database), `admin` (admin requests to a running collector),
`errors` (`CliError` and the exit codes). Command modules import their heavy modules inside
their handlers, so `--help` is light.

Must not: decide or compute anything itself; it parses flags, calls the stages and prints.
"""

from collector.cli.program import console_script, main

__all__ = ["console_script", "main"]
