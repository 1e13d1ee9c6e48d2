"""Registry discovery fetched from a cluster: the official client against an API over real HTTP.

`tests.registry.kube.MiniKube` serves the Kubernetes REST API's shapes for the
reads discovery makes; the test plays the cluster's side by creating the
ConfigMap, the Nodes and the microk8s Service that a real cluster (kind's
recipe, microk8s' add-on) would have.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_tilt
from tests.registry.kube import MiniKube
from tilt.registry.cluster import ClusterProduct
from tilt.registry.decision import DeliveryMode
from tilt.registry.discovery import RegistryHosting, RegistrySource
from tilt.registry.probe import DockerFacts, TiltfileRegistry, probe

DOCKER = DockerFacts(host="unix:///var/run/docker.sock", reachable=True)
KEP = 'host: "localhost:5001"\nhostFromContainerRuntime: "kind-registry:5000"\nhelp: "https://h"\n'


@pytest.fixture
def emu() -> Iterator[MiniKube]:
    e = MiniKube().start()
    yield e
    e.stop()


def kubeconfig(emu: MiniKube, tmp_path: Path, context: str) -> str:
    p = tmp_path / "kubeconfig"
    p.write_text(yaml.safe_dump(emu.kubeconfig(context=context)))
    return str(p)


def add_configmap(emu: MiniKube, text: str) -> None:
    emu.add_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
            "data": {"localRegistryHosting.v1": text},
        }
    )


def add_node(
    emu: MiniKube, annotations: dict[str, str], runtime: str = "containerd://1.7.2"
) -> None:
    emu.add_object(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1", "annotations": annotations},
            "status": {"nodeInfo": {"containerRuntimeVersion": runtime}},
        }
    )


def test_configmap_wins_over_node_and_tiltfile(emu: MiniKube, tmp_path: Path) -> None:
    add_configmap(emu, KEP)
    add_node(emu, {"tilt.dev/registry": "localhost:5999"})
    plan = probe(
        kubeconfig=[kubeconfig(emu, tmp_path, "kind-dev")],
        docker=DOCKER,
        tiltfile=TiltfileRegistry(host="gcr.io/me"),
    )
    assert plan.product is ClusterProduct.KIND
    assert plan.facts is not None
    assert plan.facts.errors == ()
    assert plan.facts.container_runtime == "containerd://1.7.2"
    assert plan.registry.source is RegistrySource.CONFIGMAP
    assert plan.registry.registry == RegistryHosting(
        host="localhost:5001", host_from_container_runtime="kind-registry:5000", help="https://h"
    )
    assert plan.decision.mode is DeliveryMode.PUSH
    assert "it wins over the Tiltfile's default_registry('gcr.io/me')" in plan.log_lines()[0]


def test_node_annotations(emu: MiniKube, tmp_path: Path) -> None:
    add_node(
        emu,
        {"tilt.dev/registry": "localhost:5000", "tilt.dev/registry-from-cluster": "reg:5000"},
    )
    plan = probe(kubeconfig=[kubeconfig(emu, tmp_path, "kind-dev")], docker=DOCKER)
    assert plan.registry.source is RegistrySource.NODE_TILT
    assert plan.registry.registry == RegistryHosting(
        host="localhost:5000", host_from_container_runtime="reg:5000"
    )
    assert any(
        "ConfigMap kube-public/local-registry-hosting: not found" in n for n in plan.discovery.notes
    )


def test_kind_annotation(emu: MiniKube, tmp_path: Path) -> None:
    add_node(emu, {"kind.x-k8s.io/registry": "localhost:5001"})
    plan = probe(kubeconfig=[kubeconfig(emu, tmp_path, "kind-dev")], docker=DOCKER)
    assert plan.registry.source is RegistrySource.NODE_KIND


def test_microk8s_add_on(emu: MiniKube, tmp_path: Path) -> None:
    emu.add_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "registry", "namespace": "container-registry"},
            "spec": {"type": "NodePort", "ports": [{"port": 5000, "nodePort": 32000}]},
        }
    )
    add_node(emu, {})
    plan = probe(kubeconfig=[kubeconfig(emu, tmp_path, "microk8s-cluster")], docker=DOCKER)
    assert plan.product is ClusterProduct.MICROK8S
    assert plan.registry.source is RegistrySource.MICROK8S
    assert plan.registry.registry == RegistryHosting(host="localhost:32000")


def test_nothing_advertised_on_kind_means_kind_load(emu: MiniKube, tmp_path: Path) -> None:
    add_node(emu, {})
    plan = probe(kubeconfig=[kubeconfig(emu, tmp_path, "kind-dev")], docker=DOCKER)
    assert plan.registry.registry is None
    assert plan.decision.mode is DeliveryMode.KIND_LOAD
    assert plan.decision.cluster_name == "dev"


def test_docker_desktop_with_docker_runtime_keeps_images_local(
    emu: MiniKube, tmp_path: Path
) -> None:
    add_node(emu, {}, runtime="docker://24.0.7")
    plan = probe(kubeconfig=[kubeconfig(emu, tmp_path, "docker-desktop")], docker=DOCKER)
    assert plan.product is ClusterProduct.DOCKER_DESKTOP
    assert plan.decision.mode is DeliveryMode.NONE


def test_doctor_against_the_emulated_cluster(
    emu: MiniKube, tmp_path: Path, docker_client: Any
) -> None:
    add_configmap(emu, KEP)
    add_node(emu, {})
    cfg = kubeconfig(emu, tmp_path, "kind-dev")
    r = run_tilt("doctor", "-o", "json", cwd=tmp_path, env={"KUBECONFIG": cfg})
    j = json.loads(r.stdout)
    assert j["kubernetes"]["context"] == "kind-dev"
    assert j["kubernetes"]["server"] == emu.url
    assert j["kubernetes"]["container_runtime"] == "containerd://1.7.2"
    assert j["registry"]["host"] == "localhost:5001"
    assert j["registry"]["host_from_cluster"] == "kind-registry:5000"
    assert j["registry"]["source"] == "configmap"
    assert j["delivery"]["mode"] == "push"
    assert {c["name"]: c["status"] for c in j["checks"]}["cluster"] == "ok"
    text = run_tilt("doctor", cwd=tmp_path, env={"KUBECONFIG": cfg}).stdout
    assert (
        "  registry    localhost:5001 (from the kube-public/local-registry-hosting ConfigMap "
        "(KEP-1755))" in text.splitlines()
    )
    assert "  pulled as   kind-registry:5000" in text.splitlines()
