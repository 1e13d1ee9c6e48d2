"""How a built image reaches the cluster: the delivery decision per cluster product.

`decide_delivery` is pure and table-tested. In order:

1. a user command (``image_push_cmd()``, beyond Tilt: its #2958) always wins;
2. no Kubernetes context: the image stays in the engine (local and Compose
   resources run it from there);
3. the cluster runs its containers from the very Docker engine we build with:
   Docker Desktop, Rancher Desktop, Colima and OrbStack with the docker runtime
   and our ``DOCKER_HOST`` being their socket, or minikube with the docker
   runtime when ``DOCKER_HOST`` is the one ``minikube docker-env`` prints.
   Nothing to move (Tilt: ``WillBuildToKubeContext``);
4. a registry is known (the cluster's, else the Tiltfile's): push to it;
5. kind without a registry: ``kind load docker-image`` (Tilt does the same);
   k3d without a registry: ``k3d image import`` (beyond Tilt);
6. anything else: push the image under its own name, which only works when
   that name is a registry the user can push to (Tilt does the same); the
   reason says how to set a registry up.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tilt.registry.cluster import ClusterProduct
from tilt.registry.discovery import RegistryHosting

__all__ = ["DeliveryDecision", "DeliveryMode", "decide_delivery", "engine_serves_cluster"]

P = ClusterProduct

_STANDARD_HOSTS = frozenset(
    {
        "",
        "tcp://localhost:2375",
        "tcp://localhost:2376",
        "tcp://127.0.0.1:2375",
        "tcp://127.0.0.1:2376",
        "npipe:////./pipe/docker_engine",
        "unix:///var/run/docker.sock",
    }
)
_DESKTOP_SOCKET_SUFFIXES = ("/.docker/desktop/docker.sock", "/.docker/run/docker.sock")


class DeliveryMode(enum.StrEnum):
    """What happens to an image after it is built."""

    NONE = "none"  # nothing: the cluster (or no cluster) runs it from our engine
    PUSH = "push"  # docker push to a registry
    KIND_LOAD = "kind-load"  # kind load docker-image
    K3D_IMPORT = "k3d-import"  # k3d image import
    COMMAND = "command"  # the user's image_push_cmd()


@dataclass(frozen=True, kw_only=True)
class DeliveryDecision:
    """The mode, and why (one line for the log and `tilt doctor`).

    Attributes:
        mode: What to do.
        reason: Why, in words a user can act on.
        registry: Where to push (`DeliveryMode.PUSH` with a known registry),
            else ``None``.
        cluster_name: The name ``kind``/``k3d`` know the cluster by.
    """

    mode: DeliveryMode
    reason: str
    registry: RegistryHosting | None = None
    cluster_name: str = ""


def is_default_docker_host(host: str) -> bool:
    """Tilt's ``isDefaultHost``: the engine's standard local sockets."""
    return (
        host in _STANDARD_HOSTS
        or (host.startswith("unix://") and host.endswith(_DESKTOP_SOCKET_SUFFIXES))
        or host.startswith("npipe:////./pipe/dockerDesktop")
        or (host.startswith("unix://") and host.endswith("/.rd/docker.sock"))
    )


def _colima_profile_of_socket(host: str) -> str:
    """The Colima profile whose socket ``host`` is (``""`` when it is not Colima's)."""
    for marker in ("/.colima", "/.config/colima"):
        if marker in host:
            last = host.rsplit(marker, maxsplit=1)[-1]
            if last.startswith("-"):  # colima < 0.4: ~/.colima-<profile>/docker.sock
                return last[1:].split("/", 1)[0]
            parts = last.split("/")  # ["", "<profile>", "docker.sock"] or ["", "docker.sock"]
            return "default" if len(parts) < 3 else parts[1]
    return ""


def engine_serves_cluster(
    product: ClusterProduct,
    *,
    context: str,
    docker_host: str,
    container_runtime: str = "",
    minikube_docker_host: str = "",
) -> tuple[bool, str]:
    """Whether the cluster runs images straight from the engine at ``docker_host``.

    Args:
        product: The cluster product.
        context: The kube context (Colima profiles are named by it).
        docker_host: Our engine's address (``DOCKER_HOST`` or the default socket).
        container_runtime: The first Node's runtime name (``docker``,
            ``containerd``); ``""`` when unknown (then the socket decides).
        minikube_docker_host: ``DOCKER_HOST`` from ``minikube docker-env``, if known.

    Returns:
        ``(yes or no, why)``.
    """
    if container_runtime and container_runtime != "docker":
        return False, f"the cluster's container runtime is {container_runtime}, not docker"
    if product is P.MINIKUBE:
        if not minikube_docker_host:
            return False, "DOCKER_HOST is not minikube's engine (see `minikube docker-env`)"
        if minikube_docker_host != docker_host:
            return False, (
                f"DOCKER_HOST ({docker_host}) is not minikube's engine ({minikube_docker_host}); "
                "run `eval $(minikube docker-env)` to build straight into the cluster"
            )
        return True, f"minikube runs images from its Docker engine at {docker_host}"
    if product in (P.DOCKER_DESKTOP, P.RANCHER_DESKTOP):
        if is_default_docker_host(docker_host):
            return True, f"{product} runs images from the Docker engine at {docker_host}"
        return False, f"DOCKER_HOST ({docker_host}) is not {product}'s engine"
    if product is P.COLIMA:
        sock_profile = _colima_profile_of_socket(docker_host)
        kube_profile = "default" if context == "colima" else context.removeprefix("colima-")
        if not sock_profile:
            return False, f"DOCKER_HOST ({docker_host}) is not a Colima engine"
        if sock_profile != kube_profile:
            return False, (
                f"the cluster is Colima profile {kube_profile!r} but DOCKER_HOST is the engine "
                f"of profile {sock_profile!r}"
            )
        return True, f"Colima profile {kube_profile!r} runs images from {docker_host}"
    if product is P.ORBSTACK:
        if docker_host.startswith("unix://") and docker_host.endswith("/.orbstack/run/docker.sock"):
            return True, f"OrbStack runs images from the Docker engine at {docker_host}"
        return False, f"DOCKER_HOST ({docker_host}) is not OrbStack's engine"
    return False, f"{product} does not run images from the local Docker engine"


def decide_delivery(
    product: ClusterProduct,
    *,
    context: str = "",
    cluster_name: str = "",
    docker_host: str = "",
    container_runtime: str = "",
    minikube_docker_host: str = "",
    registry: RegistryHosting | None = None,
    user_command: str = "",
) -> DeliveryDecision:
    """Decide how images reach the cluster (pure; see the module docstring)."""
    if user_command:
        return DeliveryDecision(
            mode=DeliveryMode.COMMAND,
            reason=f"image_push_cmd() runs {user_command!r} for each image, with $EXPECTED_REF",
            registry=registry,
        )
    if product is P.NONE:
        return DeliveryDecision(
            mode=DeliveryMode.NONE,
            reason="no Kubernetes context: images stay in the local Docker engine",
        )
    served, why = engine_serves_cluster(
        product,
        context=context,
        docker_host=docker_host,
        container_runtime=container_runtime,
        minikube_docker_host=minikube_docker_host,
    )
    if served:
        return DeliveryDecision(mode=DeliveryMode.NONE, reason=f"no push: {why}")
    if registry is not None:
        return DeliveryDecision(
            mode=DeliveryMode.PUSH,
            reason=f"push to {registry.host} (the cluster pulls from {registry.pull_host})",
            registry=registry,
        )
    if product is P.KIND:
        return DeliveryDecision(
            mode=DeliveryMode.KIND_LOAD,
            reason=(
                f"kind cluster {cluster_name!r} has no registry: `kind load docker-image` copies "
                "each image into its nodes (a local registry is faster: docs/registries.md)"
            ),
            cluster_name=cluster_name,
        )
    if product is P.K3D:
        return DeliveryDecision(
            mode=DeliveryMode.K3D_IMPORT,
            reason=(
                f"k3d cluster {cluster_name!r} has no registry: `k3d image import` copies each "
                "image into its nodes (a local registry is faster: docs/registries.md)"
            ),
            cluster_name=cluster_name,
        )
    hint = {
        P.MINIKUBE: f"{why}, and no registry is known: run `minikube addons enable registry` "
        "or set default_registry()",
        P.MICROK8S: "microk8s has no registry add-on: run `sudo microk8s enable registry`",
    }.get(product, f"no registry is known for this {product} cluster: set default_registry()")
    return DeliveryDecision(
        mode=DeliveryMode.PUSH,
        reason=f"push each image under its own name ({hint})",
    )
