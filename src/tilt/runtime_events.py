"""Runtime events, whatever the runtime: the neutral record and the per-resource keeper.

A runtime (Docker containers today, Kubernetes pods next) turns what its
platform reports into `RuntimeEvent`s in the shape of Kubernetes events - type
(``Normal``/``Warning``), reason, object, message, time - plus the two facts
the engine acts on: which instance it is about (a container or pod id) and
whether it is a crash (a live-updated workload that crashes is rebuilt).

`EventKeeper` keeps one resource's events the way Tilt's events display does:
repeats fold into a count, each renders as an ``[event] ...`` log line, and
the newest problem is the resource's one-line status reason. It lives on this
low floor so the engine's state can own it without importing any runtime.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Protocol

__all__ = ["NORMAL", "WARNING", "EventKeeper", "KeptEvent", "RuntimeEvent"]

NORMAL = "Normal"
WARNING = "Warning"

#: The reasons `EventKeeper.newest_problem` pairs (Kubernetes' words, which Tilt shows).
_HEALTHY = "Healthy"
_UNHEALTHY = "Unhealthy"


class _EventLike(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def object(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def time(self) -> float: ...


@dataclass(frozen=True, kw_only=True)
class RuntimeEvent:
    """One thing that happened to one instance (container, pod) of a resource.

    Attributes:
        type: ``Normal`` or ``Warning`` (a problem), as Kubernetes events.
        reason: A short CamelCase word (``OOMKilled``, ``Died``, ``Unhealthy``...).
        object: What it happened to, e.g. ``container proj-web-1``.
        message: One human line.
        time: When, in seconds since the epoch.
        instance_id: The container's (or pod's) id.
        exit_code: For an instance that ended.
        crash: The instance's process crashed (died, was OOM-killed, was
            restarted by a restart policy): after a live update, the engine
            rebuilds.
    """

    type: str
    reason: str
    object: str
    message: str
    time: float
    instance_id: str = ""
    exit_code: int | None = None
    crash: bool = False

    @property
    def is_problem(self) -> bool:
        """A Warning."""
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
    crash: bool = False

    def render(self) -> str:
        """The resource-log line: ``[event] container web-1: OOMKilled: ... (x3)``."""
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"[event] {self.object}: {self.reason}: {self.message}{times}"


class EventKeeper:
    """One resource's runtime events.

    Args:
        max_events: how many distinct events to keep (oldest dropped first).
    """

    def __init__(self, *, max_events: int = 100) -> None:
        self._events: list[KeptEvent] = []
        self._max = max_events
        self._cleared_at = 0.0

    def add(self, ev: _EventLike) -> KeptEvent:
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
            crash=bool(getattr(ev, "crash", False)),
        )
        self._events.append(kept)
        if len(self._events) > self._max:
            del self._events[0]
        return kept

    @property
    def events(self) -> list[KeptEvent]:
        """Kept events, least recently seen first."""
        return list(self._events)

    def crashed_since(self, since: float) -> bool:
        """Whether a crash was seen at or after ``since``."""
        return any(e.crash and e.last_seen >= since for e in self._events)

    def newest_problem(self) -> str:
        """The newest Warning as one line (``""`` when there is none).

        A later ``Healthy`` event settles an ``Unhealthy`` one; `clear` (called
        by the engine on a new deploy) forgets everything before it.
        """
        healthy_at = max((e.last_seen for e in self._events if e.reason == _HEALTHY), default=-1.0)
        for e in sorted(self._events, key=lambda e: e.last_seen, reverse=True):
            if e.last_seen < self._cleared_at or e.type != WARNING:
                continue
            if e.reason == _UNHEALTHY and healthy_at > e.last_seen:
                continue
            times = f" (x{e.count})" if e.count > 1 else ""
            return f"{e.reason}: {e.message}{times}"
        return ""

    def clear(self, at: float | None = None) -> None:
        """Forget the problems seen before ``at`` (now by default)."""
        self._cleared_at = time.time() if at is None else at
