"""Port forwards through the client's websocket to emulated pods backed by real servers."""

from __future__ import annotations

import http.server
import socket
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.k8s.emulator import Emulator
from tilt.k8s.client import KubeClient
from tilt.k8s.portforward import (
    PortForwarder,
    PortInUse,
    bind_host,
    container_port_for,
    newest_running_pod,
)
from tilt.model import PortForward

Obj = dict[str, Any]


class Backend:
    """A real HTTP server standing in for a container's port; answers with its pod's name."""

    def __init__(self, name: str) -> None:
        answer = name.encode()

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *a: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends(emu: Emulator) -> Iterator[dict[str, Backend]]:
    made: dict[str, Backend] = {}

    def handler(pod: Obj, port: int) -> socket.socket | None:
        b = made.get(pod["metadata"]["name"])
        if b is None or port != 80:
            return None  # nothing listens there in the "container"
        return socket.create_connection(("127.0.0.1", b.port))

    emu.port_handler = handler
    yield made
    for b in made.values():
        b.close()


def pod(emu: Emulator, name: str, created: str, phase: str = "Running") -> Obj:
    return emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {
                "containers": [{"name": "app", "image": "x", "ports": [{"containerPort": 80}]}]
            },
            "status": {"phase": phase},
        }
    )


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def test_forms_and_defaults() -> None:
    assert bind_host(PortForward(local_port=8000, container_port=80)) == "127.0.0.1"
    assert bind_host(PortForward(local_port=8000, container_port=80, host="0.0.0.0")) == "0.0.0.0"
    p = {"spec": {"containers": [{"ports": [{"containerPort": 8080}]}]}}
    assert container_port_for(PortForward(local_port=9000, container_port=0), p) == 8080
    assert container_port_for(PortForward(local_port=9000, container_port=81), p) == 81
    assert container_port_for(PortForward(local_port=9000, container_port=0), {"spec": {}}) == 9000


def test_newest_running_pod() -> None:
    def p(name: str, created: str, phase: str = "Running", deleting: bool = False) -> Obj:
        meta: Obj = {"name": name, "creationTimestamp": created}
        if deleting:
            meta["deletionTimestamp"] = created
        return {"metadata": meta, "status": {"phase": phase}}

    pods = [
        p("old", "2026-01-01T00:00:00Z"),
        p("new", "2026-01-01T00:01:00Z"),
        p("pending", "2026-01-01T00:02:00Z", "Pending"),
        p("going", "2026-01-01T00:03:00Z", deleting=True),
    ]
    assert newest_running_pod(pods)["metadata"]["name"] == "new"  # type: ignore[index]
    assert newest_running_pod([]) is None


def test_forward_reaches_the_pod_and_follows_its_replacement(
    emu: Emulator, kube: KubeClient, backends: dict[str, Backend]
) -> None:
    backends["web-a"] = Backend("web-a")
    backends["web-b"] = Backend("web-b")
    a = pod(emu, "web-a", "2026-01-01T00:00:00Z")
    log: list[str] = []
    fwd = PortForwarder(kube, PortForward(local_port=0, container_port=0), log=log.append)
    fwd.start()
    try:
        assert fwd.address[0] == "127.0.0.1"
        fwd.set_target("default", a)
        assert get(fwd.url) == "web-a"
        assert get(fwd.url) == "web-a"
        # the pod is replaced (a new rollout): the forward follows
        b = pod(emu, "web-b", "2026-01-01T00:05:00Z")
        emu.remove("v1", "Pod", "web-a")
        fwd.set_target("default", newest_running_pod(emu.list("v1", "Pod")))
        assert get(fwd.url) == "web-b"
        assert fwd.connections == 3
        assert log == [
            "port-forward 127.0.0.1:0 -> pod web-a:80",
            "port-forward 127.0.0.1:0 -> pod web-b:80",
        ]
        assert b["metadata"]["name"] == "web-b"
    finally:
        fwd.stop()


def test_nothing_listening_in_the_pod_is_logged(
    emu: Emulator, kube: KubeClient, backends: dict[str, Backend]
) -> None:
    a = pod(emu, "web-a", "2026-01-01T00:00:00Z")  # no backend: connection refused in the pod
    log: list[str] = []
    fwd = PortForwarder(kube, PortForward(local_port=0, container_port=80), log=log.append)
    fwd.start()
    try:
        fwd.set_target("default", a)
        with pytest.raises(Exception):  # noqa: B017 - the HTTP client sees the connection end
            get(fwd.url)
        for _ in range(200):
            if any("connection refused" in line for line in log):
                break
            threading.Event().wait(0.025)
        assert any("connection refused" in line for line in log), log
    finally:
        fwd.stop()


def test_port_in_use_is_a_clear_error() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        fwd = PortForwarder(None, PortForward(local_port=port, container_port=80))
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port}: the port is already in use"):
            fwd.start()
    finally:
        taken.close()
