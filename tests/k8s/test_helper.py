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


def test_helper_image_is_made_once_on_demand_and_says_why_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`HelperImage`: built and delivered once (from an updater's thread); a failed build is
    the reason and the next call tries again; no static busybox is final and builds nothing."""
    from tilt.engine.k8s_helper import HelperImage, HelperImageError
    from tilt.image_build import BuildError, BuildResult
    from tilt.model import ImageTarget

    calls: list[str] = []
    fail = [True]

    async def build(target: ImageTarget, log: Any) -> BuildResult:
        calls.append(target.ref)
        if fail[0]:
            raise BuildError(target.ref, "push refused", step="push")
        return BuildResult(
            image_ref=target.ref, ref=f"{target.ref}:tilt-1", cluster_ref="reg:5000/h:tilt-1"
        )

    async def scenario() -> None:
        helper = HelperImage(build, asyncio.get_running_loop())
        lines: list[str] = []
        with pytest.raises(HelperImageError, match=r"building or delivering it failed: .*push"):
            await asyncio.to_thread(helper.ref_for_cluster, lines.append)
        fail[0] = False
        assert await asyncio.to_thread(helper.ref_for_cluster, lines.append) == "reg:5000/h:tilt-1"
        assert await asyncio.to_thread(helper.ref_for_cluster, lines.append) == "reg:5000/h:tilt-1"
        assert calls == ["tilt-sync-helper", "tilt-sync-helper"]  # retried once, then kept
        assert "live_update: helper image ready for the cluster as reg:5000/h:tilt-1" in lines
        helper.close()

        monkeypatch.setattr("tilt.k8s.helper.find_static_busybox", lambda: None)
        calls.clear()
        none = HelperImage(build, asyncio.get_running_loop())
        for _ in range(2):
            with pytest.raises(HelperImageError, match="statically linked busybox"):
                await none.ensure(lines.append)
        assert calls == []

    asyncio.run(asyncio.wait_for(scenario(), 30))
