"""Kubernetes events: why a resource is failing, attributed to the resource, on screen.

One Event informer per namespace the resources deploy to (plus ``default``, where the kubelet
records Node events), started when a resource first deploys there. The session's start is the
cutoff: events of the first list last seen before it are history and ignored, unless they
repeat later. Reconnects, 410 relists and replays are the informer's (:mod:`tilt.k8s.watch`):
each change reaches us once.

Attribution walks owner references from the involved object (event -> pod -> ReplicaSet ->
Deployment, Job, ...) to an object a resource deployed (the :class:`~tilt.k8s.pods.OwnerResolver`
the pod monitor uses, with its uid cache). An event nobody claims yet is kept (bounded) and
attributed when a deploy (or a pod view, for ``extra_pod_selectors``) claims it. A Node's
events that explain trouble (pressure, not ready) attach to the resources with a pod on that
node or an unschedulable pod, until the kubelet reports the condition over. OOMKilled has no
Event: it is made from the pod status (with the memory limit). Some events get an explanation
(the registry of an image that cannot be pulled, what an unschedulable pod requests, the exit
code and last log lines of a crashed container).

What the user sees (:class:`EventMonitor`):

- **log lines** ``[event] Reason: message`` for Warnings and for the Normal events a user
  waits on (Scheduled, Pulling, Pulled); the object is named when it is not the resource's
  main pod, and a pod of an older rollout is marked ``(old rollout)``. A repeat does *not* add
  a line: each event (the record's key: object, container, type, reason, message) is one
  *keyed* line (``on_log(resource, line, key)``; the log store updates a keyed line in place),
  rewritten at each repeat with its count and when it was last seen: ``[event] Reason: message
  (x7, last 14:03:05)``. The time of day, not an age: the line is rewritten only when the event
  repeats, so an age in it would always read ``0s ago`` and then go stale; the events view and
  the status show the live age (``(x7, last 3s ago)``). Append-only outputs (``--stream``)
  reprint the line only at its 1st, 2nd, 4th, ... update
  (:func:`tilt.logstore.prints_update`).
- **records** (:class:`EventRecord`), every event of the resource newest first, with type,
  reason, object, count, age, message, whether it is of the current rollout and whether it is
  quiet: the events view's data (snapshot, `tilt get -o json`, API, TUI ``e``).
- **the reason** (:attr:`EventsView.reason`): the newest Warning that still applies — of the
  current rollout, not quiet, not superseded (a later Scheduled settles FailedScheduling, a
  later Pulled/Started settles a pull failure), seen since the resource was last ready — and
  ``""`` once the pods are ready again.

Records are in the shape of the runtime-neutral events of the runtime house (``type``,
``reason``, ``object``, ``message``, ``time``; :meth:`EventRecord.as_dict` has the keys of its
``EventSnapshot``). Their counts are the API's: the runner hands an :class:`EventsView`'s
records to the runtime state as they are (adding them to a keeper that counts each ``add``
would count repeats twice).
"""

from __future__ import annotations

import collections
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tilt.k8s.client import ApiError, KubeClient
from tilt.k8s.monitor import PodsView
from tilt.k8s.pods import OwnerResolver, PodAttribution, PodPhase, Readiness, parse_time
from tilt.k8s.watch import Informer, WatchEvent

__all__ = [
    "EventMonitor",
    "EventRecord",
    "EventsView",
    "K8sEvent",
    "QuietRules",
    "parse_event",
    "registry_of",
    "status_line",
]

Obj = dict[str, Any]

NORMAL = "Normal"
WARNING = "Warning"

#: Normal events a user waits on: shown in the log.
WAITING_REASONS = frozenset({"Scheduled", "Pulling", "Pulled"})

#: Node events that explain a pod's trouble (kubelet and node-controller reasons).
NODE_TROUBLE_REASONS = frozenset(
    {
        "NodeHasDiskPressure",
        "NodeHasInsufficientMemory",
        "NodeHasInsufficientPID",
        "NodeNotReady",
        "NodeNotSchedulable",
        "EvictionThresholdMet",
        "FreeDiskSpaceFailed",
        "ImageGCFailed",
        "SystemOOM",
    }
)

#: The kubelet's event when a node condition ends -> the trouble event it settles.
NODE_RECOVERY_REASONS: Mapping[str, str] = {
    "NodeHasNoDiskPressure": "NodeHasDiskPressure",
    "NodeHasSufficientMemory": "NodeHasInsufficientMemory",
    "NodeHasSufficientPID": "NodeHasInsufficientPID",
    "NodeReady": "NodeNotReady",
    "NodeSchedulable": "NodeNotSchedulable",
}

#: A later Normal event of the same object with one of these reasons settles the Warning.
SUPERSEDED_BY: Mapping[str, frozenset[str]] = {
    "FailedScheduling": frozenset({"Scheduled"}),
    "Failed": frozenset({"Pulled", "Started"}),
    "ErrImagePull": frozenset({"Pulled", "Started"}),
    "FailedMount": frozenset({"Started"}),
    "FailedAttachVolume": frozenset({"SuccessfulAttachVolume", "Started"}),
    "FailedCreatePodSandBox": frozenset({"Started"}),
    "BackOff": frozenset(),
    "Unhealthy": frozenset(),
    **{trouble: frozenset({ok}) for ok, trouble in NODE_RECOVERY_REASONS.items()},
}

_MAX_PREVIOUS_LINES = 5
#: Pods remembered per resource as once-current (to mark their late events "old rollout").
_MAX_KNOWN_PODS = 512


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h"


@dataclass(frozen=True, kw_only=True)
class K8sEvent:
    """One core/v1 Event as the API reports it (a repeat raises ``count``, same uid)."""

    uid: str
    namespace: str
    type: str
    reason: str
    message: str
    count: int
    first_seen: float
    last_seen: float
    kind: str
    name: str
    object_uid: str
    object_namespace: str
    api_version: str = ""
    field_path: str = ""

    @property
    def object(self) -> str:
        """``pod web-7d9f``, ``deployment web``, ``node kind-control-plane``."""
        return f"{self.kind.lower()} {self.name}"

    @property
    def container(self) -> str:
        """The container a pod's event is about (``spec.containers{app}``), else ``""``."""
        m = _FIELD_CONTAINER_RE.match(self.field_path)
        return m.group(1) if m else ""

    @property
    def time(self) -> float:
        return self.last_seen


def parse_event(obj: Obj) -> K8sEvent | None:
    """A core/v1 Event (or an events.k8s.io/v1 one) as :class:`K8sEvent`; None if malformed."""
    meta = obj.get("metadata") or {}
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    if not involved.get("name"):
        return None
    series = obj.get("series") or {}
    first = parse_time(obj.get("firstTimestamp")) or parse_time(obj.get("eventTime"))
    last = (
        parse_time(series.get("lastObservedTime"))
        or parse_time(obj.get("lastTimestamp"))
        or parse_time(obj.get("eventTime"))
        or first
        or parse_time(meta.get("creationTimestamp"))
    )
    count = int(series.get("count") or obj.get("count") or obj.get("deprecatedCount") or 1)
    return K8sEvent(
        uid=meta.get("uid", "") or f"{meta.get('namespace', '')}/{meta.get('name', '')}",
        namespace=meta.get("namespace", ""),
        type=obj.get("type") or NORMAL,
        reason=obj.get("reason") or "",
        message=(obj.get("message") or obj.get("note") or "").strip(),
        count=max(1, count),
        first_seen=first or last,
        last_seen=last,
        kind=involved.get("kind", ""),
        name=involved.get("name", ""),
        object_uid=involved.get("uid", ""),
        object_namespace=involved.get("namespace", "") or meta.get("namespace", ""),
        api_version=involved.get("apiVersion", ""),
        field_path=involved.get("fieldPath", ""),
    )


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    """One event of a resource as the events view shows it (repeats folded into ``count``).

    Attributes:
        resource: The resource it is attributed to.
        type: ``Normal`` or ``Warning``.
        reason: Kubernetes' CamelCase reason (``FailedScheduling``, ``BackOff``, ...).
        object: What it is about (``pod web-7d9f``; ``node n1`` for attached node events).
        message: The event's message.
        count: How many times it happened (the API's count, summed over event objects).
        first_seen / last_seen: Epoch seconds.
        current: False for a pod of an older rollout (or a pod that is gone).
        quiet: Silenced by ``k8s_quiet_events``: not logged, never the reason; still listed.
        explanation: What we add (the image's registry, what the pod requests, the limit...).
    """

    resource: str
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
    object_uid: str = ""
    object_kind: str = ""
    container: str = ""  # named when the pod has several containers
    seq: int = 0  # arrival order of its latest occurrence in this session

    @property
    def time(self) -> float:
        return self.last_seen

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.last_seen)

    def repeat_suffix(self, now: float | None = None) -> str:
        """``(x7, last 3s ago)`` for a repeat, else ``""``."""
        if self.count <= 1:
            return ""
        return f" (x{self.count}, last {_ago(self.age_s(now))} ago)"

    def summary(self, now: float | None = None) -> str:
        """``Reason: message (x7, last 3s ago)`` — the status reason's text."""
        return f"{self.reason}: {self.message}{self.repeat_suffix(now)}"

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        """JSON-ready, for the snapshot / `tilt get -o json` / the API.

        The keys of the runtime house's ``EventSnapshot`` (type, reason, object, message,
        count, first_seen, last_seen), plus ``age_s``, ``current``, ``quiet`` and
        ``explanation``.
        """
        return {
            "type": self.type,
            "reason": self.reason,
            "object": self.object,
            "message": self.message,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "age_s": round(self.age_s(now), 3),
            "current": self.current,
            "quiet": self.quiet,
            "explanation": self.explanation,
            "container": self.container,
        }


@dataclass(frozen=True, kw_only=True)
class EventsView:
    """A resource's events: newest first, and the Warning that explains its state."""

    events: tuple[EventRecord, ...]
    reason: str = ""
    reason_event: EventRecord | None = None

    def reason_at(self, now: float | None = None) -> str:
        """The reason rendered at ``now`` (its ``last Ns ago`` moves on between updates)."""
        return self.reason_event.summary(now) if self.reason_event is not None else ""

    def as_list(self, now: float | None = None) -> list[dict[str, Any]]:
        """Every event, newest first, JSON-ready (see :meth:`EventRecord.as_dict`)."""
        return [e.as_dict(now) for e in self.events]


def status_line(pods: PodsView | None, events: EventsView | None) -> str:
    """``Pending — FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu``.

    The phase of the resource's main pod, then the event reason when one applies, else the
    pod's own reason.
    """
    phase = pods.pods[0].phase.value.capitalize() if pods and pods.pods else "Pending"
    if pods and pods.pods and pods.pods[0].reason == "Unschedulable":
        phase = "Pending"  # an error status (no node fits), in Kubernetes' Pending phase
    if events is not None and events.reason:
        return f"{phase} — {events.reason}"
    if pods and pods.pods and pods.pods[0].reason:
        return f"{phase} — {pods.pods[0].reason}"
    return phase


@dataclass(frozen=True, kw_only=True)
class QuietRules:
    """Event reasons to keep out of the log and the status (``k8s_quiet_events``).

    ``everywhere``: reasons quiet for every resource; ``per_resource``: resource -> reasons.
    """

    everywhere: frozenset[str] = frozenset()
    per_resource: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> QuietRules:
        """From ``(resource or "", reason)`` pairs (how the Tiltfile result holds them)."""
        every: set[str] = set()
        per: dict[str, set[str]] = {}
        for resource, reason in pairs:
            if resource:
                per.setdefault(resource, set()).add(reason)
            else:
                every.add(reason)
        return cls(
            everywhere=frozenset(every), per_resource={k: frozenset(v) for k, v in per.items()}
        )

    def quiet(self, resource: str, reason: str) -> bool:
        return reason in self.everywhere or reason in self.per_resource.get(resource, ())


# ----------------------------------------------------------------------------- explanations
_FIELD_CONTAINER_RE = re.compile(
    r"spec\.(?:initContainers|containers|ephemeralContainers)\{([^}]*)\}"
)
_IMAGE_RE = re.compile(r'(?:pull(?:ing)? image|image) "([^"]+)"')
_INSUFFICIENT_RE = re.compile(r"Insufficient ([A-Za-z0-9./_-]+)")
_BACKOFF_CONTAINER_RE = re.compile(r"failed container (\S+)")


def registry_of(ref: str) -> str:
    """The registry an image ref is pulled from (Docker's rule: the first path component
    when it has a ``.`` or ``:`` or is ``localhost``; else Docker Hub)."""
    ref = ref.split("@", 1)[0]
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


#: Taints the node lifecycle controller puts on a node for a condition (what they mean).
_CONDITION_TAINTS = {
    "node.kubernetes.io/disk-pressure": "the node is short of disk (DiskPressure)",
    "node.kubernetes.io/memory-pressure": "the node is short of memory (MemoryPressure)",
    "node.kubernetes.io/pid-pressure": "the node is short of process ids (PIDPressure)",
    "node.kubernetes.io/not-ready": "the node is not ready",
    "node.kubernetes.io/unreachable": "the node is unreachable",
    "node.kubernetes.io/unschedulable": "the node is cordoned",
    "node.kubernetes.io/network-unavailable": "the node's network is not set up",
}


def taint_explanation(message: str) -> str:
    """What the node-condition taints a FailedScheduling message names mean, ``""`` if none."""
    return "; ".join(why for taint, why in _CONDITION_TAINTS.items() if taint in message)


def pull_explanation(ref: str, message: str) -> str:
    """``image REF from registry HOST`` and, where the error says it, why that fails."""
    registry = registry_of(ref)
    out = f"image {ref} from registry {registry}"
    host = registry.rsplit(":", 1)[0]
    if host in ("localhost", "127.0.0.1") and "connection refused" in message:
        out += f" (the cluster's nodes pull it: nothing answers on {registry} there)"
    elif "not found" in message or "manifest unknown" in message:
        out += " (the registry does not have this tag: was it pushed there?)"
    elif "unauthorized" in message.lower() or "denied" in message:
        out += " (the registry refused the pull: credentials or an imagePullSecret)"
    return out


def _requests(pod: Obj, resource_name: str) -> str:
    total = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        want = ((c.get("resources") or {}).get("requests") or {}).get(resource_name)
        if want is not None:
            total.append(f"{c.get('name', '')}={want}")
    return ", ".join(total)


def _container_spec(pod: Obj, name: str) -> Obj:
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == name:
            return dict(c)
    return {}


def _container_status(pod: Obj, name: str) -> Obj:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == name:
            return dict(cs)
    return {}


# ----------------------------------------------------------------------------- the monitor
@dataclass
class _Rec:
    rec: EventRecord
    counts: dict[str, int] = field(default_factory=dict)  # event uid -> the API's count
    logged_count: int = 0
    seq: int = 0  # arrival order of the latest update (ties of second-precision times)


@dataclass
class _Res:
    name: str
    namespaces: set[str]
    attribution: PodAttribution
    deployed_uids: set[str]
    records: dict[tuple[str, str, str, str, str], _Rec] = field(default_factory=dict)
    current_pods: dict[str, Obj] = field(default_factory=dict)  # uid -> pod
    known_pods: dict[str, str] = field(default_factory=dict)  # uid -> name (ever current)
    main_pod_uid: str = ""
    ready: bool = False
    recovered_at: float = 0.0
    redeployed_seq: int = 0  # a later deploy: Warnings of its objects before it are history
    unschedulable: bool = False
    nodes: set[str] = field(default_factory=set)
    oom_seen: set[tuple[str, str, int]] = field(default_factory=set)


class EventMonitor:
    """Events per namespace, attributed to resources; see the module docstring.

    Args:
        kube: The client.
        on_log: ``(resource, line, key)`` for each line of the resource's log: with a key
            (an event's line), create the line with that key or replace its text; with
            ``""``, append a line (an explanation, a skipped event).
        on_view: ``(resource, EventsView)`` whenever a resource's events or reason change.
        quiet: Silenced reasons (:meth:`set_quiet` replaces them after a Tiltfile reload).
        scrub: Applied to messages kept in records (the log lines go through ``on_log``,
            which the session scrubs).
        started_at: Events last seen before this (epoch s) are history; default now.
        max_events: Records kept per resource (least recently seen dropped first).
        max_pending: Unattributed events kept for a later deploy.
        clock: Epoch seconds now (``time.time``): the session's start, when pods became
            ready, ages in the view. Injected by the churn benchmark to simulate an hour.
    """

    def __init__(
        self,
        kube: KubeClient,
        *,
        on_log: Callable[[str, str, str], None],
        on_view: Callable[[str, EventsView], None],
        quiet: QuietRules | None = None,
        resolver: OwnerResolver | None = None,
        started_at: float | None = None,
        max_events: int = 200,
        max_pending: int = 1000,
        extra_namespaces: Sequence[str] = ("default",),
        informer_factory: Callable[[str], Informer] | None = None,
        scrub: Callable[[str], str] = lambda text: text,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.clock = clock
        self.scrub = scrub
        self.on_log = on_log
        self.on_view = on_view
        self.quiet = quiet or QuietRules()
        self.resolver = resolver or OwnerResolver(kube)
        self.started_at = clock() if started_at is None else started_at
        self.max_events = max_events
        self.extra_namespaces = tuple(extra_namespaces)
        self._informer_factory = informer_factory or (
            # The monitor keeps what it needs of an event (its records): the informer only
            # its identity, so its cache costs little however many Events the API holds.
            lambda ns: Informer(kube, "v1", "Event", namespace=ns, cache_metadata_only=True)
        )
        self._lock = threading.RLock()
        self._resources: dict[str, _Res] = {}
        self._informers: dict[str, Informer] = {}
        self._pending: collections.deque[K8sEvent] = collections.deque(maxlen=max_pending)
        self._node_events: collections.deque[K8sEvent] = collections.deque(maxlen=64)
        self._baseline: dict[str, int] = {}  # event uid -> count at the first list
        self._chains: collections.OrderedDict[str, list[str]] = collections.OrderedDict()
        self._live: dict[str, threading.Event] = {}
        self.received = 0
        self._seq = 0

    # ---- resources
    def track(
        self, resource: str, applied: Sequence[Obj], *, namespaces: Iterable[str] = ()
    ) -> None:
        """Follow ``resource`` after an apply of ``applied`` (the server's answer)."""
        ns_set = (
            set(namespaces)
            or {
                (o.get("metadata") or {}).get("namespace") or self.kube.namespace
                for o in applied
                if o.get("kind") != "Namespace"
            }
            or {self.kube.namespace}
        )
        att = PodAttribution(self.resolver)
        att.set_deployed(applied)
        uids = {o["metadata"]["uid"] for o in applied if (o.get("metadata") or {}).get("uid")}
        with self._lock:
            old = self._resources.get(resource)
            res = _Res(resource, ns_set, att, uids)
            if old is not None:
                res.records, res.known_pods = old.records, old.known_pods
                res.current_pods, res.main_pod_uid = old.current_pods, old.main_pod_uid
                res.oom_seen, res.nodes = old.oom_seen, old.nodes
                res.ready, res.recovered_at = old.ready, old.recovered_at
                res.redeployed_seq = self._seq
            self._resources[resource] = res
            for ns in (*sorted(ns_set), *self.extra_namespaces):
                self._ensure_informer(ns)
            pending = list(self._pending)
            self._pending.clear()
        for ev in pending:
            self._handle_event(ev)
        self._publish(resource)

    def set_quiet(self, quiet: QuietRules) -> None:
        """New silencing rules (a reloaded Tiltfile): kept records are re-marked."""
        with self._lock:
            self.quiet = quiet
            for name, res in self._resources.items():
                for slot in res.records.values():
                    q = quiet.quiet(name, slot.rec.reason)
                    if q != slot.rec.quiet:
                        slot.rec = replace(slot.rec, quiet=q)
            names = list(self._resources)
        for name in names:
            self._publish(name)

    def untrack(self, resource: str) -> None:
        with self._lock:
            self._resources.pop(resource, None)

    def wait_live(self, timeout_s: float = 10.0) -> bool:
        """Block until every informer has done its first list (tests, benchmarks)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            flags = list(self._live.values())
        return all(f.wait(max(0.0, deadline - time.monotonic())) for f in flags)

    def pods_changed(self, resource: str, view: PodsView) -> None:
        """The pod monitor's view of ``resource``: current pods, readiness (any thread)."""
        now = self.clock()
        synthetic: list[tuple[EventRecord, str]] = []
        with self._lock:
            res = self._resources.get(resource)
            if res is None:
                return
            res.current_pods = {
                p["metadata"]["uid"]: p for p in view.objects if p.get("metadata", {}).get("uid")
            }
            fresh = set(res.current_pods) - set(res.known_pods)
            for uid, p in res.current_pods.items():
                res.known_pods[uid] = p["metadata"].get("name", "")
            while len(res.known_pods) > _MAX_KNOWN_PODS:  # oldest first (insertion order)
                del res.known_pods[next(iter(res.known_pods))]
            if len(res.oom_seen) > _MAX_KNOWN_PODS:
                res.oom_seen = {k for k in res.oom_seen if k[0] in res.current_pods}
            res.main_pod_uid = next(iter(res.current_pods), "")
            ready = view.readiness is Readiness.READY
            if ready and not res.ready:
                res.recovered_at = now
            res.ready = ready
            res.unschedulable = any(
                p.phase is not PodPhase.READY and p.reason == "Unschedulable" for p in view.pods
            )
            res.nodes = {
                n for p in view.objects if (n := (p.get("spec") or {}).get("nodeName") or "")
            }
            synthetic = self._oom_records(res)
            attach = [ev for ev in self._node_events if self._node_affects(res, ev.name)]
            # Pods claimed only now (extra_pod_selectors): their waiting events are theirs.
            claimed = [ev for ev in self._pending if ev.object_uid in fresh]
            for ev in claimed:
                self._pending.remove(ev)
        for rec, instance in synthetic:
            self._add(resource, rec, event_uid=instance, count=1)
        for ev in attach:
            self._attach_node_event(resource, ev)
        for ev in claimed:
            self._handle_event(ev)
        self._publish(resource)

    def view(self, resource: str, now: float | None = None) -> EventsView:
        now = self.clock() if now is None else now
        with self._lock:
            res = self._resources.get(resource)
            if res is None:
                return EventsView(events=())
            slots = sorted(res.records.values(), key=lambda r: (r.rec.last_seen, r.seq))
            recs = [self._with_current(res, r.rec) for r in reversed(slots)]
            latest: dict[tuple[str, str], float] = {}
            for r in recs:
                k = (r.object_uid, r.reason)
                latest[k] = max(latest.get(k, 0.0), r.last_seen)
            applies = [r for r in recs if self._applies(res, r, latest)]
        top = applies[0] if applies else None
        return EventsView(
            events=tuple(recs), reason=top.summary(now) if top else "", reason_event=top
        )

    def close(self) -> None:
        with self._lock:
            informers = list(self._informers.values())
            self._informers.clear()
        for inf in informers:
            inf.stop()

    # ---- informers
    def _ensure_informer(self, ns: str) -> None:
        if ns in self._informers:
            return
        inf = self._informer_factory(ns)
        self._informers[ns] = inf
        self._live[ns] = threading.Event()
        threading.Thread(target=self._run, args=(ns, inf), daemon=True, name=f"events-{ns}").start()

    def _run(self, ns: str, inf: Informer) -> None:
        for ev in inf.events():
            try:
                self._handle_watch(ns, ev)
            except Exception as e:  # one odd event must not end the watch
                name = (ev.object.get("metadata") or {}).get("name", "")
                self.on_log("", f"Kubernetes events: event {ns}/{name} skipped: {e!r}", "")

    def _handle_watch(self, ns: str, wev: WatchEvent) -> None:
        live = self._live[ns]
        if wev.type == "CONNECTION":
            if wev.connected:
                live.set()
            return
        if wev.type == "DELETED":
            uid = (wev.object.get("metadata") or {}).get("uid", "")
            with self._lock:
                self._baseline.pop(uid, None)
            return  # the API's TTL removed it: our record stays (bounded)
        ev = parse_event(wev.object)
        if ev is None:
            return
        if ev.kind != "Node" and not self._deploys_to(ns):
            return  # a namespace watched only for Node events (``default``)
        if not live.is_set() and ev.last_seen < self.started_at - 1.0:
            # The first list: history from before `tilt up` (shown again only if it repeats).
            with self._lock:
                self._baseline[ev.uid] = ev.count
            return
        with self._lock:
            base = self._baseline.get(ev.uid)
        if base is not None and ev.count <= base:
            return
        if ev.last_seen and ev.last_seen < self.started_at - 1.0 and base is None:
            return  # older than this session (e.g. listed again after a 410)
        self.received += 1
        self._handle_event(ev)

    def _deploys_to(self, ns: str) -> bool:
        with self._lock:
            return any(ns in r.namespaces for r in self._resources.values())

    # ---- attribution
    def _chain(self, ev: K8sEvent) -> list[str]:
        """The involved object's uid and the uids up its owner chain."""
        with self._lock:
            hit = self._chains.get(ev.object_uid)
        if hit is not None:
            return hit
        ref = {
            "apiVersion": ev.api_version or "v1",
            "kind": ev.kind,
            "name": ev.name,
            "uid": ev.object_uid,
        }
        probe = {"metadata": {"namespace": ev.object_namespace, "ownerReferences": [ref]}}
        try:
            chain = self.resolver.chain_uids(probe)
        except ApiError:
            chain = [ev.object_uid]
        chain = chain or [ev.object_uid]
        with self._lock:  # also when the object is gone: it will not come back
            self._chains[ev.object_uid] = chain
            while len(self._chains) > 4096:
                self._chains.popitem(last=False)
        return chain

    def _owner_resources(self, ev: K8sEvent) -> list[str]:
        with self._lock:
            for name, res in self._resources.items():
                if ev.object_uid in res.deployed_uids or ev.object_uid in res.known_pods:
                    return [name]
        chain = self._chain(ev)
        with self._lock:
            owners = self._claimants(ev, chain)
            if not owners:
                self._pending.append(ev)  # under the same lock as the claim check
            return owners

    def _claimants(self, ev: K8sEvent, chain: Sequence[str]) -> list[str]:
        return [
            n
            for n, r in self._resources.items()
            if r.deployed_uids.intersection(chain) or ev.object_uid in r.known_pods
        ]

    def _handle_event(self, ev: K8sEvent) -> None:
        if ev.kind == "Node":
            self._handle_node_event(ev)
            return
        owners = self._owner_resources(ev)  # none: kept in pending, under the claim lock
        if not owners:
            return
        container = ev.container if ev.kind == "Pod" and self._several(ev) else ""
        for resource in owners:
            rec = EventRecord(
                resource=resource,
                type=ev.type,
                reason=ev.reason,
                object=f"{ev.object} [{container}]" if container else ev.object,
                container=container,
                message=self.scrub(ev.message),
                count=ev.count,
                first_seen=ev.first_seen,
                last_seen=ev.last_seen,
                quiet=self.quiet.quiet(resource, ev.reason),
                object_uid=ev.object_uid,
                object_kind=ev.kind,
            )
            self._add(resource, rec, event_uid=ev.uid, count=ev.count, ev=ev)
            self._publish(resource)

    def _several(self, ev: K8sEvent) -> bool:
        """Whether the event's pod has more than one container (then events name theirs)."""
        if not ev.container:
            return False
        with self._lock:
            pod = next(
                (
                    r.current_pods[ev.object_uid]
                    for r in self._resources.values()
                    if ev.object_uid in r.current_pods
                ),
                None,
            )
        pod = pod or self.resolver._cache.get(ev.object_uid)
        spec = (pod or {}).get("spec") or {}
        return len(spec.get("containers") or []) + len(spec.get("initContainers") or []) > 1

    def _handle_node_event(self, ev: K8sEvent) -> None:
        settled = NODE_RECOVERY_REASONS.get(ev.reason)
        if settled:
            self._node_recovered(ev, settled)
            return
        if ev.type != WARNING and ev.reason not in NODE_TROUBLE_REASONS:
            return
        with self._lock:
            self._node_events.append(ev)
            affected = [n for n, r in self._resources.items() if self._node_affects(r, ev.name)]
        for resource in affected:
            self._attach_node_event(resource, ev)
            self._publish(resource)

    def _node_recovered(self, ev: K8sEvent, trouble: str) -> None:
        """The node's condition ended: no longer attached to newly affected resources; where it
        was attached, the recovery is attached too (logged, and it settles the trouble)."""
        with self._lock:
            for old in [e for e in self._node_events if e.name == ev.name and e.reason == trouble]:
                self._node_events.remove(old)
            affected = [
                name
                for name, res in self._resources.items()
                if any(
                    r.rec.object_kind == "Node"
                    and r.rec.object == ev.object
                    and r.rec.reason == trouble
                    for r in res.records.values()
                )
            ]
        for name in affected:
            self._attach_node_event(name, ev)
            self._publish(name)

    @staticmethod
    def _node_affects(res: _Res, node: str) -> bool:
        return res.unschedulable or node in res.nodes

    def _attach_node_event(self, resource: str, ev: K8sEvent) -> None:
        rec = EventRecord(
            resource=resource,
            type=ev.type,
            reason=ev.reason,
            object=ev.object,
            message=self.scrub(ev.message),
            count=ev.count,
            first_seen=ev.first_seen,
            last_seen=ev.last_seen,
            quiet=self.quiet.quiet(resource, ev.reason),
            object_uid=ev.object_uid,
            object_kind="Node",
        )
        self._add(resource, rec, event_uid=ev.uid, count=ev.count)

    # ---- records
    def _add(
        self,
        resource: str,
        rec: EventRecord,
        *,
        event_uid: str,
        count: int,
        ev: K8sEvent | None = None,
    ) -> None:
        key = (rec.object_uid or rec.object, rec.container, rec.type, rec.reason, rec.message)
        explanation = ""
        if ev is not None:
            with self._lock:
                res0 = self._resources.get(resource)
                slot0 = res0.records.get(key) if res0 else None
                need = res0 is not None and (slot0 is None or not slot0.logged_count)
            if need and res0 is not None:
                explanation = self._explain(res0, ev)  # may read the API: outside the lock
        with self._lock:
            res = self._resources.get(resource)
            if res is None:
                return
            slot = res.records.get(key)
            if slot is None:
                slot = _Rec(rec=rec)
                res.records[key] = slot
                if len(res.records) > self.max_events:
                    oldest = min(res.records, key=lambda k: res.records[k].rec.last_seen)
                    del res.records[oldest]
            if slot.counts.get(event_uid, 0) >= count:
                return  # nothing new (a replay, or a node event attached again)
            slot.counts[event_uid] = max(count, slot.counts.get(event_uid, 0))
            self._seq += 1
            slot.seq = self._seq
            total = sum(slot.counts.values())
            slot.rec = replace(
                slot.rec,
                seq=self._seq,
                count=total,
                first_seen=min(slot.rec.first_seen, rec.first_seen),
                last_seen=max(slot.rec.last_seen, rec.last_seen),
            )
            if explanation and not slot.rec.explanation:
                slot.rec = replace(slot.rec, explanation=self.scrub(explanation))
            current_rec = self._with_current(res, slot.rec)
            log_it = self._loggable(current_rec) and total > slot.logged_count
            first = slot.logged_count == 0
            if log_it:
                slot.logged_count = total
            main = res.main_pod_uid
        if log_it:
            head, *explained = self._render(current_rec, main, first=first)
            self.on_log(resource, head, line_key(key))
            for line in explained:
                self.on_log(resource, line, "")

    @staticmethod
    def _loggable(rec: EventRecord) -> bool:
        if rec.quiet:
            return False
        return (
            rec.type == WARNING
            or rec.reason in WAITING_REASONS
            or (
                rec.object_kind == "Node"
                and (rec.reason in NODE_TROUBLE_REASONS or rec.reason in NODE_RECOVERY_REASONS)
            )
        )

    def _render(self, rec: EventRecord, main_pod_uid: str, *, first: bool) -> list[str]:
        """The event's line (its count and last time when repeated), then, the first time,
        the explanation's lines."""
        who = ""
        if rec.object_kind != "Pod" or (main_pod_uid and rec.object_uid != main_pod_uid):
            who = rec.object + (" (old rollout)" if not rec.current else "") + ": "
        elif not rec.current:
            who = rec.object + " (old rollout): "
        elif rec.container:
            who = f"[{rec.container}] "  # the main pod, one of its containers
        suffix = ""
        if rec.count > 1:
            suffix = f" (x{rec.count}, last {_clock(rec.last_seen)})"
        lines = [f"[event] {who}{rec.reason}: {rec.message}{suffix}"]
        if rec.explanation and first:
            lines += [f"[event]   {part}" for part in rec.explanation.split("\n")]
        return lines

    def _with_current(self, res: _Res, rec: EventRecord) -> EventRecord:
        if rec.object_kind != "Pod":
            return rec
        uid = rec.object_uid
        if uid in res.current_pods:
            current = True
        elif uid in res.known_pods:
            current = False  # was current, no longer is
        else:
            pod = self.resolver._cache.get(uid)  # fetched while attributing
            current = pod is None or res.attribution.is_current(pod)
        return rec if rec.current == current else replace(rec, current=current)

    def _applies(
        self, res: _Res, rec: EventRecord, latest: Mapping[tuple[str, str], float]
    ) -> bool:
        if rec.type != WARNING or rec.quiet or not rec.current or res.ready:
            return False
        if rec.last_seen < res.recovered_at:
            return False
        if rec.object_kind == "Node" and not (res.unschedulable or res.nodes):
            return False
        if rec.object_kind not in ("Pod", "Node") and rec.seq <= res.redeployed_seq:
            return False  # a Deployment's/Job's complaint about what was there before
        settle = SUPERSEDED_BY.get(rec.reason, frozenset())
        return not any(
            latest.get((rec.object_uid, reason), -1.0) >= rec.last_seen for reason in settle
        )

    # ---- explanations (blocking reads are fine: informer thread)
    def _explain(self, res: _Res, ev: K8sEvent) -> str:
        msg = ev.message
        if ev.type != WARNING or ev.kind != "Pod":
            return ""
        if ev.reason in ("Failed", "ErrImagePull") and (m := _IMAGE_RE.search(msg)):
            return pull_explanation(m.group(1), msg)
        pod = res.current_pods.get(ev.object_uid) or self.resolver._cache.get(ev.object_uid)
        if ev.reason == "FailedScheduling":
            short = list(dict.fromkeys(r.rstrip(".,") for r in _INSUFFICIENT_RE.findall(msg)))
            requests = [(r, _requests(pod, r) if pod is not None else "") for r in short]
            why = [f"short of {r}: the pod requests {want or 'nothing'}" for r, want in requests]
            if taints := taint_explanation(msg):
                why.append(taints)
            return "; ".join(why)
        if ev.reason == "BackOff" and (m := _BACKOFF_CONTAINER_RE.search(msg)):
            return self._crash_explanation(ev, m.group(1), pod)
        return ""

    def _crash_explanation(self, ev: K8sEvent, container: str, pod: Obj | None) -> str:
        if pod is None or not _container_status(pod, container):
            pod = self._fresh_pod(ev) or pod
        if pod is None:
            return ""
        cs = _container_status(pod, container)
        last = (cs.get("lastState") or {}).get("terminated") or {}
        parts = []
        if last:
            why = last.get("reason") or "Error"
            parts.append(
                f"the last {container} container ended: {why}, exit code {last.get('exitCode')}"
            )
        tail = self._previous_tail(ev, container)
        if tail:
            parts.append(f"last lines of the previous {container} container:")
            parts += [f"| {line}" for line in tail]
        return "\n".join(parts)

    def _fresh_pod(self, ev: K8sEvent) -> Obj | None:
        try:
            return self.kube.get("v1", "Pod", ev.name, ev.object_namespace)
        except ApiError:
            return None

    def _previous_tail(self, ev: K8sEvent, container: str) -> list[str]:
        path = f"/api/v1/namespaces/{ev.object_namespace}/pods/{ev.name}/log"
        try:
            stream = self.kube.open_stream(
                path, query={"container": container, "previous": "true"}, timeout_s=5
            )
        except ApiError:
            return []
        tail: collections.deque[str] = collections.deque(maxlen=_MAX_PREVIOUS_LINES)
        try:
            for raw in stream.lines():
                if raw:
                    tail.append(raw.decode(errors="replace").rstrip("\r"))
        except Exception:  # a cut stream: what we have is enough
            pass
        finally:
            stream.close()
        return list(tail)

    def _oom_records(self, res: _Res) -> list[tuple[EventRecord, str]]:
        """OOMKilled has no Event of its own: one from the pod status per container instance."""
        out: list[tuple[EventRecord, str]] = []
        for uid, pod in res.current_pods.items():
            name = pod["metadata"].get("name", "")
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                c = cs.get("name", "")
                now_t = (cs.get("state") or {}).get("terminated") or {}
                last_t = (cs.get("lastState") or {}).get("terminated") or {}
                for term, restarts in (
                    (now_t, int(cs.get("restartCount") or 0) + 1),
                    (last_t, int(cs.get("restartCount") or 0)),
                ):
                    if term.get("reason") != "OOMKilled":
                        continue
                    k = (uid, c, restarts)
                    if k in res.oom_seen:
                        continue
                    res.oom_seen.add(k)
                    limit = (
                        (_container_spec(pod, c).get("resources") or {}).get("limits") or {}
                    ).get("memory")
                    why = (
                        f"memory limit {limit}"
                        if limit
                        else "no memory limit: the node ran out of memory"
                    )
                    when = parse_time(term.get("finishedAt")) or self.clock()
                    out.append(
                        (
                            EventRecord(
                                resource=res.name,
                                type=WARNING,
                                reason="OOMKilled",
                                object=f"pod {name}",
                                message=f"container {c} was killed for exceeding its {why}"
                                if limit
                                else f"container {c} was OOM-killed ({why})",
                                count=1,
                                first_seen=when,
                                last_seen=when,
                                quiet=self.quiet.quiet(res.name, "OOMKilled"),
                                object_uid=uid,
                                object_kind="Pod",
                                explanation=f"exit code {term.get('exitCode', 137)}",
                            ),
                            f"oom:{uid}:{c}:{restarts}",
                        )
                    )
        return out

    def _publish(self, resource: str) -> None:
        with self._lock:
            if resource not in self._resources:
                return
        self.on_view(resource, self.view(resource))


def line_key(key: tuple[str, ...]) -> str:
    """The log store key of a record's line (a digest of its record key: short, fixed size)."""
    digest = hashlib.blake2b("\x1f".join(key).encode(), digest_size=12).hexdigest()
    return f"k8s-event:{digest}"


def _clock(epoch: float) -> str:
    """``14:03:05``, local time: when a repeated event was last seen."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))
