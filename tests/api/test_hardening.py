"""The API cannot be exhausted or crashed by what a neighbour process sends.

Real sockets against a real `ApiServer` on a real engine. A server that waited
for a body it should not read, or for a client that never finishes, would make
these tests hang (and fail on their socket timeouts), not pass slowly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.conftest import write_tree
from tests.engine.test_engine import res, until
from tilt.api.server import ApiServer
from tilt.api.token import new_token
from tilt.engine import Engine
from tilt.logstore import LogStore

TILTFILE = """
local_resource("man", cmd="echo ran >> man.runs", trigger_mode=TRIGGER_MODE_MANUAL,
               auto_init=False)
"""


def serve(
    tmp_path: Path,
    body: Callable[[Engine, int, str], Awaitable[None]],
    **server_kw: float,
) -> None:
    write_tree(tmp_path, {"Tiltfile": TILTFILE})
    eng = Engine(str(tmp_path / "Tiltfile"), logs=LogStore(), watch=False)

    async def main() -> None:
        task = asyncio.create_task(eng.run())
        token = new_token()
        server = ApiServer(eng, token=token, port=0, **server_kw)  # type: ignore[arg-type]
        port = await server.start()
        try:
            await eng.ready_event.wait()
            await body(eng, port, token)
        finally:
            await server.close()
            eng.shutdown()
            await asyncio.wait_for(task, 15)

    asyncio.run(main())


def exchange(port: int, data: bytes, *, timeout: float = 10) -> bytes:
    """Send ``data``, half-close, return everything the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # refused and closed already: read what was answered
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass  # closed with our data unread: what came before still counts
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def head(port: int, token: str | None, path: str, extra: str = "", method: str = "POST") -> str:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}{extra}"


def test_headers_are_checked_before_the_body_is_read(tmp_path: Path) -> None:
    async def body(eng: Engine, port: int, token: str) -> None:
        def send() -> bytes:
            # A promised 1 MB body that never comes: no token, so no body is awaited.
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(
                    (
                        head(port, None, "/api/trigger", "Content-Length: 1000000\r\n") + "\r\n"
                    ).encode()
                )
                return s.recv(65536)

        answer = await asyncio.to_thread(send)
        assert status_of(answer) == 401

    serve(tmp_path, body)


def test_a_half_sent_request_times_out(tmp_path: Path) -> None:
    async def body(eng: Engine, port: int, token: str) -> None:
        def send() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /api/snapshot HTTP/1.1\r\nHost: 127.0")  # and nothing more
                return s.recv(65536)

        answer = await asyncio.to_thread(send)
        assert answer == b"" or status_of(answer) == 408

    serve(tmp_path, body, read_timeout_s=0.3)


def test_connections_over_the_cap_are_refused_and_the_engine_is_unaffected(
    tmp_path: Path,
) -> None:
    async def body(eng: Engine, port: int, token: str) -> None:
        held = []
        try:
            for _ in range(8):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"GET /api/snapshot HTTP/1.1\r\n")  # never finished
                held.append(s)

            def over() -> bytes:
                return exchange(
                    port, (head(port, token, "/api/snapshot", method="GET") + "\r\n").encode()
                )

            answers = [await asyncio.to_thread(over) for _ in range(20)]
            # A 503, or a close before the answer is read (a reset): refused either way.
            assert all(a == b"" or status_of(a) == 503 for a in answers)
            # The engine and its children carry on.
            eng.trigger("man")
            await until(eng, lambda s: res(s, "man")["update"]["status"] == "ok")
        finally:
            for s in held:
                s.close()

        def again() -> int:
            return status_of(
                exchange(port, (head(port, token, "/api/snapshot", method="GET") + "\r\n").encode())
            )

        # Once the held connections are gone, the API answers again.
        for _ in range(200):
            if await asyncio.to_thread(again) == 200:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("API did not recover")

    serve(tmp_path, body, max_connections=8)


@pytest.mark.parametrize(
    ("extra", "payload", "status", "error"),
    [
        ("Content-Length: abc\r\n", b"", 400, "malformed Content-Length"),
        ("Content-Length: -5\r\n", b"", 400, "malformed Content-Length"),
        ("Content-Length: 99999999999999999999\r\n", b"", 413, "too large"),
        ("Transfer-Encoding: chunked\r\n", b"", 400, "chunked"),
        ("Content-Length: 200000\r\n", b"", 413, "too large"),
        ("Content-Length: 60000\r\n", b"[" * 30_000 + b"]" * 30_000, 400, "not JSON"),
        ("Content-Length: 4\r\n", b"\xff\xfe\x00\x01", 400, "not JSON"),
        ("Content-Length: 17\r\n", b'{"resource": [1]}', 400, "resource"),
        ("Content-Length: 4\r\n", b"[42]", 400, "JSON object"),
        ("bad header line\r\n", b"", 400, "malformed header"),
        ("Content-Length: 10\r\n", b"{}", 400, "incomplete"),
    ],
)
def test_malformed_requests_get_a_4xx_and_no_traceback(  # noqa: PLR0917
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    extra: str,
    payload: bytes,
    status: int,
    error: str,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def body(eng: Engine, port: int, token: str) -> None:
        data = (head(port, token, "/api/trigger", extra) + "\r\n").encode() + payload
        answer = await asyncio.to_thread(exchange, port, data)
        assert status_of(answer) == status
        assert error in json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]

    serve(tmp_path, body)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_malformed_request_lines_get_a_400(tmp_path: Path) -> None:
    async def body(eng: Engine, port: int, token: str) -> None:
        for line in (
            b"\r\n\r\n",
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/2 extra\r\n\r\n",
            b"\x00" * 10 + b"\r\n\r\n",
        ):
            answer = await asyncio.to_thread(exchange, port, line)
            assert status_of(answer) == 400

    serve(tmp_path, body)


def test_fields_are_type_checked(tmp_path: Path) -> None:
    async def body(eng: Engine, port: int, token: str) -> None:
        async def post(obj: object) -> bytes:
            payload = json.dumps(obj).encode()
            data = (
                head(port, token, "/api/enable", f"Content-Length: {len(payload)}\r\n") + "\r\n"
            ).encode()
            return await asyncio.to_thread(exchange, port, data + payload)

        assert status_of(await post({"resource": "man", "enabled": False})) == 200
        await until(eng, lambda s: not res(s, "man")["enabled"])
        for bad in ("no", "false", 0, None, [True]):
            answer = await post({"resource": "man", "enabled": bad})
            assert status_of(answer) == 400
        assert not res(eng.snapshot(), "man")["enabled"]

    serve(tmp_path, body)


def test_tilt_raises_its_open_files_soft_limit_to_the_hard_limit(tmp_path: Path) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip("needs a finite hard limit above 256")
    write_tree(
        tmp_path,
        {"Tiltfile": 'local_resource("n", cmd="grep files /proc/$PPID/limits > n.txt")\n'},
    )

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    r = subprocess.run(
        [sys.executable, "-m", "tilt", "ci", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lower,
        env={**os.environ, "TILT_DEV_DIR": str(tmp_path / "dev")},
        check=False,
    )
    assert r.returncode == 0, r.stderr
    soft_seen = int((tmp_path / "n.txt").read_text().split()[3])
    assert soft_seen == hard
