"""Readiness probes against real servers and commands on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tilt.model import ExecAction, HttpGetAction, Probe, TcpSocketAction
from tilt.probe import ProbeRunner, probe_once

Transition = tuple[float, bool, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class HttpServer:
    """A tiny real HTTP server whose status code the test can change."""

    def __init__(self, port: int, status: int = 200) -> None:
        self.port = port
        self.status = status
        self.requests: list[tuple[float, str]] = []
        self.hang = False
        self._server: asyncio.Server | None = None

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            request_line = (await r.readline()).decode()
            while (await r.readline()) not in (b"\r\n", b""):
                pass
            self.requests.append((time.monotonic(), request_line.split()[1]))
            if self.hang:
                await asyncio.sleep(30)
            w.write(f"HTTP/1.1 {self.status} Whatever\r\nContent-Length: 2\r\n\r\nok".encode())
            await w.drain()
        finally:
            w.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def run_probe(
    probe: Probe,
    scenario: Callable[[list[Transition], float], Awaitable[None]],
    **kw: Any,
) -> list[Transition]:
    """Run a ProbeRunner while ``scenario`` runs; returns (t since start, ready, msg)."""
    t0 = time.monotonic()
    seen: list[Transition] = []
    runner = ProbeRunner(probe, lambda ok, msg: seen.append((time.monotonic() - t0, ok, msg)), **kw)
    task = asyncio.create_task(runner.run())
    try:
        await scenario(seen, t0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    return seen


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def test_http_service_up_in_300ms_is_seen_ready_fast() -> None:
    port = free_port()
    server = HttpServer(port)

    async def scenario(seen: list[Transition], t0: float) -> None:
        await asyncio.sleep(0.3)
        await server.start()
        await until(lambda: any(ok for _, ok, _ in seen))
        await server.close()

    probe = Probe(http_get=HttpGetAction(port=port, host="127.0.0.1", path="health"))
    seen = asyncio.run(run_probe(probe, scenario))
    # Not ready while the port was closed (3 failures), then ready soon after 0.3 s.
    # (A changed reason while not ready is reported again: collapse those.)
    oks = [ok for _, ok, _ in seen]
    assert [ok for i, ok in enumerate(oks) if i == 0 or ok != oks[i - 1]] == [False, True]
    assert "connection refused" in seen[0][2]
    t_ready, _, msg = seen[-1]
    # Probed fast until the first success: seen well before one period_secs (10 s) passed.
    assert t_ready < probe.period_secs / 5, t_ready
    assert len(server.requests) >= 1
    assert msg == f"GET http://127.0.0.1:{port}/health: 200 Whatever"
    assert server.requests[0][1] == "/health"


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (204, True), (302, True), (399, True), (404, False), (500, False)],
)
def test_http_status_ranges(status: int, ok: bool) -> None:
    async def main() -> tuple[bool, str]:
        server = HttpServer(free_port(), status)
        await server.start()
        try:
            return await probe_once(Probe(http_get=HttpGetAction(port=server.port)))
        finally:
            await server.close()

    got, msg = asyncio.run(main())
    assert got is ok
    assert f": {status} Whatever" in msg


def test_thresholds_and_period_after_first_ready() -> None:
    server = HttpServer(free_port())

    async def scenario(seen: list[Transition], t0: float) -> None:
        await server.start()
        await until(lambda: len(seen) == 1, 3)
        # After ready, attempts come once per period (1 s), not every 50 ms.
        n = len(server.requests)
        await asyncio.sleep(1.5)
        assert len(server.requests) - n <= 2
        server.status = 503
        await until(lambda: len(seen) == 2, 5)
        await server.close()

    probe = Probe(
        http_get=HttpGetAction(port=server.port, host="127.0.0.1"),
        period_secs=1,
        success_threshold=2,
        failure_threshold=2,
    )
    seen = asyncio.run(run_probe(probe, scenario))
    assert [ok for _, ok, _ in seen] == [True, False]
    assert ": 503 Whatever" in seen[1][2]
    # success_threshold=2: two fast attempts before ready (about 50 ms apart).
    assert seen[0][0] < 0.5
    ready_at = seen[0][0]
    # failure_threshold=2 at a 1 s period: two failing attempts after the change.
    assert seen[1][0] - ready_at >= 1.5


def test_initial_delay_is_honoured() -> None:
    server = HttpServer(free_port())

    async def scenario(seen: list[Transition], t0: float) -> None:
        await server.start()
        await until(lambda: len(seen) == 1, 4)
        await server.close()
        assert server.requests[0][0] - t0 >= 1.0

    probe = Probe(http_get=HttpGetAction(port=server.port), initial_delay_secs=1)
    seen = asyncio.run(run_probe(probe, scenario))
    assert seen[0][1] is True and seen[0][0] >= 1.0


def test_http_timeout() -> None:
    server = HttpServer(free_port())
    server.hang = True

    async def main() -> tuple[bool, str, float]:
        await server.start()
        try:
            t0 = time.monotonic()
            ok, msg = await probe_once(Probe(http_get=HttpGetAction(port=server.port)))
            return ok, msg, time.monotonic() - t0
        finally:
            await server.close()

    ok, msg, took = asyncio.run(main())
    assert not ok
    assert msg == f"GET http://localhost:{server.port}/: timed out after 1s"
    assert 0.9 <= took < 2.0


def test_tcp_socket_closed_then_open() -> None:
    port = free_port()

    async def scenario(seen: list[Transition], t0: float) -> None:
        await until(lambda: len(seen) == 1, 3)
        srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
        await until(lambda: len(seen) == 2, 3)
        srv.close()
        await srv.wait_closed()

    probe = Probe(tcp_socket=TcpSocketAction(port=port, host="127.0.0.1"), failure_threshold=1)
    seen = asyncio.run(run_probe(probe, scenario))
    assert [(ok, msg) for _, ok, msg in seen] == [
        (False, f"TCP 127.0.0.1:{port}: connection refused"),
        (True, f"TCP 127.0.0.1:{port}: connected"),
    ]


def test_exec_probe(tmp_path: Path) -> None:
    flag = tmp_path / "flag"

    async def scenario(seen: list[Transition], t0: float) -> None:
        await until(lambda: len(seen) == 1, 3)
        flag.touch()
        await until(lambda: len(seen) == 2, 3)

    probe = Probe(
        exec=ExecAction(command=("sh", "-c", "test -f flag || { echo missing; exit 2; }")),
        failure_threshold=1,
    )
    seen = asyncio.run(run_probe(probe, scenario, cwd=str(tmp_path)))
    assert [(ok, msg) for _, ok, msg in seen] == [
        (False, "exec sh -c 'test -f flag || { echo missing; exit 2; }': exit code 2: missing"),
        (True, "exec sh -c 'test -f flag || { echo missing; exit 2; }': exit code 0"),
    ]


@pytest.mark.parametrize(
    ("command", "want"),
    [
        (("no-such-probe-cmd",), "exec no-such-probe-cmd: command not found: no-such-probe-cmd"),
        ((sys.executable, "-c", "import time; time.sleep(30)"), "timed out after 1s"),
    ],
)
def test_exec_probe_failures(command: tuple[str, ...], want: str) -> None:
    async def main() -> tuple[bool, str, float]:
        t0 = time.monotonic()
        ok, msg = await probe_once(Probe(exec=ExecAction(command=command)))
        return ok, msg, time.monotonic() - t0

    ok, msg, took = asyncio.run(main())
    assert not ok
    assert msg.endswith(want)
    assert took < 3.0


class RawServer:
    """A real TCP server that answers every request with ``answer`` (changeable)."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while (await r.readline()) not in (b"\r\n", b""):
                pass
            w.write(self.answer)
            await w.drain()
        except OSError:
            pass
        finally:
            w.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"HTTP/1.1 " + b"2" * 70_000 + b" OK\r\n\r\n", "status line longer than"),
        (b"HTTP/1.1 \xb200 OK\r\n\r\n", "malformed response"),  # latin-1 "²00"
        ("HTTP/1.1 ²00 OK\r\n\r\n".encode(), "malformed response"),
        ("HTTP/1.1 ٢٠٠ OK\r\n\r\n".encode(), "malformed response"),
        (b"HTTP/1.1 20 OK\r\n\r\n", "malformed response"),
        (b"SSH-2.0-OpenSSH\r\n", "malformed response"),
        (b"\x00\xff\xfe garbage", "malformed response"),
        (b"", "connection closed without a response"),
    ],
)
def test_malformed_http_answers_fail_the_probe_with_a_reason(answer: bytes, why: str) -> None:
    async def main() -> tuple[bool, str]:
        server = RawServer(answer)
        await server.start()
        try:
            return await probe_once(Probe(http_get=HttpGetAction(port=server.port)))
        finally:
            await server.close()

    ok, msg = asyncio.run(main())
    assert not ok
    assert why in msg


def test_the_runner_survives_malformed_answers_and_reports_the_latest_reason() -> None:
    server = RawServer(b"HTTP/1.1 \xb200 OK\r\n\r\n")  # "²00" read as latin-1

    async def scenario(seen: list[Transition], t0: float) -> None:
        await until(lambda: bool(seen))
        assert seen[-1][1] is False and "malformed response" in seen[-1][2]
        server.answer = b"HTTP/1.1 " + b"2" * 70_000 + b"\r\n\r\n"
        await until(lambda: "longer than" in seen[-1][2])
        server.answer = b"HTTP/1.1 503 Busy\r\n\r\n"
        await until(lambda: "503 Busy" in seen[-1][2])
        server.answer = b"HTTP/1.1 200 OK\r\n\r\n"
        await until(lambda: seen[-1][1] is True)

    async def main() -> list[Transition]:
        await server.start()
        try:
            probe = Probe(http_get=HttpGetAction(port=server.port), period_secs=1)
            return await run_probe(probe, scenario, fast_interval_s=0.01)
        finally:
            await server.close()

    seen = asyncio.run(main())
    assert seen[-1][1] is True
