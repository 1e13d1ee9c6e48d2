"""The Kubernetes runner in a real engine: `tilt ci` deploys, waits for pods, fails by reason."""

from __future__ import annotations

import asyncio
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
