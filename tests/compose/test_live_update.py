"""live_update on Compose containers, against the real Docker engine.

Each test loads a real Tiltfile (docker_build with live_update + docker_compose),
builds the image FROM scratch with busybox, starts the service with our image,
then plans with `tilt.liveupdate` and applies with `tilt.docker.sync`.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import BUSYBOX, run
from tests.conftest import write_tree
from tilt.docker.compose import ComposeProject, ServiceState
from tilt.docker.sync import HELPER_PATH, ContainerSyncer
from tilt.liveupdate import plan_initial_sync, plan_live_update
from tilt.model import ImageTarget, TiltfileResult
from tilt.tiltfile import load_tiltfile

BARE = "FROM scratch\nCOPY busybox /bin/busybox\nCOPY src /app\n"
FULL = (
    "FROM scratch\nCOPY busybox /bin/busybox\n"
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY src /app\n'
)


@dataclass
class Live:
    root: Path
    result: TiltfileResult
    image: ImageTarget
    project: ComposeProject
    client: Any
    logs: list[str]

    @property
    def container_id(self) -> str:
        return self.project.container_id("app", self.client)

    def syncer(self) -> ContainerSyncer:
        return ContainerSyncer(self.client, self.container_id, on_log=self.logs.append)

    def path(self, rel: str) -> str:
        return str(self.root / rel)

    def read(self, container_path: str) -> str | None:
        """A file's text in the container (None when missing), via the archive API."""
        import docker.errors

        try:
            chunks, _ = self.client.api.get_archive(self.container_id, container_path)
        except docker.errors.NotFound:
            return None
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            member = tar.next()
            assert member is not None
            f = tar.extractfile(member)
            return None if f is None else f.read().decode(errors="replace")

    def started_at(self) -> str:
        return str(self.client.api.inspect_container(self.container_id)["State"]["StartedAt"])


@pytest.fixture
def live(tmp_path: Path, project_name: str, docker_client: Any) -> Iterator[Callable[..., Live]]:
    tags: list[str] = []

    def make(
        live_update: str,
        files: dict[str, str],
        *,
        dockerfile: str = BARE,
        command: str = '["/bin/busybox", "sleep", "1000"]',
        extra: str = "",
    ) -> Live:
        ref = f"tilt-test-lu-{project_name}"
        compose = (
            "services:\n  app:\n"
            f"    image: {ref}\n    command: {command}\n    stop_signal: SIGKILL\n{extra}"
        )
        tiltfile = (
            f"docker_build('{ref}', '.', live_update=[{live_update}])\n"
            f"docker_compose('compose.yaml', project_name='{project_name}')\n"
        )
        write_tree(
            tmp_path,
            {"Tiltfile": tiltfile, "compose.yaml": compose, "Dockerfile": dockerfile, **files},
        )
        (tmp_path / "busybox").write_bytes(Path(BUSYBOX).read_bytes())
        (tmp_path / "busybox").chmod(0o755)
        result = load_tiltfile(str(tmp_path / "Tiltfile"))
        image = result.image(ref)
        target = result.resource("app").compose
        assert target is not None
        # What the image layer does: build, tag by content; here a fixed tag.
        tag = f"{ref}:tilt-1"
        docker_client.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
        tags.append(tag)
        project = ComposeProject.from_target(target, override_dir=str(tmp_path / ".overrides"))
        up = run(project.up("app", image_override=tag))
        assert up.ok, up.error()
        return Live(tmp_path, result, image, project, docker_client, [])

    yield make
    for tag in tags:
        with contextlib.suppress(Exception):
            docker_client.api.remove_image(tag, force=True)


def test_sync_added_changed_deleted_files_into_an_image_without_tar_or_rm(
    live: Callable[..., Live],
) -> None:
    lv = live(
        "sync('src', '/app')",
        {"src/keep.txt": "v1", "src/old.txt": "old", "src/dir/x.txt": "x"},
    )
    assert lv.read("/app/old.txt") == "old"
    write_tree(lv.root, {"src/keep.txt": "v2", "src/new/deep.txt": "new"})
    os.remove(lv.path("src/old.txt"))
    os.remove(lv.path("src/dir/x.txt"))
    os.rmdir(lv.path("src/dir"))
    changed = [lv.path(p) for p in ("src/keep.txt", "src/new/deep.txt", "src/old.txt", "src/dir")]
    plan = plan_live_update(lv.image.live_update, changed)
    assert sorted(plan.deletions) == ["/app/dir", "/app/old.txt"]
    syncer = lv.syncer()
    res = syncer.apply_blocking(plan)
    assert res.ok, res.fall_back
    assert (res.copied, res.deleted) == (2, 2)
    assert lv.read("/app/keep.txt") == "v2"
    assert lv.read("/app/new/deep.txt") == "new"
    assert lv.read("/app/old.txt") is None
    assert lv.read("/app/dir") is None
    # No rm in the image: the host's static busybox was copied in to delete.
    assert f"copied a static busybox to {HELPER_PATH} (the image has no `rm`)" in lv.logs
    assert lv.read(HELPER_PATH) is not None
    # Exactly the changed files went through the archive API.
    assert "copied 2 file(s) to container" in " ".join(lv.logs)

    # A second deletion reuses the helper without copying it again.
    os.remove(lv.path("src/keep.txt"))
    lv.logs.clear()
    res = syncer.apply_blocking(plan_live_update(lv.image.live_update, [lv.path("src/keep.txt")]))
    assert res.ok, res.fall_back
    assert lv.read("/app/keep.txt") is None
    assert not any("static busybox" in line for line in lv.logs)
    run(lv.project.down(delete_volumes=True))


def test_run_triggers_and_restart_container(live: Callable[..., Live]) -> None:
    lv = live(
        "sync('src', '/app'), "
        "run('cat /app/deps.txt > /app/installed.txt', trigger=['src/deps.txt']), "
        "run('echo ran >> /app/always.txt'), "
        "restart_container()",
        {"src/msg.txt": "v1", "src/deps.txt": "dep1"},
        dockerfile=FULL,
        command='["sh", "-c", "echo boot $$(cat /app/msg.txt); exec sleep 1000"]',
    )
    lines: list[str] = []

    async def scenario() -> None:
        import asyncio

        logs = asyncio.ensure_future(lv.project.follow_logs("app", lines.append, client=lv.client))
        before = lv.started_at()
        # msg.txt changes: the untriggered run runs, the triggered one does not; restart.
        write_tree(lv.root, {"src/msg.txt": "v2"})
        plan = plan_live_update(lv.image.live_update, [lv.path("src/msg.txt")])
        res = await lv.syncer().apply(plan)
        assert res.ok, res.fall_back
        assert res.ran == ("echo ran >> /app/always.txt",)
        assert res.restarted
        assert lv.read("/app/installed.txt") is None
        assert lv.started_at() != before
        deadline = time.monotonic() + 10
        while "boot v2" not in lines and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert lines[:2] == ["boot v1", "boot v2"]
        # deps.txt changes: its trigger matches, both runs run.
        write_tree(lv.root, {"src/deps.txt": "dep2"})
        plan = plan_live_update(lv.image.live_update, [lv.path("src/deps.txt")])
        res = await lv.syncer().apply(plan)
        assert res.ok, res.fall_back
        assert len(res.ran) == 2
        assert lv.read("/app/installed.txt") == "dep2"
        assert lv.read("/app/always.txt") == "ran\nran\n"
        logs.cancel()
        await lv.project.down(delete_volumes=True)

    run(scenario())


def test_fall_back_on_outside_sync_and_failed_step(live: Callable[..., Live]) -> None:
    lv = live(
        "fall_back_on(['src/config.json']), sync('src', '/app'), run('exit 7')",
        {"src/config.json": "{}", "src/a.txt": "a", "other.txt": "o"},
        dockerfile=FULL,
    )
    syncer = lv.syncer()
    write_tree(lv.root, {"src/config.json": '{"x": 1}', "src/a.txt": "a2", "other.txt": "o2"})

    res = syncer.apply_blocking(
        plan_live_update(lv.image.live_update, [lv.path("src/config.json")])
    )
    assert not res.ok
    assert res.fall_back.startswith("Detected change to fall_back_on file")
    assert lv.read("/app/config.json") == "{}"  # nothing was copied

    res = syncer.apply_blocking(plan_live_update(lv.image.live_update, [lv.path("other.txt")]))
    assert not res.ok
    assert res.fall_back.startswith("Found file(s) not matching any sync")

    res = syncer.apply_blocking(plan_live_update(lv.image.live_update, [lv.path("src/a.txt")]))
    assert not res.ok
    assert res.fall_back == "run step 'exit 7' failed with exit code 7"
    assert lv.logs[-1] == (
        "live update failed, falling back to a full rebuild: "
        "run step 'exit 7' failed with exit code 7"
    )
    run(lv.project.down(delete_volumes=True))


def test_initial_sync_copies_everything_on_start(live: Callable[..., Live]) -> None:
    lv = live(
        "initial_sync(), sync('src', '/app')",
        {"src/a.txt": "built", "src/.dockerignore-me": ""},
    )
    # Files changed after the image was built (e.g. while tilt was not running).
    write_tree(lv.root, {"src/a.txt": "current", "src/sub/b.txt": "b"})
    plan = plan_initial_sync(lv.image.live_update)
    res = lv.syncer().apply_blocking(plan)
    assert res.ok, res.fall_back
    assert lv.read("/app/a.txt") == "current"
    assert lv.read("/app/sub/b.txt") == "b"
    assert res.copied == 3
    run(lv.project.down(delete_volumes=True))


def test_crash_loop_after_a_live_update_falls_back(live: Callable[..., Live]) -> None:
    lv = live(
        "sync('src', '/app'), restart_container()",
        {"src/a.txt": "a"},
        dockerfile=FULL,
        command='["sh", "-c", "test -f /app/crash && exit 2; exec sleep 1000"]',
        extra="    restart: always\n",
    )
    syncer = lv.syncer()
    write_tree(lv.root, {"src/crash": "boom"})
    res = syncer.apply_blocking(plan_live_update(lv.image.live_update, [lv.path("src/crash")]))
    assert res.ok and res.restarted  # the update itself went through
    # The restarted process now exits at once, and the restart policy loops it.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        st = lv.project.status("app", lv.client)
        if st.restart_count >= 1 or st.state is ServiceState.RESTARTING:
            break
        time.sleep(0.1)
    reason = syncer.check_container()
    assert "crash" in reason, reason
    write_tree(lv.root, {"src/a.txt": "fix attempt"})
    res = syncer.apply_blocking(plan_live_update(lv.image.live_update, [lv.path("src/a.txt")]))
    assert not res.ok
    assert "crash" in res.fall_back
    run(lv.project.down(delete_volumes=True))
