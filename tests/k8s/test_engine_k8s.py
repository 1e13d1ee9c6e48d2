"""The Kubernetes runner in a real engine: `tilt ci` deploys, waits for pods, fails by reason."""

from __future__ import annotations

import asyncio
import os
import time
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
    spec: {containers: [{name: web, image: "IMAGE"}]}
"""


def ci(tmp_path: Path, image: str) -> tuple[int, Engine]:
    write_tree(
        tmp_path,
        {
            "Tiltfile": "k8s_yaml('app.yaml')\nk8s_resource('web')\n",
            "app.yaml": APP.replace("IMAGE", image),
        },
    )
    eng = Engine(
        str(tmp_path / "Tiltfile"),
        logs=LogStore(),
        watch=False,
        ci=True,
        ci_timeout_s=30,
        runners=standard_runners,
    )
    return asyncio.run(eng.run()), eng


def test_ci_deploys_and_waits_for_ready(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with Controller(emu):
        code, eng = ci(tmp_path, "registry.local/web:1")
    assert code == 0, eng.ci_outcome
    assert emu.find("apps/v1", "Deployment", "web") is not None
    (res,) = [r for r in eng.snapshot()["resources"] if r["name"] == "web"]
    assert res["runtime"]["status"] == "ok"
    assert res["runtime"]["state"].startswith("pod web-") and "1/1 ready" in res["runtime"]["state"]
    # The same pod as fields (the table, `tilt get` and the API read these).
    pod = res["runtime"]["pod"]
    assert pod is not None and res["runtime"]["state"].startswith(f"pod {pod['name']}: ")
    assert {k: v for k, v in pod.items() if k != "name"} == {
        "phase": "Running",
        "status": "ready",
        "reason": "Ready",
        "restarts": 0,
        "ready_containers": 1,
        "total_containers": 1,
    }
    lines = [ln.text for ln in eng.logs.lines("web")]
    assert any(t.startswith("Applying 1 object(s) to context kind-tilt") for t in lines)


def test_ci_fails_naming_the_reason(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with Controller(emu, image_outcome={"registry.local/web:bad": "ImagePullBackOff"}):
        code, eng = ci(tmp_path, "registry.local/web:bad")
    assert code != 0
    assert "ImagePullBackOff" in str(eng.ci_outcome)


def test_cancel_during_the_engine_build_stops_it_and_deploys_nothing(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine builds a Kubernetes resource's image in a task of the update's: cancelling
    the update stops the build's process, nothing is applied, nothing is logged after."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    write_tree(
        tmp_path,
        {
            "Tiltfile": "custom_build('registry.local/web', 'sh build.sh', deps=['src'],\n"
            "             skips_local_docker=True, outputs_image_ref_to='ref.txt')\n"
            "k8s_yaml('app.yaml')\nk8s_resource('web')\n",
            "app.yaml": APP.replace("IMAGE", "registry.local/web"),
            "build.sh": "echo $$ > pid\necho building\nsleep 60\n"
            "echo registry.local/web:done > ref.txt\n",
            "src/a.txt": "a\n",
        },
    )
    eng = Engine(str(tmp_path / "Tiltfile"), logs=LogStore(), watch=False, runners=standard_runners)

    def build_lines() -> list[str]:
        return [ln.text for ln in eng.logs.lines("web") if ln.span == "build"]

    def status() -> object:
        found = [r for r in eng.snapshot()["resources"] if r["name"] == "web"]
        return found[0]["update"]["status"] if found else None

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    async def until(pred: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not pred():
            assert time.monotonic() < deadline, f"timed out waiting for: {what}"
            await asyncio.sleep(0.02)

    pid = 0

    async def scenario() -> None:
        nonlocal pid
        task = asyncio.create_task(eng.run())
        try:
            await until(lambda: "building" in build_lines(), "the build runs")
            await until(lambda: (tmp_path / "pid").read_text().strip() != "", "its pid")
            pid = int((tmp_path / "pid").read_text())
            assert eng.cancel("web") == "cancelling the running update"
            await until(lambda: status() == "cancelled", "the update is cancelled")
            await until(lambda: not alive(pid), "the build's process is gone")
        finally:
            eng.shutdown()
            await task

    with Controller(emu):
        asyncio.run(asyncio.wait_for(scenario(), 120))
    lines = build_lines()
    assert lines[-1] == "Update cancelled", lines
    assert not (tmp_path / "ref.txt").exists()
    assert emu.find("apps/v1", "Deployment", "web") is None


SECRETS_TILTFILE = """
k8s_yaml(blob('''
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {token: hunter2-very-secret}
'''))
k8s_resource(new_name='secrets', objects=['db:secret'])
k8s_custom_deploy('cm', apply_cmd='echo "apply_cmd sees hunter2-very-secret" >&2; cat cm.yaml',
                  delete_cmd='true', deps=[])
k8s_resource('cm', resource_deps=['secrets'], pod_readiness='ignore')
"""

CM_OUTPUT = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cm, namespace: default, uid: 0b7d6a52-1111-4222-8333-944455556666}
data: {a: b}
"""


def test_the_runners_own_log_lines_are_scrubbed_of_secret_values(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not only pod logs and events: an update's lines (here an apply_cmd's stderr; as well
    # apply errors and live_update run() output) never show a deployed Secret's value.
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    write_tree(tmp_path, {"Tiltfile": SECRETS_TILTFILE, "cm.yaml": CM_OUTPUT})
    eng = Engine(
        str(tmp_path / "Tiltfile"),
        logs=LogStore(),
        watch=False,
        ci=True,
        ci_timeout_s=30,
        runners=standard_runners,
    )
    code = asyncio.run(eng.run())
    lines = [ln.text for ln in eng.logs.lines("cm")]
    assert code == 0, (eng.ci_outcome, lines)
    assert "apply_cmd sees [redacted secret db:token]" in lines, lines
    assert not any(
        "hunter2-very-secret" in t
        for r in ("cm", "secrets")
        for t in [ln.text for ln in eng.logs.lines(r)]
    )
