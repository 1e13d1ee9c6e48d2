"""The `tilt` command line.

Only commands that work are registered. Heavy modules (the engine, Docker and
Kubernetes clients, Textual) are imported inside the command that needs them,
so `tilt version` and `tilt dump tiltfile` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tilt import __version__

__all__ = ["main"]


def _split_dashdash(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def _cmd_version(_: argparse.Namespace, __: list[str]) -> int:
    print(f"tilt {__version__}")
    return 0


def _cmd_dump_tiltfile(ns: argparse.Namespace, tilt_args: list[str]) -> int:
    from tilt.tiltfile import TiltfileLoadError, load_tiltfile
    from tilt.tiltfile.dump import to_json

    try:
        result = load_tiltfile(ns.file, tilt_args, subcommand="dump")
    except TiltfileLoadError as e:
        print(e.render(), file=sys.stderr)
        return 1
    for w in result.warnings:
        where = f"{w.location}: " if w.location else ""
        print(f"WARNING: {where}{w.message}", file=sys.stderr)
    sys.stdout.write(to_json(result) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tilt",
        description="A terminal-first dev loop: reads your Tiltfile, watches your code, "
        "rebuilds and redeploys what a change touches.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=_cmd_version)

    dump = sub.add_parser("dump", help="print internal state as JSON")
    dump_sub = dump.add_subparsers(dest="what", metavar="WHAT")
    dump_sub.required = True
    p = dump_sub.add_parser(
        "tiltfile",
        help="load the Tiltfile and print the resolved resource graph as JSON",
        description="Load the Tiltfile and print the resolved resource graph as JSON "
        "(schema: docs/tiltfile-json.md). Arguments after -- go to the Tiltfile's config.",
    )
    p.add_argument("-f", "--file", default="Tiltfile", help="path to the Tiltfile")
    p.set_defaults(func=_cmd_dump_tiltfile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    own, tilt_args = _split_dashdash(args)
    parser = build_parser()
    ns = parser.parse_args(own)
    try:
        return int(ns.func(ns, tilt_args))
    except KeyboardInterrupt:
        return 130
