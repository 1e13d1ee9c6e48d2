"""The cluster is down when `tilt up` starts: the Kubernetes resource says so and deploys
again with backoff; a local resource is not concerned; once the API answers, it deploys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write_tree
from tests.k8s.cluster import Controller
from tests.k8s.emulator import Emulator
from tilt.engine import Engine
from tilt.engine.runner import standard_runners
from tilt.logstore import LogStore

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.local/web:1}]}
"""


async def until(pred: Callable[[], bool]) -> None:
    while not pred():
        await asyncio.sleep(0.05)


def test_deploy_waits_for_the_cluster(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    port = emu.port
    emu.stop()
    write_tree(
        tmp_path,
        {
            "Tiltfile": "k8s_yaml('app.yaml')\nk8s_resource('web')\n"
            "local_resource('ok', cmd='echo fine')\n",
            "app.yaml": APP,
        },
    )
    eng = Engine(str(tmp_path / "Tiltfile"), logs=LogStore(), watch=False, runners=standard_runners)

    def res(name: str) -> dict[str, object]:
        (r,) = [r for r in eng.snapshot()["resources"] if r["name"] == name]
        return dict(r)

    def web_lines() -> list[str]:
        return [ln.text for ln in eng.logs.lines("web")]

    async def scenario() -> None:
        task = asyncio.create_task(eng.run())
        # Two attempts failed: it retries by itself.
        await until(lambda: sum("Deploying again in" in t for t in web_lines()) >= 2)
        rt = res("web")["runtime"]
        assert isinstance(rt, dict)
        assert rt["message"].startswith(f"cannot reach the Kubernetes API at {emu.url}: ")
        assert "retrying in" in rt["message"]
        await until(lambda: bool(res("ok")["ready"]))  # the local resource went on
        emu.start(port)
        with Controller(emu):
            await until(lambda: bool(res("web")["ready"]))
        eng.shutdown()
        await task

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert emu.find("apps/v1", "Deployment", "web") is not None
    assert "Deploying again in 0.5s" in web_lines() and "Deploying again in 1s" in web_lines()


def test_a_watch_thread_reporting_after_exit_is_dropped(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pod watch thread still delivering when `tilt` has exited (its loop closed) must not
    raise in that thread (CI saw `RuntimeError: Event loop is closed` from `pods-default`)."""
    import threading

    from tilt.k8s.monitor import PodsView
    from tilt.k8s.pods import Readiness
    from tilt.model import ResourceKind

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    write_tree(
        tmp_path, {"Tiltfile": "k8s_yaml('app.yaml')\nk8s_resource('web')\n", "app.yaml": APP}
    )
    eng = Engine(str(tmp_path / "Tiltfile"), logs=LogStore(), watch=False, runners=standard_runners)

    async def scenario() -> None:
        task = asyncio.create_task(eng.run())
        with Controller(emu):
            await until(lambda: any(r["ready"] for r in eng.snapshot()["resources"]))
        eng.shutdown()
        await task

    asyncio.run(asyncio.wait_for(scenario(), 60))
    runner = eng._runners[ResourceKind.K8S]
    errors: list[BaseException] = []

    def late() -> None:
        try:
            runner._on_view(
                "web",
                PodsView(pods=(), readiness=Readiness.WAITING, reason="", forward_target=None),
            )  # type: ignore[attr-defined]
            runner._on_log("web", "late line")  # type: ignore[attr-defined]
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=late)
    t.start()
    t.join()
    assert errors == []
