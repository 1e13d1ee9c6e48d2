"""live_update into a pod's container through the exec API (a ``ContainerUpdater``).

Shaped after the runtime-house ``ContainerUpdater`` protocol (``short_id``, ``check``,
``delete``, ``copy_tar``, ``exec`` -> exit code, ``restart``, ``restart_count``); when that
lands, ``UpdateError`` becomes its ``UpdateStepError`` and ``ContainerGone`` its
``ContainerGoneError``.

Files arrive as a tar stream. Tilt needs ``tar`` in the container (tilt-dev/tilt#4303: "exec:
tar: executable file not found"); we try, in order, and remember what worked per container:

1. ``tar -x`` (the image's tar),
2. ``busybox tar -x`` (images with busybox but no ``tar`` link),
3. ``sh`` + ``cat``: the tar is unpacked here and each file written by ``sh -c 'cat > "$1"'``,

4. an ephemeral container of a small helper image (a static busybox; given as
   ``helper_image``, built and delivered like any other image) targeting the app container:
   it shares the app's process namespace and writes through ``/proc/1/root``,

and the log says which way was used. When nothing works (no helper image, ephemeral
containers forbidden), :class:`NoCopyTool` says what the image lacks.
"""

from __future__ import annotations

import contextlib
import io
import json
import posixpath
import shlex
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tilt.k8s.client import ApiError, KubeClient

__all__ = ["ContainerGone", "ExecOutput", "ExecUpdater", "NoCopyTool", "UpdateError"]

Log = Callable[[str], None]

#: How a runtime says "that executable is not in the image" (containerd/runc, CRI-O, Docker).
_NOT_FOUND = (
    "executable file not found",
    "no such file or directory",
    "not found in $path",
)


class UpdateError(Exception):
    """The update failed in the container (a command's exit code, a copy that failed)."""


class NoCopyTool(UpdateError):
    """The container has no way to receive files through exec."""


class ContainerGone(UpdateError):
    """The pod or the API went away: nothing of the step counts."""


@dataclass(frozen=True, kw_only=True)
class ExecOutput:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    #: the runtime could not start the command (e.g. executable not found)
    error: str = ""

    @property
    def missing_executable(self) -> bool:
        text = (self.error or "").lower()
        if any(s in text for s in _NOT_FOUND):
            return True
        # A shell reports a missing command as 127 (sh: tar: not found).
        return self.exit_code == 127 and b"not found" in self.stderr.lower()


_STRATEGIES = ("tar", "busybox tar", "sh + cat", "an ephemeral container")
#: The app container's root as seen from an ephemeral container that targets it (it shares
#: the target's process namespace, where the app is PID 1).
TARGET_ROOT = "/proc/1/root"


class ExecUpdater:
    """Updates one container of one pod by exec: copy_tar / delete / exec / restart."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        namespace: str,
        pod: str,
        container: str,
        log: Log = lambda _line: None,
        timeout_s: float = 60,
        helper_image: str = "",
        strategies: dict[tuple[str, str, str], str] | None = None,
        helper: Callable[[Log], str] | None = None,
    ) -> None:
        self.kube = kube
        self.namespace, self.pod, self.container = namespace, pod, container
        self.log = log
        self.timeout_s = timeout_s
        #: what worked per (namespace, pod, container), shared by the updaters of a session so
        #: the next live_update does not probe again
        self._strategies = strategies if strategies is not None else {}
        #: the copy strategy that worked in this container (probed on first copy)
        self.strategy: str | None = self._strategies.get((namespace, pod, container))
        #: the container's restart count after the last sync (a higher one: it crashed since)
        self.restarts_at_sync: int | None = None
        #: an image with a static busybox at /bin/busybox the cluster can pull: for images
        #: with no tools, an ephemeral container of it writes into the app's filesystem
        self.helper_image = helper_image
        #: makes the helper image when it is first needed (blocking; given the log): the ref
        #: the cluster pulls; raises with the reason when it cannot (the runner builds and
        #: delivers it, `tilt.engine.k8s_helper`)
        self.helper = helper
        self._ephemeral = ""  # the ephemeral container's name, once started

    # ---- the exec primitive
    def run(
        self,
        argv: Sequence[str],
        stdin: bytes | None = None,
        on_line: Callable[[str], None] | None = None,
        *,
        container: str = "",
    ) -> ExecOutput:
        """Run ``argv`` in the container, feeding ``stdin``; blocking.

        Output lines (stdout and stderr) go to ``on_line`` as they arrive.
        """
        ws = self.kube.exec_stream(
            self.namespace,
            self.pod,
            container or self.container,
            list(argv),
            stdin=stdin is not None,
        )
        out, err = bytearray(), bytearray()
        pending = {1: b"", 2: b""}

        def take(channel: int, sink: bytearray) -> None:
            data = ws.read_channel(channel, timeout=0) or b""
            if not data:
                return
            sink += data
            if on_line is not None:
                text = pending[channel] + data
                *lines, pending[channel] = text.split(b"\n")
                for line in lines:
                    on_line(line.decode(errors="replace").rstrip("\r"))

        try:
            if stdin is not None:
                if ws.subprotocol != "v5.channel.k8s.io":
                    # v4 cannot say "end of stdin": tar would wait for more forever.
                    raise UpdateError(
                        "exec with input needs the v5.channel.k8s.io protocol (Kubernetes "
                        f">= 1.30); the API server offered {ws.subprotocol or 'none'}"
                    )
                view = memoryview(stdin)
                for i in range(0, len(view), 256 * 1024):
                    ws.write_stdin(bytes(view[i : i + 256 * 1024]))
                ws.close_channel(0)  # EOF on stdin (v5.channel.k8s.io)
            deadline = time.monotonic() + self.timeout_s
            while ws.is_open() and time.monotonic() < deadline:
                ws.update(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                take(1, out)
                take(2, err)
            if ws.is_open():
                raise UpdateError(f"`{shlex.join(argv)}` did not finish in {self.timeout_s:g}s")
            take(1, out)
            take(2, err)
            if on_line is not None:
                for rest in pending.values():
                    if rest:
                        on_line(rest.decode(errors="replace"))
            raw = ws.read_channel(3) or b""
        finally:
            _close_ws(ws)
        return _exec_output(raw, bytes(out), bytes(err))

    # ---- ContainerUpdater
    @property
    def short_id(self) -> str:
        """For log lines: ``pod/container``."""
        return f"{self.pod}/{self.container}"

    def check(self) -> str:
        """Why the container cannot take a live update now ("" when it can)."""
        try:
            pod = self.kube.get("v1", "Pod", self.pod, self.namespace)
        except ApiError as e:
            raise ContainerGone(f"pod {self.pod}: {e}") from None
        if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return f"pod {self.pod} is gone"
        cs = _container_status(pod, self.container)
        if cs is None or "running" not in (cs.get("state") or {}):
            state = (cs or {}).get("state") or {}
            why = next(iter(state), "unknown")
            reason = (state.get(why) or {}).get("reason", "")
            return (
                f"container {self.short_id} is not running ({why}{': ' + reason if reason else ''})"
            )
        restarts = int(cs.get("restartCount") or 0)
        if self.restarts_at_sync is not None and restarts > self.restarts_at_sync:
            return f"container {self.short_id} restarted since the last live update"
        return ""

    def restart_count(self) -> int | None:
        pod = self.kube.get("v1", "Pod", self.pod, self.namespace)
        cs = _container_status(pod or {}, self.container)
        return None if cs is None else int(cs.get("restartCount") or 0)

    def exec(self, argv: Sequence[str], on_line: Callable[[str], None] | None = None) -> int:
        """A ``run()`` step: its exit code (127: the program is not in the image)."""
        out = self.run(argv, on_line=on_line)
        if out.error:
            if out.missing_executable:
                if on_line is not None:
                    on_line(out.error)
                return 127
            raise UpdateError(f"`{shlex.join(argv)}` could not run in {self._where}: {out.error}")
        return out.exit_code

    def delete(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        if self.strategy == "an ephemeral container":
            name = self._ensure_ephemeral()
            targets = [TARGET_ROOT + "/" + p.lstrip("/") for p in paths]
            out = self.run(["/bin/busybox", "rm", "-rf", "--", *targets], container=name)
            if out.error or out.exit_code:
                why = out.error or out.stderr.decode(errors="replace").strip()
                raise UpdateError(f"deleting {len(paths)} path(s) in {self._where} failed: {why}")
            return
        out = self.run(["rm", "-rf", "--", *paths])
        if out.missing_executable:
            out = self.run(["busybox", "rm", "-rf", "--", *paths])
        if out.missing_executable:
            out = self.run(["sh", "-c", 'for p; do rm -rf -- "$p"; done', "sh", *paths])
        if out.error or out.exit_code:
            why = out.error or out.stderr.decode(errors="replace").strip()
            raise UpdateError(f"deleting {len(paths)} path(s) in {self._where} failed: {why}")

    def copy_tar(self, data: bytes, dest: str = "/") -> None:
        """Unpack the tar stream ``data`` at ``dest``; the way used is logged (``strategy``)."""
        helper_possible = bool(self.helper_image or self.helper)
        order = (
            [self.strategy]
            if self.strategy
            else [s for s in _STRATEGIES if s != "an ephemeral container" or helper_possible]
        )
        tried: list[str] = []
        for strategy in order:
            assert strategy is not None
            if strategy == "an ephemeral container" and not self.helper_image:
                self._get_helper_image(tried)
            ok, why = self._copy_with(strategy, data, dest)
            if ok:
                if self.strategy != strategy:
                    self.strategy = strategy
                    self._strategies[(self.namespace, self.pod, self.container)] = strategy
                    note = "" if strategy == "tar" else f" (the image has no {', '.join(tried)})"
                    self.log(f"live_update: copying files into {self._where} with {strategy}{note}")
                return
            if why:
                raise UpdateError(f"copying files into {self._where} with {strategy} failed: {why}")
            tried.append(strategy)
        helper = "" if self.helper_image else " (and no helper image for an ephemeral container)"
        raise NoCopyTool(
            f"cannot copy files into {self._where}: the image has neither tar, busybox nor "
            f"sh and cat{helper}"
        )

    def _get_helper_image(self, tried: Sequence[str]) -> None:
        """Have the runner make the helper image now (the image lacks every other way)."""
        assert self.helper is not None
        try:
            self.helper_image = self.helper(self.log)
        except Exception as e:  # the runner's reason: no static busybox, a failed build...
            lacks = ", ".join(tried) or "tar, busybox tar, sh + cat"
            raise NoCopyTool(
                f"cannot copy files into {self._where}: the image has neither tar, busybox nor "
                f"sh and cat (tried {lacks}), and the helper image for an ephemeral container "
                f"could not be made: {e}"
            ) from None

    def restart(self) -> None:
        # Tilt's ExecUpdater refuses restart_container() the same way (no container runtime
        # access through the API); its restart_process extension is the workaround.
        raise UpdateError(
            "restart_container() is not supported for Kubernetes pods (no container runtime "
            "access through the API); use the restart_process extension "
            "(https://github.com/tilt-dev/tilt-extensions/tree/master/restart_process)"
        )

    # ---- internals
    @property
    def _where(self) -> str:
        return f"pod {self.pod} container {self.container}"

    def _copy_with(self, strategy: str, data: bytes, dest: str) -> tuple[bool, str]:
        """(worked, error): not worked and no error means the tool is missing."""
        if strategy == "an ephemeral container":
            return self._copy_with_ephemeral(data, dest)
        if strategy in ("tar", "busybox tar"):
            argv = ["tar", "-x", "-f", "-", "-C", dest]
            if strategy == "busybox tar":
                argv = ["busybox", *argv]
            out = self.run(argv, stdin=data)
            if out.missing_executable:
                return False, ""
            if out.error or out.exit_code:
                return False, out.error or out.stderr.decode(errors="replace").strip() or (
                    f"exit code {out.exit_code}"
                )
            return True, ""
        return self._copy_with_sh(data, dest)

    def _copy_with_ephemeral(self, data: bytes, dest: str) -> tuple[bool, str]:
        name = self._ensure_ephemeral()
        target = TARGET_ROOT + "/" + dest.lstrip("/")
        out = self.run(["/bin/busybox", "tar", "-x", "-f", "-", "-C", target], data, container=name)
        if out.error or out.exit_code:
            return False, out.error or out.stderr.decode(errors="replace").strip() or (
                f"exit code {out.exit_code}"
            )
        return True, ""

    def _ensure_ephemeral(self) -> str:
        """Start (once per pod) an ephemeral helper container targeting the app container."""
        if self._ephemeral:
            return self._ephemeral
        name = f"tilt-sync-{self.container}"[:63]
        pod = self.kube.get("v1", "Pod", self.pod, self.namespace) or {}
        existing = [c.get("name") for c in (pod.get("spec") or {}).get("ephemeralContainers") or []]
        if name not in existing:
            body = {
                "spec": {
                    "ephemeralContainers": [
                        {
                            "name": name,
                            "image": self.helper_image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/busybox", "sleep", "2147483647"],
                            "targetContainerName": self.container,
                            "stdin": False,
                            "tty": False,
                        }
                    ]
                }
            }
            path = f"/api/v1/namespaces/{self.namespace}/pods/{self.pod}/ephemeralcontainers"
            try:
                self.kube.request(
                    "PATCH", path, body=body, content_type="application/strategic-merge-patch+json"
                )
            except ApiError as e:
                raise NoCopyTool(
                    f"cannot copy files into {self._where}: the image has neither tar, busybox "
                    f"nor sh and cat, and the cluster refused an ephemeral helper container: "
                    f"{e.message or e.reason}"
                ) from None
            self.log(
                f"live_update: started ephemeral container {name} ({self.helper_image}) "
                f"in pod {self.pod} to write into {self.container}"
            )
        deadline = time.monotonic() + self.timeout_s
        while True:
            pod = self.kube.get("v1", "Pod", self.pod, self.namespace) or {}
            for cs in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []:
                if cs.get("name") == name and "running" in (cs.get("state") or {}):
                    self._ephemeral = name
                    return name
            if time.monotonic() > deadline:
                raise UpdateError(
                    f"ephemeral container {name} did not start in {self.timeout_s:g}s"
                )
            time.sleep(0.1)

    def _copy_with_sh(self, data: bytes, dest: str) -> tuple[bool, str]:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            members = tf.getmembers()
            dirs = sorted(
                {posixpath.join(dest, m.name) for m in members if m.isdir()}
                | {posixpath.dirname(posixpath.join(dest, m.name)) for m in members if m.isfile()}
            )
            if dirs:
                # mkdir may be missing too; then the folders must exist already.
                self.run(["sh", "-c", 'for d; do mkdir -p -- "$d" || true; done', "sh", *dirs])
            for m in members:
                if not m.isfile():
                    continue
                f = tf.extractfile(m)
                content = f.read() if f is not None else b""
                path = posixpath.join(dest, m.name)
                # No /dev/null needed (a bare image may lack it); chmod is optional.
                script = 'cat > "$1" || exit 1; chmod "$2" "$1" || true'
                out = self.run(["sh", "-c", script, "sh", path, f"{m.mode & 0o7777:o}"], content)
                if out.missing_executable:
                    return False, ""
                if out.error or out.exit_code:
                    return False, out.error or out.stderr.decode(errors="replace").strip()
        return True, ""


def _container_status(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == name:
            return dict(cs)
    return None


def _close_ws(ws: Any) -> None:
    with contextlib.suppress(Exception):
        ws.close()
    # websocket-client's close() skips a socket the server already closed: free it here.
    with contextlib.suppress(Exception):
        ws.sock.shutdown()


def _exec_output(raw: Any, stdout: Any, stderr: Any) -> ExecOutput:
    def b(x: Any) -> bytes:
        return x if isinstance(x, bytes) else str(x).encode()

    text = b(raw).decode(errors="replace").strip()
    if not text:
        # v4/v5 always end with a Status on the error channel: none means the link broke.
        return ExecOutput(
            exit_code=-1,
            stdout=b(stdout),
            stderr=b(stderr),
            error="the exec connection closed before the command's status arrived",
        )
    try:
        status = json.loads(text)
    except ValueError:
        return ExecOutput(exit_code=-1, stdout=b(stdout), stderr=b(stderr), error=text)
    if status.get("status") == "Success":
        return ExecOutput(exit_code=0, stdout=b(stdout), stderr=b(stderr))
    causes = (status.get("details") or {}).get("causes") or []
    for c in causes:
        if c.get("reason") == "ExitCode":
            try:
                return ExecOutput(exit_code=int(c["message"]), stdout=b(stdout), stderr=b(stderr))
            except (KeyError, ValueError):
                break
    return ExecOutput(
        exit_code=-1, stdout=b(stdout), stderr=b(stderr), error=status.get("message") or text
    )
