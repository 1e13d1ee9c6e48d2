"""The live_update helper image builds (real Docker) and has the tools the ephemeral path uses."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from tilt.docker.build import ImageBuilder
from tilt.k8s.helper import DOCKERFILE, helper_image_target


def test_helper_context(tmp_path: Path) -> None:
    img = helper_image_target(str(tmp_path), ref="x/helper")
    assert img.ref == "x/helper"
    assert (Path(img.context) / "Dockerfile").read_text() == DOCKERFILE
    assert (Path(img.context) / "busybox").stat().st_size > 100_000


@pytest.mark.docker
def test_helper_image_builds_and_runs_tar(tmp_path: Path, docker_client: Any) -> None:
    ref = f"tilt-test-k8s-helper-{uuid.uuid4().hex[:8]}"
    img = helper_image_target(str(tmp_path), ref=ref)
    result = asyncio.run(ImageBuilder().build(img, on_output=lambda _line: None))
    try:
        out = docker_client.containers.run(
            result.ref, ["/bin/busybox", "tar", "--help"], entrypoint=[], remove=True, stderr=True
        )
        assert b"tar" in out
    finally:
        for tag in docker_client.images.get(result.ref).tags:
            docker_client.images.remove(tag, force=True)
