"""The volunteer's command line.

Modules: `main` (parse, dispatch, exit codes), `measure`, `run`, `listing` (list/show),
`settings` (config), one per subcommand; `options` (shared flags), `session` (building a
measuring session), `consent` (informed consent), `render` (everything printed).
"""
