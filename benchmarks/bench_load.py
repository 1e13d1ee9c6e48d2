"""Load a generated Tiltfile of 1,000 local resources, 200 docker_builds and 200
Deployments, as a whole `tilt dump tiltfile` process (Tilt: 0.17-0.21 s here)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_LOCAL, N_IMAGES, N_DEPLOY = 1000, 200, 200
RUNS = 15


def generate(root: Path) -> Path:
    lines = []
    docs = []
    for i in range(N_IMAGES):
        ctx = root / "services" / f"svc{i}"
        ctx.mkdir(parents=True)
        (ctx / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
        (ctx / ".dockerignore").write_text("node_modules\n*.log\n")
        lines.append(f"docker_build('registry.local/svc{i}', 'services/svc{i}', ignore=['tmp'])")
    for i in range(N_DEPLOY):
        img = f"registry.local/svc{i % N_IMAGES}"
        docs.append(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            f"  name: deploy{i}\n  labels:\n    app: deploy{i}\n"
            "spec:\n  replicas: 1\n  selector:\n    matchLabels:\n"
            f"      app: deploy{i}\n  template:\n    metadata:\n      labels:\n"
            f"        app: deploy{i}\n    spec:\n      containers:\n"
            f"      - name: main\n        image: {img}\n        ports:\n"
            "        - containerPort: 8080\n"
        )
    (root / "k8s.yaml").write_text("---\n".join(docs))
    lines.append("k8s_yaml('k8s.yaml')")
    for i in range(N_LOCAL):
        dep = f", resource_deps=['local{i - 1}']" if i % 10 else ""
        lines.append(
            f"local_resource('local{i}', cmd='echo {i}', deps=['src/{i}'], "
            f"labels=['group{i % 7}']{dep})"
        )
    tf = root / "Tiltfile"
    tf.write_text("\n".join(lines) + "\n")
    return tf


def run() -> None:
    with tempfile.TemporaryDirectory() as d:
        tf = generate(Path(d))
        cmd = [sys.executable, "-m", "tilt", "dump", "tiltfile", "-f", str(tf)]
        # As users run it: with byte-code caching (some shells here disable it).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0:
            print("load failed:", proc.stderr[:2000])
            return
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            subprocess.run(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env
            )
            times.append(time.perf_counter() - t0)
        print(
            f"tilt dump tiltfile, {N_LOCAL} local + {N_IMAGES} docker_build + "
            f"{N_DEPLOY} Deployments, {RUNS} runs:"
        )
        print(
            f"  min {min(times):.3f} s  median {statistics.median(times):.3f} s  "
            f"max {max(times):.3f} s   (Tilt: 0.17-0.21 s)"
        )
