"""Image builds, runtime-neutral: results, errors, scheduling, the builder contract.

What the engine needs to drive builds without knowing how an image is made:

- `Builder`: builds one image target (`tilt.docker.build.ImageBuilder` is the
  Docker implementation, for docker_build and custom_build);
- `BuildResult`: the refs of a built image (local, pushed, pulled by a cluster);
- `BuildError` (and `DependencyFailedError`): a failed build, with the step
  and its output; `BuildCancelledError`: cancelled through an event;
- `build_all`: base images first, independent images in parallel, as tasks of
  one `asyncio.TaskGroup`, so cancelling the caller cancels every build;
- `cancel_on`: cancel an awaitable when an `asyncio.Event` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from tilt.model import ImageTarget, Settings

__all__ = [
    "BuildCancelledError",
    "BuildError",
    "BuildResult",
    "Builder",
    "DependencyFailedError",
    "OnOutput",
    "build_all",
    "cancel_on",
]

_T = TypeVar("_T")

#: Receives one line of build output (no trailing newline), on the event loop.
OnOutput = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """A finished image build.

    Attributes:
        image_ref: The image target's ref as declared (``ImageTarget.ref``).
        ref: The local ref that was built or found, e.g. ``app:tilt-3f2a9c0d1e4b5a6f``.
        image_id: The engine's image id (``sha256:...``); empty when the
            image never reached the local engine (``skips_local_docker``).
        pushed_ref: The registry ref pushed with ``default_registry``, else ``""``.
        cluster_ref: The ref a cluster pulls (``default_registry``'s
            ``host_from_cluster`` when set); ``""`` means `deploy_ref`.
        skipped: The engine already had ``ref`` (same content): nothing was built.
        context_bytes: Bytes of build context sent (0 for custom_build).
        context_files: Number of files in the build context.
        duration_s: Wall time of the whole call.
    """

    image_ref: str
    ref: str
    image_id: str = ""
    pushed_ref: str = ""
    cluster_ref: str = ""
    skipped: bool = False
    context_bytes: int = 0
    context_files: int = 0
    duration_s: float = 0.0

    @property
    def deploy_ref(self) -> str:
        """The ref the local engine runs (Compose): the pushed one when there is one."""
        return self.pushed_ref or self.ref

    @property
    def pull_ref(self) -> str:
        """The ref a cluster pulls: `cluster_ref`, else `deploy_ref`."""
        return self.cluster_ref or self.deploy_ref


class BuildError(Exception):
    """A build that failed; the resource is marked failed and retried on the next change.

    Attributes:
        image_ref: The image target's ref.
        step: The step that failed (``Step 2/3 : RUN make``, ``push``,
            ``custom_build``, ``build context``); may be empty.
        message: What the engine or command said.
        output: The last lines of the failing step's output.
    """

    def __init__(
        self, image_ref: str, message: str, *, step: str = "", output: Sequence[str] = ()
    ) -> None:
        self.image_ref = image_ref
        self.step = step
        self.message = message
        self.output = tuple(output)
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.step:
            parts.append(f"failed at {self.step}")
        if self.output:
            parts.extend("    " + line for line in self.output)
        parts.append(f"ERROR: {self.message}")
        return f"image build {self.image_ref!r} " + "\n".join(parts)


class DependencyFailedError(BuildError):
    """Not built because an image it is built from failed."""


class BuildCancelledError(Exception):
    """The build was cancelled through its ``cancel`` event (a cancelled task raises
    `asyncio.CancelledError` as usual)."""


class Builder(Protocol):
    """Builds image targets (one per engine; it holds no per-image state)."""

    settings: Settings

    async def build(
        self,
        image: ImageTarget,
        *,
        on_output: OnOutput,
        base_refs: Mapping[str, str] | None = None,
    ) -> BuildResult:
        """Build ``image`` (or find it built); cancelling the caller aborts the build.

        Raises:
            BuildError: the build failed.
        """
        ...


async def cancel_on(cancel: asyncio.Event | None, coro: Awaitable[_T]) -> _T:
    """Await ``coro``; when ``cancel`` is set first, cancel it and raise `BuildCancelledError`."""
    if cancel is None:
        return await coro
    task = asyncio.ensure_future(coro)
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise BuildCancelledError("build cancelled")


async def build_all(
    images: Sequence[ImageTarget],
    build: Callable[[ImageTarget, Mapping[str, str]], Awaitable[BuildResult]],
    *,
    max_parallel: int,
    built_refs: Mapping[str, str] | None = None,
) -> dict[str, BuildResult | BaseException]:
    """Build images with their bases first and up to ``max_parallel`` at once.

    Each image starts as soon as the images it is built from (among
    ``images``) have finished, not when a whole level has. The builds are
    tasks of one `asyncio.TaskGroup`: cancelling the caller cancels every
    build (and waits until each has stopped); a failing build does not stop
    the independent ones.

    Args:
        images: The images to build.
        build: Builds one image given the built refs of its image deps
            (e.g. ``lambda img, refs: builder.build(img, base_refs=refs, ...)``).
        max_parallel: At most this many builds run at once (Tilt's
            ``max_parallel_updates``).
        built_refs: Refs of image deps built earlier and not rebuilt now.

    Returns:
        Per image ref, its result or the exception it raised; an image whose
        base failed gets a `DependencyFailedError` without being built.
    """
    from tilt.image_graph import build_levels

    by_ref = {i.ref: i for i in images}
    build_levels(images)  # rejects cycles before anything starts
    sem = asyncio.Semaphore(max(1, max_parallel))
    tasks: dict[str, asyncio.Task[BuildResult | Exception]] = {}
    known = dict(built_refs or {})

    async def one(image: ImageTarget) -> BuildResult | Exception:
        refs: dict[str, str] = {}
        for dep in image.image_deps:
            if dep in by_ref:
                base = await tasks[dep]
                if isinstance(base, Exception):
                    err = DependencyFailedError(
                        image.ref, f"not built: the image it is built from, {dep!r}, failed"
                    )
                    err.__cause__ = base
                    return err
                refs[dep] = base.ref
            elif dep in known:
                refs[dep] = known[dep]
        try:
            async with sem:
                return await build(image, refs)
        except Exception as e:
            return e

    async with asyncio.TaskGroup() as group:
        for image in images:
            tasks[image.ref] = group.create_task(one(image), name=f"image-build:{image.ref}")
    return {ref: task.result() for ref, task in tasks.items()}
