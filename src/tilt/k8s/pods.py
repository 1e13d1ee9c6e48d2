"""Pods: which belong to a resource, which are the current rollout's, and what state they are in.

A pod belongs to a resource when its owner chain (pod -> ReplicaSet -> Deployment, Job,
StatefulSet, ...) reaches an object the resource deployed (by uid), or when it matches one of
the resource's ``extra_pod_selectors``. A pod whose ``tilt.dev/pod-template-hash`` label differs
from the hash of the template we applied belongs to an older rollout.

:func:`pod_status` turns a pod into a status a user can act on; :func:`resource_readiness`
applies Tilt's ``pod_readiness`` (``wait``/``ignore``/``succeeded``) to a resource's pods.
"""

from __future__ import annotations

import datetime
import enum
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tilt.k8s.apply import POD_TEMPLATE_HASH_LABEL, _pod_template
from tilt.k8s.client import ApiError, KubeClient
from tilt.model import PodReadiness

__all__ = [
    "ContainerState",
    "OwnerResolver",
    "PodAttribution",
    "PodPhase",
    "PodStatus",
    "Readiness",
    "parse_time",
    "pod_status",
    "resource_readiness",
]

Obj = dict[str, Any]


def parse_time(value: object) -> float:
    """An API timestamp (RFC 3339, e.g. ``creationTimestamp``) as epoch seconds; 0.0 if none."""
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class PodPhase(enum.Enum):
    """What a pod means to the user, from waiting to done."""

    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    COMPLETED = "completed"
    ERROR = "error"
    TERMINATING = "terminating"


#: Waiting reasons that are failures the user must fix (they do not heal by waiting).
ERROR_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "PreCreateHookError",
        "PostStartHookError",
    }
)


@dataclass(frozen=True, kw_only=True)
class ContainerState:
    name: str
    ready: bool
    restarts: int
    state: str  # waiting | running | terminated
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    last_reason: str = ""  # why the previous instance ended (OOMKilled, Error, ...)
    last_exit_code: int | None = None
    init: bool = False


@dataclass(frozen=True, kw_only=True)
class PodStatus:
    """One pod as the UI shows it: ``phase`` and a ``reason`` that says why."""

    name: str
    namespace: str
    uid: str
    phase: PodPhase
    reason: str = ""
    message: str = ""
    restarts: int = 0
    ready_containers: int = 0
    total_containers: int = 0
    created: str = ""
    containers: tuple[ContainerState, ...] = ()
    template_hash: str = ""
    #: Kubernetes' own phase (``Pending``, ``Running``, ``Succeeded``, ``Failed``, ``Unknown``)
    k8s_phase: str = ""

    @property
    def ready_display(self) -> str:
        return f"{self.ready_containers}/{self.total_containers}"


def _container_states(statuses: Iterable[Obj], init: bool) -> list[ContainerState]:
    out = []
    for cs in statuses:
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        kind = next((k for k in ("waiting", "running", "terminated") if k in state), "waiting")
        detail = state.get(kind) or {}
        out.append(
            ContainerState(
                name=cs.get("name", ""),
                ready=bool(cs.get("ready")),
                restarts=int(cs.get("restartCount") or 0),
                state=kind,
                reason=detail.get("reason", ""),
                message=detail.get("message", ""),
                exit_code=detail.get("exitCode") if kind == "terminated" else None,
                last_reason=last.get("reason", ""),
                last_exit_code=last.get("exitCode"),
                init=init,
            )
        )
    return out


def _termination_reason(reason: str, exit_code: int | None) -> str:
    if reason == "OOMKilled":
        return "OOMKilled"
    if exit_code is not None:
        return (
            f"{reason}: exit code {exit_code}"
            if reason and reason != "Error"
            else (f"exit code {exit_code}")
        )
    return reason


#: What an Unschedulable message names when it heals by itself in seconds: a claim the
#: provisioner is still binding, a node still starting (a fresh kind/k3d cluster in CI).
_TRANSIENT_UNSCHEDULABLE = (
    "unbound immediate persistentvolumeclaims",
    "node.kubernetes.io/not-ready",
    "node.cloudprovider.kubernetes.io/uninitialized",
)


def _transient_unschedulable(message: str) -> bool:
    """Whether the scheduler's message names only a wait, not a pod no node can take."""
    text = message.lower()
    return any(t in text for t in _TRANSIENT_UNSCHEDULABLE)


def pod_status(pod: Obj) -> PodStatus:
    """The user-facing status of one pod (see docs/kubernetes.md for the meanings)."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    inits = _container_states(status.get("initContainerStatuses") or [], True)
    mains = _container_states(status.get("containerStatuses") or [], False)
    total = len(spec.get("containers") or []) or len(mains)
    ready = sum(1 for c in mains if c.ready)
    restarts = sum(c.restarts for c in (*inits, *mains))
    base: dict[str, Any] = {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid", ""),
        "restarts": restarts,
        "ready_containers": ready,
        "total_containers": total,
        "created": meta.get("creationTimestamp", ""),
        "containers": (*inits, *mains),
        "template_hash": (meta.get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL, ""),
        "k8s_phase": status.get("phase") or "Pending",
    }
    phase = status.get("phase", "Pending")

    def prefix(c: ContainerState) -> str:
        many = total > 1 or c.init
        return f"{'init ' if c.init else ''}{c.name}: " if many else ""

    if meta.get("deletionTimestamp"):
        return PodStatus(**base, phase=PodPhase.TERMINATING, reason="Terminating")
    if phase == "Succeeded":
        return PodStatus(**base, phase=PodPhase.COMPLETED, reason="Completed")
    # A container failing in a way that waiting will not fix.
    for c in (*inits, *mains):
        if c.state == "waiting" and c.reason in ERROR_WAITING_REASONS:
            reason = c.reason
            if c.reason == "CrashLoopBackOff" and (c.last_reason or c.last_exit_code is not None):
                reason += f" ({_termination_reason(c.last_reason, c.last_exit_code)})"
            return PodStatus(
                **base, phase=PodPhase.ERROR, reason=prefix(c) + reason, message=c.message
            )
    if phase == "Failed":
        for c in (*inits, *mains):
            if c.state == "terminated" and (c.exit_code or c.reason == "OOMKilled"):
                why = _termination_reason(c.reason, c.exit_code)
                return PodStatus(
                    **base, phase=PodPhase.ERROR, reason=prefix(c) + why, message=c.message
                )
        return PodStatus(
            **base,
            phase=PodPhase.ERROR,
            reason=status.get("reason") or "Failed",
            message=status.get("message", ""),
        )
    # A container that ended badly and will not be restarted (restartPolicy Never/OnFailure
    # pods stay Running/Pending a moment before the phase catches up).
    for c in mains:
        if c.state == "terminated" and (c.exit_code or c.reason == "OOMKilled"):
            return PodStatus(
                **base,
                phase=PodPhase.ERROR,
                reason=prefix(c) + _termination_reason(c.reason, c.exit_code),
                message=c.message,
            )
    if phase == "Pending":
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                reason = cond.get("reason") or "Unschedulable"
                message = cond.get("message", "")
                # No node fits: an error the user must act on (Kubernetes keeps retrying, and
                # the watch goes on: once scheduled, the status moves on). A claim still being
                # bound, a node still starting, a scheduling gate: waiting, not an error.
                failing = reason == "Unschedulable" and not _transient_unschedulable(message)
                return PodStatus(
                    **base,
                    phase=PodPhase.ERROR if failing else PodPhase.PENDING,
                    reason=reason,
                    message=message,
                )
        n_init = len(spec.get("initContainers") or []) or len(inits)
        done = sum(1 for c in inits if c.state == "terminated" and not c.exit_code)
        if n_init and done < n_init:
            running = next((c for c in inits if c.state != "terminated"), None)
            why = running.reason if running and running.reason else "running"
            return PodStatus(**base, phase=PodPhase.PENDING, reason=f"Init:{done}/{n_init} ({why})")
        for c in mains:
            if c.state == "waiting" and c.reason:
                return PodStatus(
                    **base, phase=PodPhase.PENDING, reason=prefix(c) + c.reason, message=c.message
                )
        if not status.get("conditions"):
            return PodStatus(**base, phase=PodPhase.PENDING, reason="Scheduling")
        return PodStatus(**base, phase=PodPhase.PENDING, reason="ContainerCreating")
    if phase == "Running":
        pod_ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        if pod_ready:
            return PodStatus(**base, phase=PodPhase.READY, reason="Ready")
        return PodStatus(**base, phase=PodPhase.RUNNING, reason=f"Running ({ready}/{total} ready)")
    return PodStatus(**base, phase=PodPhase.PENDING, reason=phase or "Unknown")


# ----------------------------------------------------------------------------- readiness
class Readiness(enum.Enum):
    WAITING = "waiting"
    READY = "ready"
    FAILED = "failed"


def resource_readiness(
    mode: PodReadiness | str, pods: Sequence[PodStatus]
) -> tuple[Readiness, str]:
    """Whether the resource is ready under ``mode``, from its current pods; and why not.

    ``mode`` is the resource's ``pod_readiness`` (the loader applies Tilt's defaults: Jobs
    ``succeeded``, nothing with pods or only CronJobs ``ignore``, else ``wait``).
    """
    mode = mode.value if isinstance(mode, PodReadiness) else mode
    if mode == "ignore":
        return Readiness.READY, ""
    failing = [p for p in pods if p.phase is PodPhase.ERROR]
    live = [p for p in pods if p.phase is not PodPhase.TERMINATING]
    if mode == "succeeded":
        if any(p.phase is PodPhase.COMPLETED for p in live):
            return Readiness.READY, ""
    elif live and all(p.phase in (PodPhase.READY, PodPhase.COMPLETED) for p in live):
        return Readiness.READY, ""
    if failing:
        p = failing[0]
        why = f"pod {p.name}: {p.reason}"
        if p.reason == "Unschedulable" and p.message:
            why += f": {p.message}"  # the scheduler's word: which resource no node has
        return Readiness.FAILED, why
    if not live:
        return Readiness.WAITING, "waiting for pods"
    if mode == "succeeded":
        return (
            Readiness.WAITING,
            f"pod {live[0].name}: {live[0].reason} (waiting for it to complete)",
        )
    p = next(p for p in live if p.phase not in (PodPhase.READY, PodPhase.COMPLETED))
    return Readiness.WAITING, f"pod {p.name}: {p.reason}"


# ----------------------------------------------------------------------------- attribution
@dataclass
class OwnerResolver:
    """Fetches owners by reference, caching them by uid (owners' uids never change)."""

    kube: KubeClient
    _cache: dict[str, Obj | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def owners(self, obj: Obj) -> list[Obj]:
        out = []
        ns = (obj.get("metadata") or {}).get("namespace", "")
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
            uid = ref.get("uid", "")
            with self._lock:
                hit = uid in self._cache
                cached = self._cache.get(uid)
            if not hit:
                try:
                    cached = self.kube.get(ref["apiVersion"], ref["kind"], ref["name"], ns)
                except ApiError:
                    cached = None
                if cached is not None and cached.get("metadata", {}).get("uid") != uid:
                    cached = None  # same name, another object: not this owner
                with self._lock:
                    if cached is not None:
                        self._cache[uid] = cached
            if cached is not None:
                out.append(cached)
        return out

    def chain_uids(self, obj: Obj, max_depth: int = 8) -> list[str]:
        """Uids of every object up the owner chain (not including ``obj``)."""
        seen: list[str] = []
        frontier = [obj]
        for _ in range(max_depth):
            nxt = []
            for o in frontier:
                for ref in (o.get("metadata") or {}).get("ownerReferences") or []:
                    if ref.get("uid") and ref["uid"] not in seen:
                        seen.append(ref["uid"])
                nxt += self.owners(o)
            if not nxt:
                break
            frontier = nxt
        return seen


def _selector_match(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@dataclass
class PodAttribution:
    """Decides which pods are a resource's, and which of those are its current rollout."""

    resolver: OwnerResolver
    #: uid -> the object the resource deployed (from the apply result)
    deployed: dict[str, Obj] = field(default_factory=dict)
    extra_selectors: tuple[Mapping[str, str], ...] = ()

    def set_deployed(self, objects: Iterable[Obj]) -> None:
        self.deployed = {
            o["metadata"]["uid"]: o for o in objects if o.get("metadata", {}).get("uid")
        }

    def _template_hashes(self) -> set[str]:
        hashes = set()
        for o in self.deployed.values():
            tmpl = _pod_template(o)
            labels = ((tmpl or {}).get("metadata") or {}).get("labels") or {}
            if POD_TEMPLATE_HASH_LABEL in labels:
                hashes.add(labels[POD_TEMPLATE_HASH_LABEL])
        return hashes

    def owner_of(self, pod: Obj) -> Obj | None:
        """The deployed object the pod descends from, if any."""
        if pod.get("metadata", {}).get("uid") in self.deployed:
            return self.deployed[pod["metadata"]["uid"]]  # a bare Pod we applied
        for uid in self.resolver.chain_uids(pod):
            if uid in self.deployed:
                return self.deployed[uid]
        return None

    def belongs(self, pod: Obj) -> bool:
        if self.owner_of(pod) is not None:
            return True
        labels = (pod.get("metadata") or {}).get("labels") or {}
        return any(_selector_match(labels, s) for s in self.extra_selectors)

    def is_current(self, pod: Obj) -> bool:
        """False for pods of an older rollout (another pod-template hash than we applied)."""
        labels = (pod.get("metadata") or {}).get("labels") or {}
        have = labels.get(POD_TEMPLATE_HASH_LABEL)
        if have is None:
            return True  # not from a template we labelled (extra selectors, operators)
        hashes = self._template_hashes()
        return not hashes or have in hashes


def current_pods(
    attribution: PodAttribution, pods: Iterable[Obj], key: Callable[[Obj], str] | None = None
) -> list[PodStatus]:
    """The resource's current pods' statuses, newest first."""
    mine = [p for p in pods if attribution.belongs(p) and attribution.is_current(p)]
    mine.sort(
        key=key or (lambda p: p.get("metadata", {}).get("creationTimestamp", "")), reverse=True
    )
    return [pod_status(p) for p in mine]
