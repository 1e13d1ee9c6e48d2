"""The shape of `Engine.snapshot()`: what every observer reads.

The stream printer, the TUI (through `tilt.ui.controller.Controller`), the
HTTP API (``GET /api/snapshot``) and `tilt get -o json` all read this one
JSON-able structure. It is plain dicts and lists on purpose (it crosses a
process boundary as JSON unchanged); these `TypedDict`s let mypy check every
key on both sides. The shape is documented in ``docs/api.md``.
"""

from typing import Any, NotRequired, TypedDict

__all__ = [
    "EngineSnapshot",
    "EventSnapshot",
    "LinkSnapshot",
    "PodSnapshot",
    "PortForwardSnapshot",
    "ResourceSnapshot",
    "RuntimeSnapshot",
    "SettingsSnapshot",
    "TiltfileSnapshot",
    "UpdateSnapshot",
]


class LinkSnapshot(TypedDict):
    """A link of a resource (``links=``)."""

    url: str
    name: str


class PortForwardSnapshot(TypedDict):
    """A port forward a Kubernetes resource declares (``port_forwards=``)."""

    local_port: int
    container_port: int
    name: str


class UpdateSnapshot(TypedDict):
    """A resource's last (or running) update."""

    status: str  # `tilt.engine.state.UpdateStatus` value
    count: int
    started_at: float | None
    finished_at: float | None
    reason: str
    files: list[str]
    file_count: int
    error: str
    exit_code: int | None


class PodSnapshot(TypedDict):
    """A Kubernetes resource's current pod (`tilt.engine.runtime.PodSummary`)."""

    name: str
    phase: str  # Kubernetes' phase: Pending, Running, Succeeded, Failed, Unknown
    status: str  # pending, running, ready, completed, error, terminating
    reason: str
    restarts: int
    ready_containers: int
    total_containers: int


class RuntimeSnapshot(TypedDict):
    """A resource's runtime (`tilt.engine.runtime.RuntimeState`): the common face, then detail.

    ``pid`` is a local serve_cmd's; ``container_id`` (12 characters), ``state``
    (Docker's word), ``reason`` (the newest problem its events reported) and
    ``live_updated`` a container's; ``pod`` a Kubernetes resource's current pod (``state`` is
    that pod in words); empty/None for other runtimes.
    """

    status: str  # `tilt.engine.runtime.RuntimeStatus` value
    message: str
    started_at: float | None
    exit_code: int | None
    pid: int | None
    container_id: str
    state: str
    reason: str
    live_updated: bool
    pod: PodSnapshot | None


class EventSnapshot(TypedDict):
    """One kept runtime event (`tilt.runtime_events.KeptEvent`), newest last for a container.

    A Kubernetes resource's events (`tilt.engine.runtime.PodEvent`) come newest first and
    carry the keys marked NotRequired too.
    """

    type: str
    reason: str
    object: str
    message: str
    count: int
    first_seen: float
    last_seen: float
    #: Seconds since ``last_seen`` when the snapshot was taken (Kubernetes events).
    age_s: NotRequired[float]
    #: False for an event of a pod of an older rollout.
    current: NotRequired[bool]
    #: Silenced by ``k8s_quiet_events``: listed, never the reason, not logged.
    quiet: NotRequired[bool]
    #: What tilt adds (the image's registry, what the pod requests, the memory limit...).
    explanation: NotRequired[str]
    #: The container it is about when the pod has several ("" otherwise).
    container: NotRequired[str]


class ResourceSnapshot(TypedDict):
    """One resource."""

    name: str
    kind: str  # `tilt.model.ResourceKind` value
    labels: list[str]
    resource_deps: list[str]
    trigger_mode: str
    trigger_mode_overridden: bool
    auto_init: bool
    enabled: bool
    status: str  # disabled, updating, error, ready, pending, waiting, idle
    ready: bool
    ready_once: bool
    links: list[LinkSnapshot]
    port_forwards: list[PortForwardSnapshot]
    cmd: str
    serve_cmd: str
    update: UpdateSnapshot
    runtime: RuntimeSnapshot
    events: list[EventSnapshot]
    dirty: bool
    pending_files: list[str]
    pending_file_count: int
    pending_reasons: list[str]
    queued: bool
    queue_reason: str
    waiting_on: str
    #: A test() resource's settings and last results (see docs/testing.md); None otherwise.
    test: dict[str, Any] | None


class TiltfileSnapshot(TypedDict):
    """The Tiltfile's last load."""

    path: str
    status: str  # loading, ok, error
    error: str
    load_count: int
    duration_s: float


class SettingsSnapshot(TypedDict):
    """Settings observers show."""

    max_parallel_updates: int


class EngineSnapshot(TypedDict):
    """Everything: `Engine.snapshot()`, ``GET /api/snapshot``, `tilt get -o json`."""

    tiltfile: TiltfileSnapshot
    settings: SettingsSnapshot
    resources: list[ResourceSnapshot]
    shutting_down: bool
    #: The log store's last sequence number (`Engine.snapshot` adds it).
    log_seq: NotRequired[int]
