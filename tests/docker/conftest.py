"""Fixtures for the image-build tests: a real registry, busybox bases, Tiltfile loading.

Nothing is pulled from Docker Hub: base images are ``FROM scratch`` with the
host's static ``/bin/busybox`` copied in. Every image these tests create has a
repository starting with `IMAGE_PREFIX` (unique per session); they are all
removed at the end, by that prefix, and nothing else is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import write_tree
from tilt.model import ImageTarget, TiltfileResult
from tilt.tiltfile import load_tiltfile

T = TypeVar("T")

BUSYBOX = "/bin/busybox"
REGISTRY_BIN = "/usr/bin/docker-registry"
#: Repository prefix of every image the tests build (removed at session end).
IMAGE_PREFIX = f"tilt-test-img-{uuid.uuid4().hex[:8]}"


def run(coro: Coroutine[Any, Any, T], timeout_s: float = 90) -> T:
    """Run one coroutine to completion (no pytest-asyncio here)."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def load(root: Path, tiltfile: str, files: dict[str, str] | None = None) -> TiltfileResult:
    """Write ``files`` and a Tiltfile under ``root`` and load it with the real loader."""
    write_tree(root, {"Tiltfile": tiltfile, **(files or {})})
    return load_tiltfile(str(root / "Tiltfile"))


def image_of(result: TiltfileResult, ref: str) -> ImageTarget:
    return result.image(ref)


def copy_busybox(dest_dir: Path) -> None:
    """Put the static busybox at ``dest_dir/busybox`` (for ``COPY busybox /bin/busybox``)."""
    if not os.path.exists(BUSYBOX):
        pytest.fail(f"these tests need a static busybox at {BUSYBOX}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, dest_dir / "busybox")


def busybox_dockerfile(*lines: str) -> str:
    """A Dockerfile FROM scratch with busybox as /bin/sh, plus ``lines``."""
    return "\n".join(
        [
            "FROM scratch",
            "COPY busybox /bin/busybox",
            'RUN ["/bin/busybox", "ln", "-s", "/bin/busybox", "/bin/sh"]',
            *lines,
        ]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _remove_test_images() -> Iterator[None]:
    """At the end, remove every image whose repository starts with IMAGE_PREFIX."""
    yield
    with contextlib.suppress(Exception):
        import docker

        client = docker.from_env(timeout=30)
        for img in client.api.images():
            for tag in img.get("RepoTags") or ():
                # Registry copies are named with "_" for "/" (default_registry).
                if IMAGE_PREFIX in tag:
                    with contextlib.suppress(Exception):
                        client.api.remove_image(tag, force=True)
        client.close()


@pytest.fixture
def fresh_client() -> Iterator[None]:
    """Forget tilt's cached Docker clients before and after (DOCKER_HOST may change)."""
    from tilt.docker.client import reset_client

    reset_client()
    yield
    reset_client()


@contextlib.contextmanager
def serve_registry(root: Path, *, htpasswd: Path | None = None) -> Iterator[str]:
    """Run a real registry (Debian's docker-registry) on 127.0.0.1; yields ``host:port``.

    Args:
        root: A private folder for its config, storage and log.
        htpasswd: An htpasswd file (bcrypt entries): the registry then requires
            basic auth, as a private registry does.
    """
    if not os.path.exists(REGISTRY_BIN):
        pytest.fail(f"these tests need {REGISTRY_BIN} (the docker-registry package)")
    port = free_port()
    config = root / "config.yml"
    auth = f"auth:\n  htpasswd:\n    realm: tilt-test\n    path: {htpasswd}\n" if htpasswd else ""
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n" + auth
    )
    log = (root / "registry.log").open("wb")
    proc = subprocess.Popen(
        [REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}/v2/", timeout=1) as r:
                    if r.status == 200:
                        break
            except urllib.error.HTTPError as e:
                if e.code == 401 and htpasswd:  # up, and asking for credentials
                    break
                raise
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    pytest.fail(
                        "docker-registry did not start: "
                        + (root / "registry.log").read_text()[-2000:]
                    )
                time.sleep(0.05)
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real registry (Debian's docker-registry) on 127.0.0.1:<free port>; yields ``host:port``.

    The Docker engine treats 127.0.0.0/8 as an insecure registry, so it pushes
    over plain HTTP.
    """
    with serve_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


def registry_tags(host: str, repo: str) -> list[str]:
    """The tags a registry holds for ``repo`` (its HTTP API v2)."""
    import json

    with urllib.request.urlopen(f"http://{host}/v2/{repo}/tags/list", timeout=5) as r:
        data = json.loads(r.read())
    return sorted(data.get("tags") or [])
