"""Process supervision with real processes: groups, stopping, output, no leaks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tilt.process import (
    MAX_LINE_CHARS,
    CommandNotFoundError,
    ExitStatus,
    ProcessSupervisor,
)

T = TypeVar("T")
PY = sys.executable


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def pids_with_marker(marker: str) -> list[int]:
    """Live (non-zombie) processes whose argv or environment holds ``marker``."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read()
            except PermissionError:
                environ = b""
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if marker.encode() in cmdline or marker.encode() in environ:
            found.append(int(entry))
    return found


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_output_lines_exit_code_env_and_cwd(tmp_path: Path) -> None:
    async def main() -> tuple[list[str], ExitStatus]:
        sup = ProcessSupervisor()
        out: list[str] = []
        p = await sup.start(
            ["sh", "-c", 'echo "one"; echo "two $GREETING" >&2; pwd; printf "no newline"; exit 3'],
            cwd=str(tmp_path),
            env={"GREETING": "hi"},
            on_output=out.append,
        )
        assert p.pgid == p.pid
        status = await p.wait()
        assert not p.running
        return out, status

    out, status = run(main())
    assert out == ["one", "two hi", str(tmp_path), "no newline"]
    assert status == ExitStatus(returncode=3, signal=None, stopped_by_us=False)
    assert status.describe() == "exit code 3"


def test_env_adds_to_the_environment(tmp_path: Path) -> None:
    async def main() -> list[str]:
        out: list[str] = []
        p = await ProcessSupervisor().start(
            ["sh", "-c", 'echo "$PATH" | grep -c . ; echo "$EXTRA"'],
            cwd=str(tmp_path),
            env={"EXTRA": "x"},
            on_output=out.append,
        )
        await p.wait()
        return out

    assert run(main()) == ["1", "x"]


def test_stdin_is_dev_null_or_with_stdin_pty_a_terminal(tmp_path: Path) -> None:
    # stdin_mode='pty': isatty(0) holds (docker run -it needs it); the pty is closed after.
    script = "if [ -t 0 ]; then echo tty; else echo notty; fi; echo to-the-tty >&0; echo done"

    async def main(pty: bool) -> list[str]:
        out: list[str] = []
        sup = ProcessSupervisor()
        p = await sup.start(
            ["sh", "-c", script], cwd=str(tmp_path), on_output=out.append, stdin_pty=pty
        )
        await p.wait()
        # Released once the group is gone: the pty's end in tilt is closed by then.
        for _ in range(200):
            if not sup.processes:
                break
            await asyncio.sleep(0.01)
        return out

    before = set(os.listdir("/proc/self/fd"))
    assert run(main(True)) == ["tty", "done"]
    assert set(os.listdir("/proc/self/fd")) <= before  # no pty end left open
    assert run(main(False))[0] == "notty"


def test_child_has_its_own_process_group_and_session(tmp_path: Path) -> None:
    async def main() -> tuple[int, int, list[str]]:
        out: list[str] = []
        p = await ProcessSupervisor().start(
            [PY, "-c", "import os; print(os.getpgrp(), os.getsid(0))"],
            cwd=str(tmp_path),
            on_output=out.append,
        )
        await p.wait()
        return p.pid, p.pgid, out

    pid, pgid, out = run(main())
    child_pgrp, child_sid = (int(x) for x in out[0].split())
    assert child_pgrp == pid == pgid == child_sid
    assert child_pgrp != os.getpgrp()


def test_stop_term_then_kill_a_child_that_traps_term(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: print("got TERM, ignoring", flush=True))
        print("ready", flush=True)
        time.sleep(60)
        """
    )

    async def main() -> tuple[ExitStatus, float, list[str], list[str]]:
        sup = ProcessSupervisor(grace_period_s=0.5)
        out: list[str] = []
        system: list[str] = []
        ready = asyncio.Event()

        def on_output(line: str) -> None:
            out.append(line)
            if line == "ready":
                ready.set()

        p = await sup.start(
            [PY, "-c", script], cwd=str(tmp_path), on_output=on_output, on_system=system.append
        )
        await asyncio.wait_for(ready.wait(), 10)
        t0 = time.monotonic()
        status = await p.stop()
        took = time.monotonic() - t0
        assert await p.stop() == status  # idempotent
        assert sup.processes == []
        return status, took, out, system

    status, took, out, system = run(main())
    assert status.signal == signal.SIGKILL and status.stopped_by_us
    assert status.describe() == "killed by SIGKILL"
    assert 0.45 <= took < 3.0
    assert "got TERM, ignoring" in out
    assert "SIGTERM to process group" in system[0]
    assert "still running after 0.5s: SIGKILL to process group" in system[1]
    assert "stopped (killed by SIGKILL)" in system[2]


def test_stop_a_well_behaved_child_is_quick(tmp_path: Path) -> None:
    async def main() -> tuple[ExitStatus, float]:
        sup = ProcessSupervisor(grace_period_s=5)
        p = await sup.start(["sleep", "60"], cwd=str(tmp_path), on_output=lambda _: None)
        t0 = time.monotonic()
        status = await p.stop()
        return status, time.monotonic() - t0

    status, took = run(main())
    assert status.signal == signal.SIGTERM and status.stopped_by_us
    assert took < 1.0


def test_stop_kills_grandchildren_in_the_group(tmp_path: Path) -> None:
    marker = f"tilt-test-{uuid.uuid4().hex}"

    async def main() -> list[int]:
        sup = ProcessSupervisor(grace_period_s=1)
        out: list[str] = []
        p = await sup.start(
            ["sh", "-c", f"sleep 61 & sleep 62 & echo started; wait # {marker}"],
            cwd=str(tmp_path),
            env={"TILT_TEST_MARKER": marker},
            on_output=out.append,
        )
        while "started" not in out:
            await asyncio.sleep(0.01)
        before = pids_with_marker(marker)
        await p.stop()
        return before

    before = run(main())
    assert len(before) == 3  # sh and its two sleeps
    assert wait_until(lambda: pids_with_marker(marker) == [], 5)


def test_group_outliving_its_leader_is_stopped(tmp_path: Path) -> None:
    """A cmd that backgrounds a daemon exits; stop_all still stops the daemon."""
    marker = f"tilt-test-{uuid.uuid4().hex}"

    async def main() -> tuple[ExitStatus, list[int]]:
        sup = ProcessSupervisor(grace_period_s=1)
        p = await sup.start(
            ["sh", "-c", "sleep 63 >/dev/null 2>&1 &"],
            cwd=str(tmp_path),
            env={"TILT_TEST_MARKER": marker},
            on_output=lambda _: None,
        )
        status = await p.wait()
        alive = pids_with_marker(marker)
        assert p.group_alive
        await sup.stop_all()
        return status, alive

    status, alive = run(main())
    assert status.returncode == 0 and not status.stopped_by_us
    assert len(alive) == 1
    assert wait_until(lambda: pids_with_marker(marker) == [], 5)


def test_binary_and_invalid_utf8_output(tmp_path: Path) -> None:
    async def main() -> tuple[list[str], list[str], ExitStatus]:
        sup = ProcessSupervisor()
        out: list[str] = []
        p = await sup.start(
            [
                PY,
                "-c",
                r"import sys; sys.stdout.buffer.write(b'\xff\xfeok\r\nh\xc3\xa9\n\xe2\x82')",
            ],
            cwd=str(tmp_path),
            on_output=out.append,
        )
        await p.wait()
        junk: list[str] = []
        q = await sup.start(
            ["head", "-c", "200000", "/dev/urandom"], cwd=str(tmp_path), on_output=junk.append
        )
        return out, junk, await q.wait()

    out, junk, status = run(main())
    assert out == ["\ufffd\ufffdok", "h\u00e9", "\ufffd"]
    assert status.returncode == 0
    assert sum(len(x) for x in junk) > 100_000


def test_one_megabyte_line_is_delivered_in_pieces(tmp_path: Path) -> None:
    async def main() -> list[str]:
        out: list[str] = []
        p = await ProcessSupervisor().start(
            [PY, "-c", "import sys; sys.stdout.write('a' * 1_000_000 + '\\nend\\n')"],
            cwd=str(tmp_path),
            on_output=out.append,
        )
        await p.wait()
        return out

    out = run(main())
    assert out[-1] == "end"
    pieces = out[:-1]
    assert "".join(pieces) == "a" * 1_000_000
    assert max(len(x) for x in pieces) == MAX_LINE_CHARS
    assert len(pieces) == -(-1_000_000 // MAX_LINE_CHARS)


def test_slow_consumer_blocks_the_child(tmp_path: Path) -> None:
    """Backpressure: while on_output is slow, the child cannot run ahead."""
    done = tmp_path / "done"
    script = textwrap.dedent(
        f"""
        import sys
        w = sys.stdout.buffer.write
        for i in range(50_000):
            w(b"x" * 1000 + b"\\n")
        sys.stdout.flush()
        open({str(done)!r}, "w").close()
        """
    )

    async def main() -> tuple[int, bool, ExitStatus]:
        count = 0
        done_early = False

        def on_output(line: str) -> None:
            nonlocal count, done_early
            count += 1
            if count <= 100:
                time.sleep(0.003)  # a slow consumer (blocks the loop, like real work)
            if count == 100:
                done_early = done.exists()

        p = await ProcessSupervisor().start(
            [PY, "-c", script], cwd=str(tmp_path), on_output=on_output
        )
        status = await p.wait()
        return count, done_early, status

    count, done_early, status = run(main())
    assert not done_early  # 50 MB could not have been written past a full pipe
    assert count == 50_000
    assert status.returncode == 0 and done.exists()


def test_command_not_found_and_bad_cwd(tmp_path: Path) -> None:
    async def main() -> None:
        sup = ProcessSupervisor()
        with pytest.raises(CommandNotFoundError, match="command not found: no-such-cmd-xyz") as ei:
            await sup.start(["no-such-cmd-xyz", "arg"], cwd=str(tmp_path), on_output=print)
        assert isinstance(ei.value, FileNotFoundError)
        assert ei.value.command == "no-such-cmd-xyz"
        with pytest.raises(FileNotFoundError, match="working directory does not exist"):
            await sup.start(["true"], cwd=str(tmp_path / "missing"), on_output=print)
        script = tmp_path / "noexec.sh"
        script.write_text("#!/bin/sh\necho hi\n")
        with pytest.raises(PermissionError, match="permission denied"):
            await sup.start([str(script)], cwd=str(tmp_path), on_output=print)
        assert sup.processes == []

    run(main())


def test_stop_all_and_kill_all_now(tmp_path: Path) -> None:
    marker = f"tilt-test-{uuid.uuid4().hex}"

    async def main() -> None:
        sup = ProcessSupervisor(grace_period_s=2)
        env = {"TILT_TEST_MARKER": marker}
        procs = [
            await sup.start(["sleep", "60"], cwd=str(tmp_path), env=env, on_output=print)
            for _ in range(3)
        ]
        assert len(pids_with_marker(marker)) == 3
        t0 = time.monotonic()
        await sup.stop_all()
        assert time.monotonic() - t0 < 1.5
        assert all(not p.running for p in procs)
        assert sup.processes == []

        more = [
            await sup.start(["sleep", "60"], cwd=str(tmp_path), env=env, on_output=print)
            for _ in range(2)
        ]
        sup.kill_all_now()
        statuses = [await p.wait() for p in more]
        assert all(s.signal == signal.SIGKILL and s.stopped_by_us for s in statuses)

    run(main())
    assert wait_until(lambda: pids_with_marker(marker) == [], 5)


PARENT = textwrap.dedent(
    """
    import asyncio, os, sys
    from tilt.process import ProcessSupervisor

    MARK = sys.argv[1]
    TRAP = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "time.sleep(300)"
    )

    async def main():
        sup = ProcessSupervisor(grace_period_s=float(sys.argv[2]))
        env = {"TILT_TEST_MARKER": MARK}
        # a child with two grandchildren, and a child that ignores SIGTERM
        await sup.start(["sh", "-c", "sleep 301 & sleep 302 & wait"], cwd="/", env=env,
                        on_output=print)
        await sup.start([sys.executable, "-c", TRAP], cwd="/", env=env, on_output=print)
        print("ready", flush=True)
        if sys.argv[3] == "exit":
            # leave without stopping anything, when the test says so
            await asyncio.to_thread(sys.stdin.readline)
            return
        await asyncio.sleep(300)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_no_survivors_when_the_parent_dies(tmp_path: Path, how: str) -> None:
    marker = f"tilt-test-{uuid.uuid4().hex}"
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen(
        [PY, str(script), marker, "0.5", how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def survivors() -> list[int]:
        return [p for p in pids_with_marker(marker) if p != parent.pid]

    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "ready"
        # sh + 2 grandchildren + the TERM-ignoring child
        assert wait_until(lambda: len(survivors()) == 4, 5), survivors()
        if how == "sigkill":
            parent.send_signal(signal.SIGKILL)
        else:
            assert parent.stdin is not None
            parent.stdin.write("exit\n")
            parent.stdin.flush()
        assert parent.wait(10) == (-signal.SIGKILL if how == "sigkill" else 0)
        # The TERM-ignoring child needs the guardian's SIGKILL after 0.5 s.
        assert wait_until(lambda: survivors() == [], 5), survivors()
    finally:
        parent.kill()
        parent.wait()
        assert parent.stdout is not None and parent.stdin is not None
        parent.stdout.close()
        parent.stdin.close()
        for pid in pids_with_marker(marker):
            os.kill(pid, signal.SIGKILL)


def test_guardian_stops_a_marked_child_it_never_heard_of(tmp_path: Path) -> None:
    # tilt registers a group right after starting its child; a SIGKILL in between leaves
    # the guardian with only the environment mark to find it by.
    import tilt._guardian

    marker = f"tilt-test-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    guardian = subprocess.Popen(
        [PY, "-I", "-S", tilt._guardian.__file__, "0.5", token], stdin=subprocess.PIPE
    )
    env = {**os.environ, "TILT_TEST_MARKER": marker, "TILT_GUARDIAN": token}
    child = subprocess.Popen(["sh", "-c", "sleep 303 & wait"], env=env, start_new_session=True)
    try:
        assert wait_until(lambda: len(pids_with_marker(marker)) == 2, 5)
        assert guardian.stdin is not None
        guardian.stdin.close()  # tilt is gone, never having registered the child
        assert guardian.wait(10) == 0
        assert wait_until(lambda: pids_with_marker(marker) == [], 5), pids_with_marker(marker)
        assert child.wait(5) == -signal.SIGTERM
    finally:
        guardian.kill()
        guardian.wait()
        for pid in pids_with_marker(marker):
            os.kill(pid, signal.SIGKILL)
        child.wait()
