"""Follows the pods of deployed resources: one pod watch per namespace, shared by resources.

The seam the engine's Kubernetes runner plugs into: after an apply it calls
:meth:`PodMonitor.track` with the resource's applied objects; every pod change reaches
``on_change(resource, PodsView)`` (on the monitor's thread; the runner hands it to the loop),
with the resource's current pods (old rollouts left out), their statuses, the readiness under
the resource's ``pod_readiness``, and the pod a port-forward should target.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tilt import debuglog
from tilt.k8s.client import KubeClient
from tilt.k8s.pods import (
    OwnerResolver,
    PodAttribution,
    PodStatus,
    Readiness,
    pod_status,
    resource_readiness,
)
from tilt.k8s.portforward import newest_running_pod
from tilt.k8s.watch import Informer, WatchEvent
from tilt.model import PodReadiness

__all__ = ["PodMonitor", "PodsView"]

Obj = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class PodsView:
    """A resource's pods as the UI and `tilt ci` need them."""

    pods: tuple[PodStatus, ...]  # current rollout, newest first
    readiness: Readiness
    reason: str
    forward_target: Obj | None  # the newest running pod (raw object)
    objects: tuple[Obj, ...] = ()  # the current pods as the API returned them (for logs)
    connected: bool = True
    connection_error: str = ""


@dataclass
class _Tracked:
    name: str
    namespaces: set[str]
    attribution: PodAttribution
    readiness: PodReadiness


class PodMonitor:
    """Pod informers per namespace, and which resource each pod belongs to."""

    def __init__(
        self,
        kube: KubeClient,
        on_change: Callable[[str, PodsView], None],
        *,
        informer_factory: Callable[[str], Informer] | None = None,
    ) -> None:
        self.kube = kube
        self.on_change = on_change
        self.resolver = OwnerResolver(kube)
        self._informer_factory = informer_factory or (
            lambda ns: Informer(kube, "v1", "Pod", namespace=ns)
        )
        self._lock = threading.RLock()
        self._resources: dict[str, _Tracked] = {}
        self._pods: dict[str, dict[str, Obj]] = {}  # namespace -> uid -> pod
        self._informers: dict[str, Informer] = {}
        self._connected: dict[str, tuple[bool, str]] = {}
        self._closed = False
        # Views are computed and delivered one at a time: `track` (the runner's thread) and
        # the watch threads both publish, and a view computed earlier must never arrive last
        # (a pod's Running seen by the watch, then the stale Pending from `track`, would stay).
        self._publishing = threading.RLock()

    # ---- resources
    def track(
        self,
        resource: str,
        applied: Sequence[Obj],
        *,
        pod_readiness: PodReadiness = PodReadiness.WAIT,
        extra_selectors: Sequence[Mapping[str, str]] = (),
    ) -> None:
        """(Re)start following ``resource`` after an apply of ``applied`` (the server's answer)."""
        namespaces = {
            (o.get("metadata") or {}).get("namespace") or self.kube.namespace
            for o in applied
            if o.get("kind") != "Namespace"
        } or {self.kube.namespace}
        att = PodAttribution(self.resolver, extra_selectors=tuple(extra_selectors))
        att.set_deployed(applied)
        with self._lock:
            self._resources[resource] = _Tracked(resource, namespaces, att, pod_readiness)
            for ns in namespaces:
                self._ensure_informer(ns)
        self._publish(resource)

    def untrack(self, resource: str) -> None:
        with self._lock:
            self._resources.pop(resource, None)

    def view(self, resource: str) -> PodsView:
        with self._lock:
            t = self._resources[resource]
            pods = [p for ns in t.namespaces for p in self._pods.get(ns, {}).values()]
            conn = [self._connected.get(ns, (True, "")) for ns in t.namespaces]
        seen = [p for p in pods if t.attribution.belongs(p) and t.attribution.is_current(p)]
        # Newest first. creationTimestamp has whole seconds: of two pods made in the same
        # second, the one the watch reported later (a rollout's new pod) counts as newer.
        order = sorted(
            range(len(seen)),
            key=lambda i: (seen[i]["metadata"].get("creationTimestamp", ""), i),
            reverse=True,
        )
        mine = [seen[i] for i in order]
        statuses = tuple(pod_status(p) for p in mine)
        readiness, reason = resource_readiness(t.readiness, statuses)
        down = [err for ok, err in conn if not ok]
        return PodsView(
            pods=statuses,
            readiness=readiness,
            reason=reason,
            forward_target=newest_running_pod(mine),
            objects=tuple(mine),
            connected=not down,
            connection_error=down[0] if down else "",
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            informers = list(self._informers.values())
            self._informers.clear()
        for inf in informers:
            inf.stop()

    # ---- internals
    def _ensure_informer(self, ns: str) -> None:
        if ns in self._informers:
            return
        inf = self._informer_factory(ns)
        self._informers[ns] = inf
        self._pods.setdefault(ns, {})
        threading.Thread(target=self._run, args=(ns, inf), daemon=True, name=f"pods-{ns}").start()

    def _run(self, ns: str, inf: Informer) -> None:
        for ev in inf.events():
            if self._closed:  # an event already in flight when close() stopped the informer
                return
            try:
                self._handle(ns, ev)
            except Exception as e:  # one odd pod must not end the watch (nor raise in a thread)
                name = (ev.object.get("metadata") or {}).get("name", "")
                debuglog.log(f"k8s: pod event {ns}/{name} skipped: {e!r}", exc=e)

    def _handle(self, ns: str, ev: WatchEvent) -> None:
        if ev.type == "CONNECTION":
            with self._lock:
                self._connected[ns] = (ev.connected, ev.error)
                affected = [r for r, t in self._resources.items() if ns in t.namespaces]
            for r in affected:
                self._publish(r)
            return
        uid = (ev.object.get("metadata") or {}).get("uid", "")
        with self._lock:
            if ev.type == "DELETED":
                self._pods[ns].pop(uid, None)
            else:
                self._pods[ns][uid] = ev.object
            candidates = [(r, t) for r, t in self._resources.items() if ns in t.namespaces]
        for r, t in candidates:
            if t.attribution.belongs(ev.object):
                self._publish(r)

    def _publish(self, resource: str) -> None:
        with self._publishing:
            try:
                view = self.view(resource)
            except KeyError:
                return
            self.on_change(resource, view)
