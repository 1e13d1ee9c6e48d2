"""`tilt up` (streaming) and `tilt ci`: run the engine in this process.

Output is the streaming printer's (`tilt.stream`): every log line, prefixed
with its resource. `tilt up` serves the local API (`tilt.api.server`) so
`tilt get`, `trigger`, `cancel`, `logs` and `down` can reach it.

Ctrl-C or SIGTERM stops every process group (SIGTERM, a grace period, SIGKILL)
and exits; a second Ctrl-C kills them at once and exits immediately.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

__all__ = ["parse_duration", "run"]


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration (``90s``, ``5m``, ``1h30m``, ``250ms``) or a number.

    Raises:
        ValueError: not a duration.
    """
    import re

    s = text.strip()
    try:
        return float(s)
    except ValueError:
        pass
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 5m, 1h30m)")
    return sum(float(n) * units[u] for n, u in parts)


def run(
    *,
    tiltfile: str,
    names: Sequence[str],
    tilt_args: Sequence[str],
    port: int,
    ci: bool = False,
    timeout_s: float | None = None,
    ui: bool = False,
    output_junit: str = "",
    k8s_context: str = "",
    k8s_namespace: str = "",
) -> int:
    """Run `tilt up` (or `tilt ci`) until it ends; returns the exit code.

    With ``ui`` the full-screen TUI (`tilt.ui.app`) shows the engine instead of
    the streaming printer. ``output_junit``: `tilt ci` writes the run there as JUnit XML.
    """
    return asyncio.run(
        _main(
            tiltfile=tiltfile,
            names=names,
            tilt_args=tilt_args,
            port=port,
            ci=ci,
            timeout_s=timeout_s,
            ui=ui,
            output_junit=output_junit,
            k8s_context=k8s_context,
            k8s_namespace=k8s_namespace,
        )
    )


async def _main(
    *,
    tiltfile: str,
    names: Sequence[str],
    tilt_args: Sequence[str],
    port: int,
    ci: bool,
    timeout_s: float | None,
    ui: bool = False,
    output_junit: str = "",
    k8s_context: str = "",
    k8s_namespace: str = "",
) -> int:
    from tilt.engine.engine import Engine
    from tilt.engine.runner import standard_runners
    from tilt.logstore import LogStore
    from tilt.process import ProcessSupervisor
    from tilt.stream import StreamPrinter

    loop = asyncio.get_running_loop()
    logs = LogStore()
    supervisor = ProcessSupervisor()
    # Never blocks the loop; a slow reader pauses the children's output instead.
    printer = StreamPrinter(
        schedule=loop.call_soon,
        schedule_threadsafe=loop.call_soon_threadsafe,
        on_congestion=supervisor.pause_output,
    )
    if not ui:
        logs.add_listener(printer.on_line)
    engine = Engine(
        tiltfile,
        args=[*names, *tilt_args],
        selected=list(names) or None,
        logs=logs,
        supervisor=supervisor,
        watch=not ci,
        ci=ci,
        ci_timeout_s=timeout_s,
        subcommand="ci" if ci else "up",
        # The runtimes: local processes, Docker Compose, Kubernetes (--context/--namespace).
        runners=lambda ctx: standard_runners(
            ctx, k8s_context=k8s_context, k8s_namespace=k8s_namespace
        ),
    )

    def say(text: str) -> None:
        logs.append("", text, span="system")

    server = None
    token = ""
    if port != 0:
        from tilt.api.server import ApiServer
        from tilt.api.token import new_token, write_token

        token = new_token()
        server = ApiServer(engine, token=token, port=port)
        try:
            await server.start()
        except OSError as e:
            print(
                f"Error: cannot serve the API on 127.0.0.1:{port}: {e.strerror or e}. "
                "Is another `tilt up` running? Use --port or TILT_PORT (0 disables the API).",
                file=sys.stderr,
            )
            return 1
        from tilt.api.token import TokenError, remove_stale_tokens

        remove_stale_tokens()  # left by a tilt that did not exit cleanly
        try:
            path = write_token(port, token)
        except TokenError as e:
            await server.close()
            print(f"Error: {e}", file=sys.stderr)
            return 1
        say(f"Tilt API on http://127.0.0.1:{port}/ (token in {path})")

    interrupts = 0

    def on_signal(signame: str) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            say(f"Received {signame}: stopping all resources (again to force)")
            engine.shutdown(f"received {signame}", 1 if ci else 0)
            return
        # Second signal: no more grace (and no waiting for a stalled reader).
        supervisor.kill_all_now()
        if server is not None:
            from tilt.api.token import remove_token

            remove_token(port, token)
        printer.flush()
        printer.drain(stall_timeout_s=0.5)
        os._exit(130)

    # SIGHUP: the terminal went away; stop as cleanly as for SIGTERM.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        code = await (_run_with_ui(engine) if ui else engine.run())
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        if server is not None:
            await server.close()
            from tilt.api.token import remove_token

            remove_token(port, token)
        printer.drain()
    if ci:
        code = _ci_summary(engine, printer) if engine.ci_outcome is not None else code
        code = _ci_tests(engine, printer, output_junit, code)
    return code


def _ci_tests(engine: object, printer: object, output_junit: str, code: int) -> int:
    """The test summary and ``--output-junit`` (tilt.commands.testreport)."""
    from tilt.commands.testreport import summary_lines, write_report
    from tilt.engine.engine import Engine
    from tilt.stream import StreamPrinter

    assert isinstance(engine, Engine) and isinstance(printer, StreamPrinter)
    lines = summary_lines(engine.state)
    if lines:
        printer.flush()
        stream = sys.stdout if code == 0 else sys.stderr
        stream.write("\n".join(["", *lines]) + "\n")
        stream.flush()
    if output_junit:
        try:
            write_report(engine.state, output_junit)
        except OSError as e:
            print(f"Error: --output-junit {output_junit}: {e.strerror or e}", file=sys.stderr)
            return code or 1
    return code


async def _run_with_ui(engine: object) -> int:
    """Run the engine with the TUI on top; the app ends when the engine does."""
    from tilt.engine.engine import Engine
    from tilt.ui.app import create_app

    assert isinstance(engine, Engine)
    app = create_app(engine)
    task = asyncio.create_task(engine.run(), name="engine")
    task.add_done_callback(lambda t: app.exit(0 if t.cancelled() or t.exception() else t.result()))
    await app.run_async()
    if not task.done():
        # The app ended on its own (closed, or crashed): stop what runs, then leave.
        engine.shutdown("the UI ended")
    return await task


def _ci_summary(engine: object, printer: object) -> int:
    from tilt.engine.engine import Engine
    from tilt.stream import StreamPrinter, source_prefix

    assert isinstance(engine, Engine) and isinstance(printer, StreamPrinter)
    outcome = engine.ci_outcome
    assert outcome is not None
    if outcome.ok:
        printer.write_raw("SUCCESS. All workloads are healthy.\n")
        return 0
    out = []
    if outcome.resource:
        tail = engine.logs.tail(outcome.resource, 20)
        if tail:
            out.append(f"Last lines of {outcome.resource}:")
            out.extend(source_prefix(ln.resource) + ln.text for ln in tail)
        out.append(f"Error: resource {outcome.resource!r} failed: {outcome.message}")
    else:
        out.append(f"Error: {outcome.message}")
    printer.drain()
    sys.stderr.write("\n".join(out) + "\n")
    sys.stderr.flush()
    return 1
