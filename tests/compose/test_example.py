"""examples/compose works: load, build, up, serve, live update (sync + run, sync + restart)."""

from __future__ import annotations

import dataclasses
import http.client
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import run
from tilt.docker.compose import ComposeProject
from tilt.docker.sync import ContainerSyncer
from tilt.liveupdate import plan_live_update
from tilt.tiltfile import load_tiltfile

EXAMPLE = Path(__file__).parents[2] / "examples" / "compose"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout_s: float = 15) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except (OSError, http.client.HTTPException):  # refused, or cut short by a restart
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_example_compose_app(
    tmp_path: Path, project_name: str, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "compose"
    shutil.copytree(EXAMPLE, root)
    ports = {"WEB_PORT": str(free_port()), "API_PORT": str(free_port())}
    for k, v in ports.items():
        monkeypatch.setenv(k, v)
    result = load_tiltfile(str(root / "Tiltfile"))
    setup = result.resource("busybox").local
    assert setup is not None and setup.cmd is not None
    subprocess.run(setup.cmd.argv, cwd=setup.dir or root, check=True)

    tags: dict[str, str] = {}
    try:
        for img in result.images:
            tags[img.ref] = f"{img.ref}:tilt-{project_name}"
            docker_client.images.build(path=img.context, tag=tags[img.ref], rm=True, forcerm=True)
        order = [n for n in result.order if result.resource(n).compose is not None]
        assert order == ["api", "web"]  # web depends_on api

        async def scenario() -> None:
            project: ComposeProject | None = None
            for name in order:
                res = result.resource(name)
                assert res.compose is not None
                project = dataclasses.replace(
                    ComposeProject.from_target(res.compose, override_dir=str(tmp_path / "ov")),
                    name=project_name,
                )
                up = await project.up(res.compose.service, image_override=tags[res.image_refs[0]])
                assert up.ok, up.error()
            assert project is not None
            web = f"http://127.0.0.1:{ports['WEB_PORT']}/"
            api = f"http://127.0.0.1:{ports['API_PORT']}/"
            assert "Hello from web" in get(web)
            assert get(api).strip() == '{"message": "hello from api v1"}'

            # web: sync + triggered run, no restart.
            index = root / "web" / "public" / "index.html"
            index.write_text("<h1>Hello again</h1>\n")
            plan = plan_live_update(result.image("tilt-example-web").live_update, [str(index)])
            syncer = ContainerSyncer(docker_client, project.container_id("web", docker_client))
            res = await syncer.apply(plan)
            assert res.ok and not res.restarted, res.fall_back
            assert get(web) == "<h1>Hello again</h1>\n"
            assert get(web + "synced-at.txt").strip()

            # api: sync + restart_container().
            msg = root / "api" / "app" / "message.txt"
            msg.write_text("hello from api v2")
            plan = plan_live_update(result.image("tilt-example-api").live_update, [str(msg)])
            syncer = ContainerSyncer(docker_client, project.container_id("api", docker_client))
            res = await syncer.apply(plan)
            assert res.ok and res.restarted, res.fall_back
            assert get(api).strip() == '{"message": "hello from api v2"}'

            # A Dockerfile edit falls back to a rebuild.
            plan = plan_live_update(
                result.image("tilt-example-api").live_update, [str(root / "api" / "Dockerfile")]
            )
            assert plan.falls_back
            down = await project.down(delete_volumes=True)
            assert down.ok, down.error()

        run(scenario())
    finally:
        for tag in tags.values():
            docker_client.api.remove_image(tag, force=True)
