"""Fixtures for the Compose runtime tests: busybox images FROM scratch, unique projects.

Nothing is pulled from a registry: every image is ``FROM scratch`` with the
host's static ``/bin/busybox`` copied in. Every test gets its own Compose
project name; whatever it created (containers, networks, volumes) is removed
afterwards by label, and the images at the end of the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tilt.docker.compose import PROJECT_LABEL

T = TypeVar("T")

BUSYBOX = "/bin/busybox"
_IMAGE_PREFIX = "tilt-test-compose"
_built: set[str] = set()


def run(coro: Coroutine[Any, Any, T], timeout_s: float = 60) -> T:
    """Run one coroutine to completion (the tests are sync; pytest-asyncio is not used)."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def build_image(client: Any, variant: str = "full", extra: str = "") -> str:
    """Build (once per session) ``tilt-test-compose:<variant>`` FROM scratch + busybox.

    ``full`` has busybox's applets installed in /bin (sh, rm, ...); ``bare`` has
    only /bin/busybox - no sh, no rm, no tar - like a distroless image.
    """
    tag = f"{_IMAGE_PREFIX}:{variant}"
    if tag in _built:
        return tag
    if not os.path.exists(BUSYBOX):
        pytest.fail(f"these tests need a static busybox at {BUSYBOX}")
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(BUSYBOX, os.path.join(d, "busybox"))
        lines = ["FROM scratch", "COPY busybox /bin/busybox"]
        if variant == "full":
            lines.append('RUN ["/bin/busybox", "--install", "-s", "/bin"]')
            lines.append('RUN ["/bin/busybox", "mkdir", "-p", "/tmp"]')
        lines.append(extra)
        Path(d, "Dockerfile").write_text("\n".join(lines) + "\n")
        client.images.build(path=d, tag=tag, rm=True, forcerm=True)
    _built.add(tag)
    return tag


@pytest.fixture(scope="session", autouse=True)
def _remove_test_images() -> Iterator[None]:
    yield
    if not _built:
        return
    import docker

    with contextlib.suppress(Exception):
        client = docker.from_env()
        for tag in _built:
            with contextlib.suppress(Exception):
                client.images.remove(tag, force=True)
        client.close()


def sweep_project(client: Any, name: str) -> None:
    """Remove every container, network and volume labelled with Compose project ``name``."""
    flt = {"label": [f"{PROJECT_LABEL}={name}"]}
    for c in client.api.containers(all=True, filters=flt):
        with contextlib.suppress(Exception):
            client.api.remove_container(c["Id"], force=True, v=True)
    for n in client.api.networks(filters=flt):
        with contextlib.suppress(Exception):
            client.api.remove_network(n["Id"])
    for v in (client.api.volumes(filters=flt) or {}).get("Volumes") or []:
        with contextlib.suppress(Exception):
            client.api.remove_volume(v["Name"], force=True)


@pytest.fixture
def project_name(docker_client: Any) -> Iterator[str]:
    """A unique Compose project name; everything labelled with it is removed afterwards."""
    name = f"tilttest{uuid.uuid4().hex[:10]}"
    yield name
    sweep_project(docker_client, name)


@pytest.fixture
def images(docker_client: Any) -> Callable[[str], str]:
    """``images("full")`` / ``images("bare")``: the tag of a busybox test image."""
    return lambda variant="full": build_image(docker_client, variant)
