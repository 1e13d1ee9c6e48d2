"""Runs local resources: ``cmd`` as the update, ``serve_cmd`` as the runtime, and its probe.

The runner owns no state: it starts processes through the one
`tilt.process.ProcessSupervisor`, sends their output to the log store, and
reports what happened as events (`UpdateFinished`, `ServeStarted`,
`ServeExited`, `ProbeChanged`) to the engine.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tilt.engine.events import (
    Event,
    ProbeChanged,
    ServeExited,
    ServeStarted,
    Tick,
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
        # The newest serve run per resource, and every run not finished yet.
        self._serves: dict[str, asyncio.Task[None]] = {}
        self._serve_runs: dict[str, list[asyncio.Task[None]]] = {}

    # ---- updates ---------------------------------------------------------------------------

    def start_update(self, req: UpdateRequest) -> None:
        """Run the resource's cmd in the background; posts `UpdateFinished` when done."""
        spec, update_id = req.spec, req.update_id
        coro = self._update(spec, update_id)
        if spec.test is not None and spec.local is not None and spec.local.cmd is not None:
            # A test() resource: shards, timeout, per-test results (tilt.engine.testrun).
            from tilt.engine.testrun import run_test_update

            coro.close()
            coro = run_test_update(self, spec, update_id)
        self._start(self._updates, spec.name, coro, task_name=f"update:{spec.name}")

    def start_runtime(self, spec: Resource, run_id: int) -> None:
        """Start ``spec``'s serve_cmd as run ``run_id`` (see `start_serve`)."""
        self.start_serve(spec, run_id)

    def stop(self, name: str, spec: Resource | None, *, remove: bool) -> None:
        """Stop ``name``'s serve_cmd (a process leaves nothing to remove)."""
        self.stop_serve(name)

    async def close(self) -> None:
        """Nothing to do: the supervisor stops every process at shutdown."""

    async def _update(self, spec: Resource, update_id: int) -> None:
        name = spec.name
        local = spec.local
        build_log = self._log(name, "build")
        if local is None or local.cmd is None:
            self._finish(name, update_id, ok=True)
            return
        cmd = local.cmd
        build_log(f"Running cmd: {cmd.display}")
        cwd = local.dir or self._base_dir
        try:
            proc = await self._sup.start(
                cmd.argv,
                cwd=cwd,
                env=dict(local.env),
                on_output=build_log,
                on_system=build_log,
                stdin_pty=local.stdin_mode == "pty",
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
            # A second cancel must not abandon the stop (nor the UpdateFinished below).
            await _through_cancel(asyncio.ensure_future(proc.stop()))
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
        """(Re)start ``spec``'s serve_cmd as run ``serve_id``, stopping the previous runs first.

        Every earlier run of the resource that has not finished is cancelled now, and
        the new run starts its process only once all of them have fully exited (their
        process groups gone), whatever cancels arrive meanwhile.
        """
        name = spec.name
        runs = [t for t in self._serve_runs.get(name, ()) if not t.done()]
        for t in runs:
            t.cancel()
        task = asyncio.create_task(self._serve(spec, serve_id, tuple(runs)), name=f"serve:{name}")
        runs.append(task)
        self._serve_runs[name] = runs
        self._serves[name] = task
        task.add_done_callback(functools.partial(self._serve_done, spec.name, serve_id))

    def _serve_done(self, name: str, serve_id: int, task: asyncio.Task[None]) -> None:
        runs = self._serve_runs.get(name)
        if runs is not None:
            runs[:] = [t for t in runs if t is not task]
            if not runs:
                del self._serve_runs[name]
        if self._serves.get(name) is task:
            del self._serves[name]
        if task.cancelled():
            # Cancelled before its first step: its body never ran, so it posted nothing.
            self._post(
                ServeExited(
                    name=name,
                    serve_id=serve_id,
                    at=time.time(),
                    returncode=None,
                    stopped_by_us=True,
                )
            )
        # Wake the engine: a shutdown waits until no task is left.
        self._post(Tick(at=time.time()))

    def stop_serve(self, name: str) -> None:
        """Stop ``name``'s serve_cmd (posts `ServeExited` with ``stopped_by_us``)."""
        for task in self._serve_runs.get(name, ()):
            if not task.done():
                task.cancel()

    def _other_tasks(self) -> Iterable[asyncio.Task[None]]:
        # Serve processes being run or stopped (every run, not only the newest).
        return [t for runs in self._serve_runs.values() for t in runs]

    async def _serve(
        self, spec: Resource, serve_id: int, previous: tuple[asyncio.Task[None], ...]
    ) -> None:
        # A cancel may arrive at any await below. Each step that starts or stops a
        # process runs to its end regardless (`_through_cancel`), so this task ends only
        # once its process group is gone: the next run, which waits for this task,
        # never overlaps with it.
        name = spec.name
        local = spec.local
        assert local is not None and local.serve_cmd is not None
        cmd = local.serve_cmd
        run_log = self._log(name, "runtime")

        def exited(status: ExitStatus | None, *, stopped: bool, error: str = "") -> None:
            self._post(
                ServeExited(
                    name=name,
                    serve_id=serve_id,
                    at=time.time(),
                    returncode=status.returncode if status is not None else None,
                    signal=status.signal if status is not None else None,
                    stopped_by_us=stopped,
                    error=error,
                )
            )

        cancelled = False
        for prev in previous:
            cancelled |= await _through_cancel(prev)
        if cancelled:
            exited(None, stopped=True)
            return
        cwd = local.serve_dir or self._base_dir
        run_log(f"Running serve cmd: {cmd.display}")
        start = asyncio.ensure_future(
            self._sup.start(
                cmd.argv,
                cwd=cwd,
                env=dict(local.serve_env),
                on_output=run_log,
                on_system=run_log,
                stdin_pty=local.serve_stdin_mode == "pty",
            )
        )
        cancelled = await _through_cancel(start)
        try:
            proc = start.result()
        except asyncio.CancelledError:
            exited(None, stopped=True)
            return
        except OSError as e:
            msg = _start_error(cmd, e)
            run_log(f"ERROR: {msg}")
            exited(None, stopped=False, error=msg)
            return
        if cancelled:
            stop = asyncio.ensure_future(proc.stop())
            await _through_cancel(stop)
            exited(stop.result(), stopped=True)
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
            stop = asyncio.ensure_future(proc.stop())
            await _through_cancel(stop)
            status = stop.result()
            status_stopped = True
        else:
            status_stopped = status.stopped_by_us
        if probe_task is not None:
            probe_task.cancel()
            await _through_cancel(probe_task)
        if not status_stopped:
            run_log(f"serve_cmd exited: {describe_exit(status)}")
        exited(status, stopped=status_stopped)


async def _through_cancel(fut: asyncio.Future[Any]) -> bool:
    """Wait until ``fut`` is done, even if this task is cancelled meanwhile.

    Returns:
        Whether a cancel of the waiting task arrived (the caller acts on it
        after ``fut`` is done, instead of abandoning ``fut`` half-way).
    """
    cancelled = False
    while not fut.done():
        try:
            await asyncio.wait({fut})
        except asyncio.CancelledError:
            cancelled = True
    return cancelled
