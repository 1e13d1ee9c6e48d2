"""live_update on a Compose web service: save-to-synced and save-to-restarted, vs a rebuild.

A busybox httpd service (FROM scratch, port published on 127.0.0.1) runs through
`docker compose`. Each run saves one file and then measures what this layer
controls - planning (`tilt.liveupdate`), the archive upload and exec/restart
(`tilt.docker.sync`) - not file-watch latency or engine scheduling:

- save -> synced: the file is in the container (the archive API returned);
- save -> served: an HTTP GET of the file returns the new content;
- save -> restarted: sync + restart_container(), until the server answers again;
- full rebuild: docker build (cached except the changed layer) + compose up
  --force-recreate, until the server answers with the new content.

Tilt, measured here on the same compose service: 337 ms save-to-synced.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

RUNS = 15
REBUILD_RUNS = 5

COMPOSE = """
services:
  web:
    image: {image}
    stop_signal: SIGKILL
    ports: ["127.0.0.1:{port}:8080"]
"""
DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY public /www
ENTRYPOINT ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_until(url: str, want: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.read().decode() == want:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} never served {want!r}")
        time.sleep(0.005)


def _fmt(name: str, times: list[float], note: str = "") -> str:
    ms = [t * 1000 for t in times]
    return (
        f"  {name:<22} min {min(ms):6.1f} ms  median {statistics.median(ms):6.1f} ms  "
        f"max {max(ms):6.1f} ms{note}"
    )


def run() -> None:
    import docker

    from tilt.docker.compose import ComposeProject
    from tilt.docker.sync import ContainerSyncer
    from tilt.liveupdate import plan_live_update
    from tilt.model import RestartContainerStep, SyncStep

    client: Any = docker.from_env()
    name = f"tiltbench{uuid.uuid4().hex[:8]}"
    image = f"tilt-bench-compose-{name}"
    port = _free_port()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "public").mkdir()
        (root / "public" / "index.html").write_text("v0\n")
        shutil.copy("/bin/busybox", root / "busybox")
        (root / "Dockerfile").write_text(DOCKERFILE)
        (root / "compose.yaml").write_text(COMPOSE.format(image=image, port=port))
        client.images.build(path=d, tag=f"{image}:v0", rm=True)
        project = ComposeProject(
            name=name,
            config_files=(str(root / "compose.yaml"),),
            project_dir=d,
            override_dir=str(root / ".ov"),
        )
        url = f"http://127.0.0.1:{port}/index.html"
        try:
            up = asyncio.run(project.up("web", image_override=f"{image}:v0"))
            if not up.ok:
                print("compose up failed:", up.error())
                return
            _get_until(url, "v0\n")
            cid = project.container_id("web", client)
            sync_only = (SyncStep(local_path=str(root / "public"), remote_path="/www"),)
            with_restart = (*sync_only, RestartContainerStep())
            syncer = ContainerSyncer(client, cid)
            index = str(root / "public" / "index.html")

            synced: list[float] = []
            served: list[float] = []
            for i in range(RUNS):
                want = f"sync {i}\n"
                t0 = time.perf_counter()
                Path(index).write_text(want)
                res = syncer.apply_blocking(plan_live_update(sync_only, [index]))
                t1 = time.perf_counter()
                assert res.ok, res.fall_back
                _get_until(url, want)
                synced.append(t1 - t0)
                served.append(time.perf_counter() - t0)

            restarted: list[float] = []
            for i in range(RUNS):
                want = f"restart {i}\n"
                t0 = time.perf_counter()
                Path(index).write_text(want)
                res = syncer.apply_blocking(plan_live_update(with_restart, [index]))
                assert res.ok and res.restarted, res.fall_back
                _get_until(url, want)
                restarted.append(time.perf_counter() - t0)

            rebuilt: list[float] = []
            for i in range(REBUILD_RUNS):
                want = f"rebuild {i}\n"
                t0 = time.perf_counter()
                Path(index).write_text(want)
                tag = f"{image}:r{i}"
                client.images.build(path=d, tag=tag, rm=True)
                up = asyncio.run(project.up("web", image_override=tag))
                assert up.ok, up.error()
                _get_until(url, want)
                rebuilt.append(time.perf_counter() - t0)

            print(
                "live_update of a busybox httpd Compose service "
                f"({RUNS} runs; rebuild {REBUILD_RUNS}):"
            )
            print(_fmt("save -> synced", synced, "   (target <= 150 ms; Tilt: 337 ms)"))
            print(_fmt("save -> served (HTTP)", served))
            print(_fmt("save -> restarted", restarted, "   (sync + restart_container, serving)"))
            print(_fmt("full rebuild+recreate", rebuilt, "   (docker build + compose up)"))
        finally:
            asyncio.run(project.down(delete_volumes=True))
            for img in client.images.list(name=image):
                for tag in img.tags:
                    client.images.remove(tag, force=True)
            client.close()


if __name__ == "__main__":
    run()
