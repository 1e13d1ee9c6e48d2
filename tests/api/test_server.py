"""The local API over real HTTP: token, Host/Origin refusal, snapshot, trigger, cancel, logs."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import stat
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tests.engine.test_engine import res, until
from tilt.api.client import ApiClient, ApiError
from tilt.api.server import ApiServer
from tilt.api.token import new_token, read_token, token_path, write_token
from tilt.engine import Engine
from tilt.logstore import LogStore

TILTFILE = """
local_resource("man", cmd="echo run-$RANDOM", trigger_mode=TRIGGER_MODE_MANUAL, auto_init=False)
local_resource("slow", cmd="echo slow-started; sleep 30", auto_init=False)
"""


def serve(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: Callable[[Engine, int, str], Awaitable[None]],
) -> None:
    monkeypatch.setenv("TILT_DEV_DIR", str(tmp_path / "dev"))
    write_tree(tmp_path, {"Tiltfile": TILTFILE})
    eng = Engine(str(tmp_path / "Tiltfile"), logs=LogStore(), watch=False)

    async def main() -> None:
        task = asyncio.create_task(eng.run())
        token = new_token()
        server = ApiServer(eng, token=token, port=0)
        port = await server.start()
        write_token(port, token)
        try:
            await eng.ready_event.wait()
            await body(eng, port, token)
        finally:
            await server.close()
            eng.shutdown()
            await asyncio.wait_for(task, 15)

    asyncio.run(main())


def raw(
    port: int, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    payload = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=payload, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"null")
    return resp.status, data


def test_token_file_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILT_DEV_DIR", str(tmp_path / "dev"))
    token = new_token()
    path = write_token(4242, token)
    assert path == token_path(4242)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "dev").st_mode) == 0o700
    assert read_token(4242) == token
    with pytest.raises(ApiError, match="no `tilt up` is running on port 4243"):
        ApiClient(4243)


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "unauthorized: missing or wrong API token"),
        ({"Authorization": "Bearer wrong"}, 401, "unauthorized: missing or wrong API token"),
        (
            {"Host": "evil.example:{port}", "Authorization": "Bearer {token}"},
            403,
            "forbidden: unexpected Host header 'evil.example:{port}'",
        ),
        (
            {"Origin": "http://evil.example", "Authorization": "Bearer {token}"},
            403,
            "forbidden: cross-origin request from 'http://evil.example'",
        ),
        ({"Origin": "http://127.0.0.1:{port}", "Authorization": "Bearer {token}"}, 200, None),
        ({"Host": "localhost:{port}", "Authorization": "Bearer {token}"}, 200, None),
    ],
)
def test_refusals(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
    status: int,
    error: str | None,
) -> None:
    async def body(eng: Engine, port: int, token: str) -> None:
        h = {k: v.format(port=port, token=token) for k, v in headers.items()}
        got, data = await asyncio.to_thread(raw, port, "GET", "/api/snapshot", h)
        assert got == status
        if error is not None:
            assert data == {"error": error.format(port=port)}
        else:
            assert [r["name"] for r in data["resources"]] == ["man", "slow"]

    serve(tmp_path, monkeypatch, body)


def test_trigger_cancel_and_logs_through_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(eng: Engine, port: int, token: str) -> None:
        client = ApiClient(port)
        assert res(eng.snapshot(), "man")["update"]["count"] == 0
        msg = await asyncio.to_thread(client.trigger, "man")
        assert msg == "triggered an update of man"
        await until(eng, lambda s: res(s, "man")["update"]["status"] == "ok")

        with pytest.raises(ApiError, match="no resource named 'nope'"):
            await asyncio.to_thread(client.trigger, "nope")
        with pytest.raises(ApiError, match="'man' has no update running or queued"):
            await asyncio.to_thread(client.cancel, "man")

        # Follow the logs of "slow" while it starts and is cancelled.
        seen: list[str] = []
        got_started = threading.Event()

        def follow() -> None:
            for line in ApiClient(port).logs(["slow"], follow=True):
                seen.append(line["text"])
                if line["text"] == "slow-started":
                    got_started.set()
                if line["text"] == "Update cancelled":
                    return

        follower = asyncio.create_task(asyncio.to_thread(follow))
        await asyncio.to_thread(client.trigger, "slow")
        assert await asyncio.to_thread(got_started.wait, 10)
        msg = await asyncio.to_thread(client.cancel, "slow")
        assert msg == "slow: cancelling the running update"
        await until(eng, lambda s: res(s, "slow")["update"]["status"] == "cancelled")
        await asyncio.wait_for(follower, 10)
        assert seen[:3] == ["", "Initial Build", "Running cmd: echo slow-started; sleep 30"]
        assert seen[-1] == "Update cancelled"

        snap = await asyncio.to_thread(client.snapshot)
        assert res(snap, "slow")["update"]["status"] == "cancelled"
        lines = list(await asyncio.to_thread(lambda: list(client.logs(["man"]))))
        assert any(ln["text"].startswith("run-") for ln in lines)

    serve(tmp_path, monkeypatch, body)


def test_logs_give_a_keyed_lines_current_text_and_followers_get_its_updates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(eng: Engine, port: int, token: str) -> None:
        eng.logs.append("web", "[event] BackOff: crash", span="event", key="k")
        eng.logs.append("web", "serving")
        eng.logs.append("web", "[event] BackOff: crash (x2, last 14:03:05)", key="k")
        lines = await asyncio.to_thread(lambda: list(ApiClient(port).logs(["web"])))
        assert [(ln["text"], ln["rev"]) for ln in lines] == [
            ("[event] BackOff: crash (x2, last 14:03:05)", 1),
            ("serving", 0),
        ]

        seen: list[tuple[int, int, str]] = []
        first_read = threading.Event()

        def follow() -> None:
            for ln in ApiClient(port).logs(["web"], follow=True):
                seen.append((ln["seq"], ln["rev"], ln["text"]))
                if ln["text"] == "serving":
                    first_read.set()
                if ln["text"] == "done":
                    return

        follower = asyncio.create_task(asyncio.to_thread(follow))
        assert await asyncio.to_thread(first_read.wait, 10)
        eng.logs.append("web", "[event] BackOff: crash (x3, last 14:03:09)", key="k")
        eng.logs.append("web", "done")
        await asyncio.wait_for(follower, 10)
        seq = lines[0]["seq"]
        assert seen[2:] == [
            (seq, 2, "[event] BackOff: crash (x3, last 14:03:09)"),  # same seq: an update
            (seq + 2, 0, "done"),
        ]

    serve(tmp_path, monkeypatch, body)
