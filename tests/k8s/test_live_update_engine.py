"""live_update into pods through the whole engine (`tilt up` with file watching).

The emulated API plays the cluster (a background controller makes a ReplicaSet and a running
pod for each Deployment rollout); images are built for real by Docker and pushed to a real
local registry the cluster advertises (KEP-1755 ConfigMap), as `tilt up` does on kind or k3d.
Exec requests run for real in a chroot "container" (a folder with the host's static busybox,
see test_exec_updater), so files really arrive and commands really run:

- a change inside a ``sync`` is copied into the running container and its ``run`` step runs,
  with no image build and no apply; a change outside every sync falls back to a rebuild and a
  new rollout;
- a container whose image has no tar, busybox or sh gets the files through an ephemeral
  container of the helper image, which the runner builds only then with the same builder and
  delivers the same way (pushed to the registry; the ephemeral container runs that ref).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tests.docker.conftest import busybox_dockerfile, copy_busybox, registry_tags, serve_registry
from tests.k8s.cluster import Controller
from tests.k8s.emulator import Emulator
from tests.k8s.test_exec_updater import chroot_exec, container_root, ephemeral_aware
from tilt.engine import Engine
from tilt.engine.runner import standard_runners
from tilt.k8s.helper import HELPER_REF
from tilt.logstore import LogStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the chroot containers need root")

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: IMAGE}]}
"""


def tiltfile(image: str) -> str:
    return f"""
docker_build('{image}', 'app', live_update=[
    sync('app/src', '/app'),
    run('echo ran > /app/ran.txt', trigger=['app/src/index.html']),
])
k8s_yaml('app.yaml')
k8s_resource('web')
"""


def res(eng: Engine) -> dict[str, Any]:
    return next(r for r in eng.snapshot()["resources"] if r["name"] == "web")


def log_text(eng: Engine) -> str:
    return "\n".join(ln.text for ln in eng.logs.lines("web"))


def builds(eng: Engine) -> int:
    """Images really built (not found by their content tag)."""
    assert eng.images is not None
    return sum(1 for b in eng.images.history if not b.skipped)


#: The engine under test, for what a timeout reports.
_current: list[Engine] = []


async def until(cond: Callable[[], bool], what: str, timeout_s: float = 45) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            state = ""
            if _current:
                eng = _current[-1]
                tail = "\n".join(log_text(eng).splitlines()[-40:])
                state = f"\nweb: {res(eng)}\nlog tail:\n{tail}"
            raise AssertionError(f"timed out waiting for: {what}{state}")
        await asyncio.sleep(0.05)


def drive(eng: Engine, body: Callable[[Engine], Awaitable[None]], timeout_s: float = 110) -> None:
    _current[:] = [eng]

    async def main() -> None:
        task = asyncio.create_task(eng.run())
        try:
            await eng.ready_event.wait()
            await body(eng)
        finally:
            eng.shutdown()
            await asyncio.wait_for(task, 30)

    asyncio.run(asyncio.wait_for(main(), timeout_s))


@pytest.fixture
def cluster(
    emu: Emulator,
    kubeconfig: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
) -> Iterator[tuple[str, str]]:
    """(registry host, image name): the cluster advertises a real local registry."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = f"tilt-test-k8s-lu-{uuid.uuid4().hex[:8]}"
    (tmp_path / "registry").mkdir()
    with serve_registry(tmp_path / "registry") as host:
        emu.add_object(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
                "data": {"localRegistryHosting.v1": f'host: "{host}"\n'},
            }
        )
        try:
            yield host, image
        finally:
            for img in docker_client.images.list():
                for tag in img.tags:
                    if tag.startswith((f"{image}:", f"{host}/")):
                        with contextlib.suppress(Exception):
                            docker_client.images.remove(tag, force=True)


def project(tmp_path: Path, image: str) -> Path:
    write_tree(
        tmp_path / "project",
        {
            "Tiltfile": tiltfile(image),
            "app.yaml": APP.replace("IMAGE", image),
            "app/Dockerfile": busybox_dockerfile("COPY src /app"),
            "app/src/index.html": "v1\n",
            "app/notes.txt": "in the build context, outside every sync\n",
        },
    )
    copy_busybox(tmp_path / "project/app")
    return tmp_path / "project"


def test_live_update_by_exec_and_fall_back_outside_sync(
    emu: Emulator, cluster: tuple[str, str], tmp_path: Path
) -> None:
    _host, image = cluster
    root = container_root(tmp_path, ("sh", "tar", "rm", "cat", "echo", "mkdir"))
    emu.exec_handler = chroot_exec(root)
    proj = project(tmp_path, image)
    eng = Engine(
        str(proj / "Tiltfile"),
        logs=LogStore(),
        watch=True,
        quiet_period_s=0.05,
        runners=standard_runners,
    )

    async def body(eng: Engine) -> None:
        await until(lambda: res(eng)["runtime"]["status"] == "ok", "web ready")
        await until(lambda: res(eng)["update"]["status"] == "ok", "first update done")
        pod = res(eng)["runtime"]["pod"]["name"]
        dep_rv = emu.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"]
        built = builds(eng)
        count = res(eng)["update"]["count"]

        # A change inside the sync: copied into the running container, the run step runs.
        (proj / "app/src/index.html").write_text("v2\n")
        await until((root / "app/index.html").exists, "file synced")
        await until(lambda: (root / "app/index.html").read_text() == "v2\n", "file synced with v2")
        await until((root / "app/ran.txt").exists, "run step ran")
        await until(
            lambda: res(eng)["update"]["count"] > count and res(eng)["update"]["status"] == "ok",
            "live update finished",
        )
        # (A write seen as two events makes two live updates: the second may be rewriting it.)
        await until(lambda: (root / "app/ran.txt").read_text() == "ran\n", "run step's output")
        # No image build, no apply, the same pod.
        assert builds(eng) == built
        assert emu.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"] == dep_rv
        assert res(eng)["runtime"]["pod"]["name"] == pod
        # The way used is logged (the updater's log reaches the resource through the loop).
        await until(lambda: "live_update: copying files into pod" in log_text(eng), "way logged")
        assert "container web with tar" in log_text(eng), log_text(eng)

        # A change in the build context outside every sync: a rebuild and a new rollout.
        (proj / "app/notes.txt").write_text("changed\n")
        await until(lambda: builds(eng) > built, "image rebuilt")
        await until(
            lambda: (
                res(eng)["runtime"]["pod"] is not None
                and res(eng)["runtime"]["pod"]["name"] != pod
                and res(eng)["runtime"]["status"] == "ok"
            ),
            "new pod ready",
        )
        new_rv = emu.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"]
        assert new_rv != dep_rv
        assert "not matching any sync" in log_text(eng), log_text(eng)

    with Controller(emu):
        drive(eng, body)


def test_an_image_without_tools_gets_the_delivered_helper(
    emu: Emulator, cluster: tuple[str, str], tmp_path: Path
) -> None:
    host, image = cluster
    root = container_root(tmp_path, (), busybox_name="server")  # FROM scratch, one binary
    emu.exec_handler = ephemeral_aware(root)
    proj = project(tmp_path, image)
    # run() needs a shell: this image has none, so only the sync step here.
    (proj / "Tiltfile").write_text(
        tiltfile(image).replace(
            "    run('echo ran > /app/ran.txt', trigger=['app/src/index.html']),\n", ""
        )
    )
    eng = Engine(
        str(proj / "Tiltfile"),
        logs=LogStore(),
        watch=True,
        quiet_period_s=0.05,
        runners=standard_runners,
    )

    async def body(eng: Engine) -> None:
        await until(lambda: res(eng)["runtime"]["status"] == "ok", "web ready")
        await until(lambda: res(eng)["update"]["status"] == "ok", "first update done")
        assert "helper image" not in log_text(eng)  # not built before a container needs it
        dep_rv = emu.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"]
        count = res(eng)["update"]["count"]

        (proj / "app/src/index.html").write_text("v2\n")
        await until((root / "app/index.html").exists, "file synced")
        await until(
            lambda: res(eng)["update"]["count"] > count and res(eng)["update"]["status"] == "ok",
            "live update finished",
        )
        assert (root / "app/index.html").read_text() == "v2\n"
        assert emu.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"] == dep_rv
        # A second change reuses the helper: built once.
        (proj / "app/src/index.html").write_text("v3\n")
        await until(lambda: (root / "app/index.html").read_text() == "v3\n", "v3 synced")

    with Controller(emu):
        drive(eng, body)

    pod = next(p for p in emu.list("v1", "Pod") if (p["spec"].get("ephemeralContainers") or []))
    (eph,) = pod["spec"]["ephemeralContainers"]
    assert eph["targetContainerName"] == "web"
    # The ref the cluster pulls: pushed to the registry the cluster advertises.
    assert eph["image"].startswith(f"{host}/{HELPER_REF}:tilt-"), eph
    assert eph["image"].rsplit(":", 1)[1] in registry_tags(host, HELPER_REF)
    text = log_text(eng)
    assert text.count(f"live_update: building the helper image {HELPER_REF}") == 1, text
    assert f"live_update: helper image ready for the cluster as {eph['image']}" in text, text
    assert "with an ephemeral container (the image has no tar, busybox tar, sh + cat)" in text
