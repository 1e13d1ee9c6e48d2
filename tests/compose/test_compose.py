"""Compose services against the real Docker engine and Compose CLI.

up/down/rm, runtime status (healthcheck, exit codes, restarts), container
events (OOM kill, failing healthcheck, death, restart), logs across restarts,
depends_on order and our image override.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.compose.conftest import run
from tests.conftest import write_tree
from tilt.docker.compose import (
    ComposeProject,
    ServiceState,
    ServiceStatus,
    compose_command,
)
from tilt.docker.events import ContainerEvent, EventKeeper, watch_events
from tilt.model import TiltfileResult
from tilt.tiltfile import load_tiltfile


def load(tmp_path: Path, tiltfile: str, files: dict[str, str]) -> TiltfileResult:
    write_tree(tmp_path, {"Tiltfile": tiltfile, **files})
    return load_tiltfile(str(tmp_path / "Tiltfile"))


async def wait_for(
    project: ComposeProject,
    service: str,
    client: Any,
    done: Callable[[ServiceStatus], bool],
    timeout_s: float = 20,
) -> list[ServiceStatus]:
    """Poll the service's status until ``done``; return the distinct states seen."""
    seen: list[ServiceStatus] = []
    deadline = time.monotonic() + timeout_s
    while True:
        st = await project.status_async(service, client)
        if not seen or seen[-1].state is not st.state:
            seen.append(st)
        if done(st):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"{service}: gave up waiting; states seen: {seen}")
        await asyncio.sleep(0.2)


def test_compose_cli_is_found_and_runs() -> None:
    import subprocess

    argv = [*compose_command(), "version"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "Docker Compose version v2" in proc.stdout


LIFECYCLE = """
services:
  db:
    image: {image}
    stop_signal: SIGKILL
    command:
      - sh
      - -c
      - echo db starting; sleep 1; touch /tmp/ready; echo db ready; exec sleep 1000
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 1s
      retries: 30
    volumes: ["data:/data"]
  web:
    image: {image}
    stop_signal: SIGKILL
    depends_on:
      db:
        condition: service_healthy
    command: ["sh", "-c", "echo web up; exec sleep 1000"]
volumes:
  data: {{}}
"""


def test_lifecycle_depends_on_logs_rm_and_down(
    tmp_path: Path, project_name: str, images: Callable[[str], str], docker_client: Any
) -> None:
    image = images("full")
    result = load(
        tmp_path,
        f"docker_compose('compose.yaml', project_name='{project_name}')\n",
        {"compose.yaml": LIFECYCLE.format(image=image)},
    )
    web = result.resource("web")
    assert web.resource_deps == ("db",)  # depends_on became a resource dep
    assert web.compose is not None
    project = ComposeProject.from_target(web.compose)
    assert project.name == project_name
    assert project.project_dir == str(tmp_path)

    async def scenario() -> None:
        db_lines: list[str] = []
        out: list[str] = []
        logs = asyncio.ensure_future(
            project.follow_logs("db", db_lines.append, client=docker_client)
        )
        # The engine's order: each resource after its deps are ready.
        for name in result.order:
            res = result.resource(name)
            assert res.compose is not None
            up = await project.up(res.compose.service, on_output=out.append)
            assert up.ok, up.error()
            assert "--no-deps" in up.argv
            seen = await wait_for(project, res.compose.service, docker_client, lambda s: s.ready)
            if name == "db":
                # A healthcheck: starting (running, not yet healthy) -> healthy.
                assert [s.state for s in seen][-2:] == [ServiceState.STARTING, ServiceState.HEALTHY]
        assert result.order.index("db") < result.order.index("web")
        db_id = project.container_id("db", docker_client)
        web_id = project.container_id("web", docker_client)
        started = {
            cid: docker_client.api.inspect_container(cid)["State"]["StartedAt"]
            for cid in (db_id, web_id)
        }
        assert started[db_id] < started[web_id]

        # Logs follow the container across a restart, without repeating lines.
        deadline = time.monotonic() + 10
        while db_lines.count("db ready") < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.to_thread(docker_client.api.restart, db_id, timeout=0)
        while db_lines.count("db ready") < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        logs.cancel()
        assert db_lines == ["db starting", "db ready", "db starting", "db ready"]

        # rm: one service gone, the other untouched.
        rm = await project.rm("web")
        assert rm.ok, rm.error()
        assert project.status("web", docker_client).state is ServiceState.NOT_FOUND
        assert project.status("db", docker_client).ready

        # down keeps volumes unless asked.
        down = await project.down()
        assert down.ok, down.error()
        vols = docker_client.api.volumes(
            filters={"label": [f"com.docker.compose.project={project_name}"]}
        )
        assert [v["Name"] for v in vols["Volumes"] or []] == [f"{project_name}_data"]
        down = await project.down(delete_volumes=True)
        assert down.ok, down.error()
        vols = docker_client.api.volumes(
            filters={"label": [f"com.docker.compose.project={project_name}"]}
        )
        assert not vols["Volumes"]
        assert project.status("db", docker_client).state is ServiceState.NOT_FOUND

    run(scenario())


PROBLEMS = """
services:
  job:
    image: {image}
    command: ["sh", "-c", "echo bye; exit 3"]
  flaky:
    image: {image}
    restart: always
    command: ["sh", "-c", "echo crash; exit 1"]
  sick:
    image: {image}
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      timeout: 1s
      retries: 1
  hog:
    image: {image}
    mem_limit: 8m
    memswap_limit: 8m
    command: ["sh", "-c", "x=0123456789abcdef; while true; do x=$$x$$x; done"]
"""


def test_status_and_events_for_exit_restart_unhealthy_and_oom(
    tmp_path: Path, project_name: str, images: Callable[[str], str], docker_client: Any
) -> None:
    image = images("full")
    result = load(
        tmp_path,
        f"docker_compose('compose.yaml', project_name='{project_name}')\n",
        {"compose.yaml": PROBLEMS.format(image=image)},
    )
    target = result.resource("job").compose
    assert target is not None
    project = ComposeProject.from_target(target)

    async def scenario() -> None:
        keepers = {svc: EventKeeper() for svc in ("job", "flaky", "sick", "hog")}
        lines: list[str] = []

        def on_event(ev: ContainerEvent) -> None:
            kept = keepers[ev.service].add(ev)
            lines.append(kept.render())

        watcher = asyncio.ensure_future(watch_events(docker_client, project_name, on_event))
        await asyncio.sleep(0.2)  # the subscription is open before anything starts
        ups = await asyncio.gather(*(project.up(s) for s in keepers))
        assert all(u.ok for u in ups), [u.error() for u in ups]

        job = (
            await wait_for(project, "job", docker_client, lambda s: s.state is ServiceState.EXITED)
        )[-1]
        assert (job.exit_code, job.describe()) == (3, "exited (code 3)")
        flaky = (await wait_for(project, "flaky", docker_client, lambda s: s.restart_count >= 2))[
            -1
        ]
        # Between restarts it is running (no exit code) or restarting (the last one).
        assert flaky.exit_code in (None, 1)
        sick = await wait_for(
            project, "sick", docker_client, lambda s: s.state is ServiceState.UNHEALTHY
        )
        assert sick[-1].describe() == "unhealthy"
        hog = (
            await wait_for(project, "hog", docker_client, lambda s: s.state is ServiceState.EXITED)
        )[-1]
        assert hog.exit_code == 137
        # Docker sets State.OOMKilled from the cgroup's OOM notification, which can lose the
        # race with the exit on a loaded machine; its `oom` event is the other witness.
        assert hog.describe() in ("exited (code 137, OOM-killed)", "exited (code 137)")

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(k.newest_problem() for k in keepers.values()):
            await asyncio.sleep(0.1)
        watcher.cancel()
        assert keepers["job"].newest_problem() == "Died: exited with code 3"
        assert (
            keepers["flaky"]
            .newest_problem()
            .startswith(
                (
                    "Restarted: restarted by its restart policy after exiting with code 1",
                    "Died: exited with code 1",
                )
            )
        )
        assert keepers["sick"].newest_problem() == "Unhealthy: healthcheck failing: unhealthy"
        # What we show agrees with Docker: when Docker saw the OOM kill (State.OOMKilled or its
        # `oom` event), so do the status line and the events. (On a loaded cgroup-v1 host
        # Docker itself sometimes loses the kernel's OOM notification; the translation of
        # both event orders is covered without Docker in tests/compose/test_events.py.)
        final = await project.status_async("hog", docker_client)
        saw_oom_event = any(e.reason == "OOMKilled" for e in keepers["hog"].events)
        if final.oom_killed:
            assert final.describe() == "exited (code 137, OOM-killed)"
        if final.oom_killed or saw_oom_event:
            assert keepers["hog"].newest_problem().startswith("OOMKilled: ")
        else:
            assert keepers["hog"].newest_problem() == "Died: exited with code 137"
        reasons = {(e.reason, e.object) for k in keepers.values() for e in k.events}
        names = {svc: f"container {project_name}-{svc}-1" for svc in keepers}
        assert ("Died", names["flaky"]) in reasons
        assert ("Restarted", names["flaky"]) in reasons
        died = next(e for e in keepers["flaky"].events if e.reason == "Died")
        assert died.count >= 2 and died.first_seen <= died.last_seen  # repeats folded
        assert f"[event] {names['job']}: Died: exited with code 3" in lines
        assert f"[event] {names['sick']}: Unhealthy: healthcheck failing: unhealthy" in lines
        # Stopping a service ourselves is not a problem.
        keepers["sick"].clear()
        await project.down(delete_volumes=True)
        assert keepers["sick"].newest_problem() == ""

    run(scenario())


def test_up_with_our_image_writes_an_override_and_skips_the_build(
    tmp_path: Path, project_name: str, images: Callable[[str], str], docker_client: Any
) -> None:
    base = images("full")
    # A service Compose would build itself (and fail: no such base image to pull).
    compose = """
services:
  app:
    build: ./app
    image: tilt-test-compose-app
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    ports: ["127.0.0.1::80"]
"""
    tiltfile = f"""
docker_build('tilt-test-compose-app', 'app')
docker_compose('compose.yaml', project_name='{project_name}')
"""
    files = {
        "compose.yaml": compose,
        "app/Dockerfile": "FROM does-not-exist.invalid/nothing\n",
    }
    result = load(tmp_path, tiltfile, files)
    res = result.resource("app")
    assert res.image_refs == ("tilt-test-compose-app",)
    assert res.compose is not None
    project = ComposeProject.from_target(res.compose, override_dir=str(tmp_path / "overrides"))
    # What our image builder would have produced: a content-tagged image.
    ours = f"tilt-test-compose-app:tilt-{project_name}"
    docker_client.api.tag(base, "tilt-test-compose-app", tag=f"tilt-{project_name}")
    try:

        async def scenario() -> None:
            up = await project.up("app", image_override=ours, on_output=lambda _: None)
            assert up.ok, up.error()
            assert "--no-build" in up.argv
            override = json.loads((tmp_path / "overrides" / "app.image-override.yml").read_text())
            assert override == {"services": {"app": {"image": ours}}}
            st = await project.status_async("app", docker_client)
            assert st.image == ours
            assert st.state is ServiceState.RUNNING
            # Published on 127.0.0.1 only.
            ports = docker_client.api.inspect_container(st.container_id)["NetworkSettings"]["Ports"]
            assert {b["HostIp"] for b in ports["80/tcp"]} == {"127.0.0.1"}
            down = await project.down(delete_volumes=True)
            assert down.ok, down.error()

        run(scenario())
    finally:
        docker_client.api.remove_image(ours, force=True)


def test_cancelled_up_stops_the_compose_cli(
    tmp_path: Path, project_name: str, docker_client: Any
) -> None:
    import shutil

    files = {
        "compose.yaml": "services:\n  slow:\n    build: ./slow\n",
        "slow/Dockerfile": (
            'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sleep", "60"]\n'
        ),
    }
    result = load(
        tmp_path, f"docker_compose('compose.yaml', project_name='{project_name}')\n", files
    )
    shutil.copy("/bin/busybox", tmp_path / "slow" / "busybox")
    target = result.resource("slow").compose
    assert target is not None
    project = ComposeProject.from_target(target)

    def compose_pids() -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ")
                except OSError:
                    continue
                if project_name.encode() in cmd and b"up" in cmd:
                    pids.append(int(entry))
        return pids

    async def scenario() -> None:
        started = asyncio.Event()
        task = asyncio.ensure_future(
            project.up("slow", build=True, on_output=lambda _: started.set())
        )
        await asyncio.wait_for(started.wait(), 30)  # the CLI runs (and is building)
        assert compose_pids()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        deadline = time.monotonic() + 10
        while compose_pids() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert compose_pids() == []

    run(scenario())
