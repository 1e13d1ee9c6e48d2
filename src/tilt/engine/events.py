"""Everything that happens to the engine, as typed events.

The engine's state changes only by handling one of these (see `tilt.engine.state`).
Producers (the file watcher, process runners, probes, the API, the Tiltfile
reloader) never touch the state: they post an event to the engine's queue.

Events carrying an ``update_id``/``serve_id`` belong to one run of a process;
the state ignores an event whose id is stale (the run it reports on was
replaced), so a late exit of a stopped process cannot overwrite a newer status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tilt.engine.runtime import PodEvent, PodSummary, RuntimeStatus

if TYPE_CHECKING:
    from tilt.model import TiltfileResult, TriggerMode
    from tilt.runtime_events import RuntimeEvent

__all__ = [
    "CancelRequested",
    "ContainerUpdated",
    "DisableRequested",
    "Event",
    "FilesChanged",
    "HoldsChanged",
    "ImageBuilt",
    "LiveUpdateFellBack",
    "Matcher",
    "MatchersChanged",
    "PodEventsChanged",
    "ProbeChanged",
    "RuntimeChanged",
    "RuntimeEventReceived",
    "ServeExited",
    "ServeStarted",
    "ShutdownRequested",
    "Tick",
    "TiltfileFailed",
    "TiltfileReloadStarted",
    "TiltfileReloaded",
    "TriggerDirtyRequested",
    "TriggerModeOverridden",
    "TriggerRequested",
    "UpdateFinished",
    "UpdateStarted",
]


class Matcher(Protocol):
    """What the state needs of a target's file matcher."""

    def matches(self, path: str) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class FilesChanged:
    """A batch of absolute paths created, modified or deleted (from the watcher)."""

    paths: frozenset[str]
    at: float


@dataclass(frozen=True, kw_only=True)
class UpdateStarted:
    """The scheduler started resource ``name``'s update (its ``cmd``)."""

    name: str
    update_id: int
    at: float


@dataclass(frozen=True, kw_only=True)
class UpdateFinished:
    """An update ended: ``ok``, failed (``error``), or ``cancelled``."""

    name: str
    update_id: int
    at: float
    ok: bool
    error: str = ""
    exit_code: int | None = None
    cancelled: bool = False
    # A test resource's per-test results (`tilt.testresults.TestResults`).
    results: Any = None


@dataclass(frozen=True, kw_only=True)
class ServeStarted:
    """A ``serve_cmd`` process is running."""

    name: str
    serve_id: int
    pid: int
    at: float


@dataclass(frozen=True, kw_only=True)
class ServeExited:
    """A ``serve_cmd`` process ended (or could not start: ``error``)."""

    name: str
    serve_id: int
    at: float
    returncode: int | None
    signal: int | None = None
    stopped_by_us: bool = False
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class ProbeChanged:
    """A readiness probe changed its verdict for one serve run."""

    name: str
    serve_id: int
    ready: bool
    message: str
    at: float


@dataclass(frozen=True, kw_only=True)
class TriggerRequested:
    """`tilt trigger NAME` (or a key in the UI): queue an update."""

    name: str
    at: float


@dataclass(frozen=True, kw_only=True)
class TriggerDirtyRequested:
    """The UI's `T`: queue an update of every enabled resource with pending changes."""

    at: float


@dataclass(frozen=True, kw_only=True)
class TriggerModeOverridden:
    """The UI's `m`: run ``name`` in ``mode`` until tilt exits (None: the Tiltfile's mode)."""

    name: str
    mode: TriggerMode | None
    at: float


@dataclass(frozen=True, kw_only=True)
class CancelRequested:
    """`tilt cancel NAME`: stop the running update and mark it cancelled."""

    name: str
    at: float


@dataclass(frozen=True, kw_only=True)
class DisableRequested:
    """Enable or disable a resource (disabled: stopped, never scheduled)."""

    name: str
    disabled: bool
    at: float


@dataclass(frozen=True, kw_only=True)
class TiltfileReloadStarted:
    """The Tiltfile (or a file it read) changed; it is being evaluated again."""

    paths: tuple[str, ...]
    at: float


@dataclass(frozen=True, kw_only=True)
class TiltfileReloaded:
    """The Tiltfile evaluated cleanly; ``result`` is the new graph."""

    result: TiltfileResult
    at: float
    duration_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TiltfileFailed:
    """The Tiltfile failed to evaluate; the last good graph keeps running."""

    error: str
    at: float
    watch_paths: tuple[str, ...] = field(default=())


@dataclass(frozen=True, kw_only=True)
class Tick:
    """A timer fired (a debounced follow-up update may be due)."""

    at: float


@dataclass(frozen=True, kw_only=True)
class ShutdownRequested:
    """Stop everything and exit (Ctrl-C, SIGTERM, `tilt down`, `tilt ci` done)."""

    reason: str
    at: float
    exit_code: int = 0


@dataclass(frozen=True, kw_only=True)
class RuntimeChanged:
    """A resource's runtime (container, pods) reports its status.

    Attributes:
        status: Where it is now.
        message: The one line shown as the reason (the newest problem the
            runtime's events reported wins over it).
        state: The runtime's own word (``healthy``, ``exited (code 3)``...).
        container_id: The instance it is about ("" when unknown).
        exit_code: How it ended, when it did.
        pod: A Kubernetes resource's current pod as fields (None: none, or no pods).
    """

    name: str
    status: RuntimeStatus
    message: str
    at: float
    state: str = ""
    container_id: str = ""
    exit_code: int | None = None
    pod: PodSummary | None = None


@dataclass(frozen=True, kw_only=True)
class RuntimeEventReceived:
    """Something happened to one of the resource's instances (OOM kill, crash, unhealthy...)."""

    name: str
    event: RuntimeEvent
    at: float


@dataclass(frozen=True, kw_only=True)
class PodEventsChanged:
    """A Kubernetes resource's events changed (the runner's `tilt.k8s.events.EventsView`).

    Attributes:
        events: Every event of the resource, newest first (replaces the earlier list).
        problem: The newest Warning that still applies, ``Reason: message``; "" when none.
    """

    name: str
    events: tuple[PodEvent, ...]
    problem: str
    at: float


@dataclass(frozen=True, kw_only=True)
class ContainerUpdated:
    """An update put new content in container ``container_id``.

    ``live_update``: the files were synced into the running container (it now
    differs from its image); False: the container was (re)created from a
    freshly built image, so earlier problems are history. ``restarts``: its
    restart count right after a sync (a higher count later means it crashed).
    """

    name: str
    update_id: int
    container_id: str
    live_update: bool
    at: float
    restarts: int | None = None


@dataclass(frozen=True, kw_only=True)
class ImageBuilt:
    """Image ``image_ref`` was built (or found built) for resource ``resource``.

    ``local_ref`` is the ref in the local engine; ``cluster_ref`` the ref a
    cluster pulls (the registry's, ``host_from_cluster`` applied);
    ``deploy_ref`` the ref the local engine runs (pushed ref, else local).
    """

    image_ref: str
    resource: str
    local_ref: str
    cluster_ref: str
    deploy_ref: str
    image_id: str
    skipped: bool
    duration_s: float
    at: float


@dataclass(frozen=True, kw_only=True)
class LiveUpdateFellBack:
    """The runner could not serve update ``update_id`` by a live update: it needs a build.

    The runner posts this instead of `UpdateFinished` when the engine handed it a
    live-update decision (`UpdateRequest.live_update`) it could not apply (a
    decision to fall back, a failed step, a crashed container...). The engine then
    builds the resource's images and hands the same update to the runner again,
    in full. ``reason`` says why (the runner already logged what the user sees).
    """

    name: str
    update_id: int
    reason: str
    at: float


@dataclass(frozen=True, kw_only=True)
class MatchersChanged:
    """After a (re)load: per resource, the matcher that says which changed files concern it."""

    matchers: Mapping[str, Matcher]
    at: float


@dataclass(frozen=True, kw_only=True)
class HoldsChanged:
    """The scheduler's verdict: why each queued resource waits (shown by observers)."""

    holds: Mapping[str, str]
    at: float


Event = (
    FilesChanged
    | UpdateStarted
    | UpdateFinished
    | ServeStarted
    | ServeExited
    | ProbeChanged
    | TriggerRequested
    | TriggerDirtyRequested
    | TriggerModeOverridden
    | CancelRequested
    | DisableRequested
    | TiltfileReloadStarted
    | TiltfileReloaded
    | TiltfileFailed
    | Tick
    | ShutdownRequested
    | RuntimeChanged
    | RuntimeEventReceived
    | PodEventsChanged
    | ContainerUpdated
    | ImageBuilt
    | LiveUpdateFellBack
    | MatchersChanged
    | HoldsChanged
)
