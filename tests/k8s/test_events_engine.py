"""Kubernetes events through the real engine and its Kubernetes runner (`tilt ci`).

Here: the session's ``[event]`` lines in the resource's log. The reason, the events list and
``k8s_quiet_events`` in the engine's state: tests/k8s/test_events_wiring.py.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tests.k8s.cluster import Controller
from tests.k8s.emulator import Emulator, now_rfc3339
from tests.k8s.test_engine_k8s import APP
from tilt.engine import Engine
from tilt.engine.runner import standard_runners
from tilt.logstore import LogLine, LogStore

Obj = dict[str, Any]


class KubeletWithEvents(Controller):
    """Writes the kubelet's pull events for each pod before its failing status, and waits
    (bounded) until they are in the resource's log, so `tilt ci` cannot end before them."""

    def __init__(self, emu: Emulator, logs: LogStore, **kw: Any) -> None:
        super().__init__(emu, **kw)
        self.seen = threading.Event()
        logs.add_listener(self._line)

    def _line(self, line: LogLine) -> None:
        if line.text.startswith("[event] Failed: Failed to pull image"):
            self.seen.set()

    def _kubelet(self, pod: Obj, image: str) -> None:
        for reason, typ, msg in (
            ("Pulling", "Normal", f'Pulling image "{image}"'),
            (
                "Failed",
                "Warning",
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                f'failed to pull and unpack image "{image}": not found',
            ),
        ):
            self.emu.put(
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {
                        "name": f"{pod['metadata']['name']}.{reason}",
                        "namespace": "default",
                    },
                    "involvedObject": {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": pod["metadata"]["name"],
                        "namespace": "default",
                        "uid": pod["metadata"]["uid"],
                    },
                    "reason": reason,
                    "type": typ,
                    "message": msg,
                    "count": 1,
                    "lastTimestamp": now_rfc3339(),
                }
            )
        self.seen.wait(10)
        super()._kubelet(pod, image)


def test_tilt_ci_shows_why_a_pull_fails(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = "registry.local/web:bad"
    write_tree(
        tmp_path,
        {
            "Tiltfile": "k8s_yaml('app.yaml')\nk8s_resource('web')\n",
            "app.yaml": APP.replace("IMAGE", image),
        },
    )
    logs = LogStore()
    eng = Engine(
        str(tmp_path / "Tiltfile"),
        logs=logs,
        watch=False,
        ci=True,
        ci_timeout_s=30,
        runners=standard_runners,
    )
    with KubeletWithEvents(emu, logs, image_outcome={image: "ImagePullBackOff"}):
        code = asyncio.run(eng.run())
    assert code != 0
    lines = [ln.text for ln in logs.lines("web") if ln.text.startswith("[event]")]
    assert lines == [
        f'[event] Pulling: Pulling image "{image}"',
        f'[event] Failed: Failed to pull image "{image}": rpc error: code = NotFound desc = '
        f'failed to pull and unpack image "{image}": not found',
        f"[event]   image {image} from registry registry.local (the registry does not have "
        "this tag: was it pushed there?)",
    ]
