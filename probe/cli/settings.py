"""`crenel-probe config show|set KEY VALUE|path`: read and change the settings file."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from probe.cli.options import add_common_flags, add_json_flag
from probe.config import ConfigFile

if TYPE_CHECKING:
    from probe.config import ProbeConfig


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `config` and its actions."""
    parser = subparsers.add_parser("config", help="show or change settings")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print the settings file")
    add_common_flags(show)
    add_json_flag(show, "the settings")
    path = actions.add_parser("path", help="print where the settings file is")
    add_common_flags(path)
    add_json_flag(path, "the path")
    setter = actions.add_parser("set", help="set a setting (`none` removes it)")
    setter.add_argument("key", metavar="KEY", help=", ".join(sorted(ConfigFile.KEYS)))
    setter.add_argument("value", metavar="VALUE")
    add_common_flags(setter)
    add_json_flag(setter, "the saved setting")
    parser.set_defaults(handler=handle, is_async=False, needs_consent=False)


def handle(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Perform the config action and return the exit code."""
    import tomli_w

    from probe.cli import render

    settings = ConfigFile(config.config_path)
    out = render.console()
    path = str(config.config_path)
    if args.action == "path":
        if args.json:
            render.print_json({"path": path})
        else:
            out.print(path, markup=False)
    elif args.action == "show":
        table = settings.read()
        if args.json:
            render.print_json({"path": path, "settings": table})
        else:
            out.print(tomli_w.dumps(table) or "(no settings yet)", markup=False)
    else:
        settings.set(args.key, args.value)
        if args.json:
            render.print_json(
                {"path": path, "key": args.key, "value": settings.read().get(args.key)}
            )
        else:
            out.print(f"{args.key} saved to {path}", markup=False)
    return 0
