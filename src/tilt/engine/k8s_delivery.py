"""How built images reach the cluster, for the Kubernetes runner (issue 13 wired in).

The first time the runner needs images it probes the cluster (`tilt.registry.probe.probe`, in
a thread: kubeconfig, the cluster's advertised registry, the Docker engine), logs which
registry won and how images are delivered (`DeliveryPlan.log_lines`), and hands
`cluster_destinations` to `ImageBuilds.set_destinations`: built images are then pushed,
loaded (kind/k3d) or left local as the decision says. What was delivered is remembered by the
ref the cluster pulls, so that a pod's ImagePullBackOff can be explained
(`explain_pull_failure`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tilt.docker.destination import (
        Delivered,
        DestinationChooser,
        ImageDestination,
        LocalImage,
    )
    from tilt.image_build import OnOutput
    from tilt.model import ImageTarget, Settings
    from tilt.process import ProcessSupervisor
    from tilt.registry.destinations import DeliveredImage
    from tilt.registry.probe import DeliveryPlan

__all__ = ["ClusterDelivery", "pull_failures"]

Obj = dict[str, Any]


class _Recording:
    """An `ImageDestination` that remembers what it delivered."""

    def __init__(self, inner: ImageDestination, into: dict[str, DeliveredImage]) -> None:
        self.inner = inner
        self.into = into

    async def deliver(
        self, image: ImageTarget, built: LocalImage, *, on_output: OnOutput
    ) -> Delivered:
        from tilt.registry.destinations import DeliveredImage

        got = await self.inner.deliver(image, built, on_output=on_output)
        if isinstance(got, DeliveredImage):
            self.into[got.cluster_ref] = got
        return got


class ClusterDelivery:
    """The delivery decision of one `tilt up` and what it delivered."""

    def __init__(self, plan: DeliveryPlan, *, supervisor: ProcessSupervisor) -> None:
        from tilt.registry.destinations import cluster_destinations

        self.plan = plan
        self.delivered: dict[str, DeliveredImage] = {}
        self._inner = cluster_destinations(plan.decision, supervisor=supervisor)

    @classmethod
    async def probe(
        cls, settings: Settings, *, context: str, supervisor: ProcessSupervisor
    ) -> ClusterDelivery:
        """Probe the cluster and Docker (in a thread; never raises for a broken setup)."""
        from tilt.registry.probe import TiltfileRegistry, probe

        plan = await asyncio.to_thread(
            probe, context=context, tiltfile=TiltfileRegistry.from_settings(settings)
        )
        return cls(plan, supervisor=supervisor)

    def chooser(self, for_cluster: Callable[[str], bool] = lambda _ref: True) -> DestinationChooser:
        """Deliver to the cluster the images ``for_cluster`` names; the others as before."""

        def choose(image: ImageTarget, settings: Settings) -> ImageDestination:
            if not for_cluster(image.ref):
                from tilt.docker.destination import destination_for

                return destination_for(image, settings)
            return _Recording(self._inner(image, settings), self.delivered)

        return choose

    def explain(self, reason: str, image: str) -> str:
        """Why the cluster cannot pull ``image`` ("" when ``reason`` is no pull failure)."""
        from tilt.registry.explain import explain_pull_failure

        return explain_pull_failure(
            reason=reason,
            image=image,
            decision=self.plan.decision,
            registry=self.plan.registry,
            delivered=self.delivered,
        )


def pull_failures(pods: Iterable[Obj]) -> list[tuple[str, str, str]]:
    """(pod, reason, image) of each container waiting on an image pull."""
    from tilt.registry.explain import PULL_FAILURE_REASONS

    out: list[tuple[str, str, str]] = []
    for pod in pods:
        spec = pod.get("spec") or {}
        images = {
            c.get("name"): str(c.get("image", ""))
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        }
        status = pod.get("status") or {}
        for cs in [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]:
            reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason", "")
            if reason in PULL_FAILURE_REASONS:
                name = (pod.get("metadata") or {}).get("name", "")
                out.append((name, reason, images.get(cs.get("name"), "") or cs.get("image", "")))
    return out
