"""Image builds as the engine schedules them: what a change rebuilds, in what order, how many.

`ImageBuilds` is the engine's one view of the Tiltfile's image targets:

- one watch matcher per image (`tilt.watch.matcher.TargetMatcher` from
  ``ImageTarget.watch`` plus ``.tiltignore``/``watch_settings``), the same
  answer the file watcher uses, and per deploying resource the union of the
  matchers of the images it deploys (`resource_matcher`), so a resource turns
  dirty exactly when one of its images' matchers accepts a change (a compose
  service Compose builds itself adds the matcher of its build context);
- `to_build`: the images an update must build: the images whose matcher
  accepts a changed file, then every image built ``FROM`` one of them, plus
  images never built in this session; everything for a full update (a first
  update or a trigger), in which case unchanged docker_builds are found by
  their content tag and skipped by the builder;
- `build`: base images first, independent images in parallel, at most
  ``max_parallel_updates`` builds at once across every resource, and one build
  of an image at a time (two resources sharing an image wait for each other;
  the second finds the content tag and skips). Only images some resource
  deploys are ever built: the engine asks for a resource's images only.

The last successful build of each image is kept (what `to_build` counts as
built, the refs ``FROM`` lines are pinned to) and survives a Tiltfile reload
when the image target did not change. Each build is also
posted as an `ImageBuilt` event (its local ref and the ref a cluster pulls),
so the engine state knows which image runs as which ref. `history` keeps the
last `HISTORY_LIMIT` builds only.

The engine builds (`tilt.engine.engine`, in the task of the resource's
update; runners only deploy the results). Cancelling the task that awaits
`build` cancels every build it started (they run in one `asyncio.TaskGroup`,
see `tilt.image_build.build_all`).

The builder is a `tilt.image_build.Builder`, given by whoever creates the
engine; without one, the Docker builder (`tilt.docker.build.ImageBuilder`) is
created on the first build.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tilt.model import ImageTarget, Resource, Settings, WatchSpec

if TYPE_CHECKING:
    from tilt.docker.destination import DestinationChooser
    from tilt.engine.events import Event, ImageBuilt
    from tilt.image_build import Builder, BuildResult
    from tilt.process import ProcessSupervisor
    from tilt.watch.matcher import TargetMatcher

__all__ = [
    "HISTORY_LIMIT",
    "BuildRecord",
    "ImageBuildFailedError",
    "ImageBuilds",
    "UnionMatcher",
    "image_built",
]

#: `ImageBuilds.history` keeps this many of the latest builds.
HISTORY_LIMIT = 500


class UnionMatcher:
    """A path counts when any of the matchers accepts it (a resource's images)."""

    def __init__(self, matchers: Sequence[TargetMatcher]) -> None:
        self.matchers = tuple(matchers)

    def matches(self, path: str) -> bool:
        """Whether one of the matchers accepts ``path``."""
        return any(m.matches(path) for m in self.matchers)

    def prunes_dir(self, dirpath: str) -> bool:
        """Whether no matcher can accept anything below ``dirpath``."""
        return all(m.prunes_dir(dirpath) for m in self.matchers)


@dataclass(frozen=True, kw_only=True)
class BuildRecord:
    """One finished image build, kept for `tilt get` and tests.

    Attributes:
        image_ref: The image target's ref.
        ref: The ref built (or found: ``skipped``).
        skipped: The content tag already existed; nothing was built.
        resource: The resource whose update asked for it.
        duration_s: Wall time of the build.
    """

    image_ref: str
    ref: str
    skipped: bool
    resource: str
    duration_s: float


class ImageBuildFailedError(Exception):
    """An image of a resource did not build; ``str()`` is the message for its status."""


class ImageBuilds:
    """The engine's image targets, their matchers, and their builds.

    Args:
        supervisor: Runs custom_build commands and ``docker buildx``.
        post: Receives an `ImageBuilt` event per finished build (the engine's
            ``post``); None: builds are only kept here.
        builder: Builds one image; default: the Docker builder, made on first use.
    """

    def __init__(
        self,
        *,
        supervisor: ProcessSupervisor,
        post: Callable[[Event], None] | None = None,
        builder: Builder | None = None,
    ) -> None:
        self._supervisor = supervisor
        self._post = post
        self._builder: Builder | None = builder
        self._destination_for: DestinationChooser | None = None
        self._settings = Settings()
        self._images: dict[str, ImageTarget] = {}
        self._matchers: dict[str, TargetMatcher] = {}
        self._built: dict[str, BuildResult] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sem: asyncio.Semaphore | None = None
        self._sem_size = 0
        self.history: list[BuildRecord] = []

    # ---- the graph -------------------------------------------------------------------------

    def set_graph(self, images: Sequence[ImageTarget], settings: Settings) -> None:
        """Take the image targets of a (re)loaded Tiltfile.

        Builds of images whose target is unchanged stay valid; matchers are
        rebuilt (``.tiltignore`` or ``watch_settings`` may have changed).
        """
        new = {i.ref: i for i in images}
        for ref in list(self._built):
            if self._images.get(ref) != new.get(ref):
                del self._built[ref]
        self._images = new
        self._settings = settings
        self._matchers = {}
        if self._builder is not None:
            self._builder.settings = settings

    def set_destinations(self, chooser: DestinationChooser | None) -> None:
        """Pick each image's destination with ``chooser`` (None: by the Tiltfile's settings).

        The Kubernetes runtime sets `tilt.registry.destinations.cluster_destinations`
        once it knows the cluster (push, kind load, nothing, the user's command).
        Applies to the Docker builder (a builder given from outside decides itself).
        """
        self._destination_for = chooser
        if self._builder is not None and hasattr(self._builder, "destination_for"):
            from tilt.docker.destination import destination_for

            self._builder.destination_for = chooser or destination_for

    def image(self, ref: str) -> ImageTarget | None:
        """The image target declared as ``ref`` (None when there is none)."""
        return self._images.get(ref)

    def images_of(self, spec: Resource) -> list[ImageTarget]:
        """The images ``spec`` deploys, base images first."""
        return [self._images[r] for r in spec.image_refs if r in self._images]

    def watch_matcher(self, ref: str) -> TargetMatcher:
        """The (cached) watch matcher of image ``ref``: its context rules and the global ones."""
        m = self._matchers.get(ref)
        if m is None:
            from tilt.watch.matcher import TargetMatcher

            m = TargetMatcher.from_spec(
                self._images[ref].watch, extra_ignores=self._settings.watch_ignores
            )
            self._matchers[ref] = m
        return m

    def resource_matcher(self, spec: Resource) -> UnionMatcher | None:
        """The union of the watch matchers of ``spec``'s images (None: it builds none).

        A compose service Compose builds itself (``build:``, no docker_build)
        counts its build context (``ComposeTarget.watch``) as one more image.
        """
        matchers = [self.watch_matcher(i.ref) for i in self.images_of(spec)]
        own = _compose_build_watch(spec)
        if own is not None:
            from tilt.watch.matcher import TargetMatcher

            matchers.append(
                TargetMatcher.from_spec(own, extra_ignores=self._settings.watch_ignores)
            )
        if not matchers:
            return None
        return UnionMatcher(matchers)

    def watch_roots(self, spec: Resource) -> set[str]:
        """The paths ``spec``'s images (and a Compose-built service's context) watch."""
        roots = {p for i in self.images_of(spec) for p in i.watch.paths}
        own = _compose_build_watch(spec)
        if own is not None:
            roots.update(own.paths)
        return roots

    # ---- what to build ---------------------------------------------------------------------

    def affected(self, spec: Resource, files: Sequence[str]) -> list[ImageTarget]:
        """The images of ``spec`` that ``files`` rebuild (matcher hits, then images FROM them)."""
        from tilt.image_graph import touched_by

        return touched_by(self.images_of(spec), files, lambda img: self.watch_matcher(img.ref))

    def to_build(self, spec: Resource, files: Sequence[str], *, full: bool) -> list[ImageTarget]:
        """The images an update of ``spec`` builds, in build order.

        Args:
            spec: The resource.
            files: The changed files of this update.
            full: Build every image (content tags skip the unchanged ones).
        """
        from tilt.image_graph import with_dependents

        images = self.images_of(spec)
        if full:
            return images
        chosen = {i.ref for i in self.affected(spec, files)}
        chosen |= {i.ref for i in images if i.ref not in self._built}
        # An image built FROM a rebuilt one must be rebuilt too.
        chosen = with_dependents(images, chosen)
        return [i for i in images if i.ref in chosen]

    @property
    def settings(self) -> Settings:
        """The Tiltfile's settings as of the last load (registry, parallelism, k8s options)."""
        return self._settings

    # ---- building --------------------------------------------------------------------------

    async def build_unlisted(
        self, target: ImageTarget, on_output: Callable[[str], None]
    ) -> BuildResult:
        """Build an image no resource declares (the live_update helper) with the same builder
        and destinations; it is not kept as any image's build nor posted."""
        return await self._get_builder().build(target, on_output=on_output)

    def _get_builder(self) -> Builder:
        if self._builder is None:
            from tilt.docker.build import ImageBuilder

            self._builder = ImageBuilder(
                settings=self._settings,
                supervisor=self._supervisor,
                destination_for=self._destination_for,
            )
        return self._builder

    def _semaphore(self) -> asyncio.Semaphore:
        size = max(1, self._settings.max_parallel_updates)
        if self._sem is None or self._sem_size != size:
            self._sem = asyncio.Semaphore(size)
            self._sem_size = size
        return self._sem

    async def build(
        self,
        images: Sequence[ImageTarget],
        *,
        resource: str,
        on_output: Callable[[str], None],
    ) -> dict[str, BuildResult]:
        """Build ``images`` (base images first, independent ones in parallel).

        Cancelling the calling task cancels every build it started (the update
        owns them: nothing is tagged, nothing is logged, after it ends).

        Args:
            images: From `to_build`.
            resource: The resource asking (for `history`).
            on_output: Gets every line of build output; with several images
                each line is prefixed with its image's name.

        Returns:
            Per image ref, what was built.

        Raises:
            ImageBuildFailedError: a build failed (the message names the image,
                the failing step and its output), or the Docker engine cannot be
                reached (`tilt.docker.client.DockerUnavailableError`'s one message).
            Exception: anything else the builder raised, as it is.
        """
        from tilt.image_build import BuildError, DependencyFailedError, build_all

        builder = self._get_builder()
        sem = self._semaphore()
        several = len(images) > 1

        def out_for(img: ImageTarget) -> Callable[[str], None]:
            if not several:
                return on_output
            prefix = f"[{img.ref}] "
            return lambda line: on_output(prefix + line)

        async def one(img: ImageTarget, base_refs: Mapping[str, str]) -> BuildResult:
            lock = self._locks.setdefault(img.ref, asyncio.Lock())
            async with lock, sem:
                result = await builder.build(img, on_output=out_for(img), base_refs=base_refs)
            self._record(result, resource)
            return result

        known = {ref: b.ref for ref, b in self._built.items()}
        results = await build_all(images, one, max_parallel=self._sem_size or 1, built_refs=known)
        done: dict[str, BuildResult] = {}
        failures: list[BaseException] = []
        for ref, res in results.items():
            if isinstance(res, BaseException):
                failures.append(res)
            else:
                done[ref] = res
        if failures:
            # The root cause first: an image skipped because its base failed says less.
            failures.sort(key=lambda e: isinstance(e, DependencyFailedError))
            first = failures[0]
            if isinstance(first, BuildError):
                raise ImageBuildFailedError(str(first)) from first
            from tilt.docker.client import as_unavailable

            unavailable = as_unavailable(first)
            if unavailable is not None:
                raise ImageBuildFailedError(str(unavailable)) from first
            raise first
        return done

    def _record(self, result: BuildResult, resource: str) -> None:
        """Keep ``result`` as its image's latest build and tell the engine."""
        self._built[result.image_ref] = result
        self.history.append(
            BuildRecord(
                image_ref=result.image_ref,
                ref=result.ref,
                skipped=result.skipped,
                resource=resource,
                duration_s=result.duration_s,
            )
        )
        del self.history[:-HISTORY_LIMIT]
        if self._post is not None:
            self._post(image_built(result, resource))


def image_built(result: BuildResult, resource: str) -> ImageBuilt:
    """``result`` as the engine's record of it (the refs to deploy, the ref a cluster pulls)."""
    from tilt.engine.events import ImageBuilt

    return ImageBuilt(
        image_ref=result.image_ref,
        resource=resource,
        local_ref=result.ref,
        cluster_ref=result.pull_ref,
        deploy_ref=result.deploy_ref,
        image_id=result.image_id,
        skipped=result.skipped,
        duration_s=result.duration_s,
        at=time.time(),
    )


def _compose_build_watch(spec: Resource) -> WatchSpec | None:
    """The build context a compose service Compose builds itself watches (None: none)."""
    c = spec.compose
    if c is None or spec.image_refs or not c.watch.paths:
        return None
    return c.watch
