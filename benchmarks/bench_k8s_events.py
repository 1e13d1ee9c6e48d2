"""Kubernetes events (issue 12) against the emulated API server in its own process.

- event -> reason: a Warning Event POSTed to the API until the resource's EventsView (through
  K8sSession: watch, owner-chain attribution, record, reason) names it; median and p95 of 40.
- memory under churn: 10,000 Events on 20 pods of one resource, each with its own message (no
  folding: the worst case), the API keeping the newest 500 as its TTL would; this process's
  traced memory (client, informer cache, monitor) after each 2,000.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import queue
import statistics
import subprocess
import sys
import tempfile
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


def bench_churn_memory(total: int = 10_000, api_keeps: int = 500) -> None:
    proc, session, views, pods = _setup(20)
    kube = session.kube
    try:
        live: list[str] = []
        tracemalloc.start()
        marks = []
        t0 = time.perf_counter()
        for i in range(total):
            live.append(_event(kube, pods[i % len(pods)], "Unhealthy", f"probe failed #{i}"))
            if len(live) > api_keeps:  # the API's event TTL
                kube.request("DELETE", f"/api/v1/namespaces/default/events/{live.pop(0)}")
            if (i + 1) % 2000 == 0:
                while not views.empty():
                    views.get_nowait()
                deadline = time.monotonic() + 10
                while session.events.received < i + 1 and time.monotonic() < deadline:
                    time.sleep(0.01)
                gc.collect()
                cur, _ = tracemalloc.get_traced_memory()
                recs = len(session.events.view("web").events)
                marks.append((i + 1, cur, recs))
        elapsed = time.perf_counter() - t0
        tracemalloc.stop()
        for n, cur, recs in marks:
            print(f"after {n:>6} events: traced {cur / 1e6:6.2f} MB, records kept {recs}")
        print(
            f"churn of {total} events ({total / elapsed:.0f}/s, API keeps {api_keeps}): "
            f"growth 2k->10k {(marks[-1][1] - marks[0][1]) / 1e6:+.2f} MB"
        )
    finally:
        session.close()
        proc.terminate()
        proc.wait(10)


def run() -> None:
    bench_event_to_reason()
    bench_churn_memory()


if __name__ == "__main__":
    run()
