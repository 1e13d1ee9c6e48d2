"""Built images reach the cluster: the Kubernetes runner probes the cluster's registry
(KEP-1755 ConfigMap on the emulated API), pushes to a real local registry, and deploys the
ref the cluster pulls; a pull failure is explained."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tests.docker.conftest import (
    IMAGE_PREFIX,
    busybox_dockerfile,
    copy_busybox,
    registry_tags,
    serve_registry,
)
from tests.k8s.cluster import Controller
from tests.k8s.emulator import Emulator
from tilt.engine import Engine
from tilt.engine.k8s_delivery import pull_failures
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
    spec: {containers: [{name: web, image: IMAGE}]}
"""


def test_images_are_pushed_to_the_registry_the_cluster_advertises(
    docker_client: Any,
    emu: Emulator,
    kubeconfig: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = f"{IMAGE_PREFIX}-k8s-web"
    (tmp_path / "registry").mkdir()
    with serve_registry(tmp_path / "registry") as host:
        emu.add_object(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
                "data": {"localRegistryHosting.v1": f'host: "{host}"\n'},
            }
        )
        write_tree(
            tmp_path,
            {
                "Tiltfile": f"docker_build('{image}', 'app')\nk8s_yaml('app.yaml')\n"
                "k8s_resource('web')\n",
                "app.yaml": APP.replace("IMAGE", image),
                "app/Dockerfile": busybox_dockerfile(),
            },
        )
        copy_busybox(tmp_path / "app")
        eng = Engine(
            str(tmp_path / "Tiltfile"),
            logs=LogStore(),
            watch=False,
            ci=True,
            ci_timeout_s=120,
            runners=standard_runners,
        )
        with Controller(emu):
            code = asyncio.run(eng.run())
        lines = [ln.text for ln in eng.logs.lines("web")]
        assert code == 0, (eng.ci_outcome, lines)
        assert any(
            t.startswith(f"Registry: {host} from the kube-public/local-registry-hosting ConfigMap")
            for t in lines
        ), lines
        assert any(t.startswith("Images: push") for t in lines), lines
        dep = emu.get("apps/v1", "Deployment", "web")
        deployed = dep["spec"]["template"]["spec"]["containers"][0]["image"]
        assert deployed.startswith(f"{host}/{image}:tilt-"), deployed
        assert deployed.rsplit(":", 1)[1] in registry_tags(host, image)


def test_a_pull_failure_is_explained(
    docker_client: Any,
    emu: Emulator,
    kubeconfig: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cluster pulls from another host than tilt pushes to; the pod cannot pull: the
    status and the log say why, from the delivery decision."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = f"{IMAGE_PREFIX}-k8s-pull"
    (tmp_path / "registry").mkdir()
    with serve_registry(tmp_path / "registry") as host:
        emu.add_object(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
                "data": {
                    "localRegistryHosting.v1": f'host: "{host}"\n'
                    'hostFromContainerRuntime: "kind-registry:5000"\n'
                },
            }
        )
        write_tree(
            tmp_path,
            {
                "Tiltfile": f"docker_build('{image}', 'app')\nk8s_yaml('app.yaml')\n"
                "k8s_resource('web')\n",
                "app.yaml": APP.replace("IMAGE", image),
                "app/Dockerfile": busybox_dockerfile(),
            },
        )
        copy_busybox(tmp_path / "app")
        eng = Engine(
            str(tmp_path / "Tiltfile"),
            logs=LogStore(),
            watch=False,
            ci=True,
            ci_timeout_s=120,
            runners=standard_runners,
        )
        bad = {f"kind-registry:5000/{image}": "ImagePullBackOff"}
        with Controller(emu, image_outcome=bad):
            code = asyncio.run(eng.run())
    lines = [ln.text for ln in eng.logs.lines("web")]
    (c,) = emu.get("apps/v1", "Deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert c["image"].startswith(f"kind-registry:5000/{image}:tilt-")  # the ref it pulls
    assert code != 0, lines
    (res,) = [r for r in eng.snapshot()["resources"] if r["name"] == "web"]
    why = res["runtime"]["message"]
    assert why.startswith("ImagePullBackOff: "), why
    assert why in lines  # logged too, once
    assert lines.count(why) == 1


def test_pull_failures_names_pod_reason_and_image() -> None:
    pod = {
        "metadata": {"name": "web-1"},
        "spec": {"containers": [{"name": "web", "image": "localhost:5000/web:tilt-1"}]},
        "status": {
            "containerStatuses": [
                {"name": "web", "state": {"waiting": {"reason": "ImagePullBackOff"}}}
            ]
        },
    }
    ok = {"metadata": {"name": "db"}, "status": {"containerStatuses": [{"name": "db"}]}}
    assert pull_failures([pod, ok]) == [("web-1", "ImagePullBackOff", "localhost:5000/web:tilt-1")]


def test_only_images_a_kubernetes_resource_deploys_go_to_the_cluster() -> None:
    # An image only Compose runs keeps the Tiltfile's destination (here: none, no
    # default_registry); one a Kubernetes resource deploys goes the cluster's way.
    from types import SimpleNamespace

    from tilt.docker.destination import KeepLocal
    from tilt.engine.k8s_delivery import ClusterDelivery
    from tilt.model import ImageBuildKind, ImageTarget, Settings, SourceLocation
    from tilt.process import ProcessSupervisor
    from tilt.registry.decision import DeliveryDecision, DeliveryMode

    decision = DeliveryDecision(mode=DeliveryMode.KIND_LOAD, reason="kind", cluster_name="dev")
    delivery = ClusterDelivery(
        SimpleNamespace(decision=decision),  # type: ignore[arg-type]
        supervisor=ProcessSupervisor(),
    )
    choose = delivery.chooser({"k8s-web"}.__contains__)

    def image(ref: str) -> ImageTarget:
        loc = SourceLocation(file="Tiltfile", line=1)
        return ImageTarget(ref=ref, kind=ImageBuildKind.DOCKER, context="/x", location=loc)

    assert isinstance(choose(image("compose-api"), Settings()), KeepLocal)
    to_cluster = choose(image("k8s-web"), Settings())
    assert not isinstance(to_cluster, KeepLocal)
    assert type(to_cluster).__name__ == "_Recording"
