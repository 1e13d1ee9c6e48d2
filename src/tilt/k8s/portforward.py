"""Port forwards: a local listener per ``port_forwards`` entry, to the newest running pod.

Each accepted connection opens its own port-forward websocket (the client's
``v4.channel.k8s.io`` protocol) to the pod that is current at that moment, so when the pod is
replaced the next connection reaches the new one (and connections to the old pod end with it).
The listener binds ``127.0.0.1`` unless the Tiltfile names a host; a local port already in use
is a clear :class:`PortInUse` error for that forward only.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tilt.k8s.client import KubeClient
from tilt.model import PortForward

__all__ = [
    "ForwardTarget",
    "PortForwarder",
    "PortInUse",
    "bind_host",
    "container_port_for",
    "newest_running_pod",
]

Obj = dict[str, Any]
Log = Callable[[str], None]


class PortInUse(Exception):
    """The local port cannot be bound (another process has it)."""


def bind_host(pf: PortForward) -> str:
    """Where to listen: 127.0.0.1 for Tilt's default ``localhost``, else the host given."""
    return "127.0.0.1" if pf.host in ("", "localhost") else pf.host


def container_port_for(pf: PortForward, pod: Obj | None) -> int:
    """The pod port: the one given, else the pod's only declared port, else the local port."""
    if pf.container_port:
        return pf.container_port
    ports = [
        p["containerPort"]
        for c in ((pod or {}).get("spec") or {}).get("containers") or []
        for p in c.get("ports") or []
        if p.get("containerPort")
    ]
    return int(ports[0]) if len(ports) == 1 else pf.local_port


def newest_running_pod(pods: Sequence[Obj]) -> Obj | None:
    """The pod a forward should reach: running, not being deleted, the newest."""
    live = [
        p
        for p in pods
        if (p.get("status") or {}).get("phase") == "Running"
        and not (p.get("metadata") or {}).get("deletionTimestamp")
    ]
    live.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)
    return live[0] if live else None


@dataclass(frozen=True, kw_only=True)
class ForwardTarget:
    namespace: str
    pod: str
    port: int


class PortForwarder:
    """One local listener forwarding to the current target pod.

    ``open_tunnel(target)`` returns a connected socket-like object to the pod's port (the
    default uses the official client's port-forward websocket); tests may pass their own.
    """

    def __init__(
        self,
        kube: KubeClient | None,
        pf: PortForward,
        *,
        log: Log = lambda _line: None,
        open_tunnel: Callable[[ForwardTarget], Any] | None = None,
    ) -> None:
        self.kube = kube
        self.pf = pf
        self.log = log
        self._open_tunnel = open_tunnel or self._websocket_tunnel
        self._target: ForwardTarget | None = None
        self._lock = threading.Lock()
        self._target_changed = threading.Condition(self._lock)
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self._conns: set[socket.socket] = set()
        self.connections = 0

    @property
    def address(self) -> tuple[str, int]:
        assert self._listener is not None
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{'localhost' if host == '127.0.0.1' else host}:{port}/" + (
            self.pf.link_path.lstrip("/")
        )

    def start(self) -> None:
        """Bind and start accepting; :class:`PortInUse` when the port is taken."""
        host = bind_host(self.pf)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, self.pf.local_port))
        except OSError as e:
            s.close()
            if e.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port-forward {host}:{self.pf.local_port}: the port is already in use "
                    "(another process listens on it); stop it or pick another local port"
                ) from None
            raise PortInUse(f"port-forward {host}:{self.pf.local_port}: {e.strerror}") from None
        s.listen(64)
        self._listener = s
        threading.Thread(target=self._accept_loop, daemon=True, name="port-forward").start()

    def set_target(self, namespace: str, pod: Obj | None) -> None:
        """Point the forward at ``pod`` (None: no pod; connections wait for one)."""
        with self._lock:
            new = (
                None
                if pod is None
                else ForwardTarget(
                    namespace=namespace,
                    pod=pod["metadata"]["name"],
                    port=container_port_for(self.pf, pod),
                )
            )
            if new != self._target:
                if new is not None:
                    self.log(
                        f"port-forward {bind_host(self.pf)}:{self.pf.local_port} -> "
                        f"pod {new.pod}:{new.port}"
                    )
                self._target = new
                self._target_changed.notify_all()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            self._target_changed.notify_all()
            conns = list(self._conns)
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        for c in conns:
            with contextlib.suppress(OSError):
                c.close()

    # ---- internals
    def _websocket_tunnel(self, target: ForwardTarget) -> Any:
        assert self.kube is not None
        pf = self.kube.portforward(target.namespace, target.pod, target.port)
        return _Tunnel(pf, target.port)

    def _wait_target(self, timeout_s: float = 30) -> ForwardTarget | None:
        with self._lock:
            if self._target is None and not self._stopped.is_set():
                self._target_changed.wait(timeout_s)
            return self._target

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self._conns.add(client)
        try:
            target = self._wait_target()
            if target is None:
                return
            try:
                tunnel = self._open_tunnel(target)
            except Exception as e:
                self.log(f"port-forward to pod {target.pod}:{target.port} failed: {e}")
                return
            self.connections += 1
            _pump(client, tunnel)
            err = getattr(tunnel, "error", lambda: None)()
            if err:
                self.log(f"port-forward to pod {target.pod}:{target.port}: {err}")
        finally:
            with self._lock:
                self._conns.discard(client)
            with contextlib.suppress(OSError):
                client.close()


class _Tunnel:
    """The client's PortForward object seen as one socket."""

    def __init__(self, pf: Any, port: int) -> None:
        self.pf, self.port = pf, port
        self.sock = pf.socket(port)

    def recv(self, n: int) -> bytes:
        data: bytes = self.sock.recv(n)
        return data

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.pf.close()
        # The client's proxy thread leaves the websocket open when the server ends first.
        with contextlib.suppress(Exception):
            self.pf.websocket.close()
        with contextlib.suppress(Exception):
            self.pf.websocket.shutdown()  # close() skips a socket it thinks disconnected

    def error(self) -> str | None:
        err: str | None = self.pf.error(self.port)
        return err


def _pump(client: socket.socket, tunnel: Any) -> None:
    """Copy both ways until either side ends."""

    def up() -> None:
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                tunnel.sendall(data)
        except OSError:
            pass
        # No half-close towards the pod: the client's proxy would end the whole tunnel,
        # answer included (HTTP clients do not half-close anyway).

    t = threading.Thread(target=up, daemon=True)
    t.start()
    try:
        while True:
            data = tunnel.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_RDWR)
    tunnel.close()
    t.join(5)
