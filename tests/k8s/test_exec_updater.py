"""live_update by exec: each copy strategy against real processes in a chroot "container".

The emulated API answers exec upgrades with the client's websocket protocol and runs the
command for real (``chroot`` into a folder that is the container's filesystem, with the
host's static busybox), so tar, busybox and sh really run or really are missing.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.emulator import Emulator, ExecResult
from tilt.k8s.client import KubeClient
from tilt.k8s.exec_updater import ExecUpdater, NoCopyTool, UpdateError

Obj = dict[str, Any]

CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")


def container_root(tmp: Path, applets: tuple[str, ...], busybox_name: str = "busybox") -> Path:
    root = tmp / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "app").mkdir()
    if applets or busybox_name == "busybox":
        shutil.copy("/bin/busybox", root / "bin" / busybox_name)
    for a in applets:
        (root / "bin" / a).symlink_to(busybox_name)
    return root


def chroot_exec(root: Path) -> Any:
    def handler(pod: Obj, container: str, argv: list[str], stdin: bytes) -> ExecResult:
        p = subprocess.run(
            [CHROOT, str(root), *argv],
            input=stdin,
            capture_output=True,
            env={"PATH": "/bin"},
            check=False,
        )
        if p.returncode == 127 and b"chroot: failed to run command" in p.stderr:
            # what containerd answers for a missing executable
            return ExecResult(
                error="OCI runtime exec failed: exec failed: unable to start container "
                f'process: exec: "{argv[0]}": executable file not found in $PATH: unknown'
            )
        return ExecResult(stdout=p.stdout, stderr=p.stderr, exit_code=p.returncode)

    return handler


def running_pod(emu: Emulator) -> None:
    emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-1"},
            "spec": {"containers": [{"name": "app", "image": "x"}]},
            "status": {"phase": "Running"},
        }
    )


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


FILES = {"app/index.html": b"<h1>v2</h1>\n", "app/static/site.css": b"body{}\n"}


@pytest.mark.parametrize(
    ("applets", "busybox_name", "expected"),
    [
        (("sh", "tar", "rm", "cat", "mkdir", "chmod"), "busybox", "tar"),
        ((), "busybox", "busybox tar"),
        (("sh", "cat", "mkdir", "chmod"), "bb", "sh + cat"),
    ],
    ids=["tar", "busybox-without-tar", "sh-and-cat-only"],
)
def test_copy_strategies(  # noqa: PLR0917 (fixtures and parameters)
    emu: Emulator,
    kube: KubeClient,
    tmp_path: Path,
    applets: tuple[str, ...],
    busybox_name: str,
    expected: str,
) -> None:
    root = container_root(tmp_path, applets, busybox_name)
    emu.exec_handler = chroot_exec(root)
    running_pod(emu)
    log: list[str] = []
    up = ExecUpdater(kube, namespace="default", pod="web-1", container="app", log=log.append)
    up.copy_tar(tar_of(FILES))
    assert up.strategy == expected
    assert (root / "app/index.html").read_bytes() == b"<h1>v2</h1>\n"
    assert (root / "app/static/site.css").read_bytes() == b"body{}\n"
    assert len(log) == 1 and f"with {expected}" in log[0]
    # the second copy goes straight to the strategy that worked, and logs nothing new
    up.copy_tar(tar_of({"app/index.html": b"v3"}))
    assert up.strategy == expected
    assert (root / "app/index.html").read_bytes() == b"v3"
    assert len(log) == 1


def test_no_tool_at_all_is_one_clear_error(emu: Emulator, kube: KubeClient, tmp_path: Path) -> None:
    root = container_root(tmp_path, (), busybox_name="server")  # one static binary, no tools
    emu.exec_handler = chroot_exec(root)
    running_pod(emu)
    up = ExecUpdater(kube, namespace="default", pod="web-1", container="app")
    with pytest.raises(NoCopyTool, match="neither tar, busybox nor sh and cat"):
        up.copy_tar(tar_of(FILES))


def test_delete_and_run_steps(emu: Emulator, kube: KubeClient, tmp_path: Path) -> None:
    root = container_root(tmp_path, ("sh", "tar", "rm", "cat", "echo", "false"))
    (root / "app/old.txt").write_text("x")
    (root / "app/gone").mkdir()
    emu.exec_handler = chroot_exec(root)
    running_pod(emu)
    up = ExecUpdater(kube, namespace="default", pod="web-1", container="app")
    up.delete(["/app/old.txt", "/app/gone", "/app/never-existed"])
    assert not (root / "app/old.txt").exists() and not (root / "app/gone").exists()
    lines: list[str] = []
    code = up.exec(
        ["sh", "-c", "echo built > /app/out; echo one; echo two >&2; echo -n three"], lines.append
    )
    assert code == 0 and (root / "app/out").read_text() == "built\n"
    assert sorted(lines) == ["one", "three", "two"]
    assert up.exec(["false"]) == 1
    lines.clear()
    assert up.exec(["make", "assets"], lines.append) == 127  # not in the image
    assert "executable file not found" in lines[0]
    with pytest.raises(UpdateError, match="restart_process"):
        up.restart()


def test_exec_with_input_needs_the_v5_protocol(emu: Emulator, kube: KubeClient) -> None:
    emu.ws_protocols = ("v4.channel.k8s.io",)  # an API server older than 1.30
    emu.exec_handler = lambda *a: ExecResult()
    running_pod(emu)
    up = ExecUpdater(kube, namespace="default", pod="web-1", container="app")
    with pytest.raises(UpdateError, match=r"needs the v5\.channel\.k8s\.io protocol"):
        up.copy_tar(tar_of(FILES))
    assert up.exec(["true"]) == 0  # without input, v4 is fine


def test_check_and_restart_count(emu: Emulator, kube: KubeClient) -> None:
    emu.exec_handler = lambda *a: ExecResult()
    emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-1"},
            "spec": {"containers": [{"name": "app", "image": "x"}]},
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "app",
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                ],
            },
        }
    )
    up = ExecUpdater(kube, namespace="default", pod="web-1", container="app")
    assert up.check() == "container web-1/app is not running (waiting: ContainerCreating)"
    emu.patch_status(
        "Pod",
        "web-1",
        {
            "phase": "Running",
            "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"running": {}}}],
        },
    )
    assert up.check() == "" and up.restart_count() == 0
    up.restarts_at_sync = 0
    emu.patch_status(
        "Pod",
        "web-1",
        {"containerStatuses": [{"name": "app", "restartCount": 1, "state": {"running": {}}}]},
    )
    assert up.check() == "container web-1/app restarted since the last live update"
    emu.remove("v1", "Pod", "web-1")
    assert up.check() == "pod web-1 is gone"


def ephemeral_aware(app_root: Path) -> Any:
    """The kubelet's view: the app container is ``app_root``; an ephemeral container that
    targets it runs the helper's busybox and sees the app's filesystem at /proc/1/root."""
    app = chroot_exec(app_root)

    def handler(pod: Obj, container: str, argv: list[str], stdin: bytes) -> ExecResult:
        if not container.startswith("tilt-sync-"):
            return app(pod, container, argv, stdin)
        assert argv[0] == "/bin/busybox"
        mapped = [a.replace("/proc/1/root", str(app_root)) for a in argv]
        p = subprocess.run(
            ["/bin/busybox", *mapped[1:]], input=stdin, capture_output=True, check=False
        )
        return ExecResult(stdout=p.stdout, stderr=p.stderr, exit_code=p.returncode)

    return handler


def test_image_without_tools_syncs_through_an_ephemeral_container(
    emu: Emulator, kube: KubeClient, tmp_path: Path
) -> None:
    root = container_root(tmp_path, (), busybox_name="server")  # FROM scratch, one binary
    (root / "app/old.txt").write_text("x")
    emu.exec_handler = ephemeral_aware(root)
    running_pod(emu)
    log: list[str] = []
    up = ExecUpdater(
        kube,
        namespace="default",
        pod="web-1",
        container="app",
        log=log.append,
        helper_image="localhost:5000/tilt-sync-helper:1",
    )
    up.copy_tar(tar_of(FILES))
    assert up.strategy == "an ephemeral container"
    assert (root / "app/static/site.css").read_bytes() == b"body{}\n"
    (eph,) = emu.get("v1", "Pod", "web-1")["spec"]["ephemeralContainers"]
    assert (eph["name"], eph["targetContainerName"], eph["image"]) == (
        "tilt-sync-app",
        "app",
        "localhost:5000/tilt-sync-helper:1",
    )
    assert any("started ephemeral container tilt-sync-app" in line for line in log)
    assert any(
        "with an ephemeral container (the image has no tar, busybox tar, sh + cat)" in line
        for line in log
    )
    up.delete(["/app/old.txt"])
    assert not (root / "app/old.txt").exists()
    # a second updater (next live_update) reuses the running helper
    up2 = ExecUpdater(
        kube,
        namespace="default",
        pod="web-1",
        container="app",
        helper_image="localhost:5000/tilt-sync-helper:1",
    )
    up2.copy_tar(tar_of({"app/index.html": b"v9"}))
    assert (root / "app/index.html").read_bytes() == b"v9"
    assert len(emu.get("v1", "Pod", "web-1")["spec"]["ephemeralContainers"]) == 1


def test_ephemeral_containers_forbidden_is_one_clear_error(
    emu: Emulator, kube: KubeClient, tmp_path: Path
) -> None:
    root = container_root(tmp_path, (), busybox_name="server")
    emu.exec_handler = ephemeral_aware(root)
    emu.ephemeral_forbidden = True
    running_pod(emu)
    up = ExecUpdater(
        kube, namespace="default", pod="web-1", container="app", helper_image="helper:1"
    )
    with pytest.raises(NoCopyTool, match=r"refused an ephemeral helper container: .*forbidden"):
        up.copy_tar(tar_of(FILES))


def test_the_helper_image_is_asked_for_only_when_nothing_else_works(
    emu: Emulator, kube: KubeClient, tmp_path: Path
) -> None:
    """The runner's ``helper`` makes the helper image on demand: not for an image with tar;
    for one without tools it is asked once, and when it cannot be made the error says what
    the image lacks and why there is no helper."""
    asked: list[str] = []

    def helper(log: Any) -> str:
        asked.append("helper")
        raise RuntimeError("no statically linked busybox on this machine")

    root = container_root(tmp_path, ("sh", "tar", "rm", "cat", "mkdir", "chmod"))
    emu.exec_handler = chroot_exec(root)
    running_pod(emu)
    up = ExecUpdater(kube, namespace="default", pod="web-1", container="app", helper=helper)
    up.copy_tar(tar_of(FILES))
    assert up.strategy == "tar" and asked == []

    bare = container_root(tmp_path / "bare", (), busybox_name="server")
    emu.exec_handler = ephemeral_aware(bare)
    up = ExecUpdater(kube, namespace="default", pod="web-1", container="app", helper=helper)
    with pytest.raises(NoCopyTool) as err:
        up.copy_tar(tar_of(FILES))
    assert str(err.value) == (
        "cannot copy files into pod web-1 container app: the image has neither tar, busybox "
        "nor sh and cat (tried tar, busybox tar, sh + cat), and the helper image for an "
        "ephemeral container could not be made: no statically linked busybox on this machine"
    )
    assert asked == ["helper"]
    assert not emu.get("v1", "Pod", "web-1")["spec"].get("ephemeralContainers")

    # Made: its ref is the ephemeral container's image.
    up = ExecUpdater(
        kube, namespace="default", pod="web-1", container="app", helper=lambda log: "reg/h:1"
    )
    up.copy_tar(tar_of(FILES))
    assert (bare / "app/index.html").read_bytes() == b"<h1>v2</h1>\n"
    (eph,) = emu.get("v1", "Pod", "web-1")["spec"]["ephemeralContainers"]
    assert eph["image"] == "reg/h:1"
