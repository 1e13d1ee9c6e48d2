"""Docker container events for our Compose projects, kept per resource.

`watch_events` follows the Docker Engine's event stream, filtered on the
daemon side to the containers of one Compose project (label
``com.docker.compose.project``), and turns each raw event into a typed
`ContainerEvent`: OOM kill, death with an exit code, health turning
unhealthy/healthy, restart, start, stop. `EventTranslator` holds the little
state that takes (Docker reports a ``kill`` before the ``die`` of a container
it was asked to stop, so that death is a stop, not a crash; a ``start`` right
after a crash is a restart by the restart policy).

`EventKeeper` keeps one resource's events in the shape the Kubernetes events
display uses as well - type (Normal/Warning), reason, object, message, count,
first and last seen - folding repeats into a count, renders each as an
``[event] ...`` log line, and names the newest problem as the resource's
one-line status reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "NORMAL",
    "WARNING",
    "ContainerEvent",
    "EventKeeper",
    "EventTranslator",
    "KeptEvent",
    "watch_events",
]

NORMAL = "Normal"
WARNING = "Warning"

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


@dataclass(frozen=True, kw_only=True)
class KeptEvent:
    """An event as a resource keeps it: repeats folded into ``count``."""

    type: str
    reason: str
    object: str
    message: str
    count: int
    first_seen: float
    last_seen: float

    def render(self) -> str:
        """The resource-log line: ``[event] container web-1: OOMKilled: ... (x3)``."""
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"[event] {self.object}: {self.reason}: {self.message}{times}"


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


class EventKeeper:
    """One resource's container events.

    Args:
        max_events: how many distinct events to keep (oldest dropped first).
    """

    def __init__(self, *, max_events: int = 100) -> None:
        self._events: list[KeptEvent] = []
        self._max = max_events
        self._cleared_at = 0.0

    def add(self, ev: ContainerEvent) -> KeptEvent:
        """Record ``ev``, folding it into an equal earlier one (count + 1)."""
        for i, kept in enumerate(self._events):
            if (kept.type, kept.reason, kept.object, kept.message) == (
                ev.type,
                ev.reason,
                ev.object,
                ev.message,
            ):
                updated = replace(
                    kept, count=kept.count + 1, last_seen=max(kept.last_seen, ev.time)
                )
                del self._events[i]
                self._events.append(updated)
                return updated
        kept = KeptEvent(
            type=ev.type,
            reason=ev.reason,
            object=ev.object,
            message=ev.message,
            count=1,
            first_seen=ev.time,
            last_seen=ev.time,
        )
        self._events.append(kept)
        if len(self._events) > self._max:
            del self._events[0]
        return kept

    @property
    def events(self) -> list[KeptEvent]:
        """Kept events, least recently seen first."""
        return list(self._events)

    def newest_problem(self) -> str:
        """The newest Warning as one line (``""`` when there is none).

        A later ``Healthy`` event settles an ``Unhealthy`` one; `clear` (called
        by the engine on a new deploy) forgets everything before it.
        """
        healthy_at = max((e.last_seen for e in self._events if e.reason == "Healthy"), default=-1.0)
        for e in sorted(self._events, key=lambda e: e.last_seen, reverse=True):
            if e.last_seen < self._cleared_at or e.type != WARNING:
                continue
            if e.reason == "Unhealthy" and healthy_at > e.last_seen:
                continue
            times = f" (x{e.count})" if e.count > 1 else ""
            return f"{e.reason}: {e.message}{times}"
        return ""

    def clear(self, at: float | None = None) -> None:
        """Forget the problems seen before ``at`` (now by default)."""
        self._cleared_at = time.time() if at is None else at


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
