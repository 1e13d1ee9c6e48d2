"""The engine's one state: every resource's update, runtime, dirty flag and queue entry.

`EngineState` changes only in `apply(event)`, which returns the side effects the
engine must carry out (start or stop a serve process, cancel an update, reload
the Tiltfile). The scheduler (`tilt.engine.scheduler`) reads it to decide what
starts next. `snapshot()` is the JSON-able view every observer reads: the stream
printer, `tilt get`, the API and (later) the TUI.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tilt.engine.events import (
    CancelRequested,
    ContainerUpdated,
    DisableRequested,
    Event,
    FilesChanged,
    HoldsChanged,
    ImageBuilt,
    LiveUpdateFellBack,
    Matcher,
    MatchersChanged,
    PodEventsChanged,
    ProbeChanged,
    RuntimeChanged,
    RuntimeEventReceived,
    ServeExited,
    ServeStarted,
    ShutdownRequested,
    Tick,
    TiltfileFailed,
    TiltfileReloaded,
    TiltfileReloadStarted,
    TriggerDirtyRequested,
    TriggerModeOverridden,
    TriggerRequested,
    UpdateFinished,
    UpdateStarted,
)
from tilt.engine.runtime import (
    ContainerRuntime,
    LocalRuntime,
    PodRuntime,
    RuntimeState,
    RuntimeStatus,
    runtime_for,
)
from tilt.engine.snapshot import EngineSnapshot, EventSnapshot, PodSnapshot, ResourceSnapshot
from tilt.model import Resource, Settings, TiltfileResult, TriggerMode

__all__ = [
    "AppendLog",
    "CancelUpdate",
    "Effect",
    "EngineState",
    "Matcher",
    "ReloadTiltfile",
    "ResourceState",
    "RuntimeStatus",
    "StartRuntime",
    "StopRuntime",
    "UpdateStatus",
    "WatchChanged",
    "enabled_closure",
]

TILTFILE_NAME = "(Tiltfile)"
# How many of a resource's changed files a snapshot lists (the count is always exact).
MAX_LISTED_FILES = 100


class UpdateStatus(enum.Enum):
    """The state of a resource's update (its ``cmd``), as in Tilt's UI."""

    NONE = "none"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"


# ---- effects: what the engine must do after an event -------------------------------------


@dataclass(frozen=True, kw_only=True)
class StartRuntime:
    """(Re)start ``name``'s long-running part as run ``run_id`` (a serve_cmd), after its update."""

    name: str
    run_id: int


@dataclass(frozen=True, kw_only=True)
class StopRuntime:
    """Stop ``name``'s runtime and stop following it; with ``remove``, remove what it deployed.

    Removed from the Tiltfile or shutting down: ``remove=False`` (a container
    keeps running, as Tilt's ``up``); disabled: ``remove=True`` (Tilt removes a
    disabled service's container).
    """

    name: str
    remove: bool = False


@dataclass(frozen=True, kw_only=True)
class CancelUpdate:
    """Stop the process group of ``name``'s running update."""

    name: str


@dataclass(frozen=True, kw_only=True)
class ReloadTiltfile:
    """Evaluate the Tiltfile again."""


@dataclass(frozen=True, kw_only=True)
class WatchChanged:
    """The set of watched paths or matchers changed (after a reload)."""


@dataclass(frozen=True, kw_only=True)
class AppendLog:
    """Write ``text`` to ``name``'s log in ``span`` (e.g. a container event line)."""

    name: str
    text: str
    span: str


Effect = StartRuntime | StopRuntime | CancelUpdate | ReloadTiltfile | WatchChanged | AppendLog


def enabled_closure(resources: Sequence[Resource], selected: Iterable[str] | None) -> set[str]:
    """The enabled resource names: ``selected`` plus everything they depend on.

    ``None`` selects every resource (`tilt up` without names).
    """
    by_name = {r.name: r for r in resources}
    if selected is None:
        return set(by_name)
    out: set[str] = set()
    stack = [n for n in selected if n in by_name]
    while stack:
        n = stack.pop()
        if n in out:
            continue
        out.add(n)
        stack.extend(d for d in by_name[n].resource_deps if d in by_name)
    return out


def _blocked_by(failed: set[str], resources: Iterable[ResourceState]) -> set[str]:
    """Resources that wait (directly or not) on one of ``failed`` and never ran since."""
    rs = list(resources)
    out: set[str] = set()
    grew = True
    while grew:
        grew = False
        for r in rs:
            if r.name in out or r.name in failed or not r.queued:
                continue
            if any(d in failed or d in out for d in r.spec.resource_deps):
                out.add(r.name)
                grew = True
    return out


def _file_list(files: Sequence[str], base: str) -> str:
    """Tilt's short form of a changed-file list: up to three paths, relative when inside."""

    def rel(p: str) -> str:
        if base and (p == base or p.startswith(base + os.sep)):
            return os.path.relpath(p, base)
        return p

    shown = [rel(f) for f in files[:3]]
    more = " ..." if len(files) > 3 else ""
    return "[" + ", ".join(shown) + more + "]"


@dataclass
class ResourceState:
    """Mutable per-resource state; only `EngineState.apply` writes it."""

    spec: Resource
    enabled: bool = True
    # Set from the UI (`m`) until tilt exits; survives Tiltfile reloads.
    trigger_mode_override: TriggerMode | None = None
    # --- update (cmd)
    update_status: UpdateStatus = UpdateStatus.NONE
    update_id: int = 0
    update_count: int = 0
    update_started_at: float | None = None
    update_finished_at: float | None = None
    update_reason: str = ""
    update_files: tuple[str, ...] = ()
    last_error: str = ""
    last_exit_code: int | None = None
    # --- queue: an update is wanted; starts once ready_at has passed and holds clear
    queued: bool = False
    queue_reason: str = ""
    triggered: bool = False
    ready_at: float = 0.0
    queued_at: float = 0.0
    # --- dirty: what changed since the last update started
    pending_files: dict[str, None] = field(default_factory=dict)
    pending_reasons: list[str] = field(default_factory=list)
    last_change_at: float = float("-inf")
    # --- the runtime: one of `tilt.engine.runtime`'s family, chosen by the kind
    runtime: RuntimeState = field(default_factory=RuntimeState)
    # --- what the next update must do: a full build (not only a live update)
    force_update: bool = False
    update_force: bool = False
    update_triggered: bool = False
    # --- readiness
    hold: str = ""
    # --- a test() resource's last per-test results (`tilt.testresults.TestResults`)
    test_results: Any = None

    def __post_init__(self) -> None:
        if type(self.runtime) is RuntimeState:
            self.runtime = runtime_for(self.spec)

    @property
    def name(self) -> str:
        return self.spec.name

    # Shortcuts to the runtime's common face (and the serve run, for local resources).

    @property
    def runtime_status(self) -> RuntimeStatus:
        return self.runtime.status

    @property
    def runtime_message(self) -> str:
        return self.runtime.reason

    @property
    def ready_once(self) -> bool:
        return self.runtime.ever_ready

    @property
    def serve_id(self) -> int:
        """The current serve run's id (0 for a resource that is not local)."""
        return self.runtime.run_id if isinstance(self.runtime, LocalRuntime) else 0

    @property
    def pid(self) -> int | None:
        return self.runtime.pid if isinstance(self.runtime, LocalRuntime) else None

    @property
    def trigger_mode(self) -> TriggerMode:
        """The trigger mode in force: the UI's override, else the Tiltfile's."""
        if self.trigger_mode_override is not None:
            return self.trigger_mode_override
        return self.spec.trigger_mode

    @property
    def has_serve(self) -> bool:
        return self.spec.local is not None and self.spec.local.serve_cmd is not None

    @property
    def has_probe(self) -> bool:
        return self.spec.local is not None and self.spec.local.readiness_probe is not None

    @property
    def has_runtime(self) -> bool:
        """Whether readiness comes from something long-running (serve_cmd, container)."""
        return self.runtime.long_running(self.spec)

    @property
    def runs_alone(self) -> bool:
        """A local cmd without ``allow_parallel``: no other update runs beside it (Tilt)."""
        return self.spec.local is not None and not self.spec.local.allow_parallel

    @property
    def dirty(self) -> bool:
        return bool(self.pending_files or self.pending_reasons)

    @property
    def in_progress(self) -> bool:
        return self.update_status is UpdateStatus.IN_PROGRESS

    @property
    def ready(self) -> bool:
        """Ready now: cmd succeeded; with a serve_cmd (or a container), it runs and is ready."""
        if self.has_runtime:
            return self.runtime_status is RuntimeStatus.OK
        return self.update_status is UpdateStatus.OK

    @property
    def status(self) -> str:
        """One word for tables: disabled, updating, error, ready, pending, waiting, idle."""
        if not self.enabled:
            return "disabled"
        if self.in_progress:
            return "updating"
        if self.update_status in (UpdateStatus.ERROR, UpdateStatus.CANCELLED) or (
            self.runtime_status is RuntimeStatus.ERROR
        ):
            return "error"
        if self.queued:
            return "waiting" if self.hold else "pending"
        if self.has_runtime and self.runtime_status is RuntimeStatus.PENDING:
            return "pending"
        if self.ready:
            return "ready"
        return "idle"

    def why_not_ready(self) -> str:
        """A short reason this resource is not ready, for a dependent's hold message."""
        if self.update_status is UpdateStatus.ERROR:
            return "update failed" + (f": {self.last_error}" if self.last_error else "")
        if self.update_status is UpdateStatus.CANCELLED:
            return "update cancelled"
        if self.runtime_status is RuntimeStatus.ERROR:
            return self.runtime_message or f"{self.runtime.noun} failed"
        if self.in_progress:
            return "updating"
        if not self.enabled:
            return "disabled"
        if self.runtime_status is RuntimeStatus.PENDING:
            return "not ready" + (f" ({self.runtime_message})" if self.runtime_message else "")
        if self.update_count == 0 and not self.queued and not self.spec.auto_init:
            return "not started (auto_init=False; waiting for a trigger)"
        return "not ready yet"

    def queue(
        self,
        reason: str,
        at: float,
        ready_at: float,
        *,
        triggered: bool = False,
        changes_only: bool = False,
    ) -> None:
        """Ask for an update (deduplicated: a queued resource stays queued once).

        ``changes_only``: only file changes ask for it, so a live update may do;
        anything else (first update, trigger, Tiltfile change...) asks for a full one.
        """
        self.force_update = self.force_update or not changes_only
        if not self.queued:
            self.queued = True
            self.queue_reason = reason
            self.queued_at = at
            self.ready_at = ready_at
        elif triggered:
            # A trigger starts an already queued update without waiting for quiet.
            self.ready_at = min(self.ready_at, ready_at)
        self.triggered = self.triggered or triggered

    def _pod_state(self) -> str:
        """A Kubernetes resource's pod in words (``pod web-1: Ready, 1/1 ready``)."""
        return self.runtime.state if isinstance(self.runtime, PodRuntime) else ""

    def _pod_problem(self) -> str:
        """A Kubernetes resource's newest applying Warning event (``Reason: message``)."""
        return self.runtime.problem if isinstance(self.runtime, PodRuntime) else ""

    def _pod_snapshot(self) -> PodSnapshot | None:
        """A Kubernetes resource's current pod as fields (None: no pod, or no Kubernetes)."""
        rt = self.runtime
        p = rt.summary if isinstance(rt, PodRuntime) else None
        if p is None:
            return None
        return {
            "name": p.name,
            "phase": p.phase,
            "status": p.status,
            "reason": p.reason,
            "restarts": p.restarts,
            "ready_containers": p.ready_containers,
            "total_containers": p.total_containers,
        }

    def _pod_events_snapshot(self) -> list[EventSnapshot]:
        """A Kubernetes resource's events, newest first, with their age and flags."""
        if not isinstance(self.runtime, PodRuntime):
            return []
        now = time.time()
        return [
            {
                "type": e.type,
                "reason": e.reason,
                "object": e.object,
                "message": e.message,
                "count": e.count,
                "first_seen": e.first_seen,
                "last_seen": e.last_seen,
                "age_s": round(max(0.0, now - e.last_seen), 3),
                "current": e.current,
                "quiet": e.quiet,
                "explanation": e.explanation,
                "container": e.container,
            }
            for e in self.runtime.events
        ]

    def snapshot(self, base_dir: str) -> ResourceSnapshot:
        spec = self.spec
        files = list(self.pending_files)
        local = spec.local
        rt = self.runtime
        container = rt if isinstance(rt, ContainerRuntime) else None
        return {
            "name": spec.name,
            "kind": spec.kind.value,
            "labels": list(spec.labels),
            "resource_deps": list(spec.resource_deps),
            "trigger_mode": self.trigger_mode.value,
            "trigger_mode_overridden": self.trigger_mode_override is not None,
            "auto_init": spec.auto_init,
            "enabled": self.enabled,
            "status": self.status,
            "ready": self.ready,
            "ready_once": self.ready_once,
            "links": [{"url": link.url, "name": link.name} for link in spec.links],
            "port_forwards": [
                {"local_port": pf.local_port, "container_port": pf.container_port, "name": pf.name}
                for pf in (spec.k8s.port_forwards if spec.k8s is not None else ())
            ],
            "cmd": local.cmd.display if local is not None and local.cmd is not None else "",
            "serve_cmd": (
                local.serve_cmd.display if local is not None and local.serve_cmd is not None else ""
            ),
            "update": {
                "status": self.update_status.value,
                "count": self.update_count,
                "started_at": self.update_started_at,
                "finished_at": self.update_finished_at,
                "reason": self.update_reason,
                "files": list(self.update_files[:MAX_LISTED_FILES]),
                "file_count": len(self.update_files),
                "error": self.last_error,
                "exit_code": self.last_exit_code,
            },
            "runtime": {
                "status": rt.status.value,
                "pid": self.pid,
                "message": rt.reason,
                "started_at": rt.started_at,
                "exit_code": rt.exit_code,
                "container_id": container.container_id[:12] if container else "",
                "state": container.state if container else self._pod_state(),
                "reason": container.problem if container else self._pod_problem(),
                "live_updated": container.live_updated if container else False,
                "pod": self._pod_snapshot(),
            },
            "events": [
                EventSnapshot(
                    type=e.type,
                    reason=e.reason,
                    object=e.object,
                    message=e.message,
                    count=e.count,
                    first_seen=e.first_seen,
                    last_seen=e.last_seen,
                )
                for e in (container.events.events if container else ())
            ]
            + self._pod_events_snapshot(),
            "dirty": self.dirty,
            "pending_files": [
                os.path.relpath(f, base_dir) if base_dir and f.startswith(base_dir + os.sep) else f
                for f in files[:MAX_LISTED_FILES]
            ],
            "pending_file_count": len(files),
            "pending_reasons": list(self.pending_reasons),
            "queued": self.queued,
            "queue_reason": self.queue_reason if self.queued else "",
            "waiting_on": self.hold,
            "test": _test_snapshot(self),
        }


def _test_snapshot(r: ResourceState) -> dict[str, Any] | None:
    """A test resource's settings and last results (counts, duration, first failures)."""
    spec = r.spec.test
    if spec is None:
        return None
    out: dict[str, Any] = {"shards": spec.shards, "timeout_s": spec.timeout_s}
    if r.test_results is not None:
        out.update(r.test_results.to_json())
    return out


@dataclass
class TiltfileState:
    path: str
    status: str = "loading"  # loading | ok | error
    error: str = ""
    load_count: int = 0
    last_loaded_at: float | None = None
    duration_s: float = 0.0


class EngineState:
    """All the engine knows. Mutated only through `apply`."""

    def __init__(
        self,
        tiltfile_path: str,
        *,
        selected: Sequence[str] | None = None,
        quiet_period_s: float = 0.2,
    ) -> None:
        """Create an empty state for the Tiltfile at ``tiltfile_path``.

        Args:
            tiltfile_path: the main Tiltfile (absolute).
            selected: resource names given to `tilt up NAME...` (None: all).
            quiet_period_s: follow-up updates (a change during a burst or while the
                resource updates) wait for this much quiet so a burst makes one update.
        """
        self.tiltfile = TiltfileState(path=tiltfile_path)
        self.selected = list(selected) if selected else None
        self.quiet_period_s = quiet_period_s
        self.resources: dict[str, ResourceState] = {}
        self.settings = Settings()
        self.result: TiltfileResult | None = None
        self.tiltfile_files: set[str] = {tiltfile_path}
        self.matchers: dict[str, Matcher] = {}
        # The last build of each image target (by declared ref): its local and cluster refs.
        self.built_images: dict[str, ImageBuilt] = {}
        self.shutting_down = False
        self.shutdown_reason = ""
        self.exit_code = 0
        self._next_id = 0

    # ---- helpers -------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def new_id(self) -> int:
        """A fresh id for an update or serve run."""
        return self._new_id()

    def set_holds(self, holds: Mapping[str, str]) -> None:
        """Record why queued resources wait (derived by the scheduler, shown by observers)."""
        for r in self.resources.values():
            r.hold = holds.get(r.name, "")

    @property
    def base_dir(self) -> str:
        return os.path.dirname(self.tiltfile.path)

    def in_progress(self) -> list[ResourceState]:
        return [r for r in self.resources.values() if r.in_progress]

    # ---- the reducer ---------------------------------------------------------------------

    def apply(self, ev: Event) -> list[Effect]:
        """Handle one event; return the side effects the engine must carry out."""
        match ev:
            case FilesChanged():
                return self._files_changed(ev)
            case UpdateStarted():
                return self._update_started(ev)
            case UpdateFinished():
                return self._update_finished(ev)
            case ServeStarted():
                r = self.resources.get(ev.name)
                if r is not None and isinstance(r.runtime, LocalRuntime):
                    rt = r.runtime
                    if rt.run_id == ev.serve_id:
                        rt.pid = ev.pid
                        rt.started_at = ev.at
                        rt.exit_code = None
                        if r.has_probe:
                            rt.status = RuntimeStatus.PENDING
                            rt.reason = "waiting for readiness probe"
                        else:
                            rt.set_ready()
                return []
            case ServeExited():
                return self._serve_exited(ev)
            case ProbeChanged():
                r = self.resources.get(ev.name)
                if r is not None and isinstance(r.runtime, LocalRuntime):
                    rt = r.runtime
                    if rt.run_id == ev.serve_id and rt.pid is not None:
                        rt.probe_ready = ev.ready
                        if ev.ready:
                            rt.set_ready()
                            rt.reason = ev.message
                        else:
                            rt.status = RuntimeStatus.PENDING
                            rt.reason = ev.message or "readiness probe failing"
                return []
            case TriggerRequested():
                r = self.resources.get(ev.name)
                if r is not None and r.enabled:
                    r.queue("triggered", ev.at, ev.at, triggered=True)
                    r.pending_reasons = [x for x in r.pending_reasons if x != "triggered"]
                return []
            case TriggerDirtyRequested():
                for r in self.resources.values():
                    if r.enabled and r.dirty:
                        r.queue("triggered", ev.at, ev.at, triggered=True)
                return []
            case TriggerModeOverridden():
                r = self.resources.get(ev.name)
                if r is not None:
                    r.trigger_mode_override = ev.mode
                    # Now auto with changes waiting: they update, as a change would.
                    if r.trigger_mode is TriggerMode.AUTO and r.dirty and r.enabled:
                        r.queue("trigger mode set to auto", ev.at, ev.at)
                return []
            case CancelRequested():
                r = self.resources.get(ev.name)
                if r is None:
                    return []
                effects: list[Effect] = []
                if r.queued and not r.in_progress:
                    r.queued = False
                    r.triggered = False
                if r.in_progress:
                    effects.append(CancelUpdate(name=r.name))
                return effects
            case DisableRequested():
                return self._set_disabled(ev)
            case TiltfileReloadStarted():
                self.tiltfile.status = "loading"
                return []
            case TiltfileReloaded():
                return self._reloaded(ev)
            case TiltfileFailed():
                self.tiltfile.status = "error"
                self.tiltfile.error = ev.error
                self.tiltfile.load_count += 1
                self.tiltfile.last_loaded_at = ev.at
                self.tiltfile_files.update(ev.watch_paths)
                return [WatchChanged()]
            case RuntimeChanged():
                return self._runtime_changed(ev)
            case RuntimeEventReceived():
                return self._runtime_event(ev)
            case PodEventsChanged():
                return self._pod_events(ev)
            case ContainerUpdated():
                return self._container_updated(ev)
            case ImageBuilt():
                self.built_images[ev.image_ref] = ev
                return []
            case LiveUpdateFellBack():
                # The engine's business (it builds, then hands the update back): the
                # update goes on, nothing of the resource changes.
                return []
            case MatchersChanged():
                self.matchers = dict(ev.matchers)
                return []
            case HoldsChanged():
                self.set_holds(ev.holds)
                return []
            case Tick():
                return []
            case ShutdownRequested():
                if not self.shutting_down:
                    self.shutting_down = True
                    self.shutdown_reason = ev.reason
                    self.exit_code = ev.exit_code
                for r in self.resources.values():
                    r.queued = False
                stops: list[Effect] = [CancelUpdate(name=r.name) for r in self.in_progress()]
                # Every serve run, also one whose process is starting: its ServeStarted
                # (the pid) may come after this event, and nothing would stop it then.
                stops += [
                    StopRuntime(name=r.name)
                    for r in self.resources.values()
                    if r.pid or (r.has_serve and isinstance(r.runtime, LocalRuntime))
                ]
                return stops
        return []  # pragma: no cover - every event is matched above

    def _files_changed(self, ev: FilesChanged) -> list[Effect]:
        effects: list[Effect] = []
        tiltfile_hits = sorted(p for p in ev.paths if p in self.tiltfile_files)
        if tiltfile_hits and not self.shutting_down:
            effects.append(ReloadTiltfile())
        for r in self.resources.values():
            m = self.matchers.get(r.name)
            if m is None or not r.enabled:
                continue
            hits = sorted(p for p in ev.paths if m.matches(p))
            if not hits:
                continue
            for p in hits:
                r.pending_files[p] = None
            # The first change of a quiet period starts at once; a change during a
            # burst or while the resource updates waits for quiet, so a burst of
            # writes becomes a single follow-up update.
            quiet = ev.at - r.last_change_at >= self.quiet_period_s and not r.in_progress
            r.last_change_at = ev.at
            if r.trigger_mode is TriggerMode.AUTO and not self.shutting_down:
                ready_at = ev.at if quiet else ev.at + self.quiet_period_s
                reason = f"{len(r.pending_files)} file(s) changed"
                if not r.queued:
                    r.queue(reason, ev.at, ready_at, changes_only=True)
                elif not r.triggered:
                    r.ready_at = max(r.ready_at, ready_at)
        return effects

    def _update_started(self, ev: UpdateStarted) -> list[Effect]:
        r = self.resources[ev.name]
        first = r.update_count == 0
        files = tuple(r.pending_files)
        if first:
            reason = "Initial Build"
        elif files:
            noun = "File" if len(files) == 1 else "Files"
            reason = f"{len(files)} {noun} Changed: {_file_list(files, self.base_dir)}"
        elif r.pending_reasons:
            reason = "; ".join(r.pending_reasons)
        else:
            reason = r.queue_reason or "Triggered"
            if reason == "triggered":
                reason = "Triggered"
        r.update_reason = reason
        r.update_files = files
        if files and isinstance(r.runtime, ContainerRuntime):
            r.runtime.crash_rebuild_of = ""
        # Only a burst of file changes may be served by a live update; a manual
        # resource's changes are applied by a trigger, which asks for no more.
        r.update_force = first or r.force_update or bool(r.pending_reasons)
        r.update_triggered = r.triggered
        r.force_update = False
        r.pending_files = {}
        r.pending_reasons = []
        r.queued = False
        r.triggered = False
        r.hold = ""
        r.update_status = UpdateStatus.IN_PROGRESS
        r.update_id = ev.update_id
        r.update_count += 1
        r.update_started_at = ev.at
        r.update_finished_at = None
        return []

    def _update_finished(self, ev: UpdateFinished) -> list[Effect]:
        r = self.resources.get(ev.name)
        if r is None or r.update_id != ev.update_id:
            return []
        r.update_finished_at = ev.at
        r.last_exit_code = ev.exit_code
        if ev.results is not None:
            r.test_results = ev.results
        effects: list[Effect] = []
        if ev.cancelled:
            r.update_status = UpdateStatus.CANCELLED
            r.last_error = "cancelled"
            return effects
        if not ev.ok:
            r.update_status = UpdateStatus.ERROR
            r.last_error = ev.error
            return effects
        r.update_status = UpdateStatus.OK
        r.last_error = ""
        rt = r.runtime
        if r.has_serve and isinstance(rt, LocalRuntime) and not self.shutting_down:
            rt.run_id = self._new_id()
            rt.status = RuntimeStatus.PENDING
            rt.reason = "starting"
            rt.probe_ready = False
            effects.append(StartRuntime(name=r.name, run_id=rt.run_id))
        elif not r.has_runtime:
            rt.ever_ready = True
        # Beyond Tilt: dependents that asked for it update again (or turn dirty).
        for d in self.resources.values():
            if (
                d.spec.update_on_dep_change
                and r.name in d.spec.resource_deps
                and d.enabled
                and d.update_count > 0
            ):
                why = f"dependency {r.name} updated"
                if d.trigger_mode is TriggerMode.AUTO:
                    d.queue(why, ev.at, ev.at)
                if why not in d.pending_reasons:
                    d.pending_reasons.append(why)
        return effects

    def _runtime_changed(self, ev: RuntimeChanged) -> list[Effect]:
        r = self.resources.get(ev.name)
        if r is None or not r.enabled:
            return []
        rt = r.runtime
        if isinstance(rt, ContainerRuntime):
            # The deployed container is the update's word (`ContainerUpdated`).
            rt.container_id = rt.container_id or ev.container_id
            rt.state = ev.state
        elif isinstance(rt, PodRuntime):
            rt.pod, rt.state, rt.summary = ev.container_id, ev.state, ev.pod
        rt.exit_code = ev.exit_code
        if ev.status is RuntimeStatus.OK:
            rt.set_ready()
        else:
            rt.status = ev.status
        # The newest problem (OOM kill, crash...) is the one-line reason.
        problem = rt.problem if isinstance(rt, ContainerRuntime) else ""
        rt.reason = problem or ev.message
        return []

    def _runtime_event(self, ev: RuntimeEventReceived) -> list[Effect]:
        r = self.resources.get(ev.name)
        if r is None or not isinstance(r.runtime, ContainerRuntime):
            return []
        rt = r.runtime
        # A replaced container stopping during a recreate is no news.
        if ev.event.instance_id and ev.event.instance_id in rt.retired:
            return []
        kept = rt.events.add(ev.event)
        effects: list[Effect] = [AppendLog(name=r.name, text=kept.render(), span="event")]
        rt.problem = rt.events.newest_problem()
        if rt.problem:
            rt.reason = rt.problem
        # Tilt: a container that crashes after a live update is rebuilt, since the
        # synced files may be what broke it and the image is the known-good state.
        if ev.event.crash and rt.live_updated and ev.event.instance_id == rt.container_id:
            effects += self._rebuild_after_crash(r, ev.at)
        return effects

    def _pod_events(self, ev: PodEventsChanged) -> list[Effect]:
        """A Kubernetes resource's events: kept as they are (the runner's counts are the API's).

        The one-line reason comes with the runner's `RuntimeChanged` (the pod's phase, then
        this problem); the records feed the events view and the snapshot.
        """
        r = self.resources.get(ev.name)
        if r is None or not r.enabled or not isinstance(r.runtime, PodRuntime):
            return []
        r.runtime.events = ev.events
        r.runtime.problem = ev.problem
        return []

    def _container_updated(self, ev: ContainerUpdated) -> list[Effect]:
        r = self.resources.get(ev.name)
        if r is not None and r.update_id == ev.update_id and isinstance(r.runtime, PodRuntime):
            # A pod's container synced by live_update: its restart count is the baseline.
            r.runtime.restarts_at_sync = ev.restarts if ev.live_update else None
            return []
        if r is None or r.update_id != ev.update_id or not isinstance(r.runtime, ContainerRuntime):
            return []
        rt = r.runtime
        if ev.container_id != rt.container_id or not ev.live_update:
            rt.live_updated = False
            rt.restarts_at_sync = None
            if ev.container_id != rt.container_id:
                rt.retire(rt.container_id)
                rt.started_at = ev.at
            # A new container: problems seen before this update are history (the
            # new container's own come after its start).
            rt.events.clear(r.update_started_at or ev.at)
            rt.problem = rt.events.newest_problem()
            if rt.problem:
                rt.reason = rt.problem
        rt.container_id = ev.container_id
        if ev.live_update:
            # Synced files (a live update or an initial_sync): the container now
            # differs from its image.
            rt.live_updated = True
            rt.restarts_at_sync = ev.restarts
            # The crash may have been reported before the update finished.
            if rt.events.crashed_since(r.update_started_at or ev.at):
                return self._rebuild_after_crash(r, ev.at)
        return []

    def _rebuild_after_crash(self, r: ResourceState, at: float) -> list[Effect]:
        """Queue a full rebuild of a container that crashed after a live update."""
        if not r.enabled or self.shutting_down:
            return []
        rt = r.runtime
        if isinstance(rt, ContainerRuntime):
            # It stays "live updated" (drifted from its image) until the rebuild
            # replaces it: the rebuild must recreate it, not restart it.
            crashed = rt.container_id
            if rt.crash_rebuild_of == crashed:
                return []  # this crash already asked for the rebuild
            previous, rt.crash_rebuild_of = rt.crash_rebuild_of, crashed
            if previous:
                # The rebuilt container crashed too: the image is broken, not the sync.
                # Another rebuild would loop; the next file change updates it.
                return [
                    AppendLog(
                        name=r.name,
                        text="Container crashed again after a full rebuild: "
                        "waiting for a change before rebuilding",
                        span="build",
                    )
                ]
        why = "container crashed after a live update: full rebuild"
        if why not in r.pending_reasons:
            r.pending_reasons.append(why)
        if r.trigger_mode is TriggerMode.AUTO:
            r.queue(why, at, at)
        return [AppendLog(name=r.name, text=f"Detected {why}", span="build")]

    def _serve_exited(self, ev: ServeExited) -> list[Effect]:
        r = self.resources.get(ev.name)
        if r is None or not isinstance(r.runtime, LocalRuntime):
            return []
        rt = r.runtime
        if rt.run_id != ev.serve_id:
            return []
        rt.pid = None
        rt.probe_ready = False
        rt.exit_code = ev.returncode
        if ev.stopped_by_us:
            rt.status = RuntimeStatus.NONE
            rt.reason = "stopped"
            return []
        rt.status = RuntimeStatus.ERROR
        if ev.error:
            rt.reason = ev.error
        elif ev.signal is not None:
            rt.reason = f"serve_cmd killed by signal {ev.signal}"
        else:
            rt.reason = f"serve_cmd exited with code {ev.returncode}"
        return []

    def _set_disabled(self, ev: DisableRequested) -> list[Effect]:
        r = self.resources.get(ev.name)
        if r is None or r.enabled != ev.disabled:
            return []
        effects: list[Effect] = []
        if ev.disabled:
            effects += self._disable(r)
        else:
            r.enabled = True
            if r.spec.auto_init or r.update_count > 0:
                r.queue("enabled", ev.at, ev.at)
        return effects

    def _disable(self, r: ResourceState) -> list[Effect]:
        """Stop ``r`` (the API's disable and a reload that leaves it out do the same)."""
        r.enabled = False
        r.queued = False
        effects: list[Effect] = []
        if r.in_progress:
            effects.append(CancelUpdate(name=r.name))
        if r.runtime.deployed or (r.has_runtime and r.update_count > 0):
            # Tilt removes a disabled Compose service's container (and stops a serve_cmd).
            effects.append(StopRuntime(name=r.name, remove=True))
            r.runtime.stopping("disabled")
        return effects

    def _reloaded(self, ev: TiltfileReloaded) -> list[Effect]:
        res = ev.result
        self.result = res
        self.settings = res.settings
        self.tiltfile.status = "ok"
        self.tiltfile.error = ""
        self.tiltfile.load_count += 1
        self.tiltfile.last_loaded_at = ev.at
        self.tiltfile.duration_s = ev.duration_s
        self.tiltfile_files = {self.tiltfile.path, *res.files_read}
        selected: list[str] | None = self.selected
        if res.config.enabled_resources is not None:
            selected = list(res.config.enabled_resources)
        enabled = enabled_closure(res.resources, selected)
        effects: list[Effect] = [WatchChanged()]
        new_specs = {r.name: r for r in res.resources}
        # Removed resources stop.
        for name in [n for n in self.resources if n not in new_specs]:
            old = self.resources.pop(name)
            if old.in_progress:
                effects.append(CancelUpdate(name=name))
            if old.runtime.deployed or (old.has_runtime and old.update_count > 0):
                effects.append(StopRuntime(name=name, remove=False))
        ordered: dict[str, ResourceState] = {}
        order = list(res.order) or [r.name for r in res.resources]
        for name in order:
            spec = new_specs[name]
            r = self.resources.get(name)
            if r is None:
                r = ResourceState(spec=spec, enabled=name in enabled)
                if r.enabled and spec.auto_init:
                    r.queue("initial", ev.at, ev.at)
            else:
                was_enabled = r.enabled
                # Moving a declaration to another line does not change the resource.
                changed = replace(r.spec, location=spec.location) != spec
                r.enabled = name in enabled
                r.spec = spec
                fresh = runtime_for(spec)
                if type(fresh) is not type(r.runtime):
                    r.runtime = fresh  # its kind changed
                rt = r.runtime
                if r.has_runtime and rt.status is RuntimeStatus.NOT_APPLICABLE:
                    rt.status = RuntimeStatus.NONE
                if not r.has_runtime and not rt.deployed:
                    rt.status = RuntimeStatus.NOT_APPLICABLE
                if name not in enabled and was_enabled:
                    effects += self._disable(r)
                elif changed and r.enabled:
                    if not r.has_serve and r.pid is not None:
                        effects.append(StopRuntime(name=name))
                    # A changed definition updates again; a manual one turns dirty.
                    if r.update_count > 0:
                        if r.trigger_mode is TriggerMode.AUTO:
                            r.queue("Tiltfile changed", ev.at, ev.at)
                        elif "Tiltfile changed" not in r.pending_reasons:
                            r.pending_reasons.append("Tiltfile changed")
                elif r.enabled and not was_enabled and (spec.auto_init or r.update_count > 0):
                    r.queue("enabled", ev.at, ev.at)
            ordered[name] = r
        self.resources = ordered
        return effects

    # ---- views -----------------------------------------------------------------------------

    def ci_outcome(self) -> tuple[str, str, str] | None:
        """`tilt ci`'s verdict: None while running, ("ok", "", msg) or ("error", name, msg)."""
        if self.tiltfile.status == "error":
            return ("error", TILTFILE_NAME, self.tiltfile.error)
        if self.tiltfile.status != "ok" or self.result is None:
            return None
        counted = 0
        done = True
        # Beyond Tilt: a failed test resource does not end ci at once; every test runs
        # and the verdict names them all (what waits on a failed one counts as done).
        failed_tests = [
            r
            for r in self.resources.values()
            if r.enabled
            and r.spec.test is not None
            and r.update_status in (UpdateStatus.ERROR, UpdateStatus.CANCELLED)
            and not r.queued
            and not r.in_progress
        ]
        blocked = _blocked_by({r.name for r in failed_tests}, self.resources.values())
        for r in self.resources.values():
            if not r.enabled:
                continue
            if r.update_count == 0 and not r.queued and not r.in_progress:
                # auto_init=False and never asked to run: Tilt's ci leaves it out.
                continue
            counted += 1
            if r in failed_tests or (r.name in blocked and not r.in_progress):
                continue
            if r.update_status is UpdateStatus.ERROR:
                return ("error", r.name, r.last_error or "update failed")
            if r.update_status is UpdateStatus.CANCELLED:
                return ("error", r.name, "update cancelled")
            if r.runtime_status is RuntimeStatus.ERROR:
                return ("error", r.name, r.runtime_message)
            if r.queued or r.in_progress or not r.ready:
                done = False
        if done and failed_tests:
            names = ", ".join(r.name for r in failed_tests)
            first = failed_tests[0]
            return (
                "error",
                first.name,
                f"{len(failed_tests)} test resource(s) failed ({names}); "
                f"{first.name}: {first.last_error or 'update failed'}",
            )
        if done:
            return ("ok", "", f"{counted} resource(s) ready")
        return None

    def snapshot(self) -> EngineSnapshot:
        """A JSON-able view of everything: what `tilt get -o json` and the API return."""
        base = self.base_dir
        return {
            "tiltfile": {
                "path": self.tiltfile.path,
                "status": self.tiltfile.status,
                "error": self.tiltfile.error,
                "load_count": self.tiltfile.load_count,
                "duration_s": round(self.tiltfile.duration_s, 4),
            },
            "settings": {"max_parallel_updates": self.settings.max_parallel_updates},
            "resources": [r.snapshot(base) for r in self.resources.values()],
            "shutting_down": self.shutting_down,
        }
