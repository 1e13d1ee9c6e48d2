"""Kubernetes events (issue 12) against the emulated API server in its own process.

- event -> reason: a Warning Event POSTed to the API until the resource's EventsView (through
  K8sSession: watch, owner-chain attribution, record, reason) names it; median and p95 of 40.
- memory over an hour of churn, in simulated time: 10,000 Events spread over 3,600 simulated
  seconds (timestamps, the event monitor's clock and the API's event TTL all on that clock),
  a rollout every 10 simulated minutes (a redeploy with a new image: new ReplicaSet, 20 new
  pods, the old 20 deleted), 2 events in 5 new with a message of their own (no folding: the
  worst case), 3 in 5 a repeat of a pod's probe failure (the same Event, count raised). The
  API expires Events whose last time is older than its TTL (``--event-ttl``, 1 h by
  default). The ``[event]`` lines go into a real LogStore (keyed: a repeat updates its line).
  Every 6 simulated minutes: this process's traced memory (client, informer cache, monitor,
  log store), the informer's cached Events, the records and log lines kept. Simulated time
  because an hour of wall time does not fit a benchmark run; nothing in the monitor ages by
  wall time once its clock is injected, and the requests are the same ones an hour would make.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import gc
import itertools
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = """
from tests.k8s.emulator import Emulator
e = Emulator(bookmark_interval_s=5, history=2000).start()
print(e.port, flush=True)
import sys
sys.stdin.read()
"""

_n = itertools.count(1)


def _kubeconfig(port: int) -> str:
    import yaml

    cfg_path = Path(tempfile.mkdtemp()) / "kubeconfig"
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kind-bench",
        "clusters": [{"name": "kind-bench", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "contexts": [{"name": "kind-bench", "context": {"cluster": "kind-bench", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }
    cfg_path.write_text(yaml.safe_dump(cfg))
    return str(cfg_path)


def _ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
    }


def _post(kube: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = kube.request("POST", path, body=body)
    out.setdefault("apiVersion", body["apiVersion"])
    out.setdefault("kind", body["kind"])
    return out


def _event(kube: Any, pod: dict[str, Any], reason: str, message: str) -> str:
    from tests.k8s.emulator import now_rfc3339

    name = f"{pod['metadata']['name']}.{next(_n):x}"
    now = now_rfc3339()
    _post(
        kube,
        "/api/v1/namespaces/default/events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "namespace": "default",
                "uid": pod["metadata"]["uid"],
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
        },
    )
    return name


def _setup(pods: int) -> tuple[subprocess.Popen[str], Any, Any, list[dict[str, Any]]]:
    from tilt.k8s.events import EventsView
    from tilt.k8s.session import K8sSession
    from tilt.model import K8sObject, K8sTarget, Settings

    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    views: queue.Queue[tuple[float, EventsView]] = queue.Queue()
    session = K8sSession.connect(
        Settings(),
        on_view=lambda r, v: None,
        on_log=lambda r, line: None,
        on_events=lambda r, v: views.put((time.perf_counter(), v)),
        kubeconfig=_kubeconfig(port),
    )
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "web"}]},
            },
        },
    }
    target = K8sTarget(
        objects=(K8sObject(api_version="apps/v1", kind="Deployment", name="web", body=dep),)
    )
    applied = asyncio.run(session.deploy("web", target, {})).objects[0]
    kube = session.kube
    rs = _post(
        kube,
        "/apis/apps/v1/namespaces/default/replicasets",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "web-1",
                "namespace": "default",
                "ownerReferences": [_ref(applied)],
            },
            "spec": {"template": applied["spec"]["template"]},
        },
    )
    made = [
        _post(
            kube,
            "/api/v1/namespaces/default/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"web-1-{i:05x}",
                    "namespace": "default",
                    "labels": applied["spec"]["template"]["metadata"]["labels"],
                    "ownerReferences": [_ref(rs)],
                },
                "spec": applied["spec"]["template"]["spec"],
            },
        )
        for i in range(pods)
    ]
    session.events.wait_live()
    return proc, session, views, made


def bench_event_to_reason() -> None:
    proc, session, views, (pod,) = _setup(1)
    try:
        samples = []
        for i in range(41):
            msg = f"Readiness probe failed: attempt {i}"
            t = time.perf_counter()
            _event(session.kube, pod, "Unhealthy", msg)
            while True:
                at, v = views.get(timeout=10)
                if msg in v.reason:
                    break
            if i:  # the first warms the owner cache
                samples.append(at - t)
        samples.sort()
        print(
            f"event -> reason (Event POSTed to EventsView.reason): median "
            f"{statistics.median(samples) * 1000:.1f} ms, p95 "
            f"{samples[int(len(samples) * 0.95) - 1] * 1000:.1f} ms (40 events)"
        )
    finally:
        session.close()
        proc.terminate()
        proc.wait(10)


class SimClock:
    """Simulated epoch seconds: starts at the real now, moved by the benchmark."""

    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


def _stamp(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sim_event(kube: Any, pod: dict[str, Any], reason: str, message: str, t: float) -> str:
    name = f"{pod['metadata']['name']}.{next(_n):x}"
    _post(
        kube,
        "/api/v1/namespaces/default/events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "namespace": "default",
                "uid": pod["metadata"]["uid"],
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "count": 1,
            "firstTimestamp": _stamp(t),
            "lastTimestamp": _stamp(t),
        },
    )
    return name


def _rollout(session: Any, kube: Any, k: int, n_pods: int) -> list[dict[str, Any]]:
    """Redeploy with image ``web:tilt-k``: a new ReplicaSet and its pods (as the controller)."""
    from tilt.model import K8sObject, K8sTarget

    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "web"}]},
            },
        },
    }
    target = K8sTarget(
        objects=(K8sObject(api_version="apps/v1", kind="Deployment", name="web", body=dep),)
    )
    applied = asyncio.run(session.deploy("web", target, {"web": f"web:tilt-{k}"})).objects[0]
    rs = _post(
        kube,
        "/apis/apps/v1/namespaces/default/replicasets",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"web-r{k}",
                "namespace": "default",
                "ownerReferences": [_ref(applied)],
            },
            "spec": {"template": applied["spec"]["template"]},
        },
    )
    return [
        _post(
            kube,
            "/api/v1/namespaces/default/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"web-r{k}-{i:05x}",
                    "namespace": "default",
                    "labels": applied["spec"]["template"]["metadata"]["labels"],
                    "ownerReferences": [_ref(rs)],
                },
                "spec": applied["spec"]["template"]["spec"],
            },
        )
        for i in range(n_pods)
    ]


def bench_churn_memory(  # noqa: PLR0917 (one scenario, top to bottom)
    total: int = 10_000,
    sim_s: float = 3600.0,
    ttl_s: float = 3600.0,
    rollout_s: float = 600.0,
    n_pods: int = 20,
    mark_s: float = 360.0,
) -> None:
    from tilt.logstore import LogStore

    proc, session, _views, _ = _setup(0)
    kube = session.kube
    clock = SimClock()
    session.events.clock = clock  # the monitor's "now": readiness, ages, OOM times
    t0 = clock.t
    store = LogStore()
    store_lock = threading.Lock()

    def keyed(resource: str, line: str, key: str) -> None:  # as the engine's _append_event_log
        with store_lock:
            store.append(resource, line, span="event", key=key or None)

    session._on_event_log = keyed
    # The newest EventsView per resource, as the engine keeps it (`_setup`'s queue of every
    # view is for the latency benchmark: here it would hold thousands of views at once).
    latest: dict[str, Any] = {}
    session.events.on_view = latest.__setitem__
    try:
        # The API's side: event name -> (count, last time); expiry in order of last time.
        alive: dict[str, tuple[int, float]] = {}
        expiry: collections.deque[tuple[float, str]] = collections.deque()
        probe_of: dict[str, str] = {}  # pod uid -> its probe-failure Event
        expired = rollouts = deleted_pods = 0
        pods: list[dict[str, Any]] = []
        # "tilt's MB": without what this file allocates itself (its bookkeeping of the API's
        # side: every live Event's name and times), which a real cluster keeps, not tilt.
        tracemalloc.start()
        bench_only = [tracemalloc.Filter(False, __file__)]
        marks: list[tuple[float, int, int, int, int, int, int, int]] = []
        next_mark = mark_s
        next_rollout = 0.0
        wall0 = time.perf_counter()
        for i in range(total):
            sim = i * sim_s / total
            clock.t = t0 + sim
            if sim >= next_rollout:
                old = pods
                pods = _rollout(session, kube, rollouts + 1, n_pods)
                for p in old:
                    path = f"/api/v1/namespaces/default/pods/{p['metadata']['name']}"
                    kube.request("DELETE", path)
                    probe_of.pop(p["metadata"]["uid"], None)
                rollouts += 1
                deleted_pods += len(old)
                next_rollout += rollout_s
            pod = pods[i % len(pods)]
            uid = pod["metadata"]["uid"]
            if i % 5 < 2:  # a message of its own
                name = _sim_event(kube, pod, "BackOff", f"Back-off restarting #{i}", clock.t)
                alive[name] = (1, clock.t)
            elif uid not in probe_of:
                name = _sim_event(kube, pod, "Unhealthy", "Readiness probe failed: 503", clock.t)
                probe_of[uid] = name
                alive[name] = (1, clock.t)
            else:
                name = probe_of[uid]
                count = alive[name][0] + 1
                kube.request(
                    "PATCH",
                    f"/api/v1/namespaces/default/events/{name}",
                    body={"count": count, "lastTimestamp": _stamp(clock.t)},
                    content_type="application/merge-patch+json",
                )
                alive[name] = (count, clock.t)
            expiry.append((clock.t, name))
            sent = i + 1
            # The API's TTL: an Event goes once its last time is older than the TTL.
            while expiry and expiry[0][0] < clock.t - ttl_s:
                _, gone = expiry.popleft()
                if gone in alive and alive[gone][1] < clock.t - ttl_s:
                    del alive[gone]
                    kube.request("DELETE", f"/api/v1/namespaces/default/events/{gone}")
                    expired += 1
            if sim + sim_s / total >= next_mark or i == total - 1:
                next_mark += mark_s
                deadline = time.monotonic() + 60
                while session.events.received < sent and time.monotonic() < deadline:
                    time.sleep(0.01)
                gc.collect()
                cur, top = tracemalloc.get_traced_memory()  # top: the interval's peak
                tracemalloc.reset_peak()
                snap = tracemalloc.take_snapshot().filter_traces(bench_only)
                tilt_held = sum(st.size for st in snap.statistics("filename"))
                cached = sum(len(inf.cache) for inf in list(session.events._informers.values()))
                recs = len(session.events.view("web").events)
                with store_lock:
                    lines = len(store.lines("web"))
                marks.append(
                    (sim + sim_s / total, cur, top, tilt_held, cached, recs, lines, len(alive))
                )
        elapsed = time.perf_counter() - wall0
        tracemalloc.stop()
        peak = max(m[2] for m in marks)
        infs = list(session.events._informers.values())
        print(
            f"event informers: {sum(i.relists for i in infs)} relists, "
            f"{sum(i.reconnects for i in infs)} reconnects"
        )
        print(
            "simulated  traced MB  (peak since last)  tilt's MB  informer Events  records  "
            "log lines  API Events"
        )
        for sim, cur, top, held, cached, recs, lines, api in marks:
            print(
                f"{sim / 60:6.0f} min  {cur / 1e6:9.2f}  {top / 1e6:17.2f}  {held / 1e6:9.2f}  "
                f"{cached:15d}  {recs:7d}  {lines:9d}  {api:10d}"
            )
        helds = [m[3] for m in marks]
        half = len(helds) // 2
        print(
            f"churn: {total} events (received {session.events.received}) over "
            f"{sim_s / 60:.0f} simulated min in {elapsed:.0f} s wall (API TTL "
            f"{ttl_s / 60:.0f} min, {rollouts} rollouts, {deleted_pods} pods deleted, "
            f"{expired} events expired); traced peak {peak / 1e6:.2f} MB; tilt's share: last "
            f"{helds[-1] / 1e6:.2f} MB, second half {min(helds[half:]) / 1e6:.2f}-"
            f"{max(helds[half:]) / 1e6:.2f} MB; log store {store.total_bytes / 1e6:.2f} MB "
            f"counted against its {store.max_bytes / 2**20:.0f} MiB cap"
        )
    finally:
        session.close()
        proc.terminate()
        proc.wait(10)


def run() -> None:
    bench_event_to_reason()
    bench_churn_memory()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Kubernetes events benchmarks")
    parser.add_argument("--churn-only", action="store_true")
    parser.add_argument("--ttl-min", type=float, default=60.0, help="the API's event TTL")
    args = parser.parse_args()
    if args.churn_only:
        bench_churn_memory(ttl_s=args.ttl_min * 60)
    else:
        run()
