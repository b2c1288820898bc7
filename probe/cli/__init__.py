"""The volunteer's command line.

Modules: `main` (parse, dispatch, exit codes), `measure`, `run`, `upload`, `listing` (list/show),
`settings` (config), one per subcommand; `options` (shared flags), `session` (building a
measuring session), `evidence` (whether packet evidence runs, said once), `consent` (informed
consent), `render` (everything printed).
"""
