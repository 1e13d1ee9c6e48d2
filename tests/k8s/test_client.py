"""Context loading, local-cluster detection, refusal, generic calls and discovery."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.k8s.emulator import Emulator
from tilt.k8s.client import (
    ApiError,
    ContextError,
    ContextRefused,
    KubeClient,
    check_context_allowed,
    cluster_product,
    load_context,
)


@pytest.mark.parametrize(
    ("context", "cluster", "server", "product"),
    [
        ("kind-dev", "kind-dev", "https://10.0.0.5:6443", "kind"),
        ("k3d-mycluster", "k3d-mycluster", "https://0.0.0.0:6550", "k3d"),
        ("minikube", "minikube", "https://192.168.49.2:8443", "minikube"),
        ("microk8s", "microk8s-cluster", "https://10.1.1.1:16443", "microk8s"),
        (
            "docker-desktop",
            "docker-desktop",
            "https://kubernetes.docker.internal:6443",
            "docker-desktop",
        ),
        ("rancher-desktop", "rancher-desktop", "https://10.2.0.1:6443", "rancher-desktop"),
        ("colima", "colima", "https://10.3.0.1:6443", "colima"),
        ("orbstack", "orbstack", "https://k8s.orb.local:26443", "orbstack"),
        ("crc-admin", "api-crc-testing:6443", "https://api.crc.testing:6443", "crc"),
        ("admin@home", "home", "https://127.0.0.1:6443", "loopback"),
        ("admin@home", "home", "https://localhost:6443", "loopback"),
        ("gke_proj_us-central1_prod", "gke_proj_us-central1_prod", "https://34.1.2.3", "gke"),
        ("prod", "prod", "https://prod.example.com", "remote"),
        # The cluster's name decides (Tilt's ProductFromContext), not a context's new name.
        ("kind-dev", "gke_proj_us-central1_prod", "https://34.1.2.3", "gke"),
        ("minikube", "prod", "https://prod.example.com", "remote"),
        # kubeadm's admin context: a cluster named "kubernetes" (Tilt: unknown, refused)
        ("kubernetes-admin@kubernetes", "kubernetes", "https://192.168.1.20:6443", "remote"),
    ],
)
def test_cluster_product(context: str, cluster: str, server: str, product: str) -> None:
    assert cluster_product(context, cluster, server) == product


def _write(tmp_path: Path, name: str, server: str, ns: str = "") -> Path:
    ctx = {"cluster": name, "user": "u"}
    if ns:
        ctx["namespace"] = ns
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "contexts": [{"name": name, "context": ctx}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_remote_context_refused_with_tilts_message(tmp_path: Path) -> None:
    p = _write(tmp_path, "prod", "https://prod.example.com")
    ctx, _ = load_context(kubeconfig=str(p))
    assert not ctx.local
    with pytest.raises(ContextRefused) as e:
        check_context_allowed(ctx, ())
    assert str(e.value) == (
        "Stop! prod might be production.\n"
        "If you're sure you want to deploy there, add:\n"
        "\tallow_k8s_contexts('prod')\n"
        "to your Tiltfile. Otherwise, switch k8s contexts and restart Tilt."
    )
    check_context_allowed(ctx, ("prod",))  # named: allowed


def test_kubeconfig_env_with_several_files_and_overrides(tmp_path: Path) -> None:
    a = _write(tmp_path, "kind-a", "https://10.0.0.1:6443", ns="team")
    b = _write(tmp_path, "prod", "https://prod.example.com")
    env = {"KUBECONFIG": f"{a}:{b}"}
    ctx, cfg = load_context(env=env)
    assert (ctx.name, ctx.namespace, ctx.product) == ("kind-a", "team", "kind")
    ctx, cfg = load_context(env=env, context="prod", namespace="other")
    assert (ctx.name, ctx.namespace, ctx.product, cfg.host) == (
        "prod",
        "other",
        "remote",
        "https://prod.example.com",
    )
    with pytest.raises(ContextError, match="context 'nope' not found"):
        load_context(env=env, context="nope")


def test_missing_kubeconfig_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="cannot read kubeconfig"):
        load_context(kubeconfig=str(tmp_path / "absent"))


def test_discovery_and_crud(emu: Emulator, kube: KubeClient) -> None:
    info = kube.resource("apps/v1", "Deployment")
    assert (info.plural, info.namespaced) == ("deployments", True)
    assert kube.get("v1", "ConfigMap", "nope") is None
    emu.put(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    )
    got = kube.get("v1", "ConfigMap", "c")
    assert got is not None and got["data"] == {"a": "1"}
    assert kube.delete("v1", "ConfigMap", "c") is True
    assert kube.delete("v1", "ConfigMap", "c") is False
    with pytest.raises(ApiError, match='no kind "Widget"'):
        kube.resource("example.com/v1", "Widget")


def test_unreachable_is_an_api_error(tmp_path: Path) -> None:
    p = _write(tmp_path, "kind-x", "http://127.0.0.1:1")
    _, cfg = load_context(kubeconfig=str(p))
    k = KubeClient(cfg)
    cfg.retries = 0
    with pytest.raises(ApiError) as e:
        k.request("GET", "/version", timeout_s=2)
    assert e.value.reason == "Unreachable"
