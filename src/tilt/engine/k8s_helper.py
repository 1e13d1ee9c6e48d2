"""The live_update helper image, built and delivered when a live update first needs it.

A container whose image has no ``tar``, no busybox and no ``sh`` + ``cat`` can still take
files: `tilt.k8s.exec_updater.ExecUpdater` starts an ephemeral container of a small helper
image (a static busybox, `tilt.k8s.helper`) that writes into the app container's filesystem.
That image is built only then: the updater asks `HelperImage.ref_for_cluster` (from its worker
thread) the first time it needs it; the build runs on the engine's loop with the same image
builder as the Tiltfile's images and is delivered the way this cluster gets images (pushed to
its registry, loaded into kind/k3d, or left in the local engine), and the ref the cluster
pulls is kept for the rest of the session. Its tag is its content's (``tilt-<digest>``), so an
engine that has it already skips the build.

When no static busybox is on this machine, that is said once and remembered (nothing will
change it during the session); a failed build or delivery is the reason of this update's
error and the next live update tries again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tilt.image_build import BuildResult
    from tilt.model import ImageTarget

__all__ = ["HelperImage", "HelperImageError"]

Log = Callable[[str], None]
#: Builds and delivers one image target (the runner's builder, with the cluster's delivery).
BuildFn = Callable[["ImageTarget", Log], Awaitable["BuildResult"]]

#: How long an updater's thread waits for the build and delivery.
WAIT_S = 600.0


class HelperImageError(Exception):
    """The helper image could not be made; ``str()`` says why."""


class HelperImage:
    """One session's helper image: built at most once, on demand.

    Args:
        build: Builds an image target and delivers it to the cluster (coroutine).
        loop: The engine's loop, where ``build`` runs.
    """

    def __init__(self, build: BuildFn, loop: asyncio.AbstractEventLoop) -> None:
        self._build = build
        self._loop = loop
        self._lock = asyncio.Lock()
        self._ref = ""
        self._unavailable = ""  # no static busybox: final for this session
        self._workdir = ""

    @property
    def ref(self) -> str:
        """The ref the cluster pulls ("" until built and delivered)."""
        return self._ref

    def ref_for_cluster(self, log: Log) -> str:
        """Blocking, from a worker thread: the helper's ref the cluster pulls.

        Raises:
            HelperImageError: it cannot be made (why).
        """
        if self._ref:
            return self._ref
        try:
            future = asyncio.run_coroutine_threadsafe(self.ensure(log), self._loop)
        except RuntimeError:  # the loop closed: tilt is exiting
            raise HelperImageError("tilt is shutting down") from None
        try:
            return future.result(WAIT_S)
        except TimeoutError:
            future.cancel()
            raise HelperImageError(
                f"building and delivering the helper image took more than {WAIT_S:g}s"
            ) from None
        except concurrent.futures.CancelledError:
            raise HelperImageError("the update was cancelled") from None

    async def ensure(self, log: Log) -> str:
        """Build and deliver the helper image unless done already; its ref for the cluster."""
        from tilt.k8s.helper import HelperUnavailable, helper_image_target

        async with self._lock:
            if self._ref:
                return self._ref
            if self._unavailable:
                raise HelperImageError(self._unavailable)
            if not self._workdir:
                self._workdir = tempfile.mkdtemp(prefix="tilt-helper-")
            try:
                target = await asyncio.to_thread(helper_image_target, self._workdir)
            except HelperUnavailable as e:
                self._unavailable = str(e)
                raise HelperImageError(self._unavailable) from None
            except OSError as e:
                raise HelperImageError(f"cannot write its build context: {e}") from None
            log(
                f"live_update: building the helper image {target.ref} (a static busybox) for an "
                "ephemeral container"
            )
            try:
                result = await self._build(target, log)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a build or delivery failure: the reason, not a traceback
                raise HelperImageError(f"building or delivering it failed: {e}") from None
            self._ref = result.pull_ref
            log(f"live_update: helper image ready for the cluster as {self._ref}")
            return self._ref

    def close(self) -> None:
        """Remove the build context written for it."""
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = ""
