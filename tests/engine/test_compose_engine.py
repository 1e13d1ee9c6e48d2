"""Docker Compose resources driven by the engine: build, up, status, logs, events, live update.

Real Docker engine, real Compose CLI, real file watcher. Images are FROM
scratch with the host's static busybox; every test has its own Compose project
and image names, removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import shutil
import socket
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import sweep_project
from tests.conftest import run_tilt, write_tree
from tilt.engine import Engine
from tilt.logstore import LogStore

BUSYBOX = "/bin/busybox"

WEB_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY public /www
ENTRYPOINT ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proj:
    """A throwaway project folder with unique Compose project and image names."""

    root: Path
    name: str
    image: str
    client: Any

    def write(self, files: dict[str, str]) -> None:
        write_tree(self.root, files)

    def busybox(self, *dirs: str) -> None:
        for d in dirs:
            (self.root / d).mkdir(parents=True, exist_ok=True)
            shutil.copy(BUSYBOX, self.root / d / "busybox")


@pytest.fixture
def proj(tmp_path: Path, docker_client: Any) -> Iterator[Proj]:
    with new_proj(tmp_path, docker_client) as p:
        yield p


@contextlib.contextmanager
def new_proj(tmp_path: Path, docker_client: Any) -> Iterator[Proj]:
    """A `Proj`; its Compose project and images are removed afterwards."""
    if not os.path.exists(BUSYBOX):
        pytest.fail(f"these tests need a static busybox at {BUSYBOX}")
    hex_id = uuid.uuid4().hex[:10]
    p = Proj(
        root=tmp_path / "proj",
        name=f"tiltengine{hex_id}",
        image=f"tilt-test-engine-{hex_id}",
        client=docker_client,
    )
    p.root.mkdir()
    try:
        yield p
    finally:
        _remove(p, docker_client)


def _remove(p: Proj, docker_client: Any) -> None:
    sweep_project(docker_client, p.name)
    # By tag, not by id: an id shared with a cached layer of other images cannot go.
    for img in docker_client.api.images():
        for tag in img.get("RepoTags") or ():
            if tag.startswith(p.image):
                with contextlib.suppress(Exception):
                    docker_client.api.remove_image(tag)


def res(eng: Engine, name: str) -> dict[str, Any]:
    return next(r for r in eng.snapshot()["resources"] if r["name"] == name)


def log_text(eng: Engine, name: str, span: str | None = None) -> str:
    return "\n".join(ln.text for ln in eng.logs.lines(name) if span is None or ln.span == span)


async def until(cond: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


def http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return str(resp.read().decode())
    except (OSError, http.client.HTTPException) as e:
        # A container replaced mid-response cuts it short (IncompleteRead): not yet.
        return f"<error {e!r}>"


def drive(eng: Engine, body: Callable[[Engine], Awaitable[None]], timeout_s: float = 90) -> None:
    async def main() -> None:
        task = asyncio.create_task(eng.run())
        try:
            await eng.ready_event.wait()
            await body(eng)
        finally:
            eng.shutdown()
            await asyncio.wait_for(task, 30)

    asyncio.run(asyncio.wait_for(main(), timeout_s))


def built(eng: Engine) -> list[str]:
    """Image refs actually built (not found by content tag), in order."""
    assert eng.images is not None
    return [b.image_ref for b in eng.images.history if not b.skipped]


def test_compose_resource_build_up_logs_live_update_rebuild_and_events(proj: Proj) -> None:
    port = free_port()
    proj.busybox("web")
    proj.write(
        {
            "Tiltfile": f"""
docker_build('{proj.image}', 'web', live_update=[
    fall_back_on(['web/Dockerfile']),
    initial_sync(),
    sync('web/public', '/www'),
    run('date > /www/stamp.txt', trigger=['web/public/index.html']),
])
docker_compose('compose.yaml', project_name='{proj.name}')
""",
            "web/Dockerfile": WEB_DOCKERFILE,
            "web/public/index.html": "v1\n",
            "web/notes.txt": "in the context, outside every sync\n",
            "compose.yaml": f"""
services:
  web:
    image: {proj.image}
    stop_signal: SIGKILL
    ports: ["127.0.0.1:{port}:8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 1s
      retries: 30
  crasher:
    image: {proj.image}
    entrypoint: ["sh", "-c", "echo crasher-says-bye; exit 3"]
""",
        }
    )
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=True, quiet_period_s=0.05)
    url = f"http://127.0.0.1:{port}/"

    async def body(eng: Engine) -> None:
        # build -> up -> healthy; the crasher's exit is its reason, with the event kept.
        await until(lambda: res(eng, "web")["runtime"]["status"] == "ok", "web healthy", 60)
        web = res(eng, "web")
        assert web["runtime"]["state"] == "healthy"
        assert web["status"] == "ready"
        assert web["links"] == [{"url": f"http://localhost:{port}/", "name": ""}]
        assert http_get(url) == "v1\n"
        await until(lambda: "response:200" in log_text(eng, "web", "runtime"), "web logs")
        # initial_sync() copied the sources into the new container and ran the run step
        # (the image has no stamp.txt).
        await until(lambda: "initial sync: will copy" in log_text(eng, "web"), "initial sync")
        await until(lambda: not http_get(url + "stamp.txt").startswith("<error"), "stamp")
        # Both services run the same image: built once, found by its content tag once.
        assert built(eng) == [proj.image]
        await until(
            lambda: res(eng, "crasher")["runtime"]["status"] == "error", "crasher exited", 30
        )
        await until(lambda: res(eng, "crasher")["events"] != [], "crasher event")
        # Its exit can be seen before its update ends (the initial sync runs after
        # `up`): the resource reads "updating" until then.
        await until(lambda: res(eng, "crasher")["update"]["status"] == "ok", "crasher deployed")
        crasher = res(eng, "crasher")
        assert crasher["runtime"]["message"] == "Died: exited with code 3"
        assert crasher["status"] == "error"
        (ev,) = [e for e in crasher["events"] if e["reason"] == "Died"]
        assert ev["type"] == "Warning" and ev["count"] == 1
        assert ev["message"] == "exited with code 3"
        assert set(ev) == {
            "type",
            "reason",
            "object",
            "message",
            "count",
            "first_seen",
            "last_seen",
        }
        assert "[event] container " in log_text(eng, "crasher", "event")
        await until(lambda: "crasher-says-bye" in log_text(eng, "crasher", "runtime"), "logs")

        # A change covered by a sync: live update, no build, same container.
        cid = web["runtime"]["container_id"]
        count = len(built(eng))
        before = len(log_text(eng, "web"))
        (proj.root / "web/public/index.html").write_text("v2\n")
        await until(lambda: http_get(url) == "v2\n", "v2 served", 20)
        await until(lambda: "Live update done" in log_text(eng, "web"), "live update logged")
        # The log line is written before the state hears of the update: wait for the state.
        await until(lambda: res(eng, "web")["runtime"]["live_updated"] is True, "live_updated")
        assert http_get(url + "stamp.txt").strip()  # the triggered run step ran
        assert len(built(eng)) == count
        assert res(eng, "web")["runtime"]["container_id"] == cid
        live = log_text(eng, "web")[before:]
        assert "1 File Changed: [web/public/index.html]" in live
        assert "Building image" not in live and "docker compose up" not in live
        # The crasher runs the same image but its container is not running: it cannot
        # take a live update, so it falls back to a rebuild (which has v2 in it).
        # (>=: a count can pass by between two polls.)
        await until(lambda: res(eng, "crasher")["update"]["count"] >= 2, "crasher rebuilt")
        await until(lambda: not res(eng, "crasher")["queued"], "crasher settled")
        # The count goes up when the update starts: wait for its end before reading its log.
        await until(lambda: res(eng, "crasher")["update"]["status"] == "ok", "crasher updated")
        assert "falling back to a full rebuild: container " in log_text(eng, "crasher")
        assert "is not running (exited, exit code 3)" in log_text(eng, "crasher")
        count = len(built(eng))
        crasher_updates = res(eng, "crasher")["update"]["count"]

        # A change in the context but outside the syncs: rebuild and a new container.
        (proj.root / "web/notes.txt").write_text("changed\n")
        await until(
            lambda: res(eng, "web")["runtime"]["container_id"] not in ("", cid),
            "web recreated",
            60,
        )
        await until(lambda: res(eng, "web")["runtime"]["status"] == "ok", "web healthy again")
        text = log_text(eng, "web")
        assert "Found file(s) not matching any sync (files: web/notes.txt)" in text
        assert len(built(eng)) == count + 1
        assert http_get(url) == "v2\n"  # the rebuilt image has the synced content
        # The crasher uses the same image: redeployed too, its build found by content tag.
        await until(
            lambda: res(eng, "crasher")["update"]["count"] > crasher_updates, "crasher redeployed"
        )
        await until(lambda: res(eng, "crasher")["update"]["status"] == "ok", "crasher done")
        assert eng.images is not None
        assert [b.skipped for b in eng.images.history[-2:]] == [False, True]

        # A change outside every image's matcher rebuilds nothing.
        updates = res(eng, "web")["update"]["count"]
        (proj.root / "README.md").write_text("not in any context\n")
        await asyncio.sleep(0.6)
        assert res(eng, "web")["update"]["count"] == updates
        assert len(built(eng)) == count + 1

        # Disabling a compose resource removes its container (as Tilt).
        eng.set_disabled("crasher", True)
        await until(
            lambda: (
                not proj.client.api.containers(
                    all=True,
                    filters={
                        "label": [
                            f"com.docker.compose.project={proj.name}",
                            "com.docker.compose.service=crasher",
                        ]
                    },
                )
            ),
            "crasher removed",
        )
        assert res(eng, "crasher")["status"] == "disabled"

    drive(eng, body)
    # Ctrl-C of `tilt up` leaves the containers running (as Tilt); `tilt down` removes them.
    running = proj.client.api.containers(
        filters={"label": f"com.docker.compose.project={proj.name}"}
    )
    assert [c["Labels"]["com.docker.compose.service"] for c in running] == ["web"]
    down = run_tilt("down", "--port", "0", "--delete-volumes", cwd=proj.root, timeout=60)
    assert down.returncode == 0, down.stderr
    assert f"Removing Docker Compose project {proj.name} and its volumes" in down.stdout
    left = proj.client.api.containers(
        all=True, filters={"label": f"com.docker.compose.project={proj.name}"}
    )
    assert left == []


def test_docker_down_fails_compose_resource_clearly_while_local_runs(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = proj.root / "no-docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dead}")
    proj.busybox("web")
    proj.write(
        {
            "Tiltfile": f"""
docker_build('{proj.image}', 'web')
docker_compose('compose.yaml', project_name='{proj.name}')
local_resource('local', serve_cmd='sleep 60')
""",
            "web/Dockerfile": WEB_DOCKERFILE,
            "web/public/index.html": "v1\n",
            "compose.yaml": f"services:\n  web:\n    image: {proj.image}\n",
        }
    )
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=False)

    async def body(eng: Engine) -> None:
        await until(lambda: res(eng, "web")["update"]["status"] == "error", "web failed")
        await until(lambda: res(eng, "local")["status"] == "ready", "local ready")
        error = res(eng, "web")["update"]["error"]
        assert error.startswith(f"Docker engine not reachable at unix://{dead} (")
        assert "retried on the next file change or trigger" in error
        assert log_text(eng, "web").count("ERROR: Docker engine not reachable") == 1
        # Retried on a trigger: same clear message, the local resource still runs.
        eng.trigger("web")
        await until(lambda: res(eng, "web")["update"]["count"] == 2, "retried")
        await until(lambda: res(eng, "web")["update"]["status"] == "error", "failed again")
        assert res(eng, "web")["update"]["error"] == error
        assert res(eng, "local")["status"] == "ready"

    drive(eng, body)


def test_crash_after_live_update_falls_back_to_rebuild(proj: Proj) -> None:
    proj.busybox("app")
    proj.write(
        {
            "Tiltfile": f"""
docker_build('{proj.image}', 'app', live_update=[sync('app/src', '/src'), restart_container()])
docker_compose('compose.yaml', project_name='{proj.name}')
""",
            "app/Dockerfile": (
                "FROM scratch\nCOPY busybox /bin/busybox\n"
                'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
                'COPY src /src\nENTRYPOINT ["sh", "/src/start.sh"]\n'
            ),
            # Serves until its config says "crash".
            "app/src/start.sh": "grep -q crash /src/config && exit 4\nexec sleep 3600\n",
            "app/src/config": "ok\n",
            "compose.yaml": f"services:\n  app:\n    image: {proj.image}\n"
            "    stop_signal: SIGKILL\n",
        }
    )
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=True, quiet_period_s=0.05)

    async def body(eng: Engine) -> None:
        await until(lambda: res(eng, "app")["runtime"]["status"] == "ok", "app running", 60)
        (proj.root / "app/src/config").write_text("crash\n")
        # Live update (sync + restart), the process dies: Tilt rebuilds from scratch.
        await until(lambda: "Live update done" in log_text(eng, "app"), "live update")
        await until(lambda: res(eng, "app")["update"]["count"] == 3, "rebuilt after crash")
        await until(lambda: res(eng, "app")["update"]["status"] == "ok", "rebuild done")
        text = log_text(eng, "app")
        assert "Detected container crashed after a live update: full rebuild" in text
        assert (
            "Running docker compose up for service app with image"
            in text.split("Detected container crashed")[-1]
        )
        await until(lambda: res(eng, "app")["runtime"]["status"] == "error", "crashes again")
        app = res(eng, "app")
        assert app["runtime"]["message"].startswith("Died: exited with code 4")
        assert app["runtime"]["live_updated"] is False

    drive(eng, body)


def test_build_failure_marks_the_resource_failed_and_the_next_change_retries(proj: Proj) -> None:
    port = free_port()
    proj.busybox("web")
    broken = WEB_DOCKERFILE.replace(
        "COPY public /www\n",
        'COPY public /www\nRUN ["/bin/sh", "-c", "echo missing-dep >&2; exit 7"]\n',
    )
    proj.write(
        {
            "Tiltfile": f"""
docker_build('{proj.image}', 'web')
docker_compose('compose.yaml', project_name='{proj.name}')
""",
            "web/Dockerfile": broken,
            "web/public/index.html": "v1\n",
            "compose.yaml": (
                f"services:\n  web:\n    image: {proj.image}\n"
                f'    ports: ["127.0.0.1:{port}:8080"]\n'
            ),
        }
    )
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore())

    async def body(eng: Engine) -> None:
        await until(lambda: res(eng, "web")["update"]["status"] == "error", "build failed", 60)
        web = res(eng, "web")
        assert web["status"] == "error"
        # The failing step and its output are shown.
        build_log = log_text(eng, "web", "build") + "\n" + web["update"]["error"]
        assert "exit 7" in build_log
        assert "missing-dep" in build_log
        assert not proj.client.containers.list(filters={"name": proj.name}, all=True)
        # Fixing the Dockerfile is a change the image's matcher accepts: it retries.
        (proj.root / "web/Dockerfile").write_text(WEB_DOCKERFILE)
        await until(lambda: res(eng, "web")["runtime"]["state"] == "running", "running", 60)
        assert res(eng, "web")["update"]["status"] == "ok"
        assert res(eng, "web")["update"]["count"] == 2
        await until(lambda: http_get(f"http://127.0.0.1:{port}/") == "v1\n", "served")

    drive(eng, body)


def test_service_compose_builds_rebuilds_on_a_change_in_its_build_context(
    proj: Proj,
) -> None:
    port = free_port()
    proj.busybox("web")
    built_image = f"{proj.name}-web"  # Compose's default name for the image it builds
    proj.write(
        {
            # No docker_build: Compose builds the service itself.
            "Tiltfile": f"docker_compose('compose.yaml', project_name='{proj.name}')\n",
            "compose.yaml": f"""
services:
  web:
    build: ./web
    stop_signal: SIGKILL
    ports: ["127.0.0.1:{port}:8080"]
""",
            "web/Dockerfile": WEB_DOCKERFILE,
            "web/.dockerignore": "public/ignored.html\n",
            "web/public/index.html": "v1\n",
            "web/public/ignored.html": "never sent\n",
            "web/public/draft.html": "tiltignored\n",
            ".tiltignore": "web/public/draft.html\n",
            "README.md": "outside the build context\n",
        }
    )
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=True, quiet_period_s=0.05)
    url = f"http://127.0.0.1:{port}/"

    async def body(eng: Engine) -> None:
        await until(lambda: http_get(url) == "v1\n", "v1 served", 90)
        await until(lambda: res(eng, "web")["update"]["status"] == "ok", "first update done")
        assert "(Compose builds its image)" in log_text(eng, "web")
        cid = res(eng, "web")["runtime"]["container_id"]

        # A change in the build context: Compose rebuilds, the new content is served.
        (proj.root / "web/public/index.html").write_text("v2\n")
        await until(lambda: http_get(url) == "v2\n", "v2 served", 90)
        await until(lambda: res(eng, "web")["update"]["status"] == "ok", "rebuild done")
        assert res(eng, "web")["update"]["count"] == 2
        assert res(eng, "web")["runtime"]["container_id"] != cid
        assert "1 File Changed: [web/public/index.html]" in log_text(eng, "web")

        # Outside the context, excluded by its .dockerignore or by .tiltignore: nothing.
        (proj.root / "README.md").write_text("changed\n")
        (proj.root / "web/public/ignored.html").write_text("changed\n")
        (proj.root / "web/public/draft.html").write_text("changed\n")
        await asyncio.sleep(0.8)
        assert res(eng, "web")["update"]["count"] == 2
        assert not res(eng, "web")["queued"]

    try:
        drive(eng, body, timeout_s=180)
    finally:
        sweep_project(proj.client, proj.name)
        with contextlib.suppress(Exception):
            proj.client.api.remove_image(built_image, force=True)
