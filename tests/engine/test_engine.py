"""The engine with real Tiltfiles, real processes and real files."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tilt.engine import Engine
from tilt.engine.events import FilesChanged
from tilt.logstore import LogStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make(tmp_path: Path, text: str, files: dict[str, str] | None = None, **kw: Any) -> Engine:
    write_tree(tmp_path, {"Tiltfile": text, **(files or {})})
    kw.setdefault("watch", False)
    return Engine(str(tmp_path / "Tiltfile"), logs=LogStore(), **kw)


def ci(tmp_path: Path, text: str, files: dict[str, str] | None = None, **kw: Any) -> Engine:
    eng = make(tmp_path, text, files, ci=True, **kw)
    code = asyncio.run(asyncio.wait_for(eng.run(), 30))
    assert code == (0 if eng.ci_outcome and eng.ci_outcome.ok else 1)
    return eng


def log_text(eng: Engine, name: str) -> str:
    return "\n".join(ln.text for ln in eng.logs.lines(name))


async def until(eng: Engine, cond: Callable[[dict[str, Any]], bool], timeout: float = 15) -> None:
    """Wait until ``cond(snapshot)`` holds (checked after every batch of events)."""
    deadline = time.monotonic() + timeout
    while not cond(eng.snapshot()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met; state: {eng.snapshot()['resources']}")
        await asyncio.sleep(0.02)


def res(snap: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in snap["resources"] if r["name"] == name)


def interactive(eng: Engine, body: Callable[[Engine], Awaitable[None]]) -> int:
    async def main() -> int:
        task = asyncio.create_task(eng.run())
        try:
            await eng.ready_event.wait()
            await body(eng)
        finally:
            eng.shutdown()
        return await asyncio.wait_for(task, 15)

    return asyncio.run(main())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited (it waits for its parent, or for PID 1, to reap it).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---- order, readiness, probes -------------------------------------------------------------


def test_ci_chain_waits_for_deps_and_http_probe(tmp_path: Path) -> None:
    port = free_port()
    server = (
        "import http.server, time\n"
        "time.sleep(0.3)\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), "
        "http.server.SimpleHTTPRequestHandler).serve_forever()\n"
    )
    check = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/')"
    eng = ci(
        tmp_path,
        f"""
local_resource("build", cmd="echo build >> order.txt")
local_resource("web", serve_cmd="python3 server.py", resource_deps=["build"],
    readiness_probe=probe(period_secs=10, http_get=http_get_action(port={port}, host="127.0.0.1")))
local_resource("check", cmd="python3 -c \\"{check}\\" && echo check >> order.txt",
    resource_deps=["web"])
""",
        {"server.py": server},
    )
    assert eng.ci_outcome is not None and eng.ci_outcome.ok, eng.ci_outcome
    assert (tmp_path / "order.txt").read_text().split() == ["build", "check"]
    snap = eng.snapshot()
    assert [r["ready_once"] for r in snap["resources"]] == [True] * 3


def test_failed_dependency_stops_ci_with_its_last_lines(tmp_path: Path) -> None:
    eng = ci(
        tmp_path,
        """
local_resource("a", cmd="echo about to fail; exit 4")
local_resource("b", cmd="echo never", resource_deps=["a"])
""",
    )
    assert eng.ci_outcome is not None
    assert eng.ci_outcome.resource == "a"
    assert eng.ci_outcome.message == 'Command "echo about to fail; exit 4" failed: exit status 4'
    assert "about to fail" in log_text(eng, "a")
    b = res(eng.snapshot(), "b")
    assert b["update"]["count"] == 0
    assert b["waiting_on"].startswith("waiting on dependencies: a (update failed")


# ---- parallelism ---------------------------------------------------------------------------


def _concurrency(lines: list[str]) -> int:
    cur = peak = 0
    for ln in lines:
        cur += 1 if ln.startswith("start") else -1
        peak = max(peak, cur)
    return peak


def test_parallel_slots_limit_concurrent_updates(tmp_path: Path) -> None:
    # Each cmd waits (up to 5 s) until two have started: proves two run together.
    cmd = (
        "echo start >> log; for i in $(seq 50); do "
        "[ $(grep -c start log) -ge 2 ] && break; sleep 0.1; done; sleep 0.2; echo end >> log"
    )
    rs = "\n".join(f'local_resource("r{i}", cmd="{cmd}", allow_parallel=True)' for i in range(4))
    ci(tmp_path, "update_settings(max_parallel_updates=2)\n" + rs)
    lines = (tmp_path / "log").read_text().split()
    assert len(lines) == 8
    assert _concurrency(lines) == 2


def test_local_without_allow_parallel_runs_one_at_a_time(tmp_path: Path) -> None:
    cmd = "echo start >> log; sleep 0.1; echo end >> log"
    rs = "\n".join(f'local_resource("r{i}", cmd="{cmd}")' for i in range(3))
    ci(tmp_path, rs)
    lines = (tmp_path / "log").read_text().split()
    assert lines == ["start", "end"] * 3


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decl", "resource", "message"),
    [
        ('local_resource("s", serve_cmd="echo bye; exit 3")', "s", "serve_cmd exited with code 3"),
        (
            'local_resource("n", cmd=["no-such-binary-xyz", "arg"])',
            "n",
            'command not found: "no-such-binary-xyz"',
        ),
        (
            'local_resource("n", cmd="no-such-binary-xyz")',
            "n",
            'Command "no-such-binary-xyz" failed: exit status 127 (command not found)',
        ),
    ],
)
def test_bad_commands_fail_clearly(tmp_path: Path, decl: str, resource: str, message: str) -> None:
    eng = ci(tmp_path, decl)
    assert eng.ci_outcome is not None
    assert (eng.ci_outcome.resource, eng.ci_outcome.message) == (resource, message)


def test_probe_on_closed_port_times_out_with_reason(tmp_path: Path) -> None:
    port = free_port()
    eng = ci(
        tmp_path,
        f"""
local_resource("s", serve_cmd="sleep 30",
    readiness_probe=probe(period_secs=1, tcp_socket=tcp_socket_action({port}, host="127.0.0.1")))
""",
        ci_timeout_s=1.5,
    )
    assert eng.ci_outcome is not None and not eng.ci_outcome.ok
    assert eng.ci_outcome.message.startswith("Timeout after 1.5s; not ready: s (pending)")
    assert "Stopping" in log_text(eng, "s")  # the serve_cmd was stopped on the way out


def test_binary_output_and_a_1mb_line(tmp_path: Path) -> None:
    eng = ci(
        tmp_path,
        """
local_resource("bin", cmd="printf 'a\\\\377\\\\376b\\\\000c\\\\n'")
local_resource("big", cmd="python3 -c \\"print('x' * 1000000); print('after')\\"")
""",
    )
    assert eng.ci_outcome is not None and eng.ci_outcome.ok, eng.ci_outcome
    assert "a\ufffd\ufffdb\x00c" in log_text(eng, "bin")
    big = [ln.text for ln in eng.logs.lines("big")]
    assert sum(len(t) for t in big if set(t) == {"x"}) == 1_000_000
    assert big[-1] == "after"


# ---- trigger, cancel, serve restart -----------------------------------------------------


def test_cancel_stops_the_process_group(tmp_path: Path) -> None:
    eng = make(
        tmp_path,
        'local_resource("slow", cmd="sleep 30 & echo $! > child; echo $$ > pid; wait")',
    )

    async def body(eng: Engine) -> None:
        await until(eng, lambda s: (tmp_path / "child").exists() and (tmp_path / "pid").exists())
        await until(eng, lambda s: res(s, "slow")["update"]["status"] == "in_progress")
        pids = [int((tmp_path / f).read_text()) for f in ("pid", "child")]
        assert all(pid_alive(p) for p in pids)
        assert eng.cancel("slow") == "cancelling the running update"
        await until(eng, lambda s: res(s, "slow")["update"]["status"] == "cancelled")
        assert res(eng.snapshot(), "slow")["status"] == "error"
        for p in pids:
            assert not pid_alive(p)

    assert interactive(eng, body) == 0
    assert "Update cancelled" in log_text(eng, "slow")


def test_serve_cmd_restarts_after_each_successful_update(tmp_path: Path) -> None:
    eng = make(
        tmp_path,
        'local_resource("s", cmd="echo built", serve_cmd="echo $$ >> pids; exec sleep 30",'
        " trigger_mode=TRIGGER_MODE_MANUAL)",
    )

    async def body(eng: Engine) -> None:
        await until(eng, lambda s: res(s, "s")["ready"] and (tmp_path / "pids").exists())
        first = res(eng.snapshot(), "s")["runtime"]["pid"]
        eng.trigger("s")
        await until(
            eng,
            lambda s: (
                res(s, "s")["update"]["count"] == 2
                and res(s, "s")["ready"]
                and res(s, "s")["runtime"]["pid"] not in (None, first)
            ),
        )
        await until(eng, lambda s: not pid_alive(first))
        assert len((tmp_path / "pids").read_text().split()) == 2

    assert interactive(eng, body) == 0


def test_trigger_unknown_resource_is_an_error(tmp_path: Path) -> None:
    from tilt.engine import EngineError

    eng = make(tmp_path, 'local_resource("a", cmd="true")')

    async def body(eng: Engine) -> None:
        with pytest.raises(EngineError, match="no resource named 'b'"):
            eng.trigger("b")
        await until(eng, lambda s: res(s, "a")["status"] == "ready")
        with pytest.raises(EngineError, match="has no update running or queued"):
            eng.cancel("a")

    interactive(eng, body)


# ---- dirty flags, ignores, reload --------------------------------------------------------


def test_changes_mark_dirty_and_respect_every_ignore_source(tmp_path: Path) -> None:
    eng = make(
        tmp_path,
        """
watch_settings(ignore=["*.log"])
local_resource("auto", cmd="true", deps=["src"], ignore=["src/gen"])
local_resource("man", cmd="true", deps=["src"], trigger_mode=TRIGGER_MODE_MANUAL)
""",
        {"src/a.py": "", ".tiltignore": "*.tmp\n"},
    )
    src = tmp_path / "src"

    async def body(eng: Engine) -> None:
        await until(eng, lambda s: all(r["status"] == "ready" for r in s["resources"]))
        paths = {
            str(src / "x.log"),  # watch_settings(ignore=)
            str(src / "x.tmp"),  # .tiltignore
            str(src / "gen" / "out.py"),  # local_resource(ignore=) of auto only
            str(src / ".x.py.swp"),  # built-in
            str(tmp_path / "elsewhere.py"),  # not a dep
        }
        eng.post(FilesChanged(paths=frozenset(paths), at=time.time()))
        await asyncio.sleep(0.1)
        snap = eng.snapshot()
        assert res(snap, "auto")["update"]["count"] == 1
        assert res(snap, "auto")["dirty"] is False
        assert res(snap, "man")["pending_files"] == ["src/gen/out.py"]
        eng.post(FilesChanged(paths=frozenset({str(src / "a.py")}), at=time.time()))
        await until(eng, lambda s: res(s, "auto")["update"]["count"] == 2)
        await until(eng, lambda s: res(s, "auto")["status"] == "ready")
        snap = eng.snapshot()
        assert res(snap, "auto")["update"]["files"] == [str(src / "a.py")]
        assert res(snap, "man")["dirty"] is True
        assert res(snap, "man")["pending_files"] == ["src/gen/out.py", "src/a.py"]
        assert res(snap, "man")["update"]["count"] == 1

    interactive(eng, body)


def test_reload_updates_changed_stops_removed_and_survives_a_broken_tiltfile(
    tmp_path: Path,
) -> None:
    tf = tmp_path / "Tiltfile"
    eng = make(
        tmp_path,
        """
local_resource("same", cmd="echo same >> runs")
local_resource("changed", cmd="echo v1 >> runs")
local_resource("gone", serve_cmd="echo $$ > gone.pid; exec sleep 30")
""",
    )

    def reload() -> None:
        eng.post(FilesChanged(paths=frozenset({str(tf)}), at=time.time()))

    async def body(eng: Engine) -> None:
        await until(eng, lambda s: all(r["ready"] for r in s["resources"]))
        gone_pid = int((tmp_path / "gone.pid").read_text())
        tf.write_text(
            'local_resource("same", cmd="echo same >> runs")\n'
            'local_resource("changed", cmd="echo v2 >> runs")\n'
        )
        reload()
        await until(eng, lambda s: s["tiltfile"]["load_count"] == 2)
        await until(eng, lambda s: res(s, "changed")["update"]["count"] == 2)
        await until(eng, lambda s: res(s, "changed")["ready"])
        assert [r["name"] for r in eng.snapshot()["resources"]] == ["same", "changed"]
        await until(eng, lambda s: not pid_alive(gone_pid))
        assert res(eng.snapshot(), "same")["update"]["count"] == 1
        # A broken Tiltfile: the error shows, the last good graph stays.
        tf.write_text('local_resource("same", cmd="echo same >> runs")\nboom()\n')
        reload()
        await until(eng, lambda s: s["tiltfile"]["status"] == "error")
        snap = eng.snapshot()
        assert [r["name"] for r in snap["resources"]] == ["same", "changed"]
        assert "Tiltfile:2:1" in snap["tiltfile"]["error"]
        assert all(r["ready"] for r in snap["resources"])

    interactive(eng, body)
    assert (tmp_path / "runs").read_text().split() == ["same", "v1", "v2"]


def test_ci_readiness_timeout_from_ci_settings(tmp_path: Path) -> None:
    port = free_port()
    eng = ci(
        tmp_path,
        f"""
ci_settings(readiness_timeout="1s")
local_resource("s", serve_cmd="sleep 30",
    readiness_probe=probe(period_secs=1, tcp_socket=tcp_socket_action({port}, host="127.0.0.1")))
""",
    )
    assert eng.ci_outcome is not None
    assert eng.ci_outcome.resource == "s"
    assert eng.ci_outcome.message.startswith("not ready after 1s (ci_settings readiness_timeout)")
