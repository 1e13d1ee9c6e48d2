"""serve_cmd restarts under any sequence of triggers, saves, reloads and cancels.

Property: once things settle, exactly one serve process per resource runs (the
newest definition); each run has fully exited before the next starts (the
server binds a fixed port and takes a moment to shut down, so an overlap fails
with "Address already in use"); and one shutdown stops everything. Processes
are counted by a marker in their command line, read from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from pathlib import Path

import pytest

from tests.engine.test_engine import free_port, log_text, make, res, until
from tilt.engine import Engine, EngineError
from tilt.engine.events import FilesChanged

SERVER = """\
import signal, socket, sys, time
version, port = sys.argv[2], int(sys.argv[3])
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen()
def term(*_):
    time.sleep(0.15)  # a graceful shutdown that takes a moment
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
print("serving", version, flush=True)
while True:
    time.sleep(1)
"""


def marked(marker: str) -> list[tuple[int, list[str]]]:
    """Live (non-zombie) processes whose command line contains ``marker``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode() for a in f.read().split(b"\0") if a]
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in argv and state != "Z":
            out.append((int(entry), argv))
    return out


def tiltfile(marker: str, port: int, version: int) -> str:
    return (
        f'local_resource("srv", cmd="sleep 0.02",\n'
        f'    serve_cmd="exec python3 server.py {marker} v{version} {port}")\n'
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_restarts_leave_exactly_one_server(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    marker = f"tilt-serve-marker-{os.getpid()}-{seed}-{time.monotonic_ns()}"
    port = free_port()
    version = 1
    eng = make(tmp_path, tiltfile(marker, port, version), {"server.py": SERVER})
    tf = tmp_path / "Tiltfile"

    def reload() -> None:
        eng.post(FilesChanged(paths=frozenset({str(tf)}), at=time.time()))

    async def settled(eng: Engine, want: str) -> None:
        def ok(s: dict[str, object]) -> bool:
            r = res(s, "srv")  # type: ignore[arg-type]
            return (
                s["tiltfile"]["status"] != "loading"  # type: ignore[index]
                and r["ready"]
                and r["update"]["status"] not in ("in_progress", "pending")
                and not r.get("queued")
                and r["runtime"]["pid"] is not None
            )

        await until(eng, ok, timeout=30)
        # A leaked server keeps the count above one for ever; a missing one, below.
        await until(eng, lambda s: len(marked(marker)) == 1, timeout=30)
        [(pid, argv)] = marked(marker)
        assert argv[-2] == want, str(res(eng.snapshot(), "srv"))
        assert res(eng.snapshot(), "srv")["runtime"]["pid"] == pid

    async def body(eng: Engine) -> None:
        nonlocal version
        await settled(eng, "v1")
        for _ in range(25):
            op = rng.choice(["trigger", "trigger", "save", "reload", "cancel", "burst"])
            if op == "trigger":
                eng.trigger("srv")
            elif op == "burst":
                for _ in range(rng.randint(2, 8)):
                    eng.trigger("srv")
            elif op == "save":
                version += 1
                # Atomically: a reload must never read a half-written file.
                tmp = tmp_path / "Tiltfile.new"
                tmp.write_text(tiltfile(marker, port, version))
                os.replace(tmp, tf)
                reload()
            elif op == "reload":
                reload()
            else:
                with contextlib.suppress(EngineError):
                    eng.cancel("srv")
            await asyncio.sleep(rng.choice([0, 0, 0.005, 0.02, 0.1]))
        await settled(eng, f"v{version}")

    async def main() -> int:
        task = asyncio.create_task(eng.run())
        try:
            await eng.ready_event.wait()
            await body(eng)
        finally:
            eng.shutdown()  # one request, like one Ctrl-C
        return await asyncio.wait_for(task, 30)

    try:
        try:
            assert asyncio.run(main()) == 0
        except BaseException:
            print(log_text(eng, "srv"))
            print(log_text(eng, "(Tiltfile)"))
            raise
    finally:
        leftover = marked(marker)
        for pid, _ in leftover:
            os.kill(pid, 9)
    assert leftover == []
    assert "Address already in use" not in log_text(eng, "srv")
