"""A Tiltfile cannot freeze, crash or exhaust tilt (tilt.tiltfile.worker).

Real processes throughout: the engine's worker processes, the `tilt` command,
the commands ``local()`` starts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.commands.test_cli import Up, alive, up, wait_for
from tests.conftest import run_tilt, write_tree
from tests.engine.test_engine import interactive, log_text, make, res, until
from tilt.engine import Engine
from tilt.engine.events import FilesChanged
from tilt.tiltfile import TiltfileLoadError, load_tiltfile
from tilt.tiltfile.worker import CRASH_MESSAGE, load_isolated

__all__ = ["up"]  # the fixture, re-used

DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"
LONG = "x = " + "+".join(["1"] * 6000) + "\n"
LOOP = "for i in range(2000000000):\n    pass\n"

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize("text", [DEEP, LONG], ids=["deep", "long"])
def test_dump_of_a_crashing_tiltfile_exits_1_with_a_message(tmp_path: Path, text: str) -> None:
    write_tree(tmp_path, {"Tiltfile": text})
    r = run_tilt("dump", "tiltfile", cwd=tmp_path)
    assert r.returncode == 1
    assert CRASH_MESSAGE in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


def test_dump_over_the_memory_limit_exits_1_with_a_message(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Tiltfile": 'x = "a" * 400000000\n'})
    r = run_tilt("dump", "tiltfile", cwd=tmp_path, env={"TILT_TILTFILE_MEMORY_MB": "200"})
    assert r.returncode == 1
    assert "Tiltfile evaluation used more than 200 MB" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "call",
    ['read_yaml("bomb.yaml")', 'decode_yaml(read_file("bomb.yaml"))', 'k8s_yaml("bomb.yaml")'],
)
def test_yaml_alias_bombs_are_refused(tmp_path: Path, call: str) -> None:
    write_tree(tmp_path, {"Tiltfile": f"x = {call}\n", "bomb.yaml": BOMB})
    with pytest.raises(TiltfileLoadError, match="excessive aliasing") as info:
        load_tiltfile(str(tmp_path / "Tiltfile"))
    assert "Tiltfile:1" in info.value.render()


def test_yaml_with_a_few_aliases_still_loads(tmp_path: Path) -> None:
    doc = "base: &b {x: 1, y: [1, 2, 3]}\n" + "".join(f"k{i}: *b\n" for i in range(50))
    write_tree(
        tmp_path, {"Tiltfile": 'x = read_yaml("a.yaml")\nprint(x["k49"]["y"])\n', "a.yaml": doc}
    )
    assert load_tiltfile(str(tmp_path / "Tiltfile")).logs[-1].strip() == "[1, 2, 3]"


def test_isolated_load_returns_the_graph(tmp_path: Path) -> None:
    write_tree(
        tmp_path, {"Tiltfile": 'local_resource("a", cmd="echo hi")\nprint(local("echo ran"))\n'}
    )
    result = load_isolated(str(tmp_path / "Tiltfile"))
    assert [r.name for r in result.resources] == ["a"]
    assert any("ran" in line for line in result.logs)


def test_a_crash_keeps_the_last_good_graph_and_a_runaway_load_leaves_tilt_responsive(
    tmp_path: Path,
) -> None:
    tf = tmp_path / "Tiltfile"
    good = (
        'local_resource("srv", serve_cmd="echo $$ > srv.pid; exec sleep 60")\n'
        'local_resource("m", cmd="echo ran >> m.runs", trigger_mode=TRIGGER_MODE_MANUAL)\n'
    )
    eng = make(tmp_path, good)

    def save(text: str) -> None:
        tmp = tmp_path / "Tiltfile.new"
        tmp.write_text(text)
        os.replace(tmp, tf)
        eng.post(FilesChanged(paths=frozenset({str(tf)}), at=time.time()))

    async def body(eng: Engine) -> None:
        await until(eng, lambda s: res(s, "srv")["ready"] and (tmp_path / "srv.pid").exists())
        pid = int((tmp_path / "srv.pid").read_text())
        save(good + DEEP)
        await until(eng, lambda s: s["tiltfile"]["status"] == "error")
        assert CRASH_MESSAGE in eng.snapshot()["tiltfile"]["error"]
        assert alive(pid) and res(eng.snapshot(), "srv")["ready"]
        # A load that never ends: the engine still handles a trigger meanwhile.
        save(good + LOOP)
        await until(eng, lambda s: s["tiltfile"]["status"] == "loading")
        eng.trigger("m")
        await until(eng, lambda s: res(s, "m")["queued"])  # held until the load ends
        assert eng.snapshot()["tiltfile"]["status"] == "loading"
        # Fixing the Tiltfile supersedes the runaway load.
        save(good)
        await until(eng, lambda s: s["tiltfile"]["status"] == "ok", timeout=30)
        await until(eng, lambda s: res(s, "m")["update"]["count"] == 2)
        assert alive(pid)

    assert interactive(eng, body) == 0
    assert "Tiltfile evaluation crashed" in log_text(eng, "(Tiltfile)")


def test_shutdown_stops_a_runaway_load(tmp_path: Path) -> None:
    eng = make(tmp_path, LOOP)

    async def main() -> int:
        task = asyncio.create_task(eng.run())
        await until(eng, lambda s: s["tiltfile"]["status"] == "loading")
        await asyncio.sleep(0.2)  # the worker is evaluating
        eng.shutdown()
        return await asyncio.wait_for(task, 30)

    assert asyncio.run(main()) == 0


def test_ci_timeout_stops_a_load_stuck_in_local_and_its_child(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Tiltfile": 'local("echo $$ > local.pid; exec sleep 120")\n'})
    r = run_tilt("ci", "--port", "0", "--timeout", "2s", cwd=tmp_path, timeout=60)
    assert r.returncode == 1
    assert "Timeout after 2s" in r.stdout + r.stderr
    pid = int((tmp_path / "local.pid").read_text())
    wait_for(lambda: not alive(pid), what="local() child gone")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_tilt_up_during_a_runaway_load(
    up: Callable[..., Up], sig: signal.Signals
) -> None:
    u = up(LOOP, "--stream")
    wait_for(lambda: "Loading Tiltfile" in u.output(), what="loading")
    time.sleep(0.3)  # evaluating now
    u.proc.send_signal(sig)
    assert u.proc.wait(30) in (0, 1, 130, -sig)
    assert "Traceback" not in u.output()


def test_dump_is_interrupted_by_a_signal_and_leaves_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Tiltfile": 'local("echo $$ > local.pid; exec sleep 120")\n'})
    proc = subprocess.Popen(
        [sys.executable, "-m", "tilt", "dump", "tiltfile"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for(
        lambda: (
            (tmp_path / "local.pid").exists() and (tmp_path / "local.pid").read_text().strip() != ""
        ),
        what="local() running",
    )
    pid = int((tmp_path / "local.pid").read_text())
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert b"Traceback" not in err
    wait_for(lambda: not alive(pid), what="local() child gone")
