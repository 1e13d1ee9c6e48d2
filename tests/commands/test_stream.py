"""The streaming printer: Tilt's prefixes, colour on terminals, nothing lost or interleaved."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_tree
from tilt.logstore import LogStore
from tilt.stream import StreamPrinter, source_prefix


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("api", "          api │ "),
        ("exactly13char", "exactly13char │ "),
        ("much-longer-resource-name", "much-longer-… │ "),
        ("(Tiltfile)", ""),
        ("", ""),
    ],
)
def test_prefix_is_tilts(name: str, prefix: str) -> None:
    assert source_prefix(name) == prefix


def test_printer_in_order_with_colour_and_without_store_markers() -> None:
    out = io.BytesIO()
    printer = StreamPrinter(out, color=True, flush_bytes=10)
    store = LogStore(max_bytes=2000)
    store.add_listener(printer.on_line)
    for i in range(100):
        store.append("web" if i % 2 else "db", f"line {i}")
    printer.flush()
    text = out.getvalue().decode()
    lines = text.splitlines()
    assert len(lines) == 100  # the store dropped lines; the stream did not, and no marker
    assert store.dropped("web") > 0
    assert lines[0].startswith("\x1b[")
    assert lines[0].endswith("m           db \x1b[0m│ line 0")
    assert [ln.rsplit(" ", 1)[1] for ln in lines] == [str(i) for i in range(100)]


def test_printer_reprints_a_keyed_line_at_its_1st_2nd_4th_update_not_at_each() -> None:
    out = io.BytesIO()
    printer = StreamPrinter(out)
    store = LogStore()
    store.add_listener(printer.on_line)
    store.append("web", "[event] Unhealthy: probe failed", key="k")
    store.append("web", "serving")
    for n in range(2, 11):  # nine updates in place
        store.append("web", f"[event] Unhealthy: probe failed (x{n})", key="k")
    printer.flush()
    assert out.getvalue().decode().splitlines() == [
        "          web │ [event] Unhealthy: probe failed",
        "          web │ serving",
        "          web │ [event] Unhealthy: probe failed (x2)",  # update 1
        "          web │ [event] Unhealthy: probe failed (x3)",  # update 2
        "          web │ [event] Unhealthy: probe failed (x5)",  # update 4
        "          web │ [event] Unhealthy: probe failed (x9)",  # update 8
    ]
    assert [ln.text for ln in store.lines("web")] == [
        "[event] Unhealthy: probe failed (x10)",
        "serving",
    ]


def test_printer_without_terminal_has_no_colour() -> None:
    out = io.BytesIO()
    printer = StreamPrinter(out)
    printer.on_line(LogStore().append("web", "hi"))
    assert out.getvalue() == "          web │ hi\n".encode()


#: Runs tilt and reports the peak memory of tilt and what it ran - and only of them:
#: the test process's own RUSAGE_CHILDREN counts every child any earlier test reaped.
MEASURED = """
import resource, subprocess, sys
code = subprocess.call([sys.executable, "-m", "tilt", *sys.argv[1:]])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(f"\\npeak-rss-kb {peak}\\n")
sys.exit(code)
"""


def test_a_million_lines_through_tilt_ci_all_out_in_order(tmp_path: Path) -> None:
    gen = "import sys\\nw = sys.stdout.write\\nfor i in range(1000000): w('n %d\\\\n' % i)"
    write_tree(
        tmp_path, {"Tiltfile": f'local_resource("flood", cmd="{sys.executable} -c \\"{gen}\\"")\n'}
    )
    r = subprocess.run(
        [sys.executable, "-c", MEASURED, "ci", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,  # a generous bound for a loaded machine; the speed is a benchmark's
        check=False,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    nums = [
        int(line.rsplit(" ", 1)[1])
        for line in r.stdout.splitlines()
        if line.startswith("        flood │ n ")
    ]
    assert len(nums) == 1_000_000
    assert nums == list(range(1_000_000))
    peak_mb = int(r.stderr.rsplit("peak-rss-kb ", 1)[1].split()[0]) / 1024
    assert peak_mb < 150
