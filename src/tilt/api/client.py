"""The client side of the local API, used by `tilt get`, `trigger`, `cancel`, `logs`, `down`.

Plain `http.client` (no thread, no extra dependency); the token comes from the
file `tilt up` wrote for the same port (`tilt.api.token`).
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tilt.api.token import TokenError, read_token

if TYPE_CHECKING:
    from tilt.engine.snapshot import EngineSnapshot

__all__ = ["DEFAULT_PORT", "ApiClient", "ApiError", "resolve_port"]

DEFAULT_PORT = 10350


class ApiError(Exception):
    """The API could not be reached, or refused the request (message is user-facing)."""


def resolve_port(flag: int | None) -> int:
    """The API port: ``--port``, else ``TILT_PORT``, else 10350."""
    if flag is not None:
        return _checked(flag, "--port")
    env = os.environ.get("TILT_PORT", "").strip()
    if env:
        try:
            port = int(env)
        except ValueError:
            raise ApiError(f"TILT_PORT must be a port number, not {env!r}") from None
        return _checked(port, "TILT_PORT")
    return DEFAULT_PORT


def _checked(port: int, what: str) -> int:
    if not 0 <= port <= 65535:
        raise ApiError(f"{what} must be a port number from 0 to 65535 (0: no API), not {port}")
    return port


class ApiClient:
    """Talks to the `tilt up` serving ``port`` on 127.0.0.1.

    Args:
        port: The API port.
        token: The API token (read from the token file when not given).
        timeout_s: Socket timeout for requests that do not follow logs.
    """

    def __init__(self, port: int, *, token: str | None = None, timeout_s: float = 10.0) -> None:
        if port == 0:
            raise ApiError("the API is disabled (port 0); nothing to talk to")
        self.port = port
        self.host = "127.0.0.1"
        self._timeout_s = timeout_s
        if token is None:
            try:
                token = read_token(port)
            except TokenError as e:
                raise ApiError(str(e)) from None
        self._token = token

    def _request(
        self, method: str, path: str, body: Any = None, *, timeout_s: float | None = None
    ) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        headers = {"Authorization": f"Bearer {self._token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            return conn.getresponse()
        except ConnectionRefusedError:
            raise ApiError(
                f"no `tilt up` is running on {self.host}:{self.port} (connection refused)"
            ) from None
        except OSError as e:
            raise ApiError(f"cannot reach tilt on {self.host}:{self.port}: {e}") from None

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        resp = self._request(method, path, body, timeout_s=self._timeout_s)
        raw = resp.read()
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            raise ApiError(f"unexpected answer from tilt ({resp.status})") from None
        if resp.status != 200:
            msg = data.get("error") if isinstance(data, dict) else None
            raise ApiError(msg or f"request failed with HTTP {resp.status}")
        return data

    def snapshot(self) -> EngineSnapshot:
        """The engine state."""
        data: EngineSnapshot = self._json("GET", "/api/snapshot")
        return data

    def trigger(self, name: str) -> str:
        """Queue an update of ``name``; returns the server's message."""
        return str(self._json("POST", "/api/trigger", {"resource": name})["message"])

    def cancel(self, name: str) -> str:
        """Cancel ``name``'s running update; returns the server's message."""
        return str(self._json("POST", "/api/cancel", {"resource": name})["message"])

    def enable(self, name: str, enabled: bool) -> str:
        """Enable or disable ``name``."""
        body = {"resource": name, "enabled": enabled}
        return str(self._json("POST", "/api/enable", body)["message"])

    def button(self, name: str, button: str, inputs: dict[str, str]) -> str:
        """Run button ``button`` of resource ``name`` with ``inputs``; the server's message."""
        body = {"resource": name, "button": button, "inputs": inputs}
        return str(self._json("POST", "/api/button", body)["message"])

    def shutdown(self) -> str:
        """Make `tilt up` stop everything and exit."""
        return str(self._json("POST", "/api/shutdown")["message"])

    def logs(
        self,
        resources: Sequence[str] = (),
        *,
        follow: bool = False,
        since: int = 0,
        tail: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Log lines (dicts with seq, ts, resource, span, text, rev), oldest first.

        A keyed line the server updated in place (``rev`` > 0) comes again when
        following, with the seq it had and its new text.
        """
        q: list[tuple[str, str]] = [("resource", r) for r in resources]
        q.append(("since", str(since)))
        if tail is not None:
            q.append(("tail", str(tail)))
        if follow:
            q.append(("follow", "1"))
        resp = self._request(
            "GET", "/api/logs?" + urlencode(q), timeout_s=None if follow else self._timeout_s
        )
        if resp.status != 200:
            raw = resp.read()
            try:
                msg = json.loads(raw).get("error", "")
            except (ValueError, AttributeError):
                msg = ""
            raise ApiError(msg or f"request failed with HTTP {resp.status}")
        for raw_line in resp:
            if raw_line.strip():
                yield json.loads(raw_line)
