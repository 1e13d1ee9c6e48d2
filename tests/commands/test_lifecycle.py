"""Tokens, SIGHUP, zombies, bad arguments: real `tilt` processes and real files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.commands.test_cli import alive, wait_for
from tests.conftest import run_tilt, write_tree
from tests.engine.test_engine import free_port


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _start_up(tmp_path: Path, port: int, dev: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / "up.out"
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tilt", "up", "--stream", "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ, "TILT_DEV_DIR": str(dev)},
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    return proc, out


def test_stale_token_files_are_removed_at_start(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir(mode=0o700)
    # Left by a tilt that was SIGKILLed (its pid is gone) ...
    dead = free_port()
    (dev / f"token-{dead}").write_text(f"secret\n{_dead_pid()}\n")
    # ... by an older tilt (no pid) whose port nobody serves ...
    old = free_port()
    (dev / f"token-{old}").write_text("secret\n")
    # ... and a half-written one.
    (dev / f"token-{dead}.{_dead_pid()}.tmp").write_text("sec")
    # A live one: its writer (this test) runs and its port answers.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        live = listener.getsockname()[1]
        (dev / f"token-{live}").write_text(f"secret\n{os.getpid()}\n")
        write_tree(tmp_path, {"Tiltfile": 'local_resource("a", cmd="true")\n'})
        port = free_port()
        proc, _out = _start_up(tmp_path, port, dev)
        try:
            wait_for((dev / f"token-{port}").exists, what="tilt up's token")
            assert sorted(p.name for p in dev.iterdir()) == sorted(
                [f"token-{live}", f"token-{port}"]
            )
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    assert not (dev / f"token-{port}").exists()


def test_sighup_stops_everything_cleanly(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    write_tree(
        tmp_path, {"Tiltfile": 'local_resource("s", serve_cmd="echo $$ > s.pid; exec sleep 60")\n'}
    )
    port = free_port()
    proc, out = _start_up(tmp_path, port, dev)
    try:
        wait_for(lambda: (tmp_path / "s.pid").exists() and (dev / f"token-{port}").exists())
        pid = int((tmp_path / "s.pid").read_text())
        proc.send_signal(signal.SIGHUP)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.read_text()
    assert "Received SIGHUP" in text
    assert "Stopping" in text  # the serve_cmd was stopped by tilt, not by the guardian
    assert not alive(pid)
    assert not (dev / f"token-{port}").exists()


def test_an_unwritable_token_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    write_tree(tmp_path, {"Tiltfile": 'local_resource("a", cmd="true")\n'})
    r = run_tilt(
        "up",
        "--stream",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        env={"TILT_DEV_DIR": str(tmp_path / "not-a-dir" / "sub")},
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("Error: cannot write the API token to ")
    assert "Not a directory" in line


@pytest.mark.parametrize("port", ["-1", "70000", "http"])
def test_a_bad_port_is_one_clear_error(tmp_path: Path, port: str) -> None:
    for cmd in ("up", "ci", "get"):
        r = run_tilt(cmd, f"--port={port}", cwd=tmp_path)
        assert r.returncode == 2
        assert "Traceback" not in r.stderr
        assert "argument --port:" in r.stderr.strip().splitlines()[-1]


def test_a_bad_tilt_port_is_one_clear_error(tmp_path: Path) -> None:
    r = run_tilt("get", cwd=tmp_path, env={"TILT_PORT": "99999"})
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "Error: TILT_PORT must be a port number from 0 to 65535 (0: no API), not 99999"
    )


@pytest.mark.parametrize(
    "call", ['read_file("a\\x00b")', 'local("echo \\x00")', 'read_yaml("x\\x00.yaml")']
)
def test_a_nul_character_is_a_clear_tiltfile_error(tmp_path: Path, call: str) -> None:
    write_tree(tmp_path, {"Tiltfile": f"x = {call}\n"})
    r = run_tilt("dump", "tiltfile", cwd=tmp_path)
    assert r.returncode == 1
    assert "ValueError" not in r.stderr and "null byte" not in r.stderr
    assert "contains a NUL character" in r.stderr.splitlines()[0]
    assert "Tiltfile:1:" in r.stderr.splitlines()[0]


ZOMBIE_SCRIPT = textwrap.dedent(
    """
    import asyncio, ctypes, sys
    # Orphans become our children and we never reap them: like a PID 1 without init.
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    from tilt.process import ProcessSupervisor

    async def main() -> None:
        sup = ProcessSupervisor(grace_period_s=60)
        out = []
        proc = await sup.start(
            ["sh", "-c", "sleep 1000 & echo started; exec sleep 1000"],
            cwd="/", on_output=out.append,
        )
        while "started" not in out:
            await asyncio.sleep(0.01)
        await proc.stop()
        print("\\n".join(out), flush=True)

    asyncio.run(main())
    """
)


def test_a_zombie_in_the_group_counts_as_gone(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", ZOMBIE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "SIGTERM to process group" in r.stdout
    # The background sleep is a zombie nobody reaps: waiting for it would take
    # the whole 60 s grace and end in SIGKILL.
    assert "SIGKILL" not in r.stdout
    assert "stopped" in r.stdout


def test_stdin_mode_pty_gives_cmd_and_serve_cmd_a_terminal_on_stdin(tmp_path: Path) -> None:
    # `[ -t 0 ]` fails on /dev/null; with stdin_mode='pty' both commands see a terminal.
    write_tree(
        tmp_path,
        {
            "Tiltfile": (
                "local_resource('tty', cmd='[ -t 0 ] && echo cmd-has-a-tty', stdin_mode='pty',\n"
                "    serve_cmd='[ -t 0 ] && echo serve-has-a-tty && touch up && exec sleep 60',\n"
                "    serve_stdin_mode='pty',\n"
                "    readiness_probe=probe(exec=exec_action(['test', '-f', 'up'])))\n"
                "local_resource('plain', cmd='[ -t 0 ] || echo cmd-has-no-tty')\n"
            )
        },
    )
    r = run_tilt("ci", "--port", str(free_port()), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ("cmd-has-a-tty", "serve-has-a-tty", "cmd-has-no-tty"):
        assert line in r.stdout
