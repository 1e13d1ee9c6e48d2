"""Pod logs: every container followed from its start, no line lost or shown twice.

One follower thread per container. Streams ask for timestamps; after a dropped connection the
follower reconnects with ``sinceTime`` (second precision, as the API takes it) and drops the
lines it has already emitted (earlier timestamps, and as many lines at the last timestamp as it
emitted). When a container restarted, the lines of the instance that ended which we had not
seen yet (all of them when we attach to a pod that already crashed) come from ``previous=true``
once, marked as such. The pod watch drives the followers through :meth:`PodLogs.update`.

:meth:`ResourceLogs.wait_drained` waits until the followers of finished pods have emitted
everything their containers wrote (a Job test's verdict comes after its pods' output).
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from tilt.k8s.client import ApiError, KubeClient

__all__ = ["LogLine", "PodLogs", "ResourceLogs"]

Obj = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class LogLine:
    pod: str
    container: str
    text: str
    timestamp: str = ""
    previous: bool = False  # from a container instance that has ended (crashed or restarted)
    #: the container name is worth showing (the pod has several containers)
    several: bool = False

    @property
    def display(self) -> str:
        prefix = f"[{self.container}] " if self.several else ""
        mark = "[previous] " if self.previous else ""
        return f"{prefix}{mark}{self.text}"


Emit = Callable[[LogLine], None]


def _parse_ts(ts: str) -> datetime.datetime | None:
    try:
        # RFC3339Nano: Python takes at most microseconds
        base, _, frac = ts.rstrip("Z").partition(".")
        text = base + ("." + frac[:6] if frac else "") + "+00:00"
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def _since(ts: str) -> str:
    return ts.split(".", maxsplit=1)[0].rstrip("Z") + "Z" if ts else ""


@dataclass
class _Container:
    name: str
    restarts: int = 0
    started: bool = False  # an instance has run (running or terminated)
    running: bool = False


class _Follower:
    """Follows one container of one pod across reconnects and restarts."""

    def __init__(self, owner: PodLogs, container: str, several: bool) -> None:
        self.owner = owner
        self.container = container
        self.several = several
        self.cond = threading.Condition()
        self.state = _Container(container)
        self.seen_restarts: int | None = None  # restart count of the instance we follow
        self.last_ts = ""
        self.at_last_ts = 0  # lines emitted with timestamp == last_ts
        self.stopped = False
        #: caught up with a container that stopped (or gone): nothing more to emit for now
        self.idle = False
        self.stream: Any = None
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"logs-{container}")

    def drained(self) -> bool:
        """Everything the container wrote so far is emitted, and it is not running."""
        with self.cond:
            st = self.state
            return self.idle or self.stopped or (not st.started and not st.running)

    def update(self, state: _Container) -> None:
        with self.cond:
            self.state = state
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            stream = self.stream
            self.cond.notify_all()
        if stream is not None:
            stream.close()

    # ---- reading with de-duplication
    def _read(self, *, previous: bool, since: str = "") -> None:
        """One log request; lines this follower already emitted are skipped."""
        query: dict[str, Any] = {
            "container": self.container,
            "timestamps": "true",
            "follow": "false" if previous else "true",
            "previous": "true" if previous else "",
            "sinceTime": since,
        }
        path = f"/api/v1/namespaces/{self.owner.namespace}/pods/{self.owner.pod_name}/log"
        stream = self.owner.kube.open_stream(path, query=query)
        with self.cond:
            if self.stopped:
                stream.close()
                return
            self.stream = stream
        base = _parse_ts(self.last_ts) if self.last_ts else None
        skip = self.at_last_ts if base else 0
        try:
            for raw in stream.lines():
                if not raw:
                    continue
                line = raw.decode(errors="replace").rstrip("\r")
                ts, _, text = line.partition(" ")
                when = _parse_ts(ts)
                if when is None:
                    ts, text = "", line
                elif base is not None:
                    if when < base:
                        continue  # before what we have shown
                    if when == base and skip > 0:
                        skip -= 1  # shown before the reconnect
                        continue
                if (
                    ts
                    and when is not None
                    and when == (_parse_ts(self.last_ts) if self.last_ts else None)
                ):
                    self.at_last_ts += 1
                elif ts:
                    self.last_ts, self.at_last_ts = ts, 1
                self.owner.emit(
                    LogLine(
                        pod=self.owner.pod_name,
                        container=self.container,
                        text=text,
                        timestamp=ts,
                        previous=previous,
                        several=self.several,
                    )
                )
        finally:
            with self.cond:
                self.stream = None
            stream.close()

    def _run(self) -> None:
        backoff = 0.1
        while True:
            with self.cond:
                while not self.stopped and not self.state.started:
                    self.cond.wait()
                if self.stopped:
                    return
                state = self.state
            finished = False  # the read went to the end of a container that had stopped
            try:
                if self.seen_restarts is None or state.restarts > self.seen_restarts:
                    if state.restarts > 0 and (self.seen_restarts is None or self.last_ts):
                        # The instance that ended: what we have not shown of it, once, marked.
                        with contextlib.suppress(ApiError):  # gone with a replaced pod
                            self._read(previous=True, since=_since(self.last_ts))
                    self.seen_restarts = state.restarts
                # Timestamps only grow, across instances too: reading from the last one shown
                # (and skipping what was shown) works for a reconnect and for a new instance,
                # also when the restart shows in the pod status only after we reconnected.
                self._read(previous=False, since=_since(self.last_ts))
                finished = not state.running
                backoff = 0.1
            except ApiError as e:
                if e.status == 404:
                    self._set_idle(True)
                    return  # the pod is gone
                finished = True  # nothing more to read until news about the container
            except Exception:  # a cut connection: reconnect
                pass
            with self.cond:
                if self.stopped:
                    return
                # The stream ended: the container stopped, restarted, or the link dropped.
                seen = self.state
                stopped = not seen.running and seen.restarts == self.seen_restarts
                if not stopped or not finished:
                    # (A read that began while the container ran, and ended as it stopped,
                    # is followed by one more: its last lines may have come after the cut.)
                    self.cond.wait(backoff)  # a dropped link, or news about the container
                    backoff = min(backoff * 2, 2.0)
                    continue
            # It stopped: nothing more until the pod status says it runs again.
            self._set_idle(True)
            with self.cond:
                while not self.stopped and self.state is seen:
                    self.cond.wait()
                if self.stopped:
                    return
            self._set_idle(False)

    def _set_idle(self, idle: bool) -> None:
        # Never called holding self.cond: the owner's lock comes first (see ResourceLogs).
        with self.cond:
            self.idle = idle
        self.owner.changed()


class PodLogs:
    """Log followers for one pod; feed it the pod on every watch event."""

    def __init__(
        self, kube: KubeClient, pod: Obj, emit: Emit, on_change: Callable[[], None] | None = None
    ) -> None:
        self.kube = kube
        self.pod_name = pod["metadata"]["name"]
        self.namespace = pod["metadata"].get("namespace", "default")
        self.emit = emit
        self._on_change = on_change
        self.followers: dict[str, _Follower] = {}
        self.finished = False  # the pod's phase is Succeeded or Failed
        self.update(pod)

    def changed(self) -> None:
        """A follower caught up, or started reading again (from its thread)."""
        if self._on_change is not None:
            self._on_change()

    def drained(self) -> bool:
        """The pod finished and every line its containers wrote has been emitted."""
        return self.finished and all(f.drained() for f in list(self.followers.values()))

    def update(self, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        self.finished = status.get("phase") in ("Succeeded", "Failed")
        names = [c["name"] for c in spec.get("initContainers") or []] + [
            c["name"] for c in spec.get("containers") or []
        ]
        several = len(names) > 1
        statuses = {
            cs["name"]: cs
            for cs in (status.get("initContainerStatuses") or [])
            + (status.get("containerStatuses") or [])
        }
        for name in names:
            cs = statuses.get(name) or {}
            st = cs.get("state") or {}
            last = cs.get("lastState") or {}
            state = _Container(
                name=name,
                restarts=int(cs.get("restartCount") or 0),
                started="running" in st or "terminated" in st or "terminated" in last,
                running="running" in st,
            )
            f = self.followers.get(name)
            if f is None:
                f = self.followers[name] = _Follower(self, name, several)
                f.update(state)
                f.thread.start()
            else:
                f.update(state)
        self.changed()

    def stop(self) -> None:
        for f in self.followers.values():
            f.stop()


class ResourceLogs:
    """The log followers of one resource's pods: :meth:`sync` with its pods after each change."""

    def __init__(self, kube: KubeClient, emit: Emit) -> None:
        self.kube = kube
        self.emit = emit
        self.pods: dict[str, PodLogs] = {}
        # Pod watches of several namespaces call sync(); followers report through _changed.
        # Lock order: this lock, then a follower's own (a follower never holds its own
        # while it reports).
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._gone: set[str] = set()  # names of pods no longer followed
        self._stopped = False

    def _changed(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait_drained(self, pods: Collection[str], timeout_s: float) -> bool:
        """Wait until every pod named has finished and its lines have all been emitted.

        A pod that is no longer followed counts as drained. Returns False at the timeout
        (the pod watch may not have seen a pod yet), True at once when stopped.
        """

        def done() -> bool:
            if self._stopped:
                return True
            by_name = {p.pod_name: p for p in self.pods.values()}
            return all(n in self._gone or (n in by_name and by_name[n].drained()) for n in pods)

        with self._cond:
            return self._cond.wait_for(done, timeout_s)

    def sync(self, pods: list[Obj]) -> None:
        """Follow these pods (new ones from their start); stop following pods not listed."""
        with self._lock:
            if self._stopped:
                return
            seen = set()
            for pod in pods:
                uid = pod["metadata"].get("uid") or pod["metadata"]["name"]
                seen.add(uid)
                if uid in self.pods:
                    self.pods[uid].update(pod)
                else:
                    self.pods[uid] = PodLogs(self.kube, pod, self.emit, self._changed)
            gone = [self.pods.pop(u) for u in [u for u in self.pods if u not in seen]]
            self._gone.update(p.pod_name for p in gone)
            self._cond.notify_all()
        for p in gone:
            p.stop()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            pods = list(self.pods.values())
            self.pods.clear()
            self._cond.notify_all()
        for p in pods:
            p.stop()
