"""live_update planning: which files to copy, what to run, or why to rebuild.

Pure logic, independent of where the container runs. Given an image's
``live_update`` steps (`tilt.model` ``SyncStep``/``RunStep``/``FallBackOnStep``/
``InitialSyncStep``/``RestartContainerStep``) and the local paths that changed,
`plan_live_update` returns a `LiveUpdatePlan`: the files to copy (local path ->
container path), the container paths to delete, the run steps to execute, and
whether to restart the container - or the reason to fall back to a full image
build and deploy. `plan_initial_sync` does the same for a container that just
started (every file the syncs cover). Appliers (`tilt.docker.sync` for Docker
and Compose containers; a Kubernetes exec applier later) carry a plan out.

The rules follow Tilt's live update (``internal/store/liveupdates``,
``internal/build``):

- a changed path belongs to the first sync step (in declaration order) whose
  ``local_path`` is that path or one of its parents; the container path is
  ``remote_path`` joined with the path relative to ``local_path`` (a sync of a
  single file maps to ``remote_path`` itself);
- a changed path that no longer exists locally is deleted in the container;
- a changed path under no sync step means the container cannot be brought up
  to date by syncing: fall back ("Found file(s) not matching any sync");
- a changed path equal to or under a ``fall_back_on`` path: fall back;
- a run step without triggers runs on every live update that syncs something; a
  run step with triggers runs when a synced path is a trigger or lies under one;
- nothing to sync: nothing to do (no run steps, no restart).

Where we differ: when a change matches ``fall_back_on`` *and* lies outside
every sync, we give the ``fall_back_on`` reason (the rule the user wrote)
rather than Tilt's "not matching any sync".
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from tilt.model import (
    FallBackOnStep,
    InitialSyncStep,
    LiveUpdateStep,
    RestartContainerStep,
    RunStep,
    SyncStep,
)

__all__ = [
    "FileCopy",
    "LiveUpdatePlan",
    "PathFilter",
    "build_tar",
    "format_file_list",
    "has_initial_sync",
    "is_within",
    "plan_initial_sync",
    "plan_live_update",
]

#: How many paths a log line or reason names before it says "and N more".
_MAX_LISTED = 3


class PathFilter(Protocol):
    """The part of `tilt.watch.matcher.TargetMatcher` planning uses (ignores)."""

    def matches(self, path: str) -> bool:
        """Whether ``path`` counts for the target (not ignored)."""
        ...

    def prunes_dir(self, dirpath: str) -> bool:
        """Whether nothing under ``dirpath`` can count (skip the whole tree)."""
        ...


@dataclass(frozen=True, kw_only=True)
class FileCopy:
    """One local path copied to one container path (a directory is copied whole)."""

    local_path: str
    container_path: str


@dataclass(frozen=True, kw_only=True)
class LiveUpdatePlan:
    """What one live update does to a running container.

    Attributes:
        copies: local files (or directories) to copy, with their container paths.
        deletions: container paths to delete (their local paths are gone).
        runs: the run steps to execute, in order.
        restart: whether to restart the container afterwards (restart_container()).
        fall_back: when non-empty, do not live update: rebuild the image and
            redeploy instead; the text says why.
        no_match: the changed paths that matched no sync step.
        log: lines for the resource's log saying which path was taken and why.
    """

    copies: tuple[FileCopy, ...] = ()
    deletions: tuple[str, ...] = ()
    runs: tuple[RunStep, ...] = ()
    restart: bool = False
    fall_back: str = ""
    no_match: tuple[str, ...] = ()
    log: tuple[str, ...] = ()

    @property
    def falls_back(self) -> bool:
        """Whether this change needs a full rebuild instead of a live update."""
        return bool(self.fall_back)

    @property
    def is_noop(self) -> bool:
        """Nothing to sync and no fallback: the container is already current."""
        return not self.fall_back and not self.copies and not self.deletions


def is_within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies below it (both absolute, normalized)."""
    if path == root:
        return True
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path.startswith(prefix)


def format_file_list(paths: Sequence[str], base: str = "") -> str:
    """``a.txt, b/c.txt, and 3 more``, paths shown relative to ``base`` when under it."""

    def show(p: str) -> str:
        if base and is_within(p, base) and p != base:
            return os.path.relpath(p, base)
        return p

    shown = [show(p) for p in paths[:_MAX_LISTED]]
    if len(paths) > _MAX_LISTED:
        shown.append(f"and {len(paths) - _MAX_LISTED} more")
    return ", ".join(shown)


def has_initial_sync(steps: Iterable[LiveUpdateStep]) -> bool:
    """Whether the steps include ``initial_sync()``."""
    return any(isinstance(s, InitialSyncStep) for s in steps)


def _container_path(step: SyncStep, local: str) -> str:
    """The container path of ``local`` (under ``step.local_path``)."""
    if local == step.local_path:
        return step.remote_path
    rel = os.path.relpath(local, step.local_path).replace(os.sep, "/")
    return posixpath.join(step.remote_path, rel)


def _runs_for(steps: Sequence[LiveUpdateStep], synced_local: Sequence[str]) -> tuple[RunStep, ...]:
    runs: list[RunStep] = []
    for step in steps:
        if not isinstance(step, RunStep):
            continue
        if not step.triggers or any(
            is_within(p, t)
            for p in synced_local
            for t in (os.path.normpath(t) for t in step.triggers)
        ):
            runs.append(step)
    return tuple(runs)


def _describe_runs(steps: Sequence[LiveUpdateStep], runs: Sequence[RunStep]) -> list[str]:
    lines: list[str] = []
    for step in steps:
        if not isinstance(step, RunStep):
            continue
        shown = "<command hidden: echo_off>" if step.echo_off else step.command.display
        if step in runs:
            why = "no trigger" if not step.triggers else "a synced file matches its trigger"
            lines.append(f"will run: {shown} ({why})")
        else:
            lines.append(f"skipping run: {shown} (no synced file matches its trigger)")
    return lines


def plan_live_update(
    steps: Sequence[LiveUpdateStep],
    changed: Iterable[str],
    *,
    exists: Callable[[str], bool] = os.path.lexists,
    base_dir: str = "",
) -> LiveUpdatePlan:
    """Plan a live update of a running container for a set of changed paths.

    Args:
        steps: the image target's ``live_update`` steps (validated by the loader:
            absolute local paths, ``fall_back_on`` first, ``restart_container`` last).
        changed: absolute local paths that were created, modified or deleted
            since the container was last brought up to date. Paths the image
            ignores should already be filtered out (the engine's matcher).
        exists: whether a local path still exists (injected for tests; a path
            that does not exist is deleted in the container).
        base_dir: a folder to show paths relative to in log lines (the Tiltfile's).

    Returns:
        The plan; ``plan.fall_back`` says why when a full rebuild is needed.
    """
    paths = sorted({os.path.normpath(p) for p in changed})
    if not paths:
        return LiveUpdatePlan(log=("live update: no changed files",))

    for step in steps:
        if isinstance(step, FallBackOnStep):
            for root in (os.path.normpath(r) for r in step.paths):
                hit = next((p for p in paths if is_within(p, root)), None)
                if hit is not None:
                    shown = format_file_list([hit], base_dir)
                    reason = (
                        f"Detected change to fall_back_on file {shown!r}: "
                        "falling back to a full rebuild"
                    )
                    return LiveUpdatePlan(fall_back=reason, log=(reason,))

    syncs = [s for s in steps if isinstance(s, SyncStep)]
    normalized = [(os.path.normpath(s.local_path), s) for s in syncs]
    copies: list[FileCopy] = []
    deletions: list[str] = []
    synced_local: list[str] = []
    no_match: list[str] = []
    for p in paths:
        owner = next((s for root, s in normalized if is_within(p, root)), None)
        if owner is None:
            no_match.append(p)
            continue
        target = _container_path(owner, p)
        synced_local.append(p)
        if exists(p):
            copies.append(FileCopy(local_path=p, container_path=target))
        else:
            deletions.append(target)

    if no_match:
        reason = (
            f"Found file(s) not matching any sync (files: {format_file_list(no_match, base_dir)})"
            ": falling back to a full rebuild"
        )
        return LiveUpdatePlan(fall_back=reason, no_match=tuple(no_match), log=(reason,))

    # A copied directory already covers copies and deletions below it.
    copies = _drop_nested(copies)
    runs = _runs_for(steps, synced_local)
    restart = any(isinstance(s, RestartContainerStep) for s in steps)
    log: list[str] = []
    if copies:
        log.append(
            f"live update: will copy {len(copies)} file(s) to the container: "
            + format_file_list([c.local_path for c in copies], base_dir)
        )
    if deletions:
        log.append(
            f"live update: will delete {len(deletions)} file(s) from the container: "
            + format_file_list(deletions)
        )
    log.extend(f"live update: {line}" for line in _describe_runs(steps, runs))
    if restart:
        log.append("live update: will restart the container (restart_container())")
    return LiveUpdatePlan(
        copies=tuple(copies),
        deletions=tuple(deletions),
        runs=runs,
        restart=restart,
        log=tuple(log),
    )


def _drop_nested(copies: list[FileCopy]) -> list[FileCopy]:
    roots: list[FileCopy] = []
    for c in sorted(copies, key=lambda c: c.local_path):
        if roots and is_within(c.local_path, roots[-1].local_path):
            continue
        roots.append(c)
    return roots


def plan_initial_sync(
    steps: Sequence[LiveUpdateStep],
    *,
    path_filter: PathFilter | None = None,
    base_dir: str = "",
) -> LiveUpdatePlan:
    """Plan ``initial_sync()``: copy everything the sync steps cover into a new container.

    Every file under every sync's ``local_path`` is copied (files the image
    ignores are skipped when ``path_filter`` is given), then the run steps
    whose triggers match any of them run, then the container restarts if
    ``restart_container()`` is a step - as if every file had changed. Without
    an ``initial_sync`` step the plan is a no-op.

    Args:
        steps: the image target's ``live_update`` steps.
        path_filter: the image's matcher, so ignored files are not copied.
        base_dir: a folder to show paths relative to in log lines.

    Returns:
        The plan (never a fallback: a missing sync source is simply skipped).
    """
    if not has_initial_sync(steps):
        return LiveUpdatePlan(log=("initial sync: not requested (no initial_sync() step)",))
    syncs = [(os.path.normpath(s.local_path), s) for s in steps if isinstance(s, SyncStep)]
    files: set[str] = set()
    for root, _ in syncs:
        if os.path.isfile(root) or os.path.islink(root):
            if path_filter is None or path_filter.matches(root):
                files.add(root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            if path_filter is not None:
                dirnames[:] = [
                    d for d in dirnames if not path_filter.prunes_dir(os.path.join(dirpath, d))
                ]
            for name in filenames:
                full = os.path.join(dirpath, name)
                if path_filter is None or path_filter.matches(full):
                    files.add(full)
    copies: list[FileCopy] = []
    synced_local = sorted(files)
    for full in synced_local:
        # The same owner as for a change: the first sync step that covers the file.
        owner = next(s for root, s in syncs if is_within(full, root))
        copies.append(FileCopy(local_path=full, container_path=_container_path(owner, full)))
    runs = _runs_for(steps, synced_local) if synced_local else ()
    restart = bool(synced_local) and any(isinstance(s, RestartContainerStep) for s in steps)
    log = [
        f"initial sync: will copy {len(copies)} file(s) to the container: "
        + format_file_list([c.local_path for c in copies], base_dir)
        if copies
        else "initial sync: nothing to copy (the sync sources are empty)"
    ]
    log.extend(f"initial sync: {line}" for line in _describe_runs(steps, runs))
    if restart:
        log.append("initial sync: will restart the container (restart_container())")
    return LiveUpdatePlan(copies=tuple(copies), runs=runs, restart=restart, log=tuple(log))


# ---- the copies as one tar stream (every runtime unpacks one) -------------------------


def _tar_info(local: str, arcname: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = int(st.st_mtime)
    # Owned by root in the container, whoever owns them here (as `docker cp`).
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(local)
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    else:
        info.size = st.st_size
    return info


def _walk(copy: FileCopy) -> Iterator[tuple[str, str]]:
    """(local path, archive name) of ``copy`` and, for a folder, everything below it."""
    root_arc = copy.container_path.lstrip("/")
    yield copy.local_path, root_arc
    if os.path.isdir(copy.local_path) and not os.path.islink(copy.local_path):
        for dirpath, dirnames, filenames in os.walk(copy.local_path):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, copy.local_path).replace(os.sep, "/")
                yield full, f"{root_arc}/{rel}"


def build_tar(copies: tuple[FileCopy, ...] | list[FileCopy]) -> tuple[bytes, int]:
    """A tar of exactly ``copies`` (folders recursively), names relative to ``/``.

    A file that vanished between planning and now is skipped (the next change
    event will delete it).

    Returns:
        The archive and the number of entries in it.
    """
    buf = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for copy in copies:
            for local, arc in _walk(copy):
                try:
                    st = os.lstat(local)
                except FileNotFoundError:
                    continue
                info = _tar_info(local, arc, st)
                if info.isreg():
                    try:
                        with open(local, "rb") as f:
                            tar.addfile(info, f)
                    except FileNotFoundError:
                        continue
                else:
                    tar.addfile(info)
                count += 1
    return buf.getvalue(), count
