"""Image destinations: ref rewriting (table), and each destination against real parts.

Push and the user command push to a real registry on 127.0.0.1. ``kind`` and
``k3d`` are not installed here: the "not installed" error is tested for real,
and the argv they are given through a recording script on PATH (the boundary
we cannot run).
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.registry.conftest import Image
from tilt.docker.build import BuildError
from tilt.docker.destination import ImageDestination, LocalImage
from tilt.model import ImageBuildKind, ImageTarget, SourceLocation
from tilt.process import ProcessSupervisor
from tilt.registry.decision import DeliveryDecision, DeliveryMode
from tilt.registry.destinations import (
    DeliveredImage,
    K3dImport,
    KeepLocal,
    KindLoad,
    Push,
    ToolMissingError,
    UserCommand,
    destination_for,
    rewrite_ref,
)
from tilt.registry.discovery import RegistryHosting
from tilt.registry.v2 import remote_config_digest

H = RegistryHosting(host="localhost:5000")
KIND_REG = RegistryHosting(host="localhost:5001", host_from_container_runtime="kind-registry:5000")


@pytest.mark.parametrize(
    ("image_ref", "local_ref", "registry", "push_ref", "cluster_ref"),
    [
        ("app", "app:tilt-1", None, "app:tilt-1", "app:tilt-1"),
        ("app", "app:tilt-1", H, "localhost:5000/app:tilt-1", "localhost:5000/app:tilt-1"),
        (
            "gcr.io/proj/app",
            "gcr.io/proj/app:tilt-1",
            H,
            "localhost:5000/gcr.io_proj_app:tilt-1",
            "localhost:5000/gcr.io_proj_app:tilt-1",
        ),
        ("docker.io/library/redis", "redis:tilt-1", H, "localhost:5000/redis:tilt-1", None),
        # already under the registry: not renamed
        ("localhost:5000/app", "localhost:5000/app:tilt-1", H, "localhost:5000/app:tilt-1", None),
        # the cluster pulls from another host (kind's registry inside the cluster network)
        (
            "team/app",
            "team/app:tilt-1",
            KIND_REG,
            "localhost:5001/team_app:tilt-1",
            "kind-registry:5000/team_app:tilt-1",
        ),
        (
            "localhost:5001/app",
            "localhost:5001/app:tilt-1",
            KIND_REG,
            "localhost:5001/app:tilt-1",
            "kind-registry:5000/app:tilt-1",
        ),
        # single_name: one repository, the name moves into the tag
        (
            "team/app",
            "team/app:tilt-1",
            RegistryHosting(host="gcr.io/proj", single_name="dev"),
            "gcr.io/proj/dev:team_app-tilt-1",
            None,
        ),
        (
            "app",
            "app:tilt-1",
            RegistryHosting(
                host="localhost:5001", host_from_container_runtime="r:5000", single_name="all"
            ),
            "localhost:5001/all:app-tilt-1",
            "r:5000/all:app-tilt-1",
        ),
    ],
)
def test_rewrite_ref(
    image_ref: str,
    local_ref: str,
    registry: RegistryHosting | None,
    push_ref: str,
    cluster_ref: str | None,
) -> None:
    assert rewrite_ref(image_ref, local_ref, registry) == (push_ref, cluster_ref or push_ref)


def target(ref: str) -> ImageTarget:
    return ImageTarget(
        ref=ref,
        kind=ImageBuildKind.DOCKER,
        context=".",
        location=SourceLocation(file="Tiltfile", line=1),
    )


def deliver(dest: ImageDestination, image: Image) -> tuple[DeliveredImage, list[str]]:
    lines: list[str] = []
    built = LocalImage(ref=image.local_ref, image_id=image.image_id, tag="tilt-test")

    async def go() -> DeliveredImage:
        got = dest.deliver(target(image.image_ref), built, on_output=lines.append)
        return await asyncio.wait_for(got, 120)

    return asyncio.run(go()), lines


@pytest.mark.usefixtures("fresh_client")
def test_push_destination_with_single_name_and_cluster_host(
    image: Image, plain_registry: str, docker_config: Callable[..., Path]
) -> None:
    docker_config()
    reg = RegistryHosting(
        host=plain_registry, host_from_container_runtime="registry.internal:5000", single_name="dev"
    )
    escaped = image.image_ref.replace("/", "_")
    got, _ = deliver(Push(registry=reg), image)
    assert got.pushed_ref == f"{plain_registry}/dev:{escaped}-tilt-test"
    assert got.cluster_ref == f"registry.internal:5000/dev:{escaped}-tilt-test"
    assert not got.skipped
    tag = f"{escaped}-tilt-test"
    assert remote_config_digest(plain_registry, "dev", tag, insecure=True) == image.image_id
    again, _ = deliver(Push(registry=reg), image)
    assert again.skipped


@pytest.mark.usefixtures("fresh_client")
def test_keep_local_tags_the_registry_name(image: Image, docker_client: Any) -> None:
    got, _ = deliver(KeepLocal(registry=H), image)
    assert got.pushed_ref == ""
    assert got.cluster_ref == f"localhost:5000/{image.image_ref.replace('/', '_')}:tilt-test"
    assert docker_client.api.inspect_image(got.cluster_ref)["Id"] == image.image_id
    plain, _ = deliver(KeepLocal(), image)
    assert plain.cluster_ref == image.local_ref


@pytest.mark.usefixtures("fresh_client")
def test_user_command_pushes_with_expected_ref(
    image: Image,
    plain_registry: str,
    docker_config: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """image_push_cmd: the user's own command, here the docker CLI, given $EXPECTED_REF."""
    docker_config()
    env_file = tmp_path / "env.txt"
    cmd = (
        f'echo "$EXPECTED_REF $EXPECTED_REGISTRY $EXPECTED_IMAGE $EXPECTED_TAG $TILT_LOCAL_REF"'
        f' > {env_file} && docker push "$EXPECTED_REF"'
    )
    dest = UserCommand(
        argv=("sh", "-c", cmd),
        supervisor=ProcessSupervisor(),
        registry=RegistryHosting(host=plain_registry),
    )
    got, lines = deliver(dest, image)
    escaped = image.image_ref.replace("/", "_")
    assert got.mode is DeliveryMode.COMMAND
    assert got.pushed_ref == f"{plain_registry}/{escaped}:tilt-test"
    assert env_file.read_text().split() == [
        got.pushed_ref,
        plain_registry,
        escaped,
        "tilt-test",
        image.local_ref,
    ]
    assert lines[0].startswith("Running image_push_cmd 'sh -c ")
    assert remote_config_digest(plain_registry, escaped, "tilt-test", insecure=True) == (
        image.image_id
    )


def test_user_command_failure_shows_its_output() -> None:
    dest = UserCommand(argv=("sh", "-c", "echo nope >&2; exit 3"), supervisor=ProcessSupervisor())
    fake = Image(image_ref="app", local_ref="app:tilt-1", image_id="sha256:" + "0" * 64)
    with pytest.raises(BuildError) as info:
        deliver(dest, fake)
    assert info.value.step == "image_push_cmd"
    assert "nope" in info.value.output
    assert "exit" in info.value.message


@pytest.fixture
def path_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Put a recording script named ``tool`` first on PATH; returns the file it writes argv to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def add(tool: str) -> Path:
        record = tmp_path / f"{tool}.argv"
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "loading $3"\necho "$@" > {record}\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return record

    return add


FAKE = Image(image_ref="app", local_ref="app:tilt-1", image_id="sha256:" + "0" * 64)


def test_kind_load_argv(path_with: Callable[[str], Path]) -> None:
    record = path_with("kind")
    got, lines = deliver(KindLoad(cluster_name="dev", supervisor=ProcessSupervisor()), FAKE)
    assert record.read_text().split() == ["load", "docker-image", "app:tilt-1", "--name", "dev"]
    assert got.cluster_ref == "app:tilt-1"
    assert lines == ["Loading app:tilt-1 into kind cluster 'dev'", "loading app:tilt-1"]


def test_k3d_import_argv(path_with: Callable[[str], Path]) -> None:
    record = path_with("k3d")
    got, _ = deliver(K3dImport(cluster_name="k3s-default", supervisor=ProcessSupervisor()), FAKE)
    assert record.read_text().split() == [
        "image",
        "import",
        "app:tilt-1",
        "--cluster",
        "k3s-default",
    ]
    assert got.mode is DeliveryMode.K3D_IMPORT


@pytest.mark.parametrize("tool", ["kind", "k3d"])
def test_tool_not_installed(tool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither kind nor k3d here
    cls = KindLoad if tool == "kind" else K3dImport
    with pytest.raises(ToolMissingError) as info:
        deliver(cls(cluster_name="dev", supervisor=ProcessSupervisor()), FAKE)
    msg = str(info.value)
    assert f"`{tool}` is not installed (not found on PATH)" in msg
    assert f"the {tool} cluster 'dev' has no registry" in msg
    assert "docs/registries.md" in msg


@pytest.mark.parametrize(
    ("mode", "cls"),
    [
        (DeliveryMode.NONE, KeepLocal),
        (DeliveryMode.PUSH, Push),
        (DeliveryMode.KIND_LOAD, KindLoad),
        (DeliveryMode.K3D_IMPORT, K3dImport),
        (DeliveryMode.COMMAND, UserCommand),
    ],
)
def test_destination_for(mode: DeliveryMode, cls: type) -> None:
    decision = DeliveryDecision(mode=mode, reason="r", registry=H, cluster_name="c")
    dest = destination_for(decision, supervisor=ProcessSupervisor(), user_argv=("true",))
    assert isinstance(dest, cls)
    assert dest.mode is mode


@pytest.mark.parametrize(
    ("kw", "cls"),
    [
        ({}, Push),
        ({"disable_push": True}, KeepLocal),
        ({"skips_local_docker": True}, KeepLocal),
    ],
)
def test_custom_build_that_delivers_itself_stays(kw: dict[str, bool], cls: type) -> None:
    from dataclasses import replace

    from tilt.registry.destinations import destination_for_image

    image = replace(target("app"), kind=ImageBuildKind.CUSTOM, **kw)
    decision = DeliveryDecision(mode=DeliveryMode.PUSH, reason="r", registry=H)
    assert isinstance(destination_for_image(image, decision, supervisor=ProcessSupervisor()), cls)
