"""Tie a pod that cannot pull its image back to how tilt delivered that image.

A pod in ``ImagePullBackOff``/``ErrImagePull`` only says the runtime could not
pull a ref. `explain_pull_failure` says why that is likely, from what tilt did
with the image: pushed to one host while the cluster pulls from another, a
``localhost`` registry seen from inside a node, an image kept in the local
engine or loaded with kind whose pod still pulls, or an image tilt never built.
Pure; the Kubernetes runtime calls it with the container's waiting reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from tilt.registry.decision import DeliveryDecision, DeliveryMode
from tilt.registry.destinations import DeliveredImage
from tilt.registry.discovery import RegistryChoice

__all__ = ["PULL_FAILURE_REASONS", "explain_pull_failure"]

PULL_FAILURE_REASONS = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName"}
)
_LOOPBACK = ("localhost", "127.", "[::1]")


def explain_pull_failure(
    *,
    reason: str,
    image: str,
    decision: DeliveryDecision,
    registry: RegistryChoice,
    delivered: Mapping[str, DeliveredImage],
) -> str:
    """One sentence (or two) on why the cluster cannot pull ``image``; ``""`` if not a pull error.

    Args:
        reason: The container's waiting reason (``ImagePullBackOff`` ...).
        image: The ref in the pod spec.
        decision: How images were delivered.
        registry: The registry chosen and where it came from.
        delivered: What tilt delivered, by cluster ref.
    """
    if reason not in PULL_FAILURE_REASONS:
        return ""
    got = delivered.get(image)
    if got is None:
        return (
            f"{reason}: {image} is not an image tilt built; it comes from the YAML as written. "
            "Check the name and tag, and the pull secret if the registry is private."
        )
    mode = got.mode
    if mode is DeliveryMode.PUSH:
        reg = registry.registry
        if reg is None:
            return (
                f"{reason}: tilt pushed {got.pushed_ref} under the image's own name (no registry "
                "is known); the cluster cannot pull it from there. Set default_registry() or "
                "give the cluster a local registry (docs/registries.md)."
            )
        pull_host = reg.pull_host
        text = (
            f"{reason}: tilt pushed {got.pushed_ref} to {reg.host} ({registry.source.describe}); "
            f"the cluster pulls {image} from {pull_host} and could not."
        )
        if pull_host.startswith(_LOOPBACK):
            text += (
                f" Inside a node, {pull_host.split(':')[0]} is the node itself: unless the "
                "node's runtime maps that host to the registry (kind's recipe does), set the "
                "host the cluster reaches it by: hostFromContainerRuntime in the "
                "local-registry-hosting ConfigMap, or default_registry(host_from_cluster=...)."
            )
        else:
            text += (
                f" Check that the nodes can reach {pull_host} and trust it (HTTP registries "
                "must be allowed in the runtime's config)."
            )
        return text
    if mode is DeliveryMode.NONE:
        return (
            f"{reason}: {image} was kept in the local Docker engine ({decision.reason}); the "
            "cluster tried to pull it anyway. The pod's imagePullPolicy must not be Always, "
            "and the cluster must really run images from this engine (tilt doctor)."
        )
    if mode in (DeliveryMode.KIND_LOAD, DeliveryMode.K3D_IMPORT):
        tool = "kind load" if mode is DeliveryMode.KIND_LOAD else "k3d image import"
        return (
            f"{reason}: {image} was copied into the nodes with {tool}; the node tried to pull "
            "it anyway (imagePullPolicy Always, or a node that joined after the load). A local "
            "registry avoids this (docs/registries.md)."
        )
    return (
        f"{reason}: image_push_cmd() delivered {got.pushed_ref}, but the cluster could not pull "
        f"{image}: check that the command puts it where the cluster pulls from."
    )
