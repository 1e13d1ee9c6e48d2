"""examples/k8s loads, and deploys to the emulated API with the built images injected."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tilt.k8s.client import KubeClient
from tilt.k8s.session import K8sSession
from tilt.model import ResourceKind
from tilt.tiltfile import load_tiltfile

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "k8s" / "Tiltfile"


def test_example_loads_and_deploys(emu: Emulator, kube: KubeClient) -> None:
    result = load_tiltfile(str(EXAMPLE))
    k8s = {r.name: r for r in result.resources if r.kind is ResourceKind.K8S}
    assert sorted(k8s) == ["api", "web"]
    web, api = k8s["web"], k8s["api"]
    assert web.k8s is not None and api.k8s is not None
    assert [(p.local_port, p.container_port) for p in web.k8s.port_forwards] == [(8080, 8080)]
    assert [(p.local_port, p.container_port, p.name) for p in api.k8s.port_forwards] == [
        (8081, 8081, "api")
    ]
    assert {o.kind for o in web.k8s.objects} == {"Deployment", "Service"}
    assert web.resource_deps == ("busybox",)
    views: list[Any] = []
    session = K8sSession(kube, on_view=lambda r, v: views.append(r), on_log=lambda r, s: None)
    try:
        for r in (web, api):
            assert r.k8s is not None
            target = dataclasses.replace(r.k8s, port_forwards=())  # no fixed ports in tests
            built = {ref: f"{ref}:tilt-0123456789abcdef" for ref in r.image_refs}
            run(session.deploy(r.name, target, built))
        for name in ("web", "api"):
            dep = emu.get("apps/v1", "Deployment", name)
            (c,) = dep["spec"]["template"]["spec"]["containers"]
            assert c["image"] == f"tilt-example-k8s-{name}:tilt-0123456789abcdef"
            assert c["imagePullPolicy"] == "IfNotPresent"
        assert emu.find("v1", "Service", "api") is not None
    finally:
        session.close()
