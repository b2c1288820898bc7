"""The command line's own error and the exit codes its commands choose; printing them is
`main`'s job."""

from __future__ import annotations

EXIT_UNREACHABLE = 3
EXIT_LOCKED = 75
EXIT_STORAGE = 74


class CliError(Exception):
    """A problem the user can fix; `exit_code` says which kind."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
