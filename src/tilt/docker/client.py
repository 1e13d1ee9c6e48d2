"""The Docker engine client: created lazily, shared, and one clear error when it is down.

Importing this module costs nothing: the ``docker`` SDK (and ``requests`` under
it) is imported on the first call that needs the engine. `get_client` returns
one shared `docker.DockerClient` per ``DOCKER_HOST`` once the engine answered a
ping; `new_api_client` gives a private low-level client for one long streaming
call (a build), which can be closed from another thread to abort that call.

When the engine cannot be reached, every entry point raises
`DockerUnavailableError` with one message naming the address tried and what
to do, instead of the SDK's chain of urllib3/requests exceptions. Nothing is
cached after a failure, so the next trigger tries again (issue 4, item 8).
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = [
    "DEFAULT_DOCKER_HOST",
    "DockerUnavailableError",
    "as_unavailable",
    "docker_host",
    "get_client",
    "is_unavailable_error",
    "new_api_client",
    "reset_client",
]

#: Where the engine listens when ``DOCKER_HOST`` is not set.
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

_PING_TIMEOUT_S = 10.0

_lock = threading.Lock()
# DOCKER_HOST -> (client, negotiated API version)
_clients: dict[str, tuple[Any, str]] = {}


class DockerUnavailableError(RuntimeError):
    """The Docker engine did not answer.

    Attributes:
        host: The address tried (``DOCKER_HOST`` or the default socket).
        reason: The underlying failure, shortened to one line.
    """

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(
            f"Docker engine not reachable at {host} ({reason}). Start Docker or fix "
            "DOCKER_HOST; the build is retried on the next file change or trigger."
        )


def docker_host() -> str:
    """The engine address the SDK will use: ``$DOCKER_HOST`` or the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def _short_reason(exc: BaseException) -> str:
    """One readable line out of the SDK's nested connection errors."""
    text = str(exc)
    for marker in ("Connection refused", "No such file or directory", "Permission denied"):
        if marker in text:
            return marker.lower()
    if "timed out" in text.lower():
        return "timed out"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:200]


def as_unavailable(exc: BaseException) -> DockerUnavailableError | None:
    """``exc`` as the one "engine not reachable" error when it means that, else None."""
    if isinstance(exc, DockerUnavailableError):
        return exc
    if is_unavailable_error(exc):
        return DockerUnavailableError(docker_host(), _short_reason(exc))
    return None


def is_unavailable_error(exc: BaseException) -> bool:
    """Whether ``exc`` (raised by the SDK) means the engine cannot be reached.

    Connection failures and timeouts count; an API error the engine answered
    with (404, 500, a failed build) does not.
    """
    if isinstance(exc, DockerUnavailableError):
        return True
    import docker.errors
    import requests.exceptions

    if isinstance(exc, docker.errors.APIError):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(exc, docker.errors.DockerException):
        # from_env() wraps the failed version probe in a plain DockerException.
        return "Error while fetching server API version" in str(exc)
    return isinstance(exc, ConnectionError | FileNotFoundError)


def _probe(host: str) -> None:
    """Connect to the engine's socket ourselves, so a dead one fails fast and cleanly.

    The SDK would leak the socket of a failed connect; other schemes (ssh://)
    are left to the SDK.

    Raises:
        DockerUnavailableError: nothing accepts connections there.
    """
    import socket

    try:
        if host.startswith("unix://"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(_PING_TIMEOUT_S)
                s.connect(host[len("unix://") :])
        elif host.startswith("tcp://"):
            hostport = host[len("tcp://") :].split("/", 1)[0]
            name, _, port = hostport.rpartition(":")
            with socket.create_connection((name or "localhost", int(port)), _PING_TIMEOUT_S):
                pass
    except (OSError, ValueError) as e:
        reason = e.strerror.lower() if isinstance(e, OSError) and e.strerror else str(e)
        raise DockerUnavailableError(host, reason) from None


def get_client() -> Any:
    """The shared client of the engine at `docker_host`, checked with a ping.

    Returns:
        A `docker.DockerClient` (typed ``Any``: the SDK ships no annotations).

    Raises:
        DockerUnavailableError: the engine does not answer.
    """
    host = docker_host()
    with _lock:
        cached = _clients.get(host)
        if cached is not None:
            return cached[0]
    _probe(host)
    import docker

    try:
        client = docker.from_env(timeout=_PING_TIMEOUT_S)
        client.ping()
        version = str(client.api.api_version)
    except Exception as e:
        if is_unavailable_error(e):
            raise DockerUnavailableError(host, _short_reason(e)) from None
        raise
    # Builds and pushes can take minutes between two lines of output.
    client.api.timeout = None
    with _lock:
        existing = _clients.get(host)
        if existing is not None:
            client.close()
            return existing[0]
        _clients[host] = (client, version)
    return client


def new_api_client() -> Any:
    """A private low-level `docker.APIClient` for one streaming call.

    It skips the version probe (it reuses the shared client's negotiated
    version) and has no read timeout. Closing it from another thread aborts
    a call in progress, which is how a build is cancelled.

    Raises:
        DockerUnavailableError: the engine does not answer.
    """
    get_client()
    with _lock:
        _, version = _clients[docker_host()]
    import docker
    from docker.utils import kwargs_from_env

    kwargs = kwargs_from_env()
    kwargs["version"] = version
    kwargs["timeout"] = None
    return docker.APIClient(**kwargs)


def reset_client() -> None:
    """Forget the shared clients (after the engine restarted, or in tests)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client, _ in clients:
        client.close()
