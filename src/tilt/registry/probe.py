"""Look at this machine's Docker engine and Kubernetes context and work out the delivery plan.

`probe` gathers the facts (blocking; run it in a thread from the loop):
the engine's address, version and registry config; the kube context and its
product; what the cluster advertises about its registry (through a
`ClusterReader`, by default the official client); then applies the pure
rules: `choose_registry` and `decide_delivery`. `tilt doctor` prints the
result; ``tilt up`` can log its ``registry.reason`` and ``decision.reason``
and hand ``destination_for(plan.decision, ...)`` to the image builds.

Every step that fails is recorded, not raised: the plan always exists, with
"not configured" or the error in place of what could not be learned.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tilt.registry.cluster import (
    ClusterProduct,
    KubeConfigError,
    KubeContextInfo,
    detect_product,
    kubeconfig_paths,
    load_kube_context,
    product_cluster_name,
)
from tilt.registry.decision import DeliveryDecision, decide_delivery
from tilt.registry.discovery import (
    ClusterFacts,
    ClusterReader,
    Discovery,
    KubeClusterReader,
    RegistryChoice,
    choose_registry,
    discover,
)

if TYPE_CHECKING:
    from tilt.model import Settings

__all__ = ["DeliveryPlan", "DockerFacts", "TiltfileRegistry", "probe", "probe_docker"]


@dataclass(frozen=True, kw_only=True)
class DockerFacts:
    """The local Docker engine, as far as it answered.

    Attributes:
        host: ``DOCKER_HOST`` or the default socket.
        reachable: The engine answered.
        error: Why it did not.
        version: Engine version (``24.0.7``).
        api_version: Negotiated API version.
        os_arch: ``linux/amd64``.
        buildx: ``docker buildx`` is installed (BuildKit for Dockerfiles that need it).
        registry_config: ``docker info``'s RegistryConfig (insecure CIDRs ...).
    """

    host: str
    reachable: bool = False
    error: str = ""
    version: str = ""
    api_version: str = ""
    os_arch: str = ""
    buildx: bool = False
    registry_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TiltfileRegistry:
    """What the Tiltfile says about delivery: default_registry() and image_push_cmd()."""

    host: str = ""
    host_from_cluster: str = ""
    single_name: str = ""
    push_cmd: str = ""
    push_argv: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> TiltfileRegistry:
        """What a loaded Tiltfile's settings say."""
        cmd = settings.image_push_cmd
        return cls(
            host=settings.default_registry,
            host_from_cluster=settings.default_registry_host_from_cluster,
            single_name=settings.default_registry_single_name,
            push_cmd=cmd.display if cmd is not None else "",
            push_argv=cmd.argv if cmd is not None else (),
        )


@dataclass(frozen=True, kw_only=True)
class DeliveryPlan:
    """Everything `tilt doctor` shows, and what ``tilt up`` needs to deliver images.

    Attributes:
        docker: The engine.
        kubeconfig: The kubeconfig files looked at.
        context: The chosen context, ``None`` when none is configured.
        kube_error: Why the kubeconfig could not be read, if it could not.
        product: The cluster product.
        cluster_name: What kind/k3d call the cluster.
        facts: What the cluster answered (``None`` when it was not asked).
        discovery: What the cluster advertises about its registry.
        registry: The registry chosen, and why.
        decision: How images reach the cluster, and why.
    """

    docker: DockerFacts
    kubeconfig: tuple[str, ...]
    context: KubeContextInfo | None
    kube_error: str
    product: ClusterProduct
    cluster_name: str
    facts: ClusterFacts | None
    discovery: Discovery
    registry: RegistryChoice
    decision: DeliveryDecision

    def log_lines(self) -> list[str]:
        """What ``tilt up`` logs once: which registry won and why, and the delivery mode."""
        return [self.registry.reason, f"Images: {self.decision.mode}: {self.decision.reason}"]


def probe_docker() -> DockerFacts:
    """Ask the engine for its version and registry config (blocking)."""
    from tilt.docker.build import buildx_available
    from tilt.docker.client import DockerUnavailableError, docker_host, get_client

    host = docker_host()
    try:
        client = get_client()
        version = client.version()
        info = client.info()
    except DockerUnavailableError as e:
        return DockerFacts(host=host, error=str(e), buildx=buildx_available())
    except Exception as e:  # the SDK's other failures, e.g. TLS settings
        return DockerFacts(host=host, error=f"{type(e).__name__}: {e}", buildx=buildx_available())
    return DockerFacts(
        host=host,
        reachable=True,
        version=str(version.get("Version", "")),
        api_version=str(version.get("ApiVersion", "")),
        os_arch=f"{version.get('Os', '')}/{version.get('Arch', '')}",
        buildx=buildx_available(),
        registry_config=dict(info.get("RegistryConfig") or {}),
    )


def _minikube_docker_host(context: str) -> str:
    """``DOCKER_HOST`` from ``minikube docker-env`` for a profile ("" when unknown)."""
    exe = shutil.which("minikube")
    if not exe:
        return ""
    try:
        out = subprocess.run(
            [exe, "docker-env", "-p", context, "--shell", "none"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in out.stdout.splitlines():
        if line.startswith("DOCKER_HOST="):
            return line.split("=", 1)[1].strip()
    return ""


def default_reader(paths: list[str], context: str) -> ClusterReader:
    """A `KubeClusterReader` for ``context`` through the official client."""
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=os.pathsep.join(paths),
        context=context,
        client_configuration=cfg,
        persist_config=False,
    )
    cfg.retries = 1  # a cluster that is down should not cost three backoffs per read
    return KubeClusterReader(client.ApiClient(cfg))


def probe(
    *,
    context: str = "",
    tiltfile: TiltfileRegistry | None = None,
    kubeconfig: list[str] | None = None,
    reader_for: Callable[[list[str], str], ClusterReader] | None = None,
    docker: DockerFacts | None = None,
) -> DeliveryPlan:
    """Gather the facts and decide (blocking; never raises for a missing or broken setup).

    Args:
        context: A kube context to use instead of the current one.
        tiltfile: What the Tiltfile sets (``default_registry``, ``image_push_cmd``).
        kubeconfig: Files to read instead of ``$KUBECONFIG``/``~/.kube/config``.
        reader_for: Makes the `ClusterReader` for (files, context); the
            official client by default.
        docker: The engine's facts, when already known.
    """
    tf = tiltfile or TiltfileRegistry()
    docker = docker or probe_docker()
    paths = list(kubeconfig) if kubeconfig is not None else kubeconfig_paths()
    kube_error = ""
    try:
        info = load_kube_context(context, paths=paths)
    except KubeConfigError as e:
        info, kube_error = None, str(e)
    product = detect_product(info)
    cluster_name = product_cluster_name(info, product) if info is not None else ""
    facts: ClusterFacts | None = None
    if info is not None and info.cluster:
        try:
            reader = (reader_for or default_reader)(paths, info.context)
            facts = reader.read_facts(product)
        except Exception as e:  # a kubeconfig the client refuses (bad certs, exec plugin ...)
            facts = ClusterFacts(errors=(f"cannot talk to the cluster: {type(e).__name__}: {e}",))
    discovery = discover(facts, product) if facts is not None else Discovery()
    choice = choose_registry(
        discovery,
        tiltfile_host=tf.host,
        tiltfile_host_from_cluster=tf.host_from_cluster,
        tiltfile_single_name=tf.single_name,
        context=info.context if info is not None else "",
    )
    minikube_host = (
        _minikube_docker_host(info.context)
        if info is not None and product is ClusterProduct.MINIKUBE
        else ""
    )
    decision = decide_delivery(
        product,
        context=info.context if info is not None else "",
        cluster_name=cluster_name,
        docker_host=docker.host,
        container_runtime=facts.runtime_name if facts is not None else "",
        minikube_docker_host=minikube_host,
        registry=choice.registry,
        user_command=tf.push_cmd,
    )
    return DeliveryPlan(
        docker=docker,
        kubeconfig=tuple(paths),
        context=info,
        kube_error=kube_error,
        product=product,
        cluster_name=cluster_name,
        facts=facts,
        discovery=discovery,
        registry=choice,
        decision=decision,
    )
