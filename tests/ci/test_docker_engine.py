"""The test machine's Docker engine can build and run a FROM-scratch busybox image.

Later image and compose tests rely on exactly this; under TILT_TEST_REQUIRE_DOCKER=1
(.ci/run) a missing engine fails here instead of skipping.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def _context_tar(dockerfile: str, files: dict[str, Path]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for name, path in files.items():
            tar.add(str(path), arcname=name)
    buf.seek(0)
    return buf


@pytest.mark.docker
def test_build_and_run_scratch_busybox(docker_client: Any) -> None:
    if not Path(BUSYBOX).exists():
        pytest.fail("busybox-static is required (/bin/busybox)")
    tag = f"tilt-test-busybox:{uuid.uuid4().hex[:8]}"
    ctx = _context_tar(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        'CMD ["/bin/busybox", "echo", "hello from scratch"]\n',
        {"busybox": Path(BUSYBOX)},
    )
    image, _ = docker_client.images.build(fileobj=ctx, custom_context=True, tag=tag, rm=True)
    try:
        out = docker_client.containers.run(tag, remove=True)
        assert out.strip() == b"hello from scratch"
    finally:
        docker_client.images.remove(image.id, force=True)
