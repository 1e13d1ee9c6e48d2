"""Output and terminals: failing or stalled stdout, escape sequences, the TUI's stream.

Real `tilt` processes, real pipes, a real pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.commands.test_cli import alive, wait_for
from tests.conftest import run_tilt, write_tree
from tests.engine.test_engine import free_port
from tilt.stream import terminal_safe

ESC = "\x1b"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("plain text", "plain text"),
        ("tab\tkept", "tab\tkept"),
        (f"{ESC}[31mred{ESC}[0m", f"{ESC}[31mred{ESC}[0m"),
        (f"{ESC}[1;38;5;208mbold{ESC}[m", f"{ESC}[1;38;5;208mbold{ESC}[m"),
        (f"a{ESC}]0;evil title\x07b", "ab"),
        (f"a{ESC}]52;c;ZXZpbA==\x07b", "ab"),
        (f"a{ESC}]52;c;ZXZpbA=={ESC}\\b", "ab"),
        (f"a{ESC}[2Jb{ESC}[H{ESC}[3;4Hc", "abc"),
        (f"a{ESC}[?1049hb{ESC}[?25lc", "abc"),
        (f"a{ESC}Pq#0;2;0;0;0{ESC}\\b", "ab"),
        (f"a{ESC}cb{ESC}7c{ESC}(0d", "abcd"),
        ("a\x9b2Jb\x07c\x08d\re\x00f", "abcdef"),
        (f"unterminated {ESC}]0;title", "unterminated "),
        (f"lone {ESC}", "lone "),
    ],
)
def test_terminal_safe_keeps_only_sgr(raw: str, safe: str) -> None:
    assert terminal_safe(raw) == safe


HOSTILE = r"printf 'x\033]0;PWNED-TITLE\007y\033]52;c;Y2xpcA==\007z\033[2J\033[31mred\033[0m\n'"


def test_stream_logs_and_get_strip_control_sequences(tmp_path: Path) -> None:
    port = free_port()
    write_tree(
        tmp_path,
        {
            "Tiltfile": f'local_resource("evil", serve_cmd="{HOSTILE}; sleep 60")\n'
            'local_resource("bad", cmd="exit 3 # \\x1b]0;T2\\x07")\n'
        },
    )
    env = {**os.environ, "TILT_DEV_DIR": str(tmp_path / ".dev"), "TILT_PORT": str(port)}
    out = tmp_path / "up.out"
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tilt", "up", "--stream"],
            cwd=tmp_path,
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "xyz" in out.read_text(errors="replace"), what="the line")
        sub_env = {"TILT_DEV_DIR": env["TILT_DEV_DIR"], "TILT_PORT": str(port)}
        wait_for(
            lambda: "exit status 3" in run_tilt("get", cwd=tmp_path, env=sub_env).stdout,
            what="bad failed",
        )
        logs = run_tilt("logs", "evil", cwd=tmp_path, env=sub_env).stdout
        table = run_tilt("get", cwd=tmp_path, env=sub_env).stdout
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    streamed = out.read_text(errors="replace")
    for text in (streamed, logs, table):
        assert "\x1b]" not in text
        assert "\x07" not in text
        assert "\x1b[2J" not in text
    for text in (streamed, logs):
        assert f"xyz{ESC}[31mred{ESC}[0m" in text  # colours stay


def test_a_failing_stdout_loses_no_line_and_reports_once(tmp_path: Path) -> None:
    port = free_port()
    write_tree(tmp_path, {"Tiltfile": 'local_resource("flood", cmd="seq 1 30000")\n'})
    env = {**os.environ, "TILT_DEV_DIR": str(tmp_path / ".dev"), "TILT_PORT": str(port)}
    sub_env = {"TILT_DEV_DIR": env["TILT_DEV_DIR"], "TILT_PORT": str(port)}
    err = tmp_path / "up.err"
    with open("/dev/full", "wb") as full, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tilt", "up", "--stream"],
            cwd=tmp_path,
            env=env,
            stdout=full,
            stderr=e,
        )
    try:
        wait_for(
            lambda: (
                '"status": "ok"' in run_tilt("get", "-o", "json", cwd=tmp_path, env=sub_env).stdout
                and "30000"
                in run_tilt("logs", "flood", "--tail", "1", cwd=tmp_path, env=sub_env).stdout
            ),
            what="the flood done",
            timeout=60,
        )
        lines = run_tilt("logs", "flood", cwd=tmp_path, env=sub_env).stdout.splitlines()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    numbers = [ln.split("│ ", 1)[1] for ln in lines if ln.split("│ ", 1)[-1].isdigit()]
    assert numbers == [str(i) for i in range(1, 30001)]
    stderr = err.read_text()
    assert "Traceback" not in stderr
    assert stderr.count("cannot write to the output") == 1
    assert "No space left on device" in stderr


def _pipe_fill(fd: int) -> int:
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stalled_stdout_does_not_block_signals(tmp_path: Path, sig: signal.Signals) -> None:
    write_tree(
        tmp_path,
        {"Tiltfile": 'local_resource("flood", serve_cmd="echo $$ > flood.pid; exec yes line")\n'},
    )
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tilt", "up", "--stream", "--port", "0"],
        cwd=tmp_path,
        stdout=w,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TILT_DEV_DIR": str(tmp_path / ".dev")},
    )
    os.close(w)
    try:
        # Nobody reads: the pipe fills up (to about 60 KB of its 64) and stays full.
        wait_for(lambda: _pipe_fill(r) >= 48 * 1024, what="a full pipe")
        wait_for((tmp_path / "flood.pid").exists, what="the flood")
        pid = int((tmp_path / "flood.pid").read_text())
        proc.send_signal(sig)
        proc.wait(30)
        assert not alive(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(r)


def test_the_tui_draws_on_the_terminal_when_stderr_is_redirected(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Tiltfile": 'local_resource("hello-tui", cmd="true")\n'})
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")  # 24x80
    proc = subprocess.Popen(
        [sys.executable, "-m", "tilt", "up", "--port", "0"],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TILT_DEV_DIR": str(tmp_path / ".dev"), "TERM": "xterm-256color"},
    )
    os.close(slave)
    seen = b""
    try:

        def drawn() -> bool:
            nonlocal seen
            while select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                seen += chunk
            return b"hello-tui" in seen

        wait_for(drawn, what="the TUI on the terminal", timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
