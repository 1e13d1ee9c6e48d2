"""Kubernetes layer against the emulated API server (tests/k8s/emulator.py).

- apply of 50 objects (20 ConfigMaps, 15 Deployments, 15 Services; kind order kept), serial
  (one request at a time) vs parallel (objects of one kind 8 at a time). The emulator runs in
  its own process (so its work does not share our GIL) with no added latency and with 10 ms per
  request, about what a local cluster's API server takes for a server-side apply.
- event -> status: a pod status change written to the API until the PodMonitor's view of the
  resource shows it (watch, attribution, status derivation), median and p95.
- live_update by exec, save -> synced: one changed file through ExecUpdater.copy_tar into a
  chroot "container" behind the emulated exec websocket (root only).
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = """
import sys, time
from tests.k8s.emulator import Emulator
e = Emulator(bookmark_interval_s=5).start()
e.latency_s = float(sys.argv[1])
print(e.port, flush=True)
sys.stdin.read()
"""


def _objects() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for i in range(20):
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cfg-{i}"},
                "data": {"k": "v" * 200},
            }
        )
    for i in range(15):
        objs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"svc-{i}"},
                "spec": {
                    "selector": {"matchLabels": {"app": f"svc-{i}"}},
                    "template": {
                        "metadata": {"labels": {"app": f"svc-{i}"}},
                        "spec": {"containers": [{"name": "app", "image": f"svc-{i}"}]},
                    },
                },
            }
        )
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"svc-{i}"},
                "spec": {"selector": {"app": f"svc-{i}"}, "ports": [{"port": 80}]},
            }
        )
    return objs


def _client(port: int) -> Any:
    import yaml

    from tilt.k8s.client import KubeClient, load_context

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
    ctx, conf = load_context(kubeconfig=str(cfg_path))
    return KubeClient(conf, namespace=ctx.namespace)


def bench_apply() -> None:
    from tilt.k8s.apply import Applier, prepare_objects

    objs = prepare_objects(_objects(), {f"svc-{i}": f"svc-{i}:tilt-1" for i in range(15)})
    for latency in (0.0, 0.010):
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(latency)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            port = int(proc.stdout.readline())
            kube = _client(port)
            results: dict[int, list[float]] = {1: [], 8: []}
            for run in range(6):
                for par in (1, 8):
                    t = time.perf_counter()
                    asyncio.run(Applier(kube, parallelism=par, upsert_timeout_s=120).apply(objs))
                    if run:  # the first round warms discovery and connections
                        results[par].append(time.perf_counter() - t)
            s, p = statistics.median(results[1]), statistics.median(results[8])
            print(
                f"apply 50 objects, API latency {latency * 1000:.0f} ms/request: "
                f"serial {s * 1000:.0f} ms, parallel(8) {p * 1000:.0f} ms, "
                f"ratio {s / p:.2f}x (median of 5)"
            )
            kube.close()
        finally:
            proc.terminate()
            proc.wait(10)


def bench_event_to_status() -> None:
    import yaml

    from tests.k8s.cluster import rollout, running
    from tests.k8s.emulator import Emulator
    from tilt.k8s.apply import Applier, prepare_objects
    from tilt.k8s.client import KubeClient, load_context
    from tilt.k8s.monitor import PodMonitor
    from tilt.k8s.pods import Readiness

    emu = Emulator(bookmark_interval_s=5).start()
    try:
        p = Path(tempfile.mkdtemp()) / "kubeconfig"
        p.write_text(yaml.safe_dump(emu.kubeconfig()))
        ctx, cfg = load_context(kubeconfig=str(p))
        kube = KubeClient(cfg, namespace=ctx.namespace)
        dep = _objects()[20]
        applied = asyncio.run(Applier(kube).apply(prepare_objects([dep])))
        views: queue.Queue[Any] = queue.Queue()
        mon = PodMonitor(kube, lambda r, v: views.put((time.perf_counter(), v)))
        mon.track("svc", applied.objects)
        _, (pod,) = rollout(emu, applied.objects[0])
        name = pod["metadata"]["name"]
        samples = []
        for i in range(40):
            ready = i % 2 == 0
            t = time.perf_counter()
            emu.patch_status("Pod", name, running(ready=ready))
            want = Readiness.READY if ready else Readiness.WAITING
            while True:
                at, v = views.get(timeout=10)
                if v.pods and v.readiness is want:
                    samples.append(at - t)
                    break
        mon.close()
        samples.sort()
        print(
            f"event -> status (pod status written to PodMonitor view): median "
            f"{statistics.median(samples) * 1000:.1f} ms, p95 "
            f"{samples[int(len(samples) * 0.95) - 1] * 1000:.1f} ms (40 changes)"
        )
    finally:
        emu.stop()


def bench_exec_sync() -> None:
    if os.geteuid() != 0:
        print("live_update by exec: skipped (chroot needs root)")
        return
    import io
    import tarfile

    import yaml

    from tests.k8s.emulator import Emulator, ExecResult
    from tilt.k8s.client import KubeClient, load_context
    from tilt.k8s.exec_updater import ExecUpdater

    tmp = Path(tempfile.mkdtemp())
    root = tmp / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "app").mkdir()
    shutil.copy("/bin/busybox", root / "bin/busybox")
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    emu = Emulator().start()

    def handler(pod: Any, container: str, argv: list[str], stdin: bytes) -> ExecResult:
        p = subprocess.run(
            [chroot, str(root), *argv],
            input=stdin,
            capture_output=True,
            env={"PATH": "/bin"},
            check=False,
        )
        if p.returncode == 127 and b"failed to run command" in p.stderr:
            return ExecResult(error=f'exec: "{argv[0]}": executable file not found in $PATH')
        return ExecResult(stdout=p.stdout, stderr=p.stderr, exit_code=p.returncode)

    emu.exec_handler = handler
    emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "app", "image": "x"}]},
            "status": {"phase": "Running"},
        }
    )
    try:
        p = tmp / "kubeconfig"
        p.write_text(yaml.safe_dump(emu.kubeconfig()))
        _, cfg = load_context(kubeconfig=str(p))
        kube = KubeClient(cfg)
        for label, links in (("tar", True), ("busybox tar (no tar in the image)", False)):
            for a in ("sh", "tar"):
                (root / "bin" / a).unlink(missing_ok=True)
                if links:
                    (root / "bin" / a).symlink_to("busybox")
            up = ExecUpdater(kube, namespace="default", pod="web", container="app")
            samples = []
            for i in range(15):
                src = tmp / "index.html"
                src.write_text(f"<h1>v{i}</h1>\n")
                t = time.perf_counter()
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as tf:
                    tf.add(src, arcname="app/index.html")
                up.copy_tar(buf.getvalue())
                samples.append(time.perf_counter() - t)
                assert (root / "app/index.html").read_text() == f"<h1>v{i}</h1>\n"
            print(
                f"live_update by exec, save -> synced, {label}: median "
                f"{statistics.median(samples[1:]) * 1000:.1f} ms (14 runs after the probe)"
            )
    finally:
        emu.stop()


def run() -> None:
    bench_apply()
    bench_event_to_status()
    bench_exec_sync()


if __name__ == "__main__":
    run()
