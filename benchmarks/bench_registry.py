"""Five services built and delivered to a real registry: parallel versus serial.

A local registry (Debian's ``docker-registry``) on 127.0.0.1; five FROM-scratch
services, each with busybox, a 4 MiB layer of its own random data and a
0.5 s ``RUN`` step. Every round writes a new nonce into each service, so every
image is really built and really pushed (new layers). One round = build each
image with `ImageBuilder` and deliver it with the `Push` destination (tag,
ask the registry, push), the two steps of one image in one slot, as an update
does. Figures: wall time with ``max_parallel`` 1, 3 (Tilt's default
``max_parallel_updates``) and 5, the ratios, and the time to deliver all five
again unchanged (the registry already has them: five HEAD-style manifest
checks, no push).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

N_SERVICES = 5
DATA_BYTES = 4 * 1024 * 1024
ROUNDS = 2
PREFIX = f"tilt-bench-reg-{uuid.uuid4().hex[:6]}"
REGISTRY_BIN = "/usr/bin/docker-registry"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_registry(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    root.mkdir(parents=True)
    (root / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n"
        f"  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [REGISTRY_BIN, "serve", str(root / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=1):
                return proc, host
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("docker-registry did not start") from None
            time.sleep(0.05)


def _generate(root: Path) -> Path:
    lines = []
    for i in range(N_SERVICES):
        svc = root / f"svc{i}"
        svc.mkdir(parents=True)
        shutil.copy("/bin/busybox", svc / "busybox")
        (svc / "Dockerfile").write_text(
            "FROM scratch\n"
            "COPY busybox /bin/busybox\n"
            "COPY data.bin /app/data.bin\n"
            "COPY nonce.txt /app/nonce.txt\n"
            'RUN ["/bin/busybox", "sleep", "0.5"]\n'
        )
        lines.append(f"docker_build('{PREFIX}/svc{i}', 'svc{i}')")
    tf = root / "Tiltfile"
    tf.write_text("\n".join(lines) + "\n")
    return tf


def _touch(root: Path) -> None:
    for i in range(N_SERVICES):
        svc = root / f"svc{i}"
        (svc / "data.bin").write_bytes(os.urandom(DATA_BYTES))
        (svc / "nonce.txt").write_text(uuid.uuid4().hex)


def run() -> None:
    from tilt.docker.build import BuildResult, ImageBuilder, build_all
    from tilt.docker.client import DockerUnavailableError, get_client
    from tilt.docker.destination import LocalImage
    from tilt.registry.destinations import Push
    from tilt.registry.discovery import RegistryHosting
    from tilt.tiltfile import load_tiltfile

    if not os.path.exists(REGISTRY_BIN):
        print(f"skipped: {REGISTRY_BIN} is not installed")
        return
    try:
        client = get_client()
    except DockerUnavailableError as e:
        print(f"skipped ({e})")
        return
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        proc, host = _start_registry(root / "registry")
        tf = _generate(root / "repo")
        images = list(load_tiltfile(str(tf)).images)
        builder = ImageBuilder()
        push = Push(registry=RegistryHosting(host=host))

        async def build_and_deliver(img: Any, refs: Any) -> BuildResult:
            r = await builder.build(img, on_output=lambda _: None, base_refs=refs)
            built = LocalImage(ref=r.ref, image_id=r.image_id, tag=r.ref.rsplit(":", 1)[1])
            await push.deliver(img, built, on_output=lambda _: None)
            return r

        async def round_(max_parallel: int) -> float:
            _touch(tf.parent)
            start = time.perf_counter()
            results = await build_all(images, build_and_deliver, max_parallel=max_parallel)
            wall = time.perf_counter() - start
            for ref, r in results.items():
                if not isinstance(r, BuildResult) or r.skipped:
                    raise RuntimeError(f"{ref}: {r!r}")
            return wall

        async def redeliver() -> float:
            built = [
                (img, await builder.build(img, on_output=lambda _: None)) for img in images
            ]  # all skipped: same content
            start = time.perf_counter()
            got = await asyncio.gather(
                *(
                    push.deliver(
                        img,
                        LocalImage(ref=b.ref, image_id=b.image_id, tag=b.ref.rsplit(":", 1)[1]),
                        on_output=lambda _: None,
                    )
                    for img, b in built
                )
            )
            wall = time.perf_counter() - start
            assert all(g.skipped for g in got), got
            return wall

        try:
            asyncio.run(round_(N_SERVICES))  # warm-up: busybox layers built and pushed once
            walls = {
                n: min(asyncio.run(round_(n)) for _ in range(ROUNDS)) for n in (1, 3, N_SERVICES)
            }
            again = min(asyncio.run(redeliver()) for _ in range(3))
            print(
                f"{N_SERVICES} services built and pushed ({DATA_BYTES // 2**20} MiB new layer and "
                f"a 0.5 s step each), best of {ROUNDS}:"
            )
            for n, wall in walls.items():
                print(
                    f"  max_parallel={n}: {wall:.2f} s"
                    + (f" (serial / this = {walls[1] / wall:.2f}x)" if n != 1 else "")
                )
            print(
                f"  all {N_SERVICES} delivered again unchanged (registry has them): {again:.3f} s"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            for img in client.api.images():
                for tag in img.get("RepoTags") or ():
                    if PREFIX in tag:
                        client.api.remove_image(tag, force=True)


if __name__ == "__main__":
    run()
