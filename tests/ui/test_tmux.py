"""The real `tilt up -f Tiltfile.example` in tmux: select the manual resource, trigger it.

Drives the terminal like a user (send-keys) and reads the screen (capture-pane),
waiting on screen content with a deadline, never on fixed sleeps.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _needs_tmux() -> None:
    # CI (.ci/run installs tmux) must run this test, never skip it.
    if shutil.which("tmux") is None:
        if os.environ.get("TILT_TEST_REQUIRE_DOCKER") == "1":
            pytest.fail("tmux is required in CI (.ci/run installs it)")
        pytest.skip("tmux is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tmux:
    """One private tmux server (its own socket) running one session."""

    def __init__(self, socket_name: str) -> None:
        self.socket = socket_name

    def run(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tilt")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "tilt", *keys)

    def alive(self) -> bool:
        return "tilt" in self.run("list-sessions", "-F", "#{session_name}")

    def wait(self, what: str, cond: Callable[[str], bool], timeout_s: float = 30) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            text = self.screen()
            if cond(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
            time.sleep(0.05)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux(f"tilt-test-{uuid.uuid4().hex[:8]}")
    yield t
    t.run("kill-server")


def row(screen: str, name: str) -> str:
    return next((ln for ln in screen.splitlines() if re.match(rf"\s*{name}\s", ln)), "")


@pytest.mark.timeout(90)
def test_tilt_up_in_tmux_select_and_trigger_manual_resource(tmux: Tmux, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "EXAMPLE_API_PORT": str(port),
        "TERM": "xterm-256color",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    done = tmp_path / "exit-code"
    cmd = (
        # COLUMNS/LINES (set by some runners) would override the pane's real size.
        f"cd {REPO} && env -u COLUMNS -u LINES {exports} {sys.executable} -m tilt up"
        f" -f Tiltfile.example --port 0; echo $? > {done}; sleep 600"
    )
    tmux.run("new-session", "-d", "-s", "tilt", "-x", "120", "-y", "40", cmd)

    # Every resource listed, api up (report needs it), report waiting for a trigger.
    tmux.wait(
        "api ready",
        lambda s: "✔ ready" in row(s, "api") and "manual" in row(s, "report"),
        timeout_s=45,
    )
    for _ in range(4):  # (Tiltfile), tests, api, worker, report
        tmux.keys("j")
    tmux.wait("report selected", lambda s: bool(re.search(r"^\s*report\s+local · manual", s, re.M)))
    tmux.keys("l")  # scope the log to report
    tmux.wait("log scoped", lambda s: "Logs: report" in s)
    tmux.keys("t")
    screen = tmux.wait(
        "report ran",
        lambda s: "✔ ok" in row(s, "report") and "job(s) so far" in s,
        timeout_s=30,
    )
    assert "report: Hello, Tiltfile.example!" in screen, screen

    tmux.keys("q")
    tmux.wait("quit question", lambda s: "Quit tilt?" in s)
    tmux.keys("y")
    deadline = time.monotonic() + 30
    while not done.exists():
        assert time.monotonic() < deadline, f"tilt did not exit; screen:\n{tmux.screen()}"
        time.sleep(0.05)
    while not done.read_text().strip():
        time.sleep(0.01)
    assert done.read_text().strip() == "0"
    # Everything it ran is stopped: nothing listens on the api's port any more
    # (SO_REUSEADDR: the closed connections' TIME_WAIT does not count).
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
