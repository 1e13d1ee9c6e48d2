"""The real `tilt` command: up (streaming), ci, get, trigger, cancel, logs, down, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import run_tilt, write_tree
from tests.engine.test_engine import free_port


def wait_for(cond: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Up:
    """A `tilt up` running in the background, its output in a file."""

    def __init__(self, cwd: Path, port: int, *args: str) -> None:
        self.cwd = cwd
        self.port = port
        self.env = {**os.environ, "TILT_DEV_DIR": str(cwd / ".dev"), "TILT_PORT": str(port)}
        self.out = cwd / "up.out"
        with self.out.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tilt", "up", *args],
                cwd=cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def tilt(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_tilt(
            *args, cwd=self.cwd, env={k: self.env[k] for k in ("TILT_DEV_DIR", "TILT_PORT")}
        )

    def snapshot(self) -> dict:  # type: ignore[type-arg]
        r = self.tilt("get", "-o", "json")
        return json.loads(r.stdout) if r.returncode == 0 else {"resources": []}

    def res(self, name: str) -> dict:  # type: ignore[type-arg]
        for r in self.snapshot()["resources"]:
            if r["name"] == name:
                return r  # type: ignore[no-any-return]
        return {}

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Callable[..., Up]]:
    started: list[Up] = []

    def start(tiltfile: str, *args: str, files: dict[str, str] | None = None) -> Up:
        write_tree(tmp_path, {"Tiltfile": tiltfile, **(files or {})})
        u = Up(tmp_path, free_port(), *args)
        started.append(u)
        return u

    yield start
    for u in started:
        u.stop()


def test_up_get_trigger_logs_down(up: Callable[..., Up]) -> None:
    u = up(
        """
local_resource("a", cmd="echo hello-from-a", deps=["src"])
local_resource("m", cmd="echo manual-ran", trigger_mode=TRIGGER_MODE_MANUAL, auto_init=False)
""",
        files={"src/x.txt": "1"},
    )
    wait_for(lambda: u.res("a").get("status") == "ready", what="a ready")
    table = u.tilt("get").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "STATUS", "UPDATE"]
    assert table[1].split()[:3] == ["a", "ready", "ok"]
    assert table[2].split()[:2] == ["m", "idle"]

    r = u.tilt("trigger", "m")
    assert (r.returncode, r.stdout.strip()) == (0, "triggered an update of m")
    wait_for(lambda: u.res("m").get("update", {}).get("status") == "ok", what="m ran")

    r = u.tilt("trigger", "nope")
    assert r.returncode == 1
    assert r.stderr.startswith("Error: no resource named 'nope' (resources: a, m)")
    r = u.tilt("cancel", "a")
    assert (r.returncode, r.stderr.strip()) == (
        1,
        "Error: resource 'a' has no update running or queued",
    )

    logs = u.tilt("logs", "m").stdout.splitlines()
    assert "            m │ manual-ran" in logs
    assert not any("hello-from-a" in ln for ln in logs)

    r = u.tilt("down")
    assert (r.returncode, r.stdout.strip()) == (0, "shutting down")
    assert u.proc.wait(15) == 0
    assert not (u.cwd / ".dev" / f"token-{u.port}").exists()
    out = u.output()
    assert "            a │ hello-from-a" in out
    assert "            m │ manual-ran" in out


def test_up_names_runs_only_those_and_their_deps(up: Callable[..., Up]) -> None:
    u = up(
        """
local_resource("base", cmd="echo base-ran")
local_resource("app", cmd="echo app-ran", resource_deps=["base"])
local_resource("other", cmd="echo other-ran")
""",
        "app",
    )
    wait_for(lambda: u.res("app").get("status") == "ready", what="app ready")
    assert u.res("base")["status"] == "ready"
    assert u.res("other")["status"] == "disabled"
    assert "other-ran" not in u.output()


def test_file_change_updates_only_matching_resource(up: Callable[..., Up], tmp_path: Path) -> None:
    u = up(
        """
local_resource("a", cmd="echo a-ran", deps=["a"])
local_resource("b", cmd="echo b-ran", deps=["b"], ignore=["b/*.tmp"])
""",
        files={"a/f.txt": "1", "b/f.txt": "1"},
    )
    wait_for(lambda: u.res("b").get("status") == "ready" and u.res("a").get("status") == "ready")
    (tmp_path / "b" / "junk.tmp").write_text("x")
    (tmp_path / "a" / "f.txt").write_text("2")
    wait_for(lambda: u.res("a")["update"]["count"] == 2, what="a updated")
    assert u.res("a")["update"]["reason"] == "1 File Changed: [a/f.txt]"
    assert u.res("b")["update"]["count"] == 1


def test_get_without_up(tmp_path: Path) -> None:
    r = run_tilt("get", "--port", "1", cwd=tmp_path, env={"TILT_DEV_DIR": str(tmp_path)})
    assert r.returncode == 1
    assert r.stderr.startswith("Error: no `tilt up` is running on port 1")


def test_ci_success_and_failure(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Tiltfile": 'local_resource("ok", cmd="echo fine")\n'})
    r = run_tilt("ci", "--port", "0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "           ok │ fine" in r.stdout.splitlines()
    assert r.stdout.endswith("SUCCESS. All workloads are healthy.\n")

    write_tree(
        tmp_path,
        {
            "Tiltfile": 'local_resource("ok", cmd="echo fine")\n'
            'local_resource("bad", cmd="echo line1; echo line2; exit 2", resource_deps=["ok"])\n'
        },
    )
    r = run_tilt("ci", "--port", "0", cwd=tmp_path)
    assert r.returncode == 1
    err = r.stderr.splitlines()
    assert err[0] == "Last lines of bad:"
    assert "          bad │ line2" in err
    assert err[-1] == (
        "Error: resource 'bad' failed: Command \"echo line1; echo line2; exit 2\" "
        "failed: exit status 2"
    )


def test_ci_broken_tiltfile_and_timeout(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Tiltfile": "local_resource(\n"})
    r = run_tilt("ci", "--port", "0", cwd=tmp_path)
    assert r.returncode == 1
    assert "Error: resource '(Tiltfile)' failed: Error: " in r.stderr

    write_tree(tmp_path, {"Tiltfile": 'local_resource("s", cmd="sleep 30")\n'})
    # The timeout must outlast the Tiltfile's load (a fresh worker process) on a busy
    # machine, so that `s` is known and running when it fires.
    r = run_tilt("ci", "--port", "0", "--timeout", "5s", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "Error: Timeout after 5s; not ready: s (updating)"


# ---- nothing outlives tilt -----------------------------------------------------------------

SPAWNER = (
    "sleep 300 & echo $! >> {f}; "  # a grandchild
    "echo $$ >> {f}; wait"
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_process_survives_tilt(up: Callable[..., Up], tmp_path: Path, sig: int) -> None:
    u = up(
        f"""
local_resource("srv", serve_cmd="{SPAWNER.format(f="pids")}")
local_resource("upd", cmd="{SPAWNER.format(f="pids")}", allow_parallel=True)
"""
    )
    pidfile = tmp_path / "pids"
    wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 4, what="4 processes")
    pids = [int(p) for p in pidfile.read_text().split()]
    assert all(alive(p) for p in pids)
    u.proc.send_signal(sig)
    u.proc.wait(15)
    wait_for(lambda: not any(alive(p) for p in pids), timeout=15, what="children to go")
    survivors = [p for p in pids if alive(p)]
    assert survivors == []


def test_tiltfile_example_runs_with_ci() -> None:
    root = Path(__file__).resolve().parents[2]
    r = run_tilt(
        "ci",
        "-f",
        "Tiltfile.example",
        "--port",
        "0",
        cwd=root,
        env={"EXAMPLE_API_PORT": str(free_port()), "WORKER_INTERVAL_S": "0.2"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert "        tests │ OK" in out
    assert "       worker │ Running serve cmd: python3 -u worker.py" in out
    assert not any(ln.startswith("       report │") for ln in out)  # manual, never triggered


def test_ignored_node_modules_writes_trigger_nothing(up: Callable[..., Up], tmp_path: Path) -> None:
    u = up(
        'local_resource("app", cmd="echo app-ran", deps=["."], ignore=["node_modules", "*.out"])\n',
        files={"src/main.py": "", "node_modules/pkg/index.js": ""},
    )
    wait_for(lambda: u.res("app").get("status") == "ready", what="app ready")
    nm = tmp_path / "node_modules" / "pkg"
    for i in range(2000):
        (nm / f"f{i}.js").write_text("x")
    (tmp_path / "src" / "main.py").write_text("print(1)")
    wait_for(lambda: u.res("app")["update"]["count"] == 2, what="the src change")
    app = u.res("app")
    assert app["update"]["files"] == [str(tmp_path / "src" / "main.py")]
    assert app["pending_file_count"] == 0


def test_second_interrupt_forces_exit(up: Callable[..., Up], tmp_path: Path) -> None:
    u = up(
        'local_resource("stubborn", serve_cmd="trap \'\' TERM; echo $$ > pid; '
        'while true; do sleep 0.1; done")\n'
    )
    wait_for(lambda: (tmp_path / "pid").exists() and u.res("stubborn").get("ready"), what="ready")
    pid = int((tmp_path / "pid").read_text())
    u.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "SIGTERM to process group" in u.output(), what="the graceful stop")
    assert alive(pid)  # it ignores SIGTERM: tilt is waiting out the grace period
    u.proc.send_signal(signal.SIGINT)
    assert u.proc.wait(3) == 130
    wait_for(lambda: not alive(pid), timeout=5, what="the stubborn child to be killed")


def test_editing_the_tiltfile_reloads_it(up: Callable[..., Up], tmp_path: Path) -> None:
    u = up('local_resource("a", cmd="echo a")\n')
    wait_for(lambda: u.res("a").get("status") == "ready", what="a ready")
    (tmp_path / "Tiltfile").write_text(
        'local_resource("a", cmd="echo a")\nlocal_resource("b", cmd="echo b")\n'
    )
    wait_for(lambda: u.res("b").get("status") == "ready", what="b added by the reload")
    assert u.res("a")["update"]["count"] == 1
    (tmp_path / "Tiltfile").write_text("oops(\n")
    wait_for(lambda: u.snapshot().get("tiltfile", {}).get("status") == "error", what="the error")
    assert [r["name"] for r in u.snapshot()["resources"]] == ["a", "b"]
    assert "Tiltfile error (the last good resources keep running):" in u.tilt("get").stdout
