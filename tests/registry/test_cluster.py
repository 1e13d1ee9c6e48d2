"""Cluster product detection from kubeconfig data (table-driven) and kubeconfig merging."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tilt.registry.cluster import (
    ClusterProduct,
    KubeConfigError,
    KubeContextInfo,
    detect_product,
    load_kube_context,
    product_cluster_name,
)

HOME = "/home/dev"
P = ClusterProduct


def ctx(cluster: str, **kw: str) -> KubeContextInfo:
    return KubeContextInfo(context=kw.pop("context", cluster), cluster=cluster, **kw)


# Tilt's own table (clusterid's TestProductFromContext), then the products we add.
CASES = [
    (ctx("minikube"), P.MINIKUBE),
    (ctx("minikube-dev-cluster-1"), P.MINIKUBE),
    (ctx("docker-for-desktop-cluster"), P.DOCKER_DESKTOP),
    (ctx("docker-for-desktop-cluster-dev-cluster-1"), P.DOCKER_DESKTOP),
    (ctx("docker-desktop"), P.DOCKER_DESKTOP),
    (ctx("docker-desktop-dev-cluster-1"), P.DOCKER_DESKTOP),
    (ctx("gke_blorg-dev_us-central1-b_blorg"), P.GKE),
    (ctx("kind"), P.KIND),
    (ctx("microk8s-cluster"), P.MICROK8S),
    (ctx("microk8s-cluster-dev-cluster-1"), P.MICROK8S),
    (ctx("api-crc-testing"), P.CRC),
    (ctx("api-crc-testing:6443"), P.CRC),
    (ctx("default", origin=f"{HOME}/.config/k3d/k3s-default/kubeconfig.yaml"), P.K3D),
    (ctx("integration", origin=f"{HOME}/.kube/kind-config-integration"), P.KIND),
    (ctx("kind-custom-name"), P.KIND),
    (ctx("custom-name"), P.UNKNOWN),
    (ctx("custom-name", certificate_authority=f"{HOME}/.minikube/ca.crt"), P.MINIKUBE),
    (ctx("k3d-k3s-default"), P.K3D),
    (ctx("rancher-desktop"), P.RANCHER_DESKTOP),
    (ctx("colima"), P.COLIMA),
    (ctx("colima-test"), P.COLIMA),
    # beyond Tilt's list
    (ctx("orbstack"), P.ORBSTACK),
    (ctx("arn:aws:eks:eu-west-1:123456789012:cluster/dev"), P.EKS),
    (ctx("dev", server="https://ABCD.gr7.eu-west-1.eks.amazonaws.com"), P.EKS),
    (ctx("dev", server="https://dev-dns-1234.hcp.westeurope.azmk8s.io:443"), P.AKS),
    (ctx("prod", server="https://10.0.0.1:6443"), P.UNKNOWN),
    # a k3d-like folder elsewhere is not k3d
    (ctx("default", origin="/etc/k3d/kubeconfig.yaml"), P.UNKNOWN),
    (ctx("default", origin=f"{HOME}/.config/k3dx/config"), P.UNKNOWN),
]


@pytest.mark.parametrize(("info", "expected"), CASES, ids=[c[0].cluster for c in CASES])
def test_detect_product(info: KubeContextInfo, expected: ClusterProduct) -> None:
    assert detect_product(info, home=HOME) is expected


def test_no_context_is_none() -> None:
    assert detect_product(None, home=HOME) is P.NONE


@pytest.mark.parametrize(
    ("product", "dev"),
    [(p, p not in (P.NONE, P.UNKNOWN, P.GKE, P.EKS, P.AKS)) for p in ClusterProduct],
)
def test_dev_cluster(product: ClusterProduct, dev: bool) -> None:
    assert product.is_dev_cluster is dev


@pytest.mark.parametrize(
    ("info", "product", "name"),
    [
        (ctx("kind-dev"), P.KIND, "dev"),
        (ctx("kind"), P.KIND, "kind"),
        (ctx("x", origin=f"{HOME}/.kube/kind-config-integration"), P.KIND, "integration"),
        (ctx("k3d-k3s-default"), P.K3D, "k3s-default"),
        (ctx("default", origin=f"{HOME}/.config/k3d/mine/kubeconfig.yaml"), P.K3D, "mine"),
    ],
)
def test_product_cluster_name(info: KubeContextInfo, product: ClusterProduct, name: str) -> None:
    assert product_cluster_name(info, product) == name


@pytest.mark.parametrize(
    ("server", "loopback"),
    [
        ("https://127.0.0.1:6443", True),
        ("https://localhost:6443", True),
        ("https://[::1]:6443", True),
        ("https://10.0.0.1:6443", False),
        ("https://api.example.com", False),
        ("", False),
    ],
)
def test_server_is_loopback(server: str, loopback: bool) -> None:
    assert ctx("c", server=server).server_is_loopback is loopback


KIND_CONFIG = """
apiVersion: v1
kind: Config
current-context: kind-dev
clusters:
- name: kind-dev
  cluster:
    server: https://127.0.0.1:40123
contexts:
- name: kind-dev
  context:
    cluster: kind-dev
    user: kind-dev
    namespace: apps
users:
- name: kind-dev
  user: {}
"""

OTHER_CONFIG = """
current-context: prod
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: /etc/prod-ca.crt
- name: kind-dev
  cluster:
    server: https://shadowed:1
contexts:
- name: prod
  context: {cluster: prod, user: admin}
"""


def test_load_merges_files_first_wins(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(KIND_CONFIG)
    b.write_text(OTHER_CONFIG)
    info = load_kube_context(paths=[str(a), str(tmp_path / "missing"), str(b)])
    assert info == KubeContextInfo(
        context="kind-dev",
        cluster="kind-dev",
        server="https://127.0.0.1:40123",
        namespace="apps",
        user="kind-dev",
        origin=str(a),
    )
    prod = load_kube_context("prod", paths=[str(a), str(b)])
    assert prod is not None
    assert prod.origin == str(b)
    assert prod.certificate_authority == "/etc/prod-ca.crt"
    assert detect_product(prod, home=HOME) is P.UNKNOWN


def test_load_without_files_is_none(tmp_path: Path) -> None:
    assert load_kube_context(paths=[str(tmp_path / "nope")]) is None


def test_unknown_context_names_the_files(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(KIND_CONFIG)
    with pytest.raises(KubeConfigError, match=r"context 'nope' is not in .*kind-dev"):
        load_kube_context("nope", paths=[str(a)])


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("clusters: [\n")
    with pytest.raises(KubeConfigError, match=str(a)):
        load_kube_context(paths=[str(a)])


def test_kubeconfig_env(tmp_path: Path) -> None:
    from tilt.registry.cluster import kubeconfig_paths

    env = {"KUBECONFIG": f"{tmp_path}/a{os.pathsep}{tmp_path}/b"}
    assert kubeconfig_paths(env) == [f"{tmp_path}/a", f"{tmp_path}/b"]
    assert kubeconfig_paths({}, home="/h") == ["/h/.kube/config"]
