"""Save-to-served through the WHOLE engine on examples/compose (watcher -> plan -> sync).

Runs the real `tilt up --stream` on a copy of examples/compose with its ports moved to free
ones, waits until the web service serves, then saves web/public/index.html RUNS times (each
with new content) and measures, from just before the write, until an HTTP GET returns the new
content; and the same for api/app/message.txt (sync + restart_container). Finally `tilt down`.
Tilt, on the same compose service: 337 ms save-to-synced.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

RUNS = 20
RESTART_RUNS = 5
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str | None:
    try:
        # Short: while a container restarts, docker-proxy may accept and then stall.
        with urllib.request.urlopen(url, timeout=0.1) as resp:
            return str(resp.read().decode())
    except (OSError, http.client.HTTPException):  # e.g. cut off by the restart
        return None


def _wait_for(url: str, pred: object, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = _get(url)
        if body is not None and pred(body):  # type: ignore[operator]
            return time.perf_counter()
        time.sleep(0.002)
    raise TimeoutError(f"{url} did not answer as expected within {timeout_s} s")


def _stats(name: str, samples: list[float], target: str) -> None:
    ms = sorted(s * 1000 for s in samples)
    print(
        f"  {name}: min {ms[0]:.1f} ms  median {statistics.median(ms):.1f} ms  "
        f"max {ms[-1]:.1f} ms  ({len(ms)} saves){target}"
    )


def run() -> None:
    if shutil.which("docker") is None:
        print("  skipped: no docker CLI")
        return
    root = Path(tempfile.mkdtemp(prefix="tilt-bench-compose-"))
    project = root / "benchcompose"
    shutil.copytree(REPO / "examples/compose", project, ignore=shutil.ignore_patterns("busybox"))
    web_port, api_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(WEB_PORT=str(web_port), API_PORT=str(api_port))
    tilt = [sys.executable, "-m", "tilt"]
    log = open(root / "tilt.log", "w")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        [*tilt, "up", "--stream", "--port", "0", "-f", str(project / "Tiltfile")],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    web = f"http://127.0.0.1:{web_port}/"
    api = f"http://127.0.0.1:{api_port}/"
    try:
        _wait_for(web, lambda b: "Hello from web" in b, 120)
        _wait_for(api, bool, 60)
        index = project / "web/public/index.html"
        synced = []
        for i in range(RUNS):
            text = f"<p>save {i}</p>\n"
            time.sleep(0.4)  # each save starts a quiet period
            t0 = time.perf_counter()
            index.write_text(text)
            synced.append(_wait_for(web, lambda b, t=text: b == t, 20) - t0)
        message = project / "api/app/message.txt"
        restarted = []
        for i in range(RESTART_RUNS):
            text = f"bench message {i}"
            time.sleep(0.5)
            t0 = time.perf_counter()
            message.write_text(text + "\n")
            restarted.append(_wait_for(api, lambda b, t=text: t in b, 30) - t0)
        print("examples/compose through `tilt up` (watcher, plan, archive sync, HTTP check):")
        _stats("save -> served (web, sync)", synced, "   target <= 150 ms; Tilt 337 ms")
        _stats("save -> restarted and serving (api, sync + restart)", restarted, "")
        text = (root / "tilt.log").read_text()
        print(f"  fallbacks to a full rebuild in the whole run: {text.count('falling back')}")
        for line in text.splitlines():
            if "falling back" in line:
                print("   ", line)
    except TimeoutError as e:
        print(f"  FAILED: {e}")
        print(
            "  last lines of tilt:",
            *(root / "tilt.log").read_text().splitlines()[-15:],
            sep="\n    ",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(
            [*tilt, "down", "-f", str(project / "Tiltfile")],
            cwd=project,
            env=env,
            capture_output=True,
            check=False,
            timeout=120,
        )
        log.close()
        shutil.rmtree(root, ignore_errors=True)
