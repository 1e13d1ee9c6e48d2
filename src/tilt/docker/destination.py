"""Where an image goes after it is built: the image destination strategy.

A build makes an image in the local engine (its local ref, e.g.
``app:tilt-3f2a...``). What happens next is one `ImageDestination`:

- `KeepLocal`: nothing; whoever runs the image uses the local ref (Compose
  services, a cluster that shares the local engine);
- `PushToRegistry`: with ``default_registry(host, host_from_cluster=,
  single_name=)``: tag and push to ``host`` (`tilt.refs.Registry`); the
  cluster pulls it under ``host_from_cluster`` when that is set.

`destination_for` picks one for an image target and the Tiltfile's settings.
A new way (loading into a kind/k3d/minikube cluster, a user command) is one
more class with a ``deliver`` method and one more case in `destination_for`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

from tilt.model import ImageBuildKind

if TYPE_CHECKING:
    from tilt.image_build import OnOutput
    from tilt.model import ImageTarget, Settings
    from tilt.refs import Registry

__all__ = [
    "Delivered",
    "DestinationChooser",
    "ImageDestination",
    "KeepLocal",
    "LocalImage",
    "PushToRegistry",
    "destination_for",
]


@dataclass(frozen=True, kw_only=True)
class LocalImage:
    """A built image as the local engine has it.

    Attributes:
        ref: Its local ref (``name:tag``).
        image_id: The engine's id (``sha256:...``); "" when the image is not in
            the local engine (``custom_build(skips_local_docker=True)``).
        tag: The tag tilt gave it (``tilt-<16 hex>``).
    """

    ref: str
    image_id: str
    tag: str


@dataclass(frozen=True, kw_only=True)
class Delivered:
    """Where a delivered image can be found.

    Attributes:
        pushed_ref: The ref pushed to a registry ("" when not pushed).
        cluster_ref: The ref a cluster pulls.
    """

    pushed_ref: str
    cluster_ref: str


class ImageDestination(Protocol):
    """What happens to an image after its build."""

    async def deliver(
        self, image: ImageTarget, built: LocalImage, *, on_output: OnOutput
    ) -> Delivered:
        """Make ``built`` available where it runs; cancelling the caller aborts it.

        Raises:
            tilt.image_build.BuildError: delivering failed (step names how).
        """
        ...


@dataclass(frozen=True)
class KeepLocal:
    """Leave the image in the local engine."""

    async def deliver(
        self, image: ImageTarget, built: LocalImage, *, on_output: OnOutput
    ) -> Delivered:
        return Delivered(pushed_ref="", cluster_ref=built.ref)


@dataclass(frozen=True)
class PushToRegistry:
    """Tag the image for ``registry`` and push it there."""

    registry: Registry

    async def deliver(
        self, image: ImageTarget, built: LocalImage, *, on_output: OnOutput
    ) -> Delivered:
        from tilt.registry.push import push

        # Skips the push when the registry already has this image; errors say what to do.
        pushed = await push(
            image.ref,
            built.image_id,
            self.registry.push_ref(image.ref, built.tag),
            on_output=on_output,
        )
        return Delivered(
            pushed_ref=pushed.ref, cluster_ref=self.registry.cluster_ref(image.ref, built.tag)
        )


#: Picks the destination of an image (`destination_for`, or the cluster-aware
#: `tilt.registry.destinations.cluster_destinations`), handed to the builders.
DestinationChooser: TypeAlias = "Callable[[ImageTarget, Settings], ImageDestination]"


def destination_for(image: ImageTarget, settings: Settings) -> ImageDestination:
    """The destination of ``image`` under ``settings``.

    Pushed with a ``default_registry``, except a custom_build with
    ``disable_push`` or ``skips_local_docker`` (the user's command delivers it).
    """
    registry = settings.registry
    if registry is None:
        return KeepLocal()
    if image.kind is ImageBuildKind.CUSTOM and (image.disable_push or image.skips_local_docker):
        return KeepLocal()
    return PushToRegistry(registry)
