"""Docker container events for our Compose projects, kept per resource.

`watch_events` follows the Docker Engine's event stream, filtered on the
daemon side to the containers of one Compose project (label
``com.docker.compose.project``), and turns each raw event into a typed
`ContainerEvent`: OOM kill, death with an exit code, health turning
unhealthy/healthy, restart, start, stop. `EventTranslator` holds the little
state that takes (Docker reports a ``kill`` before the ``die`` of a container
it was asked to stop, so that death is a stop, not a crash; a ``start`` right
after a crash is a restart by the restart policy).

`ContainerEvent.to_runtime_event` gives the engine the neutral record
(`tilt.runtime_events.RuntimeEvent`): Docker's words stay here, the engine
only learns whether the event is a crash. The per-resource keeper
(`EventKeeper`) lives in `tilt.runtime_events` and is re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tilt.runtime_events import NORMAL, WARNING, EventKeeper, KeptEvent, RuntimeEvent

__all__ = [
    "CRASH_REASONS",
    "NORMAL",
    "WARNING",
    "ContainerEvent",
    "EventKeeper",
    "EventTranslator",
    "KeptEvent",
    "watch_events",
]

#: The reasons that mean the container's process crashed.
CRASH_REASONS = ("Died", "OOMKilled", "Restarted")

#: A ``die`` this soon after a ``kill`` of the same container was asked for.
_KILL_WINDOW_S = 30.0

_PROJECT_LABEL = "com.docker.compose.project"
_SERVICE_LABEL = "com.docker.compose.service"


@dataclass(frozen=True, kw_only=True)
class ContainerEvent:
    """One thing that happened to one container.

    Attributes:
        type: ``Normal`` or ``Warning`` (a problem), as Kubernetes events.
        reason: a short CamelCase word: ``OOMKilled``, ``Died``, ``Unhealthy``,
            ``Healthy``, ``Restarted``, ``Started``, ``Stopped``, ``Completed``.
        object: what it happened to, e.g. ``container proj-web-1``.
        message: one human line.
        time: when, in seconds since the epoch.
        container_id: the container's full id.
        service: the Compose service ("" for a plain container).
        project: the Compose project ("" for a plain container).
        exit_code: for ``Died``/``Stopped``/``Completed``/``OOMKilled``.
    """

    type: str
    reason: str
    object: str
    message: str
    time: float
    container_id: str = ""
    service: str = ""
    project: str = ""
    exit_code: int | None = None

    @property
    def is_problem(self) -> bool:
        return self.type == WARNING

    @property
    def is_crash(self) -> bool:
        """The process crashed (died with an error, OOM-killed, restarted after a crash)."""
        return self.is_problem and self.reason in CRASH_REASONS

    def to_runtime_event(self) -> RuntimeEvent:
        """The neutral record the engine keeps."""
        return RuntimeEvent(
            type=self.type,
            reason=self.reason,
            object=self.object,
            message=self.message,
            time=self.time,
            instance_id=self.container_id,
            exit_code=self.exit_code,
            crash=self.is_crash,
        )


class EventTranslator:
    """Turns raw Docker events (decoded JSON) into `ContainerEvent`s.

    Stateful across events of the same container, as described in the module doc.
    """

    def __init__(self) -> None:
        self._killed_at: dict[str, float] = {}
        self._oom_at: dict[str, float] = {}
        self._crashed: dict[str, int] = {}
        self._restarts: dict[str, int] = {}

    def translate(self, raw: dict[str, Any]) -> ContainerEvent | None:
        """The typed event for ``raw``, or None for an action we do not report."""
        if raw.get("Type", raw.get("type")) != "container":
            return None
        action = str(raw.get("Action") or raw.get("status") or "")
        actor = raw.get("Actor") or {}
        attrs: dict[str, str] = dict(actor.get("Attributes") or {})
        cid = str(actor.get("ID") or raw.get("id") or "")
        name = attrs.get("name", cid[:12])
        nano = raw.get("timeNano")
        when = nano / 1e9 if isinstance(nano, int) else float(raw.get("time") or time.time())

        def event(
            type_: str, reason: str, message: str, exit_code: int | None = None
        ) -> ContainerEvent:
            return ContainerEvent(
                type=type_,
                reason=reason,
                object=f"container {name}",
                message=message,
                time=when,
                container_id=cid,
                service=attrs.get(_SERVICE_LABEL, ""),
                project=attrs.get(_PROJECT_LABEL, ""),
                exit_code=exit_code,
            )

        if action == "kill":
            self._killed_at[cid] = when
            return None
        if action == "oom":
            self._oom_at[cid] = when
            return event(WARNING, "OOMKilled", "out of memory: the kernel killed the process")
        if action == "die":
            code = _int(attrs.get("exitCode"))
            killed = when - self._killed_at.pop(cid, -1e18) < _KILL_WINDOW_S
            oom = when - self._oom_at.pop(cid, -1e18) < _KILL_WINDOW_S
            if oom:
                self._crashed[cid] = code if code is not None else -1
                return event(
                    WARNING,
                    "OOMKilled",
                    f"exited with code {code} after running out of memory",
                    code,
                )
            if killed:
                return event(NORMAL, "Stopped", f"stopped (exit code {code})", code)
            if code == 0:
                return event(NORMAL, "Completed", "exited with code 0", code)
            self._crashed[cid] = code if code is not None else -1
            return event(WARNING, "Died", f"exited with code {code}", code)
        if action == "start":
            if cid in self._crashed:
                code = self._crashed.pop(cid)
                n = self._restarts[cid] = self._restarts.get(cid, 0) + 1
                return event(
                    WARNING,
                    "Restarted",
                    f"restarted by its restart policy after exiting with code {code} (restart {n})",
                )
            return event(NORMAL, "Started", "started")
        if action == "restart":
            return event(NORMAL, "Restarted", "restarted")
        if action == "stop":
            return None  # the `die` that came with it said it
        if action.startswith("health_status"):
            status = action.split(":", 1)[1].strip() if ":" in action else ""
            if status == "unhealthy":
                return event(WARNING, "Unhealthy", "healthcheck failing: unhealthy")
            if status == "healthy":
                return event(NORMAL, "Healthy", "healthcheck passing: healthy")
            return None
        return None


def _int(v: object) -> int | None:
    try:
        return int(str(v))
    except ValueError:
        return None


async def watch_events(
    client: Any,
    project: str,
    on_event: Callable[[ContainerEvent], None],
    *,
    since: float | None = None,
) -> None:
    """Follow the Docker events of ``project``'s containers until cancelled.

    The stream is read in a thread (the SDK's generator blocks); each event is
    handed to ``on_event`` on the calling event loop. Cancelling closes the
    stream, which ends the thread.

    Args:
        client: a ``docker.DockerClient``.
        project: the Compose project name.
        on_event: called with each typed event, on the event loop.
        since: replay events since this epoch time (default: only new ones).
    """
    loop = asyncio.get_running_loop()
    translator = EventTranslator()
    filters = {"type": ["container"], "label": [f"{_PROJECT_LABEL}={project}"]}
    stream = client.api.events(
        filters=filters, decode=True, since=int(since) if since is not None else None
    )
    done = loop.create_future()

    def deliver(ev: ContainerEvent) -> None:
        on_event(ev)

    def pump() -> None:
        # RuntimeError: the loop closed under us (shutdown); nobody is listening.
        with contextlib.suppress(RuntimeError):
            try:
                for raw in stream:
                    ev = translator.translate(raw)
                    if ev is not None:
                        loop.call_soon_threadsafe(deliver, ev)
            except Exception as e:  # a closed stream ends here too
                loop.call_soon_threadsafe(_set_exception, done, e)
            finally:
                loop.call_soon_threadsafe(_set_result, done)

    thread = threading.Thread(target=pump, name=f"docker-events-{project}", daemon=True)
    thread.start()
    try:
        await done
    finally:
        close_stream(stream)


def _set_result(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _set_exception(fut: asyncio.Future[None], e: BaseException) -> None:
    if not fut.done():
        fut.set_exception(e)


def close_stream(stream: Any) -> None:
    """Close an SDK ``CancellableStream`` and the HTTP response under it.

    ``close()`` shuts the socket down (which ends a read blocked in another
    thread); closing the response too releases the connection even when the
    stream had already ended on its own.
    """
    with contextlib.suppress(Exception):
        stream.close()
    response = getattr(stream, "_response", None)
    if response is not None:
        with contextlib.suppress(Exception):
            response.close()
