"""live_update into a pod's container through the exec API (a ``ContainerUpdater``).

Files arrive as a tar stream. Tilt needs ``tar`` in the container (tilt-dev/tilt#4303: "exec:
tar: executable file not found"); we try, in order, and remember what worked per container:

1. ``tar -x`` (the image's tar),
2. ``busybox tar -x`` (images with busybox but no ``tar`` link),
3. ``sh`` + ``cat``: the tar is unpacked here and each file written by ``sh -c 'cat > "$1"'``,

and the log says which way was used. Images with none of these (FROM scratch with one static
binary) need an ephemeral container that shares the target's process namespace and writes
through ``/proc/<pid>/root`` — not implemented yet; :class:`NoCopyTool` says what is missing.
"""

from __future__ import annotations

import contextlib
import io
import json
import posixpath
import shlex
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tilt.k8s.client import KubeClient

__all__ = ["ExecOutput", "ExecUpdater", "NoCopyTool", "UpdateError"]

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


_STRATEGIES = ("tar", "busybox tar", "sh + cat")


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
    ) -> None:
        self.kube = kube
        self.namespace, self.pod, self.container = namespace, pod, container
        self.log = log
        self.timeout_s = timeout_s
        #: the copy strategy that worked in this container (probed on first copy)
        self.strategy: str | None = None

    # ---- the exec primitive
    def run(self, argv: Sequence[str], stdin: bytes | None = None) -> ExecOutput:
        """Run ``argv`` in the container, feeding ``stdin``; blocking."""
        ws = self.kube.exec_stream(
            self.namespace, self.pod, self.container, list(argv), stdin=stdin is not None
        )
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
            ws.run_forever(timeout=self.timeout_s)
            if ws.is_open():
                raise UpdateError(f"`{shlex.join(argv)}` did not finish in {self.timeout_s:g}s")
            stdout = ws.read_channel(1) or b""
            stderr = ws.read_channel(2) or b""
            raw = ws.read_channel(3) or b""
        finally:
            _close_ws(ws)
        return _exec_output(raw, stdout, stderr)

    # ---- ContainerUpdater
    def exec(self, argv: Sequence[str]) -> ExecOutput:
        """A ``run()`` step; raises :class:`UpdateError` on a non-zero exit."""
        out = self.run(argv)
        if out.error:
            raise UpdateError(f"`{shlex.join(argv)}` could not run in {self._where}: {out.error}")
        if out.exit_code:
            raise UpdateError(f"`{shlex.join(argv)}` failed with exit code {out.exit_code}")
        return out

    def delete(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        out = self.run(["rm", "-rf", "--", *paths])
        if out.missing_executable:
            out = self.run(["busybox", "rm", "-rf", "--", *paths])
        if out.missing_executable:
            out = self.run(["sh", "-c", 'for p; do rm -rf -- "$p"; done', "sh", *paths])
        if out.error or out.exit_code:
            why = out.error or out.stderr.decode(errors="replace").strip()
            raise UpdateError(f"deleting {len(paths)} path(s) in {self._where} failed: {why}")

    def copy_tar(self, data: bytes, dest: str = "/") -> str:
        """Unpack the tar stream ``data`` at ``dest``; returns the way used (logged too)."""
        order = [self.strategy] if self.strategy else list(_STRATEGIES)
        tried: list[str] = []
        for strategy in order:
            assert strategy is not None
            ok, why = self._copy_with(strategy, data, dest)
            if ok:
                if self.strategy != strategy:
                    self.strategy = strategy
                    note = "" if strategy == "tar" else f" (the image has no {', '.join(tried)})"
                    self.log(f"live_update: copying files into {self._where} with {strategy}{note}")
                return strategy
            if why:
                raise UpdateError(f"copying files into {self._where} with {strategy} failed: {why}")
            tried.append(strategy)
        raise NoCopyTool(
            f"cannot copy files into {self._where}: the image has neither tar, busybox nor "
            "sh and cat (an ephemeral-container copy for such images is not implemented yet)"
        )

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
