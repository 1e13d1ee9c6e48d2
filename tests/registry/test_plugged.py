"""The cluster-aware destinations plugged into the engine's image builds, on a real engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import copy_busybox
from tests.registry.conftest import PREFIX
from tilt.engine.images import ImageBuilds
from tilt.process import ProcessSupervisor
from tilt.registry.decision import DeliveryDecision, DeliveryMode
from tilt.registry.destinations import cluster_destinations
from tilt.registry.discovery import RegistryHosting
from tilt.registry.v2 import remote_config_digest
from tilt.tiltfile import load_tiltfile


@pytest.mark.usefixtures("fresh_client")
def test_image_builds_push_through_the_cluster_decision(
    tmp_path: Path,
    plain_registry: str,
    docker_config: Callable[..., Path],
    docker_client: Any,
) -> None:
    docker_config()
    copy_busybox(tmp_path / "app")
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
    (tmp_path / "app" / "nonce").write_text(str(tmp_path))
    name = f"{PREFIX}/plugged"
    # The Tiltfile's default_registry is not the cluster's: the decision (made from the
    # cluster) wins, as `probe` decides it.
    (tmp_path / "Tiltfile").write_text(
        f"default_registry('tiltfile.example:5000')\ndocker_build('{name}', 'app')\n"
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    reg = RegistryHosting(host=plain_registry, host_from_container_runtime="registry:5000")
    decision = DeliveryDecision(mode=DeliveryMode.PUSH, reason="r", registry=reg)
    supervisor = ProcessSupervisor()
    builds = ImageBuilds(supervisor=supervisor)
    builds.set_graph(result.images, result.settings)
    builds.set_destinations(cluster_destinations(decision, supervisor=supervisor))
    lines: list[str] = []

    async def go() -> Any:
        return await builds.build(list(result.images), resource="r", on_output=lines.append)

    built = asyncio.run(asyncio.wait_for(go(), 120))[name]
    escaped = name.replace("/", "_")
    tag = built.ref.rsplit(":", 1)[1]
    assert built.pushed_ref == f"{plain_registry}/{escaped}:{tag}"
    assert built.cluster_ref == f"registry:5000/{escaped}:{tag}"
    assert remote_config_digest(plain_registry, escaped, tag, insecure=True) == built.image_id
    assert any(line.endswith(f"Pushing {built.pushed_ref}") for line in lines), lines
