"""The TUI under load, in a real terminal (tmux):

1. ``tilt up`` to the first frame listing every resource: Tiltfile.example (4
   resources) and a generated Tiltfile of 200 manual resources (target < 1 s);
2. key press to screen: ``j``/``k`` until the details line shows the new resource;
3. a flood of 10,000 log lines per second for ``TILT_BENCH_FLOOD_S`` seconds (default
   10; the issue's figure is 30): the app's CPU, its screen updates, key latency meanwhile.

Run with ``python benchmarks/run.py tui``. Needs tmux.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RATE = 10_000  # lines per second
RUNS = 5
KEYS = 20


class Tmux:
    def __init__(self) -> None:
        self.socket = f"tilt-bench-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        ).stdout

    def start(self, cmd: str) -> None:
        self.run("new-session", "-d", "-s", "b", "-x", "120", "-y", "40", cmd)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "b")

    def wait(self, pred: object, timeout_s: float = 30.0) -> float:
        """Poll the screen until ``pred(screen)``; returns the time it held."""
        assert callable(pred)
        deadline = time.perf_counter() + timeout_s
        while True:
            if pred(self.screen()):
                return time.perf_counter()
            if time.perf_counter() > deadline:
                raise TimeoutError(self.screen())
            time.sleep(0.002)

    def kill(self) -> None:
        self.run("kill-server")


def _env_prefix() -> str:
    return f"cd {REPO} && env -u COLUMNS -u LINES TERM=xterm-256color"


def _details_name(screen: str) -> str:
    # The details line is the only line starting with the name followed by two spaces.
    for ln in screen.splitlines():
        m = re.match(r"^ (\S+)  (local ·|✔ ok|⟳|✖)", ln)
        if m:
            return m.group(1)
    return ""


def _rows(screen: str, names: list[str]) -> bool:
    return all(re.search(rf"^ {re.escape(n)}\s+local\s", screen, re.M) for n in names)


def bench_startup(tiltfile: Path, names: list[str], port: int) -> list[float]:
    out = []
    for _ in range(RUNS):
        t = Tmux()
        try:
            t0 = time.perf_counter()
            t.start(
                f"{_env_prefix()} EXAMPLE_API_PORT={port} {sys.executable} -m tilt up "
                f"-f {tiltfile} --port 0"
            )
            out.append(t.wait(lambda s: _rows(s, names)) - t0)
            t.run("send-keys", "-t", "b", "C-c")
            # Ended: the pane closes with the process (the session goes away).
            deadline = time.perf_counter() + 20
            while t.run("list-sessions") and time.perf_counter() < deadline:
                time.sleep(0.05)
        except TimeoutError:
            pass
        finally:
            t.kill()
    return out


def bench_keys(t: Tmux, names: list[str], n: int) -> list[float]:
    """Alternate j/k between the first two resources; time until the details line follows."""
    out = []
    t.run("send-keys", "-t", "b", "j")
    t.wait(lambda s: _details_name(s) == names[0])
    for i in range(n):
        key, want = ("j", names[1]) if i % 2 == 0 else ("k", names[0])
        t0 = time.perf_counter()
        t.run("send-keys", "-t", "b", key)
        out.append(t.wait(lambda s, w=want: _details_name(s) == w) - t0)  # type: ignore[misc]
    return out


def generated_tiltfile(root: Path, n: int) -> tuple[Path, list[str]]:
    names = [f"svc{i:03d}" for i in range(n)]
    lines = [
        f"local_resource('{name}', cmd='true', trigger_mode=TRIGGER_MODE_MANUAL, auto_init=False)"
        for name in names
    ]
    tf = root / "Tiltfile"
    tf.write_text("\n".join(lines) + "\n")
    # Only the first rows fit on the screen: wait for those (the table is one widget).
    return tf, names[:12]


# ---- the flood: a child process running the app on a scripted engine ----------------------


async def _flood_child(seconds: float, out: Path) -> None:
    import resource as rlimit

    from tilt.ui.app import create_app
    from tilt.ui.scripted import ScriptedController, resource

    names = ["api", "worker", "db"]
    c = ScriptedController([resource(n, update_status="ok", runtime_status="ok") for n in names])
    app = create_app(c)
    stats: dict[str, float] = {}

    async def produce() -> None:
        await asyncio.sleep(1.0)  # let the first frame out
        tick = 0.01
        per_tick = int(RATE * tick)
        cpu0, wall0, frames0 = time.process_time(), time.perf_counter(), app.frames
        n = 0
        next_at = time.perf_counter()
        while time.perf_counter() - wall0 < seconds:
            for _ in range(per_tick):
                c.log(names[n % 3], f"request {n} GET /api/items?page={n % 97} 200 {n % 13}ms")
                n += 1
            next_at += tick
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        wall = time.perf_counter() - wall0
        stats.update(
            lines=n,
            wall_s=wall,
            cpu_s=time.process_time() - cpu0,
            frames=app.frames - frames0,
            batches=app.bridge.batches,
            store_bytes=c.logs.total_bytes,
            max_rss_mb=rlimit.getrusage(rlimit.RUSAGE_SELF).ru_maxrss / 1024,
        )
        out.write_text(json.dumps(stats))
        app.exit()

    async def main() -> None:
        task = asyncio.create_task(produce())
        await app.run_async()
        task.cancel()

    await main()


def bench_flood(seconds: float) -> tuple[dict[str, float], list[float]]:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "stats.json"
        t = Tmux()
        try:
            t.start(
                f"{_env_prefix()} PYTHONPATH={REPO}/src {sys.executable} "
                f"{REPO}/benchmarks/bench_tui.py flood {seconds} {out}"
            )
            t.wait(lambda s: "request" in s, 20)
            keys = bench_keys(t, ["api", "worker"], 10)
            deadline = time.perf_counter() + seconds + 30
            while not out.exists() and time.perf_counter() < deadline:
                time.sleep(0.1)
            stats = json.loads(out.read_text()) if out.exists() else {}
        finally:
            t.kill()
    return stats, keys


def _fmt(xs: list[float]) -> str:
    if not xs:
        return "n/a"
    return (
        f"min {min(xs) * 1000:.0f} ms  median {statistics.median(xs) * 1000:.0f} ms  "
        f"max {max(xs) * 1000:.0f} ms  (n={len(xs)})"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run() -> None:
    if shutil.which("tmux") is None:
        print("tmux is not installed: skipped")
        return
    port = _free_port()
    example = ["tests", "api", "worker", "report"]
    print("tilt up to the first frame listing every resource (tmux 120x40):")
    print(
        f"  Tiltfile.example (4):   {_fmt(bench_startup(REPO / 'Tiltfile.example', example, port))}"
    )
    with tempfile.TemporaryDirectory() as d:
        tf, names = generated_tiltfile(Path(d), 200)
        print(f"  200 manual resources:   {_fmt(bench_startup(tf, names, port))}")

    t = Tmux()
    try:
        t.start(
            f"{_env_prefix()} EXAMPLE_API_PORT={port} {sys.executable} -m tilt up "
            "-f Tiltfile.example --port 0"
        )
        t.wait(lambda s: "✔ ready" in s and _rows(s, example), 30)
        keys = bench_keys(t, ["tests", "api"], KEYS)
        t.run("send-keys", "-t", "b", "C-c")
        time.sleep(1.0)
    finally:
        t.kill()
    print(f"key press (j/k) to the details line showing the new resource: {_fmt(keys)}")

    seconds = float(os.environ.get("TILT_BENCH_FLOOD_S", "10"))
    stats, flood_keys = bench_flood(seconds)
    if not stats:
        print("flood: no result")
        return
    print(
        f"flood of {RATE} lines/s for {stats['wall_s']:.1f} s ({stats['lines']} lines): "
        f"app CPU {stats['cpu_s'] / stats['wall_s'] * 100:.0f}% of one core, "
        f"{stats['frames'] / stats['wall_s']:.1f} screen updates/s, "
        f"max RSS {stats['max_rss_mb']:.0f} MiB, log store {stats['store_bytes'] / 2**20:.1f} MiB"
    )
    print(f"  key press to screen during the flood: {_fmt(flood_keys)}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "flood":
        asyncio.run(_flood_child(float(sys.argv[2]), Path(sys.argv[3])))
    else:
        run()
