"""The local HTTP API of `tilt up`: state snapshot, trigger, cancel, logs, shutdown.

Served on the engine's event loop (asyncio streams; no thread touches the
state). Bound to 127.0.0.1 only. Every request must carry
``Authorization: Bearer TOKEN`` (the token file is readable by the user only),
and a request whose ``Host`` is not this server or that carries a foreign
``Origin`` is refused, so a web page the user visits cannot drive tilt (DNS
rebinding, cross-site requests).

Limits, so that nothing a neighbour process sends can exhaust tilt: the
headers (Host, Origin, token) are checked before any body is read; a request
must arrive whole within `READ_TIMEOUT_S`; at most `MAX_CONNECTIONS`
connections are open at once (more are answered 503 and closed at once); a
malformed request gets a 4xx answer, never a traceback; request fields are
type-checked.

Endpoints (JSON in and out; one request per connection):

- ``GET /api/snapshot`` - the engine state (what `tilt get -o json` prints).
- ``POST /api/trigger`` ``{"resource": NAME}`` - queue an update.
- ``POST /api/cancel`` ``{"resource": NAME}`` - cancel the running update.
- ``POST /api/enable`` ``{"resource": NAME, "enabled": BOOL}`` - enable/disable.
- ``POST /api/shutdown`` - stop everything and exit (`tilt down`).
- ``POST /api/button`` ``{"resource": NAME, "button": BUTTON, "inputs": {NAME: VALUE}}`` -
  run a ``v1alpha1.ui_button`` of a resource (`tilt button`).
- ``GET /api/logs?resource=A&resource=B&since=SEQ&tail=N&follow=1`` - log lines as
  JSON, one per line (``{"seq", "ts", "resource", "span", "text"}``); with
  ``follow`` the response stays open and streams new lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from tilt.engine.engine import Engine
    from tilt.logstore import LogLine

__all__ = ["ApiServer"]

_MAX_HEADER_BYTES = 64 * 1024
_MAX_HEADERS = 100
_MAX_BODY_BYTES = 64 * 1024
#: Seconds a client has to send a whole request (head and body).
READ_TIMEOUT_S = 10.0
#: Connections served at once; more are refused (503) until some close.
MAX_CONNECTIONS = 64
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ApiServer:
    """Serves the API for one engine.

    Args:
        engine: The running engine.
        token: The secret every request must present.
        port: The TCP port (0 picks a free one; see `port` after `start`).
        host: The address to bind (loopback only).
        read_timeout_s: Seconds a client has to send its whole request.
        max_connections: Connections served at once.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        token: str,
        port: int,
        host: str = "127.0.0.1",
        read_timeout_s: float = READ_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._engine = engine
        self._read_timeout_s = read_timeout_s
        self._max_connections = max_connections
        self._token = token
        self._host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Bind and start serving; returns the bound port.

        Raises:
            OSError: the port is taken.
        """
        self._server = await asyncio.start_server(self._on_client, self._host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Stop serving and end open (log-following) connections."""
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def _allowed_hosts(self) -> set[str]:
        p = self.port
        return {f"127.0.0.1:{p}", f"localhost:{p}"}

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._tasks) >= self._max_connections:
            # Refuse without reading anything: the descriptor is free again at once.
            with contextlib.suppress(Exception):
                writer.write(_response_head(503, 0, "text/plain"))
            writer.close()
            return
        self._tasks.add(task)
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(self._read_timeout_s):
                    method, target, headers = await self._read_head(reader)
                    # Who asks is checked before anything else is read.
                    self._check_access(headers)
                    body = await self._read_body(reader, headers)
            except TimeoutError:
                raise _HttpError(408, "request not received in time") from None
            await self._route(method, target, body, writer)
        except _HttpError as e:
            await self._send_error(writer, e.status, e.message)
        except (ConnectionError, asyncio.IncompleteReadError):
            raise
        except Exception as e:  # a bug here must not print a traceback per request
            await self._send_error(writer, 500, f"internal error: {type(e).__name__}: {e}")

    async def _send_error(self, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        # The client may not read: the answer gets the same time limit.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._read_timeout_s):
                await self._send_json(writer, status, {"error": message})

    async def _read_head(self, reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise _HttpError(400, "request header too large") from None
        except asyncio.IncompleteReadError:
            raise _HttpError(400, "incomplete request") from None
        if len(head) > _MAX_HEADER_BYTES:
            raise _HttpError(400, "request header too large")
        lines = head.decode("latin-1").split("\r\n")
        if len(lines) > _MAX_HEADERS + 3:
            raise _HttpError(400, "too many headers")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _HttpError(400, "malformed request line")
        method, target = parts[0], parts[1]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise _HttpError(400, "malformed header")
            key = name.strip().lower()
            if key in headers and key in ("host", "origin", "authorization"):
                raise _HttpError(400, f"duplicate {key} header")
            headers[key] = value.strip()
        return method, target, headers

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "transfer-encoding" in headers:
            raise _HttpError(400, "chunked request bodies are not supported")
        raw = headers.get("content-length", "0") or "0"
        if not raw.isascii() or not raw.isdigit():
            raise _HttpError(400, f"malformed Content-Length {raw[:40]!r}")
        length = int(raw)
        if length > _MAX_BODY_BYTES:
            raise _HttpError(413, "request body too large")
        try:
            return await reader.readexactly(length) if length > 0 else b""
        except asyncio.IncompleteReadError:
            raise _HttpError(400, "incomplete request body") from None

    def _check_access(self, headers: dict[str, str]) -> None:
        host = headers.get("host", "").lower()
        if host not in self._allowed_hosts():
            raise _HttpError(403, f"forbidden: unexpected Host header {host!r}")
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in {
            f"http://{h}" for h in self._allowed_hosts()
        }:
            raise _HttpError(403, f"forbidden: cross-origin request from {origin!r}")
        auth = headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self._token.encode()
        ):
            raise _HttpError(401, "unauthorized: missing or wrong API token")

    async def _route(
        self, method: str, target: str, body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        from tilt.engine.engine import EngineError

        url = urlsplit(target)
        path = url.path.rstrip("/")
        query = parse_qs(url.query)
        engine = self._engine
        if path == "/api/snapshot":
            self._need(method, "GET")
            await self._send_json(writer, 200, engine.snapshot())
            return
        if path == "/api/logs":
            self._need(method, "GET")
            await self._logs(query, writer)
            return
        if path in ("/api/trigger", "/api/cancel", "/api/enable"):
            self._need(method, "POST")
            data = self._json_body(body)
            name = data.get("resource")
            if not isinstance(name, str) or not name:
                raise _HttpError(400, 'expected {"resource": NAME}')
            try:
                if path == "/api/trigger":
                    engine.trigger(name)
                    msg = f"triggered an update of {name}"
                elif path == "/api/cancel":
                    msg = f"{name}: " + engine.cancel(name)
                else:
                    enabled = data.get("enabled", True)
                    if not isinstance(enabled, bool):
                        raise _HttpError(400, '"enabled" must be true or false')
                    engine.set_disabled(name, not enabled)
                    msg = f"{'enabled' if enabled else 'disabled'} {name}"
            except EngineError as e:
                status = 404 if "no resource named" in str(e) else 409
                raise _HttpError(status, str(e)) from None
            await self._send_json(writer, 200, {"ok": True, "message": msg})
            return
        if path == "/api/button":
            self._need(method, "POST")
            data = self._json_body(body)
            name, button, inputs = data.get("resource"), data.get("button"), data.get("inputs", {})
            if (
                not isinstance(name, str)
                or not isinstance(button, str)
                or not (
                    isinstance(inputs, dict) and all(isinstance(v, str) for v in inputs.values())
                )
            ):
                raise _HttpError(
                    400, 'expected {"resource": NAME, "button": BUTTON, "inputs": {NAME: VALUE}}'
                )
            try:
                msg = engine.run_button(name, button, inputs)
            except EngineError as e:
                status = 404 if "no resource named" in str(e) or "has no button" in str(e) else 409
                raise _HttpError(status, str(e)) from None
            await self._send_json(writer, 200, {"ok": True, "message": msg})
            return
        if path == "/api/shutdown":
            self._need(method, "POST")
            await self._send_json(writer, 200, {"ok": True, "message": "shutting down"})
            engine.shutdown("tilt down", 0)
            return
        raise _HttpError(404, f"no such endpoint: {path}")

    @staticmethod
    def _need(method: str, want: str) -> None:
        if method != want:
            raise _HttpError(405, f"use {want}")

    @staticmethod
    def _json_body(body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except (ValueError, RecursionError):
            raise _HttpError(400, "request body is not JSON") from None
        if not isinstance(data, dict):
            raise _HttpError(400, "request body must be a JSON object")
        return data

    async def _send_json(self, writer: asyncio.StreamWriter, status: int, data: Any) -> None:
        payload = json.dumps(data).encode()
        writer.write(_response_head(status, len(payload)) + payload)
        await writer.drain()

    async def _logs(self, query: dict[str, list[str]], writer: asyncio.StreamWriter) -> None:
        logs = self._engine.logs
        names = set(query.get("resource", []))
        try:
            since = int(query.get("since", ["0"])[0])
            tail = int(query.get("tail", ["-1"])[0])
        except ValueError:
            raise _HttpError(400, "since and tail must be integers") from None
        follow = query.get("follow", ["0"])[0] in ("1", "true", "yes")

        def wanted(line: LogLine) -> bool:
            return not names or line.resource in names

        head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
        writer.write(head.encode())
        if tail >= 0:
            pool = (
                [ln for r in names for ln in logs.tail(r, tail)] if names else logs.tail(None, tail)
            )
            first = sorted(pool, key=lambda ln: ln.seq)[-tail:] if tail else []
        else:
            first = [ln for ln in logs.lines(None, since_seq=since) if wanted(ln)]
        last = logs.last_seq
        if not follow:
            await self._write_lines(writer, first)
            return
        wake = asyncio.Event()
        # Keyed lines updated in place (a repeated event's count) since they were read,
        # newest version per line: sent again, with the same seq and a higher rev. Listening
        # from before the first write, so an update made while it is sent is not missed.
        updated: dict[int, LogLine] = {}

        def on_line(line: LogLine) -> None:
            if line.rev and line.seq <= last and wanted(line):
                updated[line.seq] = line
            if not wake.is_set():
                wake.set()

        unsubscribe = logs.add_listener(on_line)
        try:
            await self._write_lines(writer, first)
            while True:
                await wake.wait()
                wake.clear()
                new = [ln for ln in logs.lines(None, since_seq=last) if wanted(ln)]
                changed = sorted(updated.values(), key=lambda ln: ln.seq)
                updated.clear()
                last = logs.last_seq
                await self._write_lines(writer, changed + new)
        finally:
            unsubscribe()

    @staticmethod
    async def _write_lines(writer: asyncio.StreamWriter, lines: list[LogLine]) -> None:
        if not lines:
            return
        chunk = "".join(
            json.dumps(
                {
                    "seq": ln.seq,
                    "ts": ln.ts,
                    "resource": ln.resource,
                    "span": ln.span,
                    "text": ln.text,
                    "rev": ln.rev,
                }
            )
            + "\n"
            for ln in lines
        )
        writer.write(chunk.encode())
        await writer.drain()


def _response_head(status: int, length: int, content_type: str = "application/json") -> bytes:
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
