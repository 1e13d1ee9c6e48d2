"""probe(): the facts gathered and the decision, without a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tilt.registry.cluster import ClusterProduct
from tilt.registry.decision import DeliveryMode
from tilt.registry.probe import DockerFacts, TiltfileRegistry, probe

DOCKER = DockerFacts(host="unix:///var/run/docker.sock", reachable=True)


def test_no_kubeconfig(tmp_path: Path) -> None:
    plan = probe(kubeconfig=[str(tmp_path / "none")], docker=DOCKER)
    assert plan.context is None
    assert plan.product is ClusterProduct.NONE
    assert plan.facts is None
    assert plan.decision.mode is DeliveryMode.NONE
    assert plan.log_lines() == [
        "Registry: none (the cluster advertises none and the Tiltfile sets none)",
        "Images: none: no Kubernetes context: images stay in the local Docker engine",
    ]


def test_tiltfile_registry_without_cluster_access(tmp_path: Path, docker_client: Any) -> None:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "current-context: prod\n"
        "clusters: [{name: prod, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: prod, context: {cluster: prod, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    plan = probe(
        kubeconfig=[str(cfg)],
        docker=DOCKER,
        tiltfile=TiltfileRegistry(host="localhost:5000", single_name="dev"),
    )
    assert plan.product is ClusterProduct.UNKNOWN
    assert plan.facts is not None
    assert plan.facts.errors  # nothing listens on port 1
    assert plan.decision.mode is DeliveryMode.PUSH
    assert plan.registry.registry is not None
    assert plan.registry.registry.single_name == "dev"
    assert plan.log_lines()[0].startswith("Registry: localhost:5000 from the Tiltfile's")
