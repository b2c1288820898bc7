"""The volunteer's command line.

Modules: `main` (parse, dispatch, exit codes), `measure`, `run`, `upload`, `listing` (list/show),
`settings` (config), `completion` (shell completion scripts), one per subcommand; `options`
(shared flags, `--json`, `--version`), `session` (building a measuring session), `evidence`
(whether packet evidence runs, said once), `consent` (informed consent), `render` (everything
printed). Subcommand modules import their heavy modules inside their handlers, so parsing and
`--help` stay light.
"""
