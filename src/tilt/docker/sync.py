"""Apply a live update plan to a running Docker container.

`ContainerSyncer.apply` carries out a `tilt.liveupdate.LiveUpdatePlan` on one
container through the Docker Engine API, in Tilt's order:

1. **Deletions.** The Engine's archive API can add files but not remove them,
   so deletions need a process in the container. We first exec ``rm -rf --``
   (what Tilt does; most images have it). When the image has no ``rm`` (the
   exec fails to start: exit code 126/127 - FROM scratch, distroless), we copy
   a static ``busybox`` from the host into the container, once, at
   `HELPER_PATH` (``/.tilt/busybox``) with the archive API, and exec
   ``/.tilt/busybox rm -rf -- PATHS``. That works on any image of the host's
   architecture, whatever it contains. With no static busybox on the host (or a
   different architecture), the update falls back to a rebuild and says why.
2. **Copies.** One tar stream of exactly the changed files (a changed directory
   whole) goes through ``PUT /containers/{id}/archive`` and is unpacked by the
   daemon, so the image needs no ``tar`` (Tilt execs ``tar`` in the container
   and fails on such images: tilt-dev/tilt#4303). Files are owned by root and
   keep their local mode and modification time; missing parent folders are
   created by the daemon.
3. **Run steps**, each through ``exec``, output streamed line by line into the
   log; a non-zero exit code stops the update and falls back to a rebuild.
4. **restart_container()**: ``POST /containers/{id}/restart`` with a zero
   timeout, as Tilt's ``ContainerRestartNoWait``.

Crash loops: after every successful live update the syncer records the
container's restart count. Before the next one, `check_container` inspects the
container: not running (exited), restarting, or restarted since our last
update (a restart policy bringing a crashing process back) means the live
update left the container broken, so the engine must rebuild (Tilt falls back
the same way for a container in CrashLoopBackOff, and for a stopped container).
The engine can also react sooner, to the ``die`` events `tilt.docker.events`
reports after an update.

Every step logs one line through ``on_log``, which the engine puts in the
resource's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import platform
import shutil
import stat
import struct
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tilt.liveupdate import FileCopy, LiveUpdatePlan, format_file_list
from tilt.model import RunStep

__all__ = [
    "HELPER_PATH",
    "ContainerSyncer",
    "SyncResult",
    "build_tar",
    "find_static_busybox",
]

#: Where the deletion helper is copied in a container whose image has no ``rm``.
HELPER_PATH = "/.tilt/busybox"

# Exit codes of an exec whose program could not be started (runc: 126 not
# executable / not found in some versions, 127 not found).
_NOT_STARTED = (126, 127)


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    """What `ContainerSyncer.apply` did.

    Attributes:
        ok: the container is up to date (every step succeeded).
        fall_back: when not ok, why the engine must rebuild and redeploy.
        copied: files and folders copied in.
        deleted: container paths deleted.
        ran: the commands executed, in order.
        restarted: whether the container was restarted.
        synced_at: ``time.monotonic()`` when the files were in the container.
        finished_at: ``time.monotonic()`` when everything (incl. restart) was done.
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
    log: tuple[str, ...] = field(default=(), repr=False)


class _Fail(Exception):
    """A step failed; the message is the fallback reason."""


def _elf_is_static(path: str) -> bool:
    """Whether ``path`` is an ELF executable without a program interpreter."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            endian = "<" if head[5] == 1 else ">"
            (phoff,) = struct.unpack_from(endian + "Q", head, 0x20)
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 0x36)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except (OSError, struct.error, IndexError):
        return False
    for i in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP: dynamically linked
            return False
    return True


@functools.cache
def find_static_busybox() -> str | None:
    """A statically linked ``busybox`` on this host, usable in any container."""
    candidates = [shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"]
    for c in candidates:
        if c and os.path.isfile(c) and _elf_is_static(c):
            return os.path.realpath(c)
    return None


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


def _close_socket(sock: Any) -> None:
    """Close an SDK raw response socket and the HTTP response it came with."""
    response = getattr(sock, "_response", None)
    if response is not None:
        with contextlib.suppress(Exception):
            response.close()
    with contextlib.suppress(Exception):
        sock._sock.close()
    with contextlib.suppress(Exception):
        sock.close()


def _argv(step: RunStep) -> list[str]:
    return list(step.command.argv)


class ContainerSyncer:
    """Live-updates one container (a Compose service's, or a plain Docker one).

    Args:
        client: a ``docker.DockerClient``.
        container_id: the container to update.
        on_log: receives every log line (the resource's log).
    """

    def __init__(
        self,
        client: Any,
        container_id: str,
        *,
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self.container_id = container_id
        self._on_log = on_log or (lambda _line: None)
        self._lines: list[str] = []
        # None: unknown yet; True: the image's own `rm` works; False: use the helper.
        self._image_has_rm: bool | None = None
        self._helper_installed = False
        self._restart_count_after_update: int | None = None

    @property
    def short_id(self) -> str:
        return self.container_id[:12]

    def _log(self, line: str) -> None:
        self._lines.append(line)
        self._on_log(line)

    # --- container state ------------------------------------------------------------

    def _inspect(self) -> dict[str, Any]:
        return dict(self._client.api.inspect_container(self.container_id))

    def check_container(self) -> str:
        """Why the container cannot take a live update now ("" when it can).

        Returns:
            A fallback reason: the container is gone, not running, restarting,
            or was restarted (crashed) since our last live update.
        """
        import docker.errors

        try:
            info = self._inspect()
        except docker.errors.NotFound:
            return f"container {self.short_id} no longer exists"
        state = info["State"]
        restarts = int(info.get("RestartCount", 0))
        if state.get("Restarting"):
            return (
                f"container {self.short_id} is crash-looping "
                f"(restarting, exit code {state.get('ExitCode')}, {restarts} restart(s))"
            )
        if not state.get("Running"):
            how = "OOM-killed" if state.get("OOMKilled") else f"exit code {state.get('ExitCode')}"
            return f"container {self.short_id} is not running ({state.get('Status')}, {how})"
        base = self._restart_count_after_update
        if base is not None and restarts > base:
            return (
                f"container {self.short_id} crashed after the last live update "
                f"({restarts - base} restart(s) since)"
            )
        return ""

    def _record_healthy_baseline(self) -> None:
        try:
            self._restart_count_after_update = int(self._inspect().get("RestartCount", 0))
        except Exception:
            self._restart_count_after_update = None

    # --- exec --------------------------------------------------------------------------

    def _exec(self, argv: list[str], *, echo: bool = True) -> tuple[int, list[str]]:
        """Run ``argv`` in the container; stream its output; return (exit code, lines)."""
        from docker.utils.socket import frames_iter

        api = self._client.api
        exec_id = api.exec_create(self.container_id, argv, stdout=True, stderr=True)["Id"]
        lines: list[str] = []
        pending: dict[int, bytes] = {}

        def emit(raw: bytes) -> None:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            lines.append(text)
            if echo:
                self._log(f"  {text}")

        # The raw socket, not `stream=True`: the SDK's exec stream never closes
        # its connection (a leaked socket per exec).
        sock = api.exec_start(exec_id, socket=True)
        try:
            for stream_id, chunk in frames_iter(sock, tty=False):
                buf = pending.get(stream_id, b"") + chunk
                *complete, pending[stream_id] = buf.split(b"\n")
                for raw in complete:
                    emit(raw)
        finally:
            _close_socket(sock)
        for rest in pending.values():
            if rest:
                emit(rest)
        code = api.exec_inspect(exec_id).get("ExitCode")
        return (code if isinstance(code, int) else -1), lines

    # --- deletions ---------------------------------------------------------------------

    def _install_helper(self) -> None:
        if self._helper_installed:
            return
        helper = find_static_busybox()
        if helper is None:
            raise _Fail(
                "cannot delete files in the container: its image has no `rm`, and no static "
                "busybox was found on this host to copy in"
            )
        arch = str(self._client.info().get("Architecture", ""))
        if arch and arch != platform.machine():
            raise _Fail(
                "cannot delete files in the container: its image has no `rm`, and this "
                f"host's busybox ({platform.machine()}) cannot run on the daemon ({arch})"
            )
        data, _ = build_tar([FileCopy(local_path=helper, container_path=HELPER_PATH)])
        self._put_archive(data)
        self._helper_installed = True
        self._log(f"copied a static busybox to {HELPER_PATH} (the image has no `rm`)")

    def _delete(self, paths: tuple[str, ...]) -> None:
        args = ["rm", "-rf", "--", *paths]
        if self._image_has_rm is not False:
            code, out = self._exec(args, echo=False)
            if code == 0:
                self._image_has_rm = True
                return
            if code not in _NOT_STARTED or self._image_has_rm:
                raise _Fail(f"deleting files in the container failed ({code}): {' '.join(out)}")
            self._image_has_rm = False
        self._install_helper()
        code, out = self._exec([HELPER_PATH, *args], echo=False)
        if code != 0:
            raise _Fail(f"deleting files in the container failed ({code}): {' '.join(out)}")

    # --- copies -------------------------------------------------------------------------

    def _put_archive(self, data: bytes) -> None:
        import docker.errors

        try:
            ok = self._client.api.put_archive(self.container_id, "/", data)
        except docker.errors.APIError as e:
            raise _Fail(f"copying files into the container failed: {e.explanation or e}") from e
        if not ok:
            raise _Fail("copying files into the container failed")

    # --- the whole update --------------------------------------------------------------

    def apply_blocking(self, plan: LiveUpdatePlan, *, check: bool = True) -> SyncResult:
        """Carry out ``plan`` (blocking; `apply` runs this in a thread).

        Args:
            plan: from `tilt.liveupdate.plan_live_update` or `plan_initial_sync`.
            check: first verify the container can take an update (`check_container`).

        Returns:
            The result; ``fall_back`` says why when the engine must rebuild.
        """
        import docker.errors

        self._lines = []
        if plan.falls_back:
            self._log(f"falling back to a full rebuild: {plan.fall_back}")
            return SyncResult(ok=False, fall_back=plan.fall_back, log=tuple(self._lines))
        if plan.is_noop:
            self._log("live update: nothing to sync, the container is up to date")
            now = time.monotonic()
            return SyncResult(ok=True, synced_at=now, finished_at=now, log=tuple(self._lines))
        for line in plan.log:
            self._log(line)
        copied = 0
        ran: list[str] = []
        restarted = False
        try:
            if check:
                problem = self.check_container()
                if problem:
                    raise _Fail(problem)
            if plan.deletions:
                self._delete(plan.deletions)
                self._log(
                    f"deleted {len(plan.deletions)} path(s) in container {self.short_id}: "
                    + format_file_list(plan.deletions)
                )
            if plan.copies:
                data, copied = build_tar(plan.copies)
                self._put_archive(data)
                self._log(
                    f"copied {copied} file(s) to container {self.short_id} "
                    f"({len(data)} bytes through the archive API)"
                )
            synced_at = time.monotonic()
            for i, step in enumerate(plan.runs, 1):
                shown = "<hidden: echo_off>" if step.echo_off else step.command.display
                self._log(f"[CMD {i}/{len(plan.runs)}] {shown}")
                code, _ = self._exec(_argv(step))
                ran.append(step.command.display)
                if code != 0:
                    why = "could not start" if code in _NOT_STARTED else "failed"
                    raise _Fail(f"run step {shown!r} {why} with exit code {code}")
            if plan.restart:
                self._log(f"restarting container {self.short_id} (restart_container())")
                self._client.api.restart(self.container_id, timeout=0)
                restarted = True
        except _Fail as e:
            reason = str(e)
            self._log(f"live update failed, falling back to a full rebuild: {reason}")
            return SyncResult(
                ok=False, fall_back=reason, copied=copied, ran=tuple(ran), log=tuple(self._lines)
            )
        except docker.errors.NotFound:
            reason = f"container {self.short_id} no longer exists"
            self._log(f"live update failed, falling back to a full rebuild: {reason}")
            return SyncResult(ok=False, fall_back=reason, log=tuple(self._lines))
        except docker.errors.APIError as e:
            reason = f"Docker API error: {e.explanation or e}"
            self._log(f"live update failed, falling back to a full rebuild: {reason}")
            return SyncResult(ok=False, fall_back=reason, log=tuple(self._lines))
        self._record_healthy_baseline()
        self._log(f"container {self.short_id} updated")
        return SyncResult(
            ok=True,
            copied=copied,
            deleted=len(plan.deletions),
            ran=tuple(ran),
            restarted=restarted,
            synced_at=synced_at,
            finished_at=time.monotonic(),
            log=tuple(self._lines),
        )

    async def apply(self, plan: LiveUpdatePlan, *, check: bool = True) -> SyncResult:
        """Carry out ``plan`` without blocking the event loop (see `apply_blocking`)."""
        return await asyncio.to_thread(self.apply_blocking, plan, check=check)
