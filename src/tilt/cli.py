"""The `tilt` command line.

Only commands that work are registered. Heavy modules (the engine, Docker and
Kubernetes clients, Textual) are imported inside the command that needs them,
so `tilt version` and `tilt dump tiltfile` start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence

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


def _cmd_why(ns: argparse.Namespace, tilt_args: list[str]) -> int:
    from tilt.commands.why import main as why_main

    return why_main(ns.path, ns.file, tilt_args)


def _add_why_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_text = "explain whether a change to PATH triggers each image and resource, and why"
    p = sub.add_parser(
        "why",
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ": for every target, IN or OUT "
        "and the rule that decided (pattern and where it came from).",
    )
    p.add_argument("path", metavar="PATH", help="the file or folder to ask about")
    p.add_argument("-f", "--file", default="Tiltfile", help="path to the Tiltfile")
    p.set_defaults(func=_cmd_why)


def _cmd_doctor(ns: argparse.Namespace, tilt_args: list[str]) -> int:
    from tilt.commands.doctor import main as doctor_main

    return doctor_main(output=ns.output, context=ns.context, file=ns.file, tilt_args=tilt_args)


def _add_doctor_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_text = "show how images are built and reach the cluster, and what is wrong"
    p = sub.add_parser(
        "doctor",
        help=help_text,
        description="Show the Docker engine, BuildKit, the Kubernetes context and product, the "
        "registry found and where it came from, how images reach the cluster, and the checks "
        "that failed with what to do. Exit status 1 when a check failed.",
    )
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.add_argument("--context", default="", help="Kubernetes context (default: the current one)")
    p.add_argument(
        "-f",
        "--file",
        default=None,
        help="also read default_registry()/image_push_cmd() from this Tiltfile",
    )
    p.set_defaults(func=_cmd_doctor)


def _cmd_dump_tiltfile(ns: argparse.Namespace, tilt_args: list[str]) -> int:
    from tilt.tiltfile import TiltfileLoadError
    from tilt.tiltfile.worker import run_isolated

    try:
        # In a child process: a crash or a runaway Tiltfile cannot take this one along.
        # The child writes the JSON (cheaper than sending the graph back).
        out = run_isolated(ns.file, tilt_args, subcommand="dump", then=_dump_text)
    except TiltfileLoadError as e:
        print(e.render(), file=sys.stderr)
        return 1
    assert isinstance(out, tuple)
    warnings, text = out
    if warnings:
        print(warnings, file=sys.stderr)
    sys.stdout.write(text)
    return 0


def _dump_text(result: object) -> tuple[str, str]:
    """(warnings, JSON) for `tilt dump tiltfile`, made in the loading process."""
    from tilt.model import TiltfileResult
    from tilt.tiltfile.dump import to_json

    assert isinstance(result, TiltfileResult)
    warnings = []
    for w in result.warnings:
        where = f"{w.location}: " if w.location else ""
        warnings.append(f"WARNING: {where}{w.message}")
    return "\n".join(warnings), to_json(result) + "\n"


def _port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def _port_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--port",
        type=_port_number,
        default=None,
        help="the API port of `tilt up` (default: $TILT_PORT or 10350)",
    )


def _port(ns: argparse.Namespace) -> int:
    from tilt.api.client import resolve_port

    return resolve_port(ns.port)


def _cmd_up(ns: argparse.Namespace, tilt_args: list[str]) -> int:
    from tilt.commands.up import parse_duration, run
    from tilt.process import raise_open_files_limit

    raise_open_files_limit()

    timeout_s = None
    if getattr(ns, "timeout", None):
        try:
            timeout_s = parse_duration(ns.timeout)
        except ValueError as e:
            print(f"Error: --timeout: {e}", file=sys.stderr)
            return 2
    try:
        port = _port(ns)
    except Exception as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    # The TUI on a terminal; `--stream` or output to a pipe/file streams logs.
    ui = (
        ns.command == "up"
        and not ns.stream
        and sys.stdin.isatty()
        and sys.stdout.isatty()
        and os.environ.get("TERM") != "dumb"
    )
    with _ui_on_terminal(ui):
        return run(
            tiltfile=ns.file,
            names=ns.names,
            tilt_args=tilt_args,
            port=port,
            ci=ns.command == "ci",
            timeout_s=timeout_s,
            output_junit=getattr(ns, "output_junit", None) or "",
            ui=ui,
            k8s_context=ns.context,
            k8s_namespace=ns.namespace,
        )


@contextlib.contextmanager
def _ui_on_terminal(ui: bool) -> Iterator[None]:
    """The TUI draws on stderr: with stderr redirected (``2>/dev/null``), point it at
    the terminal stdout is on while the UI runs, and restore it afterwards."""
    if not ui or os.isatty(2):
        yield
        return
    saved = os.dup(2)
    sys.stderr.flush()
    os.dup2(1, 2)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _cmd_apply(ns: argparse.Namespace, _tilt_args: list[str]) -> int:
    from tilt.tiltfile._apply import SPOOL_ENV, ApplyError, parse_objects, write_spool

    spool = os.environ.get(SPOOL_ENV)
    if not spool:
        print(
            "Error: tilt apply works only inside a Tiltfile's local() here (the objects join "
            "the graph of the Tiltfile being loaded); use the v1alpha1.* builtins otherwise",
            file=sys.stderr,
        )
        return 1
    try:
        if ns.filename == "-":
            text = sys.stdin.read()
        else:
            with open(ns.filename, encoding="utf-8") as f:
                text = f.read()
        objects = parse_objects(text)
    except (OSError, ApplyError) as e:
        print(f"Error: tilt apply: {e}", file=sys.stderr)
        return 1
    write_spool(spool, objects)
    for o in objects:
        print(f"{o.kind.lower()}.tilt.dev/{o.name} created")
    return 0


def _cmd_remote(ns: argparse.Namespace, tilt_args: list[str]) -> int:
    from tilt.api.client import ApiError
    from tilt.commands import remote

    try:
        port = _port(ns)
    except ApiError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    match ns.command:
        case "trigger":
            return remote.trigger(port, ns.names)
        case "cancel":
            return remote.cancel(port, ns.names)
        case "button":
            return remote.button(port, ns.resource, ns.button, ns.inputs)
        case "enable" | "disable":
            return remote.enable(port, ns.names, ns.command == "enable")
        case "down":
            return remote.down(
                port,
                tiltfile=ns.file,
                tilt_args=tilt_args,
                delete_volumes=ns.delete_volumes,
                delete_namespaces=ns.delete_namespaces,
                context=ns.context,
                namespace=ns.namespace,
            )
        case "get":
            return remote.get(port, ns.names, ns.output)
        case "logs":
            return remote.logs(port, ns.names, follow=ns.follow, tail=ns.tail)
    return 2


def _add_engine_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text, output in (
        (
            "up",
            "start the resources of the Tiltfile and keep them up to date",
            "On a terminal it opens the full-screen UI (? lists the keys); with --stream or "
            "when stdout is not a terminal, it streams every resource's log, prefixed with "
            "its name.",
        ),
        (
            "ci",
            "start the resources, exit 0 once all are ready, 1 at the first failure",
            "Output streams every resource's log, prefixed with its name; a failure ends "
            "with that resource's last lines.",
        ),
    ):
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ". " + output + " NAME... "
            "runs only those resources and their dependencies; arguments after -- go to the "
            "Tiltfile's config.",
        )
        p.add_argument("names", nargs="*", metavar="NAME", help="resources to run")
        p.add_argument("-f", "--file", default="Tiltfile", help="path to the Tiltfile")
        _port_arg(p)
        p.add_argument("--context", default="", help="the Kubernetes context to use")
        p.add_argument("--namespace", default="", help="the default Kubernetes namespace")
        if name == "up":
            p.add_argument(
                "--stream",
                action="store_true",
                help="stream logs to stdout instead of the full-screen UI (the default "
                "when stdout is not a terminal)",
            )
        else:
            p.add_argument(
                "--timeout",
                default=None,
                help="give up after this long, e.g. 90s or 10m (default: "
                "ci_settings(timeout=), 30m)",
            )
            p.add_argument(
                "--output-junit",
                metavar="PATH",
                default=None,
                help="write the run (every test resource's tests, every resource) as JUnit "
                "XML to PATH, for CI systems",
            )
        p.set_defaults(func=_cmd_up)

    remote_cmds: list[tuple[str, str, str]] = [
        ("trigger", "queue an update of resources (even manual ones)", "+"),
        ("cancel", "cancel the running update of resources", "+"),
        ("enable", "enable resources", "+"),
        ("disable", "disable resources (stops them)", "+"),
        (
            "down",
            "stop everything the running `tilt up` runs and end it, then remove the "
            "Tiltfile's Docker Compose services (docker compose down) and Kubernetes objects",
            "",
        ),
        ("get", "show the state of resources", "*"),
        ("logs", "print the logs of a running `tilt up`", "*"),
    ]
    for name, help_text, nargs in remote_cmds:
        p = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:])
        if nargs:
            p.add_argument("names", nargs=nargs, metavar="NAME", help="resource names")
        _port_arg(p)
        if name == "get":
            p.add_argument(
                "-o", "--output", choices=("table", "json"), default="table", help="format"
            )
        if name == "down":
            p.add_argument("-f", "--file", default="Tiltfile", help="path to the Tiltfile")
            p.add_argument(
                "--delete-volumes",
                action="store_true",
                help="also remove the named volumes of the Docker Compose projects",
            )
            p.add_argument(
                "--delete-namespaces",
                action="store_true",
                help="also delete the Kubernetes namespaces the Tiltfile declares",
            )
            p.add_argument("--context", default="", help="the Kubernetes context to use")
            p.add_argument("--namespace", default="", help="the default Kubernetes namespace")
        if name == "logs":
            p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
            p.add_argument("--tail", type=int, default=None, help="only the last N lines")
        p.set_defaults(func=_cmd_remote)
    p = sub.add_parser(
        "apply",
        help="register Tilt API objects (tilt.dev/v1alpha1 YAML) from a Tiltfile's local()",
        description="Register Tilt API objects (tilt.dev/v1alpha1: UIButton, Cmd, ConfigMap, "
        "...) from YAML, as extensions do with local('... | tilt apply -f -'). Only inside a "
        "Tiltfile's local(): the objects join the graph of the Tiltfile being loaded.",
    )
    p.add_argument("-f", "--filename", required=True, help="a YAML file, or - for stdin")
    p.set_defaults(func=_cmd_apply)
    p = sub.add_parser(
        "button",
        help="run a button (v1alpha1.ui_button) of a resource",
        description="Run a button (v1alpha1.ui_button) of a resource in the running `tilt up`: "
        "its command runs with the inputs in its environment, its output in the resource's "
        "log. Inputs not given take their defaults.",
    )
    p.add_argument("resource", metavar="RESOURCE", help="the resource the button is on")
    p.add_argument("button", metavar="NAME", help="the button's name")
    p.add_argument("inputs", nargs="*", metavar="INPUT=VALUE", help="input values")
    _port_arg(p)
    p.set_defaults(func=_cmd_remote)


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
    _add_engine_commands(sub)
    _add_why_command(sub)
    _add_doctor_command(sub)
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
