"""The runtime state family: what the engine knows about a resource's running part.

Every resource has one `RuntimeState` (`ResourceState.runtime`), chosen by
its kind: `LocalRuntime` for a local resource (its ``serve_cmd``),
`ContainerRuntime` for a Docker Compose service, `PodRuntime` for Kubernetes
workloads (empty until the Kubernetes runner fills it). They share one face -
`status`, `reason`, `ever_ready`, `started_at` - which is all the scheduler,
`tilt ci` and the observers' common columns read; the rest is detail of the
runtime, shown by the same widgets.

Only `tilt.engine.state.EngineState.apply` changes a runtime state, from
events the runners post (`ServeStarted`, `RuntimeChanged`, `ContainerUpdated`,
`RuntimeEventReceived`...). A runner reads the copy it gets in its
`tilt.engine.runner.UpdateRequest`. This module imports no runtime package.
"""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from tilt.runtime_events import EventKeeper

if TYPE_CHECKING:
    from tilt.model import Resource

__all__ = [
    "ContainerRuntime",
    "LocalRuntime",
    "PodEvent",
    "PodRuntime",
    "PodSummary",
    "RuntimeState",
    "RuntimeStatus",
    "runtime_for",
]

#: How many replaced containers a resource remembers (their late events are ignored).
MAX_RETIRED = 20


class RuntimeStatus(enum.Enum):
    """The state of a resource's long-running part (serve_cmd, container, pods)."""

    NOT_APPLICABLE = "not_applicable"
    NONE = "none"
    PENDING = "pending"
    OK = "ok"
    ERROR = "error"


@dataclass
class RuntimeState:
    """The face every runtime shares.

    Attributes:
        status: Where the runtime is (ok = ready).
        reason: One line saying why (``waiting for readiness probe``,
            ``OOMKilled: ...``, ``serve_cmd exited with code 3``).
        ever_ready: It was ready at least once (dependents may start).
        started_at: When the current run/instance started (epoch seconds).
        exit_code: How the last run/instance ended, when it did.
    """

    #: What fails, in a dependent's hold message ("container failed").
    noun: ClassVar[str] = "runtime"

    status: RuntimeStatus = RuntimeStatus.NOT_APPLICABLE
    reason: str = ""
    ever_ready: bool = False
    started_at: float | None = None
    exit_code: int | None = None

    def long_running(self, spec: Resource) -> bool:
        """Whether readiness comes from the runtime (not from the update ending ok)."""
        return False

    @property
    def deployed(self) -> bool:
        """Something of the resource runs (a process, a container)."""
        return False

    def stopping(self, reason: str) -> None:
        """The engine stops it (disabled): not running any more, for ``reason``."""
        self.status = RuntimeStatus.NONE
        self.reason = reason

    def set_ready(self) -> None:
        """Ready now."""
        self.status = RuntimeStatus.OK
        self.ever_ready = True

    def copy(self) -> RuntimeState:
        """A copy for a runner's `UpdateRequest` (the state keeps the original)."""
        return copy.deepcopy(self)


@dataclass
class LocalRuntime(RuntimeState):
    """A local resource's ``serve_cmd``.

    Attributes:
        run_id: The id of the current serve run (events of older runs are stale).
        pid: The running process (None: not running).
        probe_ready: Its readiness probe's last verdict.
    """

    noun: ClassVar[str] = "serve_cmd"

    run_id: int = 0
    pid: int | None = None
    probe_ready: bool = False

    def long_running(self, spec: Resource) -> bool:
        return spec.local is not None and spec.local.serve_cmd is not None

    @property
    def deployed(self) -> bool:
        return self.pid is not None

    def stopping(self, reason: str) -> None:
        # A running process reports its own end (`ServeExited`).
        if self.pid is None:
            super().stopping(reason)


@dataclass
class ContainerRuntime(RuntimeState):
    """A container the resource deployed (a Docker Compose service).

    Attributes:
        container_id: The container we deployed ("" before the first deploy).
        state: The runtime's own word for it (``running``, ``exited (code 3)``).
        problem: The newest problem its events reported ("" when none).
        live_updated: Files were synced into it since it was created: it
            differs from its image (a crash now means a rebuild).
        restarts_at_sync: Its restart count right after the last sync (a
            higher count later means it crashed since).
        retired: Containers it replaced (their late events are no news).
        crash_rebuild_of: The container whose crash after a sync asked for a
            full rebuild, until a file changes ("" when none): a crash of the
            rebuilt container does not rebuild again (no loop).
        events: Its events, folded (`tilt.runtime_events.EventKeeper`).
    """

    noun: ClassVar[str] = "container"

    container_id: str = ""
    state: str = ""
    problem: str = ""
    live_updated: bool = False
    restarts_at_sync: int | None = None
    retired: tuple[str, ...] = ()
    crash_rebuild_of: str = ""
    events: EventKeeper = field(default_factory=EventKeeper)

    def long_running(self, spec: Resource) -> bool:
        return True

    @property
    def deployed(self) -> bool:
        return bool(self.container_id)

    def stopping(self, reason: str) -> None:
        # Disabled: its container is being removed.
        super().stopping(reason)
        self.retire(self.container_id)
        self.container_id = ""
        self.live_updated = False
        self.restarts_at_sync = None

    def retire(self, container_id: str) -> None:
        """Remember ``container_id`` as replaced."""
        if container_id and container_id not in self.retired:
            self.retired = (*self.retired, container_id)[-MAX_RETIRED:]


@dataclass(frozen=True, kw_only=True)
class PodEvent:
    """One Kubernetes event of a resource as the engine keeps it (repeats folded in ``count``).

    The runner converts `tilt.k8s.events.EventRecord`s into these (this module imports no
    runtime). ``current``: False for a pod of an older rollout; ``quiet``: silenced by
    ``k8s_quiet_events`` (listed, never the reason).
    """

    type: str
    reason: str
    object: str
    message: str
    count: int
    first_seen: float
    last_seen: float
    current: bool = True
    quiet: bool = False
    explanation: str = ""
    container: str = ""


@dataclass(frozen=True, kw_only=True)
class PodSummary:
    """A Kubernetes resource's pod shown in the table, `tilt get` and the API.

    Attributes:
        name: The pod's name.
        phase: Kubernetes' phase (``Pending``, ``Running``, ``Succeeded``, ``Failed``).
        status: What it means to the user (`tilt.k8s.pods.PodPhase` value: ``pending``,
            ``running``, ``ready``, ``completed``, ``error``, ``terminating``).
        reason: Why (``ContainerCreating``, ``CrashLoopBackOff (exit code 1)``, ``Ready``).
        restarts: Restarts of all its containers (init containers too).
        ready_containers: Its (non-init) containers that are ready.
        total_containers: Its (non-init) containers.
    """

    name: str
    phase: str
    status: str
    reason: str = ""
    restarts: int = 0
    ready_containers: int = 0
    total_containers: int = 0


@dataclass
class PodRuntime(RuntimeState):
    """Kubernetes workloads: the pods the Kubernetes runner (`tilt.engine.k8s`) reports.

    Attributes:
        pod: The resource's current pod shown ("" before one exists).
        state: Its status in words (``pod web-1: Ready, 1/1 ready, 2 restarts``).
        summary: The same pod as fields (None before one exists).
        restarts_at_sync: The live-updated container's restart count right after the
            last sync (a higher count later means it crashed since).
        events: Its Kubernetes events, newest first (`PodEventsChanged`).
        problem: The newest Warning event that still applies (``Reason: message``), "" when
            none; the runner puts it in the one-line reason too (``Pending — ...``).
    """

    noun: ClassVar[str] = "pod"

    pod: str = ""
    state: str = ""
    summary: PodSummary | None = None
    restarts_at_sync: int | None = None
    events: tuple[PodEvent, ...] = ()
    problem: str = ""

    def long_running(self, spec: Resource) -> bool:
        # Readiness comes from the pods unless pod_readiness='ignore' (ready once applied).
        from tilt.model import PodReadiness

        return spec.k8s is not None and spec.k8s.pod_readiness is not PodReadiness.IGNORE

    @property
    def deployed(self) -> bool:
        return bool(self.pod)


def runtime_for(spec: Resource) -> RuntimeState:
    """A fresh runtime state of the family member ``spec``'s kind uses."""
    from tilt.model import ResourceKind

    state: RuntimeState
    if spec.kind is ResourceKind.DOCKER_COMPOSE:
        state = ContainerRuntime()
    elif spec.kind is ResourceKind.LOCAL:
        state = LocalRuntime()
    else:
        state = PodRuntime()
    if state.long_running(spec):
        state.status = RuntimeStatus.NONE
    return state
