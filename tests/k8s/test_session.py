"""The whole flow through K8sSession on the emulated API: what the runner will do."""

from __future__ import annotations

import base64
import queue
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.cluster import rollout, running
from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tests.k8s.test_apply import deployment
from tests.k8s.test_logs import eventually
from tests.k8s.test_portforward import Backend
from tilt.k8s.apply import ApplyError
from tilt.k8s.client import ContextRefused
from tilt.k8s.monitor import PodsView
from tilt.k8s.pods import Readiness
from tilt.k8s.session import K8sSession
from tilt.model import K8sObject, K8sTarget, PortForward, Settings

Obj = dict[str, Any]

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db"},
    "data": {"password": base64.b64encode(b"s3cr3t-value").decode()},
}


def target(*bodies: Obj, forwards: tuple[PortForward, ...] = ()) -> K8sTarget:
    objs = tuple(
        K8sObject(api_version=b["apiVersion"], kind=b["kind"], name=b["metadata"]["name"], body=b)
        for b in bodies
    )
    return K8sTarget(objects=objs, image_refs=("web",), port_forwards=forwards)


class Recorder:
    def __init__(self) -> None:
        self.views: queue.Queue[tuple[str, PodsView]] = queue.Queue()
        self.lines: list[tuple[str, str]] = []

    def view(self, resource: str, v: PodsView) -> None:
        self.views.put((resource, v))

    def log(self, resource: str, line: str) -> None:
        self.lines.append((resource, line))

    def until(self, pred: Any, what: str) -> PodsView:
        while True:
            try:
                _, v = self.views.get(timeout=10)
            except queue.Empty:
                raise AssertionError(f"never happened: {what}") from None
            if pred(v):
                return v


@pytest.fixture
def session(kubeconfig: Path) -> Iterator[tuple[K8sSession, Recorder]]:
    rec = Recorder()
    s = K8sSession.connect(Settings(), on_view=rec.view, on_log=rec.log, kubeconfig=str(kubeconfig))
    yield s, rec
    s.close()


def test_deploy_follow_forward_update_and_down(emu: Emulator, session: Any) -> None:
    s, rec = session
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local_port = probe.getsockname()[1]
    backend = Backend("hello from the pod")
    emu.port_handler = lambda pod, port: (
        socket.create_connection(("127.0.0.1", backend.port)) if port == 80 else None
    )
    try:
        t = target(
            SECRET,
            deployment(),
            forwards=(PortForward(local_port=local_port, container_port=80, name="web"),),
        )
        result = run(s.deploy("web", t, {"web": "web:tilt-1"}))
        assert [o["kind"] for o in result.objects] == ["Secret", "Deployment"]
        (link,) = s.links("web")
        assert link.url == f"http://localhost:{local_port}/" and link.name == "web"
        dep = result.objects[1]
        _, (pod,) = rollout(emu, dep)
        name = pod["metadata"]["name"]
        emu.log(name, "app", "listening", "password is s3cr3t-value")
        emu.patch_status("Pod", name, running())
        v = rec.until(lambda v: v.readiness is Readiness.READY, "ready")
        assert v.pods[0].name == name
        eventually(
            lambda: ("web", "password is [redacted secret db:password]") in rec.lines,
            "the scrubbed log line",
        )
        assert not any("s3cr3t-value" in line for _, line in rec.lines)
        with urllib.request.urlopen(link.url, timeout=10) as r:
            assert r.read() == b"hello from the pod"
        (up,) = s.updaters("web", "web:tilt-1")
        assert (up.pod, up.container) == (name, "app")
        assert s.updaters("web", "other:tilt-1") == []
        down = run(s.down([("web", t)]))
        assert down.deleted == [
            "Deployment/web (namespace default)",
            "Secret/db (namespace default)",
        ]
        assert emu.find("apps/v1", "Deployment", "web") is None
    finally:
        backend.close()


def test_port_in_use_is_an_error_on_that_link_only(emu: Emulator, session: Any) -> None:
    s, rec = session
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        t = target(
            deployment(),
            forwards=(
                PortForward(local_port=port, container_port=80),
                PortForward(local_port=0, container_port=81),
            ),
        )
        run(s.deploy("web", t, {}))
        bad, good = s.links("web")
        assert "already in use" in bad.error and good.url.startswith("http://localhost:")
        assert any("already in use" in line for _, line in rec.lines)
    finally:
        taken.close()


def test_connect_refuses_a_remote_context(tmp_path: Path) -> None:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
        "clusters: [{name: prod, cluster: {server: 'https://prod.example.com'}}]\n"
        "contexts: [{name: prod, context: {cluster: prod, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    with pytest.raises(ContextRefused, match="Stop! prod might be production"):
        K8sSession.connect(
            Settings(), on_view=lambda *a: None, on_log=lambda *a: None, kubeconfig=str(cfg)
        )
    s = K8sSession.connect(
        Settings(allowed_k8s_contexts=("prod",)),
        on_view=lambda *a: None,
        on_log=lambda *a: None,
        kubeconfig=str(cfg),
    )
    assert s.context is not None and s.context.product == "remote"
    s.close()


def test_custom_deploy_output_is_followed(emu: Emulator, session: Any) -> None:
    import json

    from tilt.k8s.session import parse_apply_output

    s, rec = session
    # what `kubectl apply -o json` of the user's apply_cmd would print: the live objects
    dep = emu.put({**deployment(), "metadata": {"name": "web"}})
    printed = json.dumps({"apiVersion": "v1", "kind": "List", "items": [dep]})
    objs = parse_apply_output(printed)
    s.track_objects("custom", objs)
    _, (pod,) = rollout(emu, dep)
    emu.patch_status("Pod", pod["metadata"]["name"], running())
    v = rec.until(lambda v: v.readiness is Readiness.READY, "the custom deploy's pod ready")
    assert v.pods[0].name == pod["metadata"]["name"]
    with pytest.raises(ValueError, match="with uids"):
        parse_apply_output("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    with pytest.raises(ValueError, match="not YAML"):
        parse_apply_output("deployment.apps/web configured\n: :")


def test_update_settings_server_side_apply_false_applies_client_side(
    emu: Emulator, kubeconfig: Path
) -> None:
    """The Tiltfile's update_settings(k8s_server_side_apply="false") reaches the applier."""
    rec = Recorder()
    s = K8sSession.connect(
        Settings(k8s_server_side_apply="false"),
        on_view=rec.view,
        on_log=rec.log,
        kubeconfig=str(kubeconfig),
    )
    try:
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
        r = run(s.deploy("cfg", target(cm)))
        assert r.method == "client-side"
        live = emu.get("v1", "ConfigMap", "c")
        assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]
    finally:
        s.close()


def test_an_apply_error_quoting_a_secret_value_is_scrubbed(emu: Emulator, session: Any) -> None:
    # A Secret whose YAML left a value unquoted (a number): the real server's server-side
    # apply refuses it and quotes the value. Neither the error nor the log may show it.
    s, rec = session
    pin = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "card"},
        "stringData": {"pin": 86753091},
    }
    with pytest.raises(ApplyError) as e:
        run(s.deploy("web", target(pin)))
    assert "expected string" in str(e.value)
    assert "86753091" not in str(e.value)
    assert "[redacted secret card:pin]" in e.value.errors["Secret/card"]
    assert not any("86753091" in line for _, line in rec.lines)


def test_secrets_an_apply_cmd_deployed_are_scrubbed_too(emu: Emulator, session: Any) -> None:
    # k8s_custom_deploy: the Secrets its apply_cmd printed are known from then on.
    s, rec = session
    printed = {**SECRET, "metadata": {"name": "db", "uid": "u-1", "namespace": "default"}}
    s.track_objects("custom", [printed])
    s.log("custom", "password is s3cr3t-value")
    assert rec.lines[-1] == ("custom", "password is [redacted secret db:password]")
