"""What the command lines of all three programs share: a `--version` flag that reads the
installed version only when asked, and `completion bash|zsh`, a shell completion script that
shtab writes from the program's own parser (so it always matches the flags).

Light: importing it loads argparse only, so `--help` stays fast; `crenel-collector` and
`crenel-lab` use it as well as `crenel-probe`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

SHELLS = ("bash", "zsh")


class _VersionAction(argparse.Action):
    """`--version`: print the installed version and exit, looking it up only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from importlib import metadata

        try:
            version = metadata.version("crenel")
        except metadata.PackageNotFoundError:
            version = "0.0.0+unknown"
        sys.stdout.write(f"{parser.prog} {version}\n")
        parser.exit()


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    """Add `--version` to `parser`; return nothing."""
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")


def add_completion_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    build_parser: Callable[[], argparse.ArgumentParser],
    program: str,
) -> argparse.ArgumentParser:
    """Register `completion SHELL` and return its parser (the caller adds its own defaults).

    The parser's `print_completion` default prints the script of `build_parser()`.
    """
    parser = subparsers.add_parser(
        "completion",
        help=f"print a shell completion script (e.g. {program} completion bash > "
        f"~/.local/share/bash-completion/completions/{program})",
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(print_completion=lambda args: print_completion(build_parser(), args.shell))
    return parser


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """Return the completion script of `parser` for `shell` (bash or zsh)."""
    import shtab

    return str(shtab.complete(parser, shell=shell))


def print_completion(parser: argparse.ArgumentParser, shell: str) -> int:
    """Print the completion script of `parser` on stdout and return the exit code."""
    sys.stdout.write(completion_script(parser, shell))
    return 0


def exit_unless_installed(modules: Sequence[str], needs_extra: str) -> None:
    """Return when every module can be imported; else print `needs_extra` (with `{module}`
    filled in) as one line on stderr and exit 2, before anything imports them."""
    from importlib.util import find_spec

    missing = [name for name in modules if find_spec(name) is None]
    if missing:
        print(needs_extra.format(module=missing[0]), file=sys.stderr)
        sys.exit(2)
