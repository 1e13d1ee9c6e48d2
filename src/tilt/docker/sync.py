"""The Docker `ContainerUpdater`: live update through the Docker Engine API.

`tilt.engine.liveupdate.apply_plan` holds Tilt's step order and fallback
rules; `DockerContainerUpdater` is how each step reaches a Docker container:

- **Deletions.** The Engine's archive API can add files but not remove them,
  so deletions need a process in the container. We first exec ``rm -rf --``
  (what Tilt does; most images have it). When the image has no ``rm`` (the
  exec fails to start: exit code 126/127 - FROM scratch, distroless), we copy
  a static ``busybox`` from the host into the container, once per container,
  at `HELPER_PATH` (``/.tilt/busybox``) with the archive API, and exec
  ``/.tilt/busybox rm -rf -- PATHS``. That works on any image of the host's
  architecture, whatever it contains. With no static busybox on the host (or
  a different architecture), the update falls back to a rebuild and says why.
- **Copies.** One tar stream of exactly the changed files goes through
  ``PUT /containers/{id}/archive`` and is unpacked by the daemon, so the image
  needs no ``tar`` (Tilt execs ``tar`` in the container and fails on such
  images: tilt-dev/tilt#4303). Files are owned by root and keep their local
  mode and modification time; missing parent folders are created.
- **Run steps** through ``exec``, output streamed line by line.
- **restart_container()**: ``POST /containers/{id}/restart`` with a zero
  timeout, as Tilt's ``ContainerRestartNoWait``.

Crash loops: `check` inspects the container: not running (exited),
restarting, or restarted since the last sync (its restart count is above the
``restarts_at_sync`` baseline the engine keeps) means the live update left it
broken, so the engine must rebuild (Tilt falls back the same way for a
container in CrashLoopBackOff, and for a stopped container).

`ContainerSyncer` is the one-container convenience the tests and benchmarks
use: an updater plus `apply_plan`, remembering its own baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import platform
import shutil
import struct
from collections.abc import Callable, Sequence
from typing import Any

from tilt.engine.liveupdate import (
    NOT_STARTED,
    ContainerGoneError,
    LiveUpdateResult,
    UpdateStepError,
    apply_plan,
)
from tilt.liveupdate import FileCopy, LiveUpdatePlan, build_tar

__all__ = [
    "HELPER_PATH",
    "ContainerSyncer",
    "DockerContainerUpdater",
    "SyncResult",
    "build_tar",
    "find_static_busybox",
]

#: Where the deletion helper is copied in a container whose image has no ``rm``.
HELPER_PATH = "/.tilt/busybox"

#: What `ContainerSyncer.apply` returns (the engine's `LiveUpdateResult`).
SyncResult = LiveUpdateResult


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


class DockerContainerUpdater:
    """A `tilt.engine.liveupdate.ContainerUpdater` for one Docker container.

    Args:
        client: a ``docker.DockerClient``.
        container_id: the container to update.
        restarts_at_sync: its restart count after the last sync (None: unknown);
            a higher count now means it crashed since.
        on_log: receives the lines of its own work (installing the helper).
    """

    def __init__(
        self,
        client: Any,
        container_id: str,
        *,
        restarts_at_sync: int | None = None,
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self.container_id = container_id
        self.restarts_at_sync = restarts_at_sync
        self._on_log = on_log or (lambda _line: None)
        # None: unknown yet; True: the image's own `rm` works; False: use the helper.
        self._image_has_rm: bool | None = None
        self._helper_installed = False

    @property
    def short_id(self) -> str:
        return self.container_id[:12]

    def _api(self, fn: Callable[[], Any]) -> Any:
        """Call the Engine API; its errors become the update's fallback reason."""
        import docker.errors

        try:
            return fn()
        except docker.errors.NotFound as e:
            raise ContainerGoneError(f"container {self.short_id} no longer exists") from e
        except docker.errors.APIError as e:
            raise ContainerGoneError(f"Docker API error: {e.explanation or e}") from e

    def _inspect(self) -> dict[str, Any]:
        return dict(self._client.api.inspect_container(self.container_id))

    # --- the protocol ------------------------------------------------------------------

    def check(self) -> str:
        import docker.errors

        try:
            info = self._inspect()
        except docker.errors.NotFound:
            return f"container {self.short_id} no longer exists"
        except docker.errors.APIError as e:
            return f"Docker API error: {e.explanation or e}"
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
        base = self.restarts_at_sync
        if base is not None and restarts > base:
            return (
                f"container {self.short_id} crashed after the last live update "
                f"({restarts - base} restart(s) since)"
            )
        return ""

    def restart_count(self) -> int | None:
        try:
            return int(self._inspect().get("RestartCount", 0))
        except Exception:
            return None

    def exec(self, argv: Sequence[str], on_line: Callable[[str], None] | None) -> int:
        code, _ = self._api(lambda: self._exec(list(argv), on_line))
        return int(code)

    def delete(self, paths: Sequence[str]) -> None:
        self._api(lambda: self._delete(tuple(paths)))

    def copy_tar(self, data: bytes) -> None:
        self._put_archive(data)

    def restart(self) -> int | None:
        self._api(lambda: self._client.api.restart(self.container_id, timeout=0))
        # Docker resets RestartCount on a user's restart (ResetRestartManager): the
        # baseline is 0. Reading it back instead races with a process that crashes
        # at once, whose restart the policy may already have counted.
        return 0

    # --- exec --------------------------------------------------------------------------

    def _exec(
        self, argv: list[str], on_line: Callable[[str], None] | None
    ) -> tuple[int, list[str]]:
        """Run ``argv`` in the container; stream its output; return (exit code, lines)."""
        from docker.utils.socket import frames_iter

        api = self._client.api
        exec_id = api.exec_create(self.container_id, argv, stdout=True, stderr=True)["Id"]
        lines: list[str] = []
        pending: dict[int, bytes] = {}

        def emit(raw: bytes) -> None:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            lines.append(text)
            if on_line is not None:
                on_line(text)

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
        # Installed by an earlier update of this container?
        code, _ = self._exec([HELPER_PATH, "true"], None)
        if code == 0:
            self._helper_installed = True
            return
        helper = find_static_busybox()
        if helper is None:
            raise UpdateStepError(
                "cannot delete files in the container: its image has no `rm`, and no static "
                "busybox was found on this host to copy in"
            )
        arch = str(self._client.info().get("Architecture", ""))
        if arch and arch != platform.machine():
            raise UpdateStepError(
                "cannot delete files in the container: its image has no `rm`, and this "
                f"host's busybox ({platform.machine()}) cannot run on the daemon ({arch})"
            )
        data, _ = build_tar([FileCopy(local_path=helper, container_path=HELPER_PATH)])
        self._put_archive(data)
        self._helper_installed = True
        self._on_log(f"copied a static busybox to {HELPER_PATH} (the image has no `rm`)")

    def _delete(self, paths: tuple[str, ...]) -> None:
        args = ["rm", "-rf", "--", *paths]
        if self._image_has_rm is not False:
            code, out = self._exec(args, None)
            if code == 0:
                self._image_has_rm = True
                return
            if code not in NOT_STARTED or self._image_has_rm:
                raise UpdateStepError(
                    f"deleting files in the container failed ({code}): {' '.join(out)}"
                )
            self._image_has_rm = False
        self._install_helper()
        code, out = self._exec([HELPER_PATH, *args], None)
        if code != 0:
            raise UpdateStepError(
                f"deleting files in the container failed ({code}): {' '.join(out)}"
            )

    # --- copies -------------------------------------------------------------------------

    def _put_archive(self, data: bytes) -> None:
        import docker.errors

        try:
            ok = self._client.api.put_archive(self.container_id, "/", data)
        except docker.errors.NotFound as e:
            raise ContainerGoneError(f"container {self.short_id} no longer exists") from e
        except docker.errors.APIError as e:
            raise UpdateStepError(
                f"copying files into the container failed: {e.explanation or e}"
            ) from e
        if not ok:
            raise UpdateStepError("copying files into the container failed")


class ContainerSyncer:
    """Live-updates one container: a `DockerContainerUpdater` plus `apply_plan`.

    It remembers the container's restart count after each successful update
    (the engine keeps that fact in its state instead).

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
        self._on_log = on_log
        self.updater = DockerContainerUpdater(client, container_id, on_log=self._log)
        self.container_id = container_id

    def _log(self, line: str) -> None:
        if self._on_log is not None:
            self._on_log(line)

    @property
    def short_id(self) -> str:
        return self.updater.short_id

    def check_container(self) -> str:
        """Why the container cannot take a live update now ("" when it can)."""
        return self.updater.check()

    def apply_blocking(self, plan: LiveUpdatePlan, *, check: bool = True) -> SyncResult:
        """Carry out ``plan`` (blocking; `apply` runs this in a thread)."""
        result = apply_plan(plan, self.updater, on_log=self._on_log, check=check)
        if result.ok and (plan.copies or plan.deletions):
            self.updater.restarts_at_sync = result.restarts
        return result

    async def apply(self, plan: LiveUpdatePlan, *, check: bool = True) -> SyncResult:
        """Carry out ``plan`` without blocking the event loop (see `apply_blocking`)."""
        return await asyncio.to_thread(self.apply_blocking, plan, check=check)
