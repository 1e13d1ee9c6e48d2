"""The base of the engine's runners (`tilt.engine.local`, `tilt.engine.compose`).

A runner starts one background update task per resource and reports the
outcome as `UpdateFinished`. The bookkeeping is the same for every kind of
resource and lives here: the running tasks per resource, cancelling one,
dropping a task when it ends (posting a `Tick` so a waiting shutdown wakes),
and whether anything still runs. Besides the update itself, a runner differs
only in the hook `_other_tasks`: its work besides updates that a shutdown must
wait for.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from tilt.engine.events import Event, Tick, UpdateFinished

if TYPE_CHECKING:
    from tilt.logstore import LogStore
    from tilt.process import ProcessSupervisor

__all__ = ["Runner"]


class Runner:
    """Tracks a runner's update tasks, one per resource.

    Args:
        supervisor: Owns every child process.
        logs: The log store.
        post: Hands an event to the engine (called on the event loop).
        base_dir: The Tiltfile's folder.
    """

    def __init__(
        self,
        *,
        supervisor: ProcessSupervisor,
        logs: LogStore,
        post: Callable[[Event], None],
        base_dir: str,
    ) -> None:
        self._sup = supervisor
        self._logs = logs
        self._post = post
        self._base_dir = base_dir
        self._updates: dict[str, asyncio.Task[None]] = {}

    # ---- the hook ----------------------------------------------------------------------------

    def _other_tasks(self) -> Iterable[asyncio.Task[None]]:
        """Tasks besides updates that `busy` counts (none by default)."""
        return ()

    # ---- engine interface --------------------------------------------------------------------

    def cancel_update(self, name: str) -> bool:
        """Cancel ``name``'s running update (stopping its processes); False if none runs."""
        task = self._updates.get(name)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def busy(self) -> bool:
        """Whether an update, or other work of the runner's (a serve_cmd, a removal), runs."""
        return any(not t.done() for t in (*self._updates.values(), *self._other_tasks()))

    # ---- helpers -----------------------------------------------------------------------------

    def _start(
        self,
        tasks: dict[str, asyncio.Task[None]],
        name: str,
        coro: Coroutine[Any, Any, None],
        *,
        task_name: str,
    ) -> None:
        """Run ``coro`` as ``tasks[name]``, forgotten again when it ends."""
        task = asyncio.create_task(coro, name=task_name)
        tasks[name] = task
        task.add_done_callback(functools.partial(self._forget, tasks, name))

    def _forget(
        self, tasks: dict[str, asyncio.Task[None]], name: str, task: asyncio.Task[None]
    ) -> None:
        if tasks.get(name) is task:
            del tasks[name]
        # Wake the engine: a shutdown waits until no task is left.
        self._post(Tick(at=time.time()))

    def _log(self, name: str, span: str) -> Callable[[str], None]:
        """A function that appends a line to ``name``'s log in ``span``."""
        logs = self._logs

        def log(text: str) -> None:
            logs.append(name, text, span=span)

        return log

    def _finish(
        self,
        name: str,
        update_id: int,
        *,
        ok: bool,
        error: str = "",
        exit_code: int | None = None,
        cancelled: bool = False,
    ) -> None:
        """Post ``name``'s `UpdateFinished` for update ``update_id``."""
        self._post(
            UpdateFinished(
                name=name,
                update_id=update_id,
                at=time.time(),
                ok=ok,
                error=error,
                exit_code=exit_code,
                cancelled=cancelled,
            )
        )
