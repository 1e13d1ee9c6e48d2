"""Image destinations: what happens to a built image so the cluster can run it.

One `ImageDestination` per delivery mode (`tilt.registry.decision`):

- `KeepLocal`: nothing to move (no cluster, or the cluster runs images from
  our engine). With a registry, the image is still tagged with its registry
  name locally, so the refs in the applied objects are the same as with a push;
- `Push`: push to the registry, or under the image's own name without one
  (skipped when the registry already has that image: `tilt.registry.push`);
- `KindLoad`: ``kind load docker-image REF --name CLUSTER``;
- `K3dImport`: ``k3d image import REF --cluster CLUSTER``;
- `UserCommand`: the Tiltfile's ``image_push_cmd()`` (beyond Tilt, its #2958),
  run with ``EXPECTED_REF`` (the ref the cluster will be given, already
  tagged in the engine), ``EXPECTED_REGISTRY``, ``EXPECTED_IMAGE``,
  ``EXPECTED_TAG`` (as custom_build has them) and ``TILT_LOCAL_REF``.

Every destination returns a `DeliveredImage` with the ref to push and the ref
the cluster pulls (``host`` and ``host_from_cluster`` of the registry differ
for kind's registry: ``localhost:5001`` outside, ``kind-registry:5000`` inside).
Commands run in their own process group under the given `ProcessSupervisor`;
cancelling the task (or setting ``cancel``) stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tilt.docker.build import BuildCancelledError, BuildError
from tilt.docker.destination import Delivered, ImageDestination, LocalImage
from tilt.registry.decision import DeliveryDecision, DeliveryMode
from tilt.registry.discovery import RegistryHosting

if TYPE_CHECKING:
    from tilt.docker.destination import DestinationChooser
    from tilt.model import ImageTarget, Settings
    from tilt.process import ProcessSupervisor
    from tilt.refs import Registry

__all__ = [
    "DeliveredImage",
    "ImageDestination",
    "K3dImport",
    "KeepLocal",
    "KindLoad",
    "Push",
    "ToolMissingError",
    "UserCommand",
    "cluster_destinations",
    "destination_for",
    "destination_for_image",
    "rewrite_ref",
]

OnOutput = Callable[[str], None]
_OUTPUT_LINES = 40

_INSTALL_HINTS = {
    "kind": "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "k3d": "https://k3d.io/#installation",
}


class ToolMissingError(BuildError):
    """``kind``/``k3d`` (or the user's command) is not installed."""


@dataclass(frozen=True, kw_only=True)
class DeliveredImage(Delivered):
    """Where an image went (`tilt.docker.destination.Delivered`, and how).

    Attributes:
        mode: How it was delivered.
        skipped: The registry already had it: nothing was pushed.
    """

    mode: DeliveryMode = DeliveryMode.NONE
    skipped: bool = False


def to_refs_registry(registry: RegistryHosting) -> Registry:
    """The `tilt.refs.Registry` that names images for ``registry``."""
    from tilt.refs import Registry

    return Registry(
        host=registry.host,
        host_from_cluster=registry.host_from_container_runtime,
        single_name=registry.single_name,
    )


def rewrite_ref(
    image_ref: str, local_ref: str, registry: RegistryHosting | None
) -> tuple[str, str]:
    """``(push ref, cluster ref)`` of a local image with a registry (Tilt's rules, `tilt.refs`).

    ``host/<familiar name with / : @ as _>:<tag>``; a name already under
    ``host/`` keeps its name; with ``single_name`` the name moves into the tag
    (``host/single:<name>-<tag>``). The cluster ref has the registry's
    ``host_from_container_runtime`` in place of ``host``. Without a registry
    both are ``local_ref``.
    """
    from tilt.refs import tag_of

    if registry is None:
        return local_ref, local_ref
    reg = to_refs_registry(registry)
    tag = tag_of(local_ref) or "latest"
    return reg.push_ref(image_ref, tag), reg.cluster_ref(image_ref, tag)


async def _tag(image_id: str, ref: str) -> None:
    from tilt.docker.client import get_client
    from tilt.refs import repository, tag_of

    client = await asyncio.to_thread(get_client)
    await asyncio.to_thread(client.api.tag, image_id, repository(ref), tag_of(ref) or "latest")


@dataclass(frozen=True, kw_only=True)
class KeepLocal:
    """Nothing to move: the cluster (if any) runs images from our engine."""

    registry: RegistryHosting | None = None

    @property
    def mode(self) -> DeliveryMode:
        return DeliveryMode.NONE

    async def deliver(
        self,
        image: ImageTarget,
        built: LocalImage,
        *,
        on_output: OnOutput,
        cancel: asyncio.Event | None = None,
    ) -> DeliveredImage:
        push_ref, cluster_ref = rewrite_ref(image.ref, built.ref, self.registry)
        if self.registry is not None:
            await _tag(built.image_id, push_ref)
        return DeliveredImage(pushed_ref="", cluster_ref=cluster_ref, mode=self.mode)


@dataclass(frozen=True, kw_only=True)
class Push:
    """Push to ``registry`` (or under the image's own name without one)."""

    registry: RegistryHosting | None = None
    skip_if_present: bool = True

    @property
    def mode(self) -> DeliveryMode:
        return DeliveryMode.PUSH

    async def deliver(
        self,
        image: ImageTarget,
        built: LocalImage,
        *,
        on_output: OnOutput,
        cancel: asyncio.Event | None = None,
    ) -> DeliveredImage:
        from tilt.registry.push import push

        push_ref, cluster_ref = rewrite_ref(image.ref, built.ref, self.registry)
        result = await push(
            image.ref,
            built.image_id,
            push_ref,
            on_output=on_output,
            cancel=cancel,
            skip_if_present=self.skip_if_present,
        )
        return DeliveredImage(
            pushed_ref=result.ref, cluster_ref=cluster_ref, mode=self.mode, skipped=result.skipped
        )


async def _run(
    supervisor: ProcessSupervisor,
    argv: Sequence[str],
    *,
    image_ref: str,
    step: str,
    on_output: OnOutput,
    cancel: asyncio.Event | None,
    env: Mapping[str, str] | None = None,
    cwd: str = "",
) -> None:
    """Run one command to completion in its own process group; raise `BuildError` on failure."""
    from tilt.process import CommandNotFoundError

    output: list[str] = []

    def collect(line: str) -> None:
        output.append(line)
        del output[: -_OUTPUT_LINES * 2]
        on_output(line)

    try:
        proc = await supervisor.start(
            list(argv), cwd=cwd or os.getcwd(), env=dict(env or {}), on_output=collect
        )
    except (CommandNotFoundError, FileNotFoundError, PermissionError) as e:
        raise ToolMissingError(image_ref, str(e), step=step) from None
    done = asyncio.ensure_future(proc.wait())
    waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    try:
        waits: list[asyncio.Future[Any]] = [done]
        if waiter is not None:
            waits.append(waiter)
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await proc.stop()
        raise
    finally:
        if waiter is not None:
            waiter.cancel()
    if not done.done():
        await proc.stop()
        with contextlib.suppress(BaseException):
            await done
        raise BuildCancelledError(f"{step} cancelled")
    status = done.result()
    if not status.success:
        raise BuildError(
            image_ref,
            f"{shlex.join(argv)} failed: {status.describe()}",
            step=step,
            output=output[-_OUTPUT_LINES:],
        )


def _require_tool(tool: str, image_ref: str, cluster: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissingError(
            image_ref,
            f"`{tool}` is not installed (not found on PATH), and the {tool} cluster {cluster!r} "
            f"has no registry, so the image can only be copied in with `{tool}`. Install it "
            f"({_INSTALL_HINTS[tool]}), or give the cluster a local registry that Tilt pushes "
            "to instead (docs/registries.md).",
            step=f"{tool} load",
        )
    return path


@dataclass(frozen=True, kw_only=True)
class _LoadIntoCluster:
    """Hand a built image to a cluster without a registry with the cluster tool's CLI."""

    cluster_name: str
    supervisor: ProcessSupervisor

    #: The tool, its arguments before the ref and after it (``--name``/``--cluster``),
    #: the log's verb, and the delivery mode; set by each subclass.
    _tool: ClassVar[str]
    _args: ClassVar[tuple[str, ...]]
    _cluster_flag: ClassVar[str]
    _verb: ClassVar[str]
    _mode: ClassVar[DeliveryMode]

    @property
    def mode(self) -> DeliveryMode:
        return self._mode

    async def deliver(
        self,
        image: ImageTarget,
        built: LocalImage,
        *,
        on_output: OnOutput,
        cancel: asyncio.Event | None = None,
    ) -> DeliveredImage:
        tool = _require_tool(self._tool, image.ref, self.cluster_name)
        argv = [tool, *self._args, built.ref, self._cluster_flag, self.cluster_name]
        on_output(f"{self._verb} {built.ref} into {self._tool} cluster {self.cluster_name!r}")
        await _run(
            self.supervisor,
            argv,
            image_ref=image.ref,
            step=" ".join((self._tool, *self._args)),
            on_output=on_output,
            cancel=cancel,
        )
        return DeliveredImage(pushed_ref=built.ref, cluster_ref=built.ref, mode=self.mode)


@dataclass(frozen=True, kw_only=True)
class KindLoad(_LoadIntoCluster):
    """``kind load docker-image`` into a kind cluster without a registry."""

    _tool = "kind"
    _args = ("load", "docker-image")
    _cluster_flag = "--name"
    _verb = "Loading"
    _mode = DeliveryMode.KIND_LOAD


@dataclass(frozen=True, kw_only=True)
class K3dImport(_LoadIntoCluster):
    """``k3d image import`` into a k3d cluster without a registry."""

    _tool = "k3d"
    _args = ("image", "import")
    _cluster_flag = "--cluster"
    _verb = "Importing"
    _mode = DeliveryMode.K3D_IMPORT


@dataclass(frozen=True, kw_only=True)
class UserCommand:
    """The Tiltfile's ``image_push_cmd()``: the user's own push or load command."""

    argv: tuple[str, ...]
    supervisor: ProcessSupervisor
    registry: RegistryHosting | None = None
    env: Mapping[str, str] | None = None

    @property
    def mode(self) -> DeliveryMode:
        return DeliveryMode.COMMAND

    async def deliver(
        self,
        image: ImageTarget,
        built: LocalImage,
        *,
        on_output: OnOutput,
        cancel: asyncio.Event | None = None,
    ) -> DeliveredImage:
        from tilt.refs import repository, tag_of

        push_ref, cluster_ref = rewrite_ref(image.ref, built.ref, self.registry)
        if push_ref != built.ref:
            await _tag(built.image_id, push_ref)
        repo, tag = repository(push_ref), tag_of(push_ref)
        registry = self.registry.host if self.registry is not None else ""
        env = dict(self.env or {})
        env.update(
            EXPECTED_REF=push_ref,
            EXPECTED_REGISTRY=registry,
            EXPECTED_IMAGE=repo[len(registry) + 1 :] if registry else repo,
            EXPECTED_TAG=tag,
            TILT_LOCAL_REF=built.ref,
        )
        on_output(f"Running image_push_cmd {shlex.join(self.argv)!r} with EXPECTED_REF={push_ref}")
        await _run(
            self.supervisor,
            self.argv,
            image_ref=image.ref,
            step="image_push_cmd",
            on_output=on_output,
            cancel=cancel,
            env=env,
        )
        return DeliveredImage(pushed_ref=push_ref, cluster_ref=cluster_ref, mode=self.mode)


def destination_for_image(
    image: ImageTarget,
    decision: DeliveryDecision,
    *,
    supervisor: ProcessSupervisor,
    user_argv: Sequence[str] = (),
) -> ImageDestination:
    """The destination of one image: `destination_for`, except for custom_build images
    that deliver themselves (``disable_push``, ``skips_local_docker``): those stay as built.
    """
    from tilt.model import ImageBuildKind

    if image.kind is ImageBuildKind.CUSTOM and (image.disable_push or image.skips_local_docker):
        return KeepLocal()
    return destination_for(decision, supervisor=supervisor, user_argv=user_argv)


def destination_for(
    decision: DeliveryDecision,
    *,
    supervisor: ProcessSupervisor,
    registry: RegistryHosting | None = None,
    user_argv: Sequence[str] = (),
) -> ImageDestination:
    """The destination that carries out ``decision``."""
    reg = decision.registry or registry
    if decision.mode is DeliveryMode.COMMAND:
        return UserCommand(argv=tuple(user_argv), supervisor=supervisor, registry=reg)
    if decision.mode is DeliveryMode.PUSH:
        return Push(registry=reg)
    if decision.mode is DeliveryMode.KIND_LOAD:
        return KindLoad(cluster_name=decision.cluster_name, supervisor=supervisor)
    if decision.mode is DeliveryMode.K3D_IMPORT:
        return K3dImport(cluster_name=decision.cluster_name, supervisor=supervisor)
    return KeepLocal(registry=reg)


def cluster_destinations(
    decision: DeliveryDecision,
    *,
    supervisor: ProcessSupervisor,
    user_argv: Sequence[str] = (),
) -> DestinationChooser:
    """A chooser for `ImageBuilds.set_destinations` that carries out ``decision``.

    The decision already folds in the Tiltfile's ``default_registry`` and
    ``image_push_cmd`` (`tilt.registry.probe.probe`), so the settings the
    builder passes are not consulted again.
    """

    def choose(image: ImageTarget, settings: Settings) -> ImageDestination:
        return destination_for_image(image, decision, supervisor=supervisor, user_argv=user_argv)

    return choose
