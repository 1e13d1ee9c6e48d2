"""The delivery decision for every cluster product (table-driven, pure)."""

from __future__ import annotations

from typing import Any

import pytest

from tilt.registry.cluster import ClusterProduct as P
from tilt.registry.decision import DeliveryMode as M
from tilt.registry.decision import decide_delivery, engine_serves_cluster, is_default_docker_host
from tilt.registry.discovery import RegistryHosting

SOCK = "unix:///var/run/docker.sock"
REG = RegistryHosting(host="localhost:5001", host_from_container_runtime="kind-registry:5000")
H = "/Users/me"
MK8S_REG = RegistryHosting(host="localhost:32000")

# (product, keyword arguments, expected mode)
TABLE: list[tuple[P, dict[str, Any], M]] = [
    (P.NONE, {}, M.NONE),
    (P.NONE, {"registry": REG}, M.NONE),
    # clusters that run images from our engine
    (P.DOCKER_DESKTOP, {"docker_host": SOCK}, M.NONE),
    (P.DOCKER_DESKTOP, {"docker_host": f"unix://{H}/.docker/run/docker.sock"}, M.NONE),
    (P.DOCKER_DESKTOP, {"docker_host": "unix:///home/me/.docker/desktop/docker.sock"}, M.NONE),
    (P.DOCKER_DESKTOP, {"docker_host": SOCK, "registry": REG}, M.NONE),
    (P.DOCKER_DESKTOP, {"docker_host": "tcp://build-box:2376"}, M.PUSH),
    (P.RANCHER_DESKTOP, {"docker_host": f"unix://{H}/.rd/docker.sock"}, M.NONE),
    (P.RANCHER_DESKTOP, {"docker_host": SOCK, "container_runtime": "docker"}, M.NONE),
    (P.RANCHER_DESKTOP, {"docker_host": SOCK, "container_runtime": "containerd"}, M.PUSH),
    (P.COLIMA, {"context": "colima", "docker_host": f"unix://{H}/.colima/docker.sock"}, M.NONE),
    (
        P.COLIMA,
        {"context": "colima", "docker_host": f"unix://{H}/.colima/default/docker.sock"},
        M.NONE,
    ),
    (
        P.COLIMA,
        {"context": "colima-test", "docker_host": f"unix://{H}/.colima/test/docker.sock"},
        M.NONE,
    ),
    (
        P.COLIMA,
        {"context": "colima-test", "docker_host": f"unix://{H}/.colima-test/docker.sock"},
        M.NONE,
    ),
    (
        P.COLIMA,
        {"context": "colima", "docker_host": "unix:///home/me/.config/colima/default/docker.sock"},
        M.NONE,
    ),
    (  # two different Colima VMs
        P.COLIMA,
        {"context": "colima-test", "docker_host": f"unix://{H}/.colima/default/docker.sock"},
        M.PUSH,
    ),
    (P.COLIMA, {"context": "colima", "docker_host": SOCK}, M.PUSH),
    (P.ORBSTACK, {"docker_host": f"unix://{H}/.orbstack/run/docker.sock"}, M.NONE),
    (P.ORBSTACK, {"docker_host": SOCK}, M.PUSH),
    (
        P.MINIKUBE,
        {
            "docker_host": "tcp://192.168.49.2:2376",
            "minikube_docker_host": "tcp://192.168.49.2:2376",
            "container_runtime": "docker",
        },
        M.NONE,
    ),
    (P.MINIKUBE, {"docker_host": SOCK, "minikube_docker_host": "tcp://192.168.49.2:2376"}, M.PUSH),
    (
        P.MINIKUBE,
        {
            "docker_host": "tcp://192.168.49.2:2376",
            "minikube_docker_host": "tcp://192.168.49.2:2376",
            "container_runtime": "containerd",
        },
        M.PUSH,
    ),
    (P.MINIKUBE, {"docker_host": SOCK, "registry": REG}, M.PUSH),
    # registries
    (P.KIND, {"docker_host": SOCK, "registry": REG}, M.PUSH),
    (P.KIND, {"docker_host": SOCK}, M.KIND_LOAD),
    (P.K3D, {"docker_host": SOCK, "registry": REG}, M.PUSH),
    (P.K3D, {"docker_host": SOCK}, M.K3D_IMPORT),
    (
        P.MICROK8S,
        {"docker_host": SOCK, "registry": RegistryHosting(host="localhost:32000")},
        M.PUSH,
    ),
    (P.MICROK8S, {"docker_host": SOCK}, M.PUSH),
    (P.CRC, {"docker_host": SOCK, "registry": REG}, M.PUSH),
    (P.CRC, {"docker_host": SOCK}, M.PUSH),
    (P.GKE, {"docker_host": SOCK, "registry": RegistryHosting(host="gcr.io/proj")}, M.PUSH),
    (P.GKE, {"docker_host": SOCK}, M.PUSH),
    (P.EKS, {"docker_host": SOCK}, M.PUSH),
    (P.AKS, {"docker_host": SOCK}, M.PUSH),
    (P.UNKNOWN, {"docker_host": SOCK}, M.PUSH),
    (P.UNKNOWN, {"docker_host": SOCK, "registry": REG}, M.PUSH),
    # a user command wins everywhere
    (P.KIND, {"user_command": "my-load $EXPECTED_REF"}, M.COMMAND),
    (P.DOCKER_DESKTOP, {"docker_host": SOCK, "user_command": "x"}, M.COMMAND),
    (P.NONE, {"user_command": "x"}, M.COMMAND),
]


def test_every_product_is_in_the_table() -> None:
    assert {row[0] for row in TABLE} == set(P)


@pytest.mark.parametrize(
    ("product", "kwargs", "mode"), TABLE, ids=[f"{r[0]}-{i}" for i, r in enumerate(TABLE)]
)
def test_decision(product: P, kwargs: dict[str, Any], mode: M) -> None:
    decision = decide_delivery(product, **kwargs)
    assert decision.mode is mode, decision.reason
    assert decision.reason
    if mode is M.PUSH:
        assert decision.registry == kwargs.get("registry")


def test_kind_load_names_the_cluster_and_suggests_a_registry() -> None:
    d = decide_delivery(P.KIND, context="kind-dev", cluster_name="dev", docker_host=SOCK)
    assert d.cluster_name == "dev"
    assert "kind cluster 'dev' has no registry" in d.reason
    assert "docs/registries.md" in d.reason


def test_push_without_registry_says_what_to_do() -> None:
    assert "set default_registry()" in decide_delivery(P.GKE, docker_host=SOCK).reason
    assert "microk8s enable registry" in decide_delivery(P.MICROK8S, docker_host=SOCK).reason
    assert "minikube docker-env" in decide_delivery(P.MINIKUBE, docker_host=SOCK).reason


def test_colima_profile_mismatch_is_explained() -> None:
    ok, why = engine_serves_cluster(
        P.COLIMA, context="colima-test", docker_host=f"unix://{H}/.colima/default/docker.sock"
    )
    assert not ok
    assert "profile 'test'" in why
    assert "profile 'default'" in why


@pytest.mark.parametrize(
    ("host", "default"),
    [
        ("", True),
        (SOCK, True),
        ("tcp://127.0.0.1:2375", True),
        ("npipe:////./pipe/dockerDesktopLinuxEngine", True),
        (f"unix://{H}/.rd/docker.sock", True),
        ("tcp://10.0.0.5:2376", False),
        (f"unix://{H}/.colima/docker.sock", False),
    ],
)
def test_default_docker_host(host: str, default: bool) -> None:
    assert is_default_docker_host(host) is default
