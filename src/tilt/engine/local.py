"""Runs local resources: ``cmd`` as the update, ``serve_cmd`` as the runtime, and its probe.

The runner owns no state: it starts processes through the one
`tilt.process.ProcessSupervisor`, sends their output to the log store, and
reports what happened as events (`UpdateFinished`, `ServeStarted`,
`ServeExited`, `ProbeChanged`) to the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from tilt.engine.events import (
    Event,
    ProbeChanged,
    ServeExited,
    ServeStarted,
)
from tilt.engine.runner import RunnerBase, UpdateRequest
from tilt.model import Cmd, Resource

if TYPE_CHECKING:
    from tilt.logstore import LogStore
    from tilt.process import ExitStatus, ProcessSupervisor

__all__ = ["LocalRunner", "describe_exit"]


def describe_exit(status: ExitStatus) -> str:
    """``exit status 1`` / ``killed by signal 9 (SIGKILL)``, as Tilt words it."""
    if status.signal is not None:
        try:
            signame = signal.Signals(status.signal).name
        except ValueError:
            signame = str(status.signal)
        return f"killed by signal {status.signal} ({signame})"
    text = f"exit status {status.returncode}"
    if status.returncode == 127:
        text += " (command not found)"
    elif status.returncode == 126:
        text += " (command not executable)"
    return text


def _start_error(cmd: Cmd, err: OSError) -> str:
    """A clear message for a command that could not even start."""
    from tilt.process import CommandNotFoundError

    prog = cmd.argv[0] if cmd.argv else ""
    if isinstance(err, CommandNotFoundError):
        return f'command not found: "{prog}"'
    if isinstance(err, PermissionError):
        return f'permission denied running "{prog}"'
    if isinstance(err, FileNotFoundError) and err.filename:
        return f"working directory does not exist: {err.filename}"
    return f'could not start "{prog}": {err.strerror or err}'


class LocalRunner(RunnerBase):
    """Starts and stops the processes of local resources.

    Args:
        supervisor: Owns every child process (one process group each).
        logs: Where output goes (span "build" for cmd, "runtime" for serve_cmd).
        post: Hands an event to the engine (called on the event loop).
        base_dir: The default working directory (the Tiltfile's folder).
    """

    def __init__(
        self,
        *,
        supervisor: ProcessSupervisor,
        logs: LogStore,
        post: Callable[[Event], None],
        base_dir: str,
    ) -> None:
        super().__init__(supervisor=supervisor, logs=logs, post=post, base_dir=base_dir)
        self._serves: dict[str, asyncio.Task[None]] = {}

    # ---- updates ---------------------------------------------------------------------------

    def start_update(self, req: UpdateRequest) -> None:
        """Run the resource's cmd in the background; posts `UpdateFinished` when done."""
        spec, update_id, reason = req.spec, req.update_id, req.reason
        coro = self._update(spec, update_id, reason)
        if spec.test is not None and spec.local is not None and spec.local.cmd is not None:
            # A test() resource: shards, timeout, per-test results (tilt.engine.testrun).
            from tilt.engine.testrun import run_test_update

            coro.close()
            coro = run_test_update(self, spec, update_id, reason)
        self._start(self._updates, spec.name, coro, task_name=f"update:{spec.name}")

    def start_runtime(self, spec: Resource, run_id: int) -> None:
        """Start ``spec``'s serve_cmd as run ``run_id`` (see `start_serve`)."""
        self.start_serve(spec, run_id)

    def stop(self, name: str, spec: Resource | None, *, remove: bool) -> None:
        """Stop ``name``'s serve_cmd (a process leaves nothing to remove)."""
        self.stop_serve(name)

    async def close(self) -> None:
        """Nothing to do: the supervisor stops every process at shutdown."""

    def _other_tasks(self) -> Iterable[asyncio.Task[None]]:
        # A serve process being run or stopped.
        return self._serves.values()

    async def _update(self, spec: Resource, update_id: int, reason: str) -> None:
        name = spec.name
        local = spec.local
        build_log = self._log(name, "build")
        build_log("")
        build_log(reason)
        if local is None or local.cmd is None:
            self._finish(name, update_id, ok=True)
            return
        cmd = local.cmd
        build_log(f"Running cmd: {cmd.display}")
        cwd = local.dir or self._base_dir
        try:
            proc = await self._sup.start(
                cmd.argv, cwd=cwd, env=dict(local.env), on_output=build_log, on_system=build_log
            )
        except asyncio.CancelledError:
            build_log("Update cancelled")
            self._finish(name, update_id, ok=False, cancelled=True, error="cancelled")
            return
        except OSError as e:
            msg = _start_error(cmd, e)
            build_log(f"ERROR: {msg}")
            self._finish(name, update_id, ok=False, error=msg)
            return
        try:
            status = await proc.wait()
        except asyncio.CancelledError:
            build_log("Cancelling update: stopping its processes")
            await proc.stop()
            build_log("Update cancelled")
            self._finish(name, update_id, ok=False, cancelled=True, error="cancelled")
            return
        if status.returncode == 0 and status.signal is None:
            self._finish(name, update_id, ok=True, exit_code=0)
            return
        msg = f'Command "{cmd.display}" failed: {describe_exit(status)}'
        build_log(f"ERROR: {msg}")
        self._finish(name, update_id, ok=False, error=msg, exit_code=status.returncode)

    # ---- serve_cmd -------------------------------------------------------------------------

    def start_serve(self, spec: Resource, serve_id: int) -> None:
        """(Re)start ``spec``'s serve_cmd as run ``serve_id``, stopping the previous run first."""
        previous = self._serves.get(spec.name)
        self._start(
            self._serves,
            spec.name,
            self._serve(spec, serve_id, previous),
            task_name=f"serve:{spec.name}",
        )

    def stop_serve(self, name: str) -> None:
        """Stop ``name``'s serve_cmd (posts `ServeExited` with ``stopped_by_us``)."""
        task = self._serves.get(name)
        if task is not None and not task.done():
            task.cancel()

    async def _stop_previous(self, previous: asyncio.Task[None] | None) -> None:
        if previous is None or previous.done():
            return
        previous.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(previous)

    async def _serve(
        self, spec: Resource, serve_id: int, previous: asyncio.Task[None] | None
    ) -> None:
        name = spec.name
        local = spec.local
        assert local is not None and local.serve_cmd is not None
        cmd = local.serve_cmd
        run_log = self._log(name, "runtime")

        def stopped_before_start() -> None:
            self._post(
                ServeExited(
                    name=name,
                    serve_id=serve_id,
                    at=time.time(),
                    returncode=None,
                    stopped_by_us=True,
                )
            )

        try:
            await self._stop_previous(previous)
        except asyncio.CancelledError:
            stopped_before_start()
            return
        cwd = local.serve_dir or self._base_dir
        run_log(f"Running serve cmd: {cmd.display}")
        try:
            proc = await self._sup.start(
                cmd.argv, cwd=cwd, env=dict(local.serve_env), on_output=run_log, on_system=run_log
            )
        except asyncio.CancelledError:
            stopped_before_start()
            return
        except OSError as e:
            msg = _start_error(cmd, e)
            run_log(f"ERROR: {msg}")
            self._post(
                ServeExited(
                    name=name, serve_id=serve_id, at=time.time(), returncode=None, error=msg
                )
            )
            return
        self._post(ServeStarted(name=name, serve_id=serve_id, pid=proc.pid, at=time.time()))
        probe_task: asyncio.Task[None] | None = None
        if local.readiness_probe is not None:
            from tilt.probe import ProbeRunner

            def on_probe(ready: bool, message: str) -> None:
                self._post(
                    ProbeChanged(
                        name=name, serve_id=serve_id, ready=ready, message=message, at=time.time()
                    )
                )

            runner = ProbeRunner(local.readiness_probe, on_probe)
            probe_task = asyncio.create_task(runner.run(), name=f"probe:{name}")
        try:
            status = await proc.wait()
        except asyncio.CancelledError:
            status = await proc.stop()
            status_stopped = True
        else:
            status_stopped = status.stopped_by_us
        finally:
            if probe_task is not None:
                probe_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await probe_task
        if not status_stopped:
            run_log(f"serve_cmd exited: {describe_exit(status)}")
        self._post(
            ServeExited(
                name=name,
                serve_id=serve_id,
                at=time.time(),
                returncode=status.returncode,
                signal=status.signal,
                stopped_by_us=status_stopped,
            )
        )
