"""live_update for every runtime: whether a change can be live-updated, and applying it.

The planner (`tilt.liveupdate`) says what a change means for one image's
``live_update`` steps. This module adds the runtime-neutral rest:

- `decide`: per (image, container), whether a change can be live-updated: the
  image has steps; no image it is built ``FROM`` changed (a base image change
  needs a build); the change touches the image at all; the plan does not fall
  back (``fall_back_on``, a file outside every sync). A container that crashed
  after a sync is the state's rule (`tilt.engine.state`: a crash of a
  live-updated container queues a full rebuild) and the updater's check;
- `initial_sync_plan`: ``initial_sync()`` for a container that just started;
- `apply_plan`: carries a plan out through a `ContainerUpdater`, in Tilt's
  order - check the container can take it, delete, copy (one tar stream),
  run steps (a non-zero exit stops and falls back), restart - and turns every
  failure into a fallback reason.

A runtime brings a `ContainerUpdater`: Docker's (`tilt.docker.sync`, the
archive API) is the first; a Kubernetes one would exec ``tar`` in the pod.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tilt.liveupdate import (
    LiveUpdatePlan,
    PathFilter,
    build_tar,
    format_file_list,
    plan_initial_sync,
    plan_live_update,
)
from tilt.model import ImageTarget

__all__ = [
    "ContainerGoneError",
    "ContainerUpdater",
    "Decision",
    "LiveUpdateResult",
    "UpdateStepError",
    "apply_plan",
    "apply_plan_async",
    "decide",
    "initial_sync_plan",
]

# Exit codes of an exec whose program could not be started (runc: 126 not
# executable / not found in some versions, 127 not found).
NOT_STARTED = (126, 127)


class UpdateStepError(Exception):
    """A step failed; the message is the fallback reason."""


class ContainerGoneError(UpdateStepError):
    """The container is gone or its runtime refused the call: nothing of the step counts."""


class ContainerUpdater(Protocol):
    """One running container, as live update changes it. Every method blocks.

    Errors are `UpdateStepError` (the message says what failed) or
    `ContainerGoneError`; `apply_plan` turns them into a fallback.
    """

    @property
    def short_id(self) -> str:
        """The container's short id, for log lines."""
        ...

    def check(self) -> str:
        """Why the container cannot take a live update now ("" when it can).

        Gone, not running, restarting, or restarted (crashed) since the last sync.
        """
        ...

    def delete(self, paths: Sequence[str]) -> None:
        """Delete ``paths`` in the container (``rm -rf``)."""
        ...

    def copy_tar(self, data: bytes) -> None:
        """Unpack the tar stream ``data`` at ``/`` in the container."""
        ...

    def exec(self, argv: Sequence[str], on_line: Callable[[str], None] | None) -> int:
        """Run ``argv`` in the container, each output line to ``on_line``; its exit code.

        126/127: the program could not be started.
        """
        ...

    def restart(self) -> int | None:
        """Restart the container at once (``restart_container()``).

        Returns its restart count as the restart leaves it (None: unknown):
        the baseline a later crash is measured against. Read as part of the
        restart, not afterwards: the restarted process may crash (and its
        restart policy count it) before anyone asks.
        """
        ...

    def restart_count(self) -> int | None:
        """How often its restart policy restarted it (None: unknown)."""
        ...


@dataclass(frozen=True, kw_only=True)
class LiveUpdateResult:
    """What `apply_plan` did.

    Attributes:
        ok: the container is up to date (every step succeeded).
        fall_back: when not ok, why the engine must rebuild and redeploy.
        copied: files and folders copied in.
        deleted: container paths deleted.
        ran: the commands executed, in order.
        restarted: whether the container was restarted.
        synced_at: ``time.monotonic()`` when the files were in the container.
        finished_at: ``time.monotonic()`` when everything (incl. restart) was done.
        restarts: the container's restart count right after (the next
            update's baseline: a higher count means it crashed since); after a
            restart, the count the restart left (`ContainerUpdater.restart`).
        log: the lines logged, in order.
    """

    ok: bool
    fall_back: str = ""
    copied: int = 0
    deleted: int = 0
    ran: tuple[str, ...] = ()
    restarted: bool = False
    synced_at: float = 0.0
    finished_at: float = 0.0
    restarts: int | None = None
    log: tuple[str, ...] = field(default=(), repr=False)


def apply_plan(
    plan: LiveUpdatePlan,
    updater: ContainerUpdater,
    *,
    on_log: Callable[[str], None] | None = None,
    check: bool = True,
) -> LiveUpdateResult:
    """Carry out ``plan`` on one container, in Tilt's order (blocking).

    Args:
        plan: From `tilt.liveupdate.plan_live_update` or `plan_initial_sync`.
        updater: The container.
        on_log: Gets every log line (the resource's log).
        check: First verify the container can take an update (`ContainerUpdater.check`).

    Returns:
        The result; ``fall_back`` says why when the engine must rebuild.
    """
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if on_log is not None:
            on_log(line)

    if plan.falls_back:
        log(f"falling back to a full rebuild: {plan.fall_back}")
        return LiveUpdateResult(ok=False, fall_back=plan.fall_back, log=tuple(lines))
    if plan.is_noop:
        log("live update: nothing to sync, the container is up to date")
        now = time.monotonic()
        return LiveUpdateResult(ok=True, synced_at=now, finished_at=now, log=tuple(lines))
    for line in plan.log:
        log(line)
    short = updater.short_id
    copied = 0
    ran: list[str] = []
    restarted = False
    baseline: int | None = None
    try:
        if check:
            problem = updater.check()
            if problem:
                raise UpdateStepError(problem)
        if plan.deletions:
            updater.delete(plan.deletions)
            log(
                f"deleted {len(plan.deletions)} path(s) in container {short}: "
                + format_file_list(plan.deletions)
            )
        if plan.copies:
            data, copied = build_tar(plan.copies)
            updater.copy_tar(data)
            log(
                f"copied {copied} file(s) to container {short} "
                f"({len(data)} bytes through the archive API)"
            )
        synced_at = time.monotonic()
        for i, step in enumerate(plan.runs, 1):
            shown = "<hidden: echo_off>" if step.echo_off else step.command.display
            log(f"[CMD {i}/{len(plan.runs)}] {shown}")
            code = updater.exec(list(step.command.argv), lambda text: log(f"  {text}"))
            ran.append(step.command.display)
            if code != 0:
                why = "could not start" if code in NOT_STARTED else "failed"
                raise UpdateStepError(f"run step {shown!r} {why} with exit code {code}")
        if plan.restart:
            log(f"restarting container {short} (restart_container())")
            baseline = updater.restart()
            restarted = True
    except UpdateStepError as e:
        reason = str(e)
        log(f"live update failed, falling back to a full rebuild: {reason}")
        gone = isinstance(e, ContainerGoneError)
        return LiveUpdateResult(
            ok=False,
            fall_back=reason,
            copied=0 if gone else copied,
            ran=() if gone else tuple(ran),
            log=tuple(lines),
        )
    if restarted:
        # A crash of the restarted process must count against this baseline.
        restarts = baseline
    else:
        try:
            restarts = updater.restart_count()
        except Exception:
            restarts = None
    log(f"container {short} updated")
    return LiveUpdateResult(
        ok=True,
        copied=copied,
        deleted=len(plan.deletions),
        ran=tuple(ran),
        restarted=restarted,
        synced_at=synced_at,
        finished_at=time.monotonic(),
        restarts=restarts,
        log=tuple(lines),
    )


async def apply_plan_async(
    plan: LiveUpdatePlan,
    updater: ContainerUpdater,
    *,
    on_log: Callable[[str], None] | None = None,
    check: bool = True,
) -> LiveUpdateResult:
    """`apply_plan` in a worker thread (the updater's calls block)."""
    return await asyncio.to_thread(apply_plan, plan, updater, on_log=on_log, check=check)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Whether a change can be live-updated into one container.

    Attributes:
        plan: What to do (None: no live update; see ``fall_back``/``nothing_to_do``).
        fall_back: Why a full build and deploy is needed ("" with no steps at all).
        nothing_to_do: The change touches no image of the resource.
        message: The log line that says so ("" when there is nothing to say).
    """

    plan: LiveUpdatePlan | None = None
    fall_back: str = ""
    nothing_to_do: bool = False
    message: str = ""


def decide(
    image: ImageTarget | None,
    *,
    affected: Sequence[ImageTarget],
    files: Sequence[str],
    matcher: PathFilter,
    base_dir: str,
) -> Decision:
    """Whether ``files`` can be live-updated into a container running ``image``.

    Args:
        image: The image the container runs (None: not one we build).
        affected: The resource's images the change rebuilds (matcher hits and
            images built FROM them).
        files: The changed files.
        matcher: ``image``'s watch matcher (only what it accepts is synced).
        base_dir: The Tiltfile's folder (paths in log lines).
    """
    if image is None or not image.live_update:
        return Decision()
    others = [i.ref for i in affected if i.ref != image.ref]
    if others:
        why = f"files of image(s) it is built FROM changed ({', '.join(others)})"
        return Decision(
            fall_back=why,
            message=(
                f"Will not perform Live Update because: {why}. "
                "Falling back to a full build + deploy."
            ),
        )
    if not affected:
        return Decision(
            nothing_to_do=True, message="No image is affected by these changes: nothing to do"
        )
    changed = [f for f in files if matcher.matches(f)]
    plan = plan_live_update(image.live_update, changed, base_dir=base_dir)
    if plan.falls_back:
        return Decision(
            fall_back=plan.fall_back,
            message=f"Will not perform Live Update because: {plan.fall_back}",
        )
    return Decision(plan=plan)


def initial_sync_plan(image: ImageTarget, *, matcher: PathFilter, base_dir: str) -> LiveUpdatePlan:
    """``initial_sync()``: everything the syncs cover, for a container that just started."""
    return plan_initial_sync(image.live_update, path_filter=matcher, base_dir=base_dir)
