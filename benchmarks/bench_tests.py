"""Test resources: a sharded pytest suite (1 vs 4 shards) and reading a 10,000-test JUnit file.

1. 200 tests that sleep 20 ms each, in 20 files, run by `tilt.engine.testrun.run_tests`
   (real pytest processes, results read from their JUnit XML) with 1 shard and with 4;
   wall time of the whole update, median of 3 runs each.
2. A generated JUnit XML file of 10,000 test cases (1 in 50 failing, with a traceback)
   read by `parse_junit_file`: time (median of 5) and peak Python memory (tracemalloc).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from tilt.engine.testrun import run_tests
from tilt.model import Cmd, LocalTarget, TestSpec
from tilt.process import ProcessSupervisor
from tilt.testresults import RunMemory, parse_junit_file


def _suite(root: Path) -> None:
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    tests = root / "tests"
    tests.mkdir()
    for f in range(20):
        body = "import time\n\n"
        for t in range(10):
            body += f"\ndef test_{f}_{t}():\n    time.sleep(0.02)\n"
        (tests / f"test_s{f}.py").write_text(body)


def _run_once(root: Path, shards: int, dev: str) -> tuple[float, int]:
    async def main() -> tuple[float, int]:
        sup = ProcessSupervisor()
        t0 = time.perf_counter()
        out = await run_tests(
            sup=sup,
            name="unit",
            local=LocalTarget(
                cmd=Cmd(argv=("sh", "-c", f"{sys.executable} -m pytest -q"), shell=True),
                dir=str(root),
            ),
            test=TestSpec(shards=shards),
            base_dir=str(root),
            log=lambda _t, _s: None,
            memory=RunMemory(dev, str(root), f"unit-{shards}"),
        )
        wall = time.perf_counter() - t0
        await sup.stop_all()
        assert out.ok, out.error
        return wall, out.results.passed

    return asyncio.run(main())


def _junit(path: Path, n: int) -> None:
    with path.open("w") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n')
        f.write(f'<testsuite name="pytest" tests="{n}" time="123.4">\n')
        for i in range(n):
            mod = f"tests.test_mod{i // 100}"
            f.write(
                f'<testcase classname="{mod}" name="test_case_{i}" '
                f'file="tests/test_mod{i // 100}.py" line="{i % 100 * 5}" time="0.0123">'
            )
            if i % 50 == 0:
                f.write('<failure message="AssertionError: assert 1 == 2">')
                for k in range(15):
                    f.write(f"    frame {k}\n")
                f.write(f"tests/test_mod{i // 100}.py:{i % 100 * 5 + 3}: AssertionError")
                f.write("</failure>")
            f.write("</testcase>\n")
        f.write("</testsuite>\n</testsuites>\n")


def run() -> None:
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "suite"
        root.mkdir()
        _suite(root)
        dev = str(Path(tmp) / "dev")
        walls: dict[int, list[float]] = {1: [], 4: []}
        for _ in range(3):
            for shards in (1, 4):
                wall, passed = _run_once(root, shards, dev)
                assert passed == 200
                walls[shards].append(wall)
        one = statistics.median(walls[1])
        four = statistics.median(walls[4])
        print(f"200 tests x 20 ms, 1 shard:  median {one:.2f} s  (runs: {_fmt(walls[1])})")
        print(f"200 tests x 20 ms, 4 shards: median {four:.2f} s  (runs: {_fmt(walls[4])})")
        print(f"speed-up 4 shards vs 1: {one / four:.2f}x")

        xml = Path(tmp) / "big.xml"
        _junit(xml, 10_000)
        size_mb = xml.stat().st_size / 1e6
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            res = parse_junit_file(str(xml))
            times.append(time.perf_counter() - t0)
        assert res.total == 10_000 and res.failed == 200
        tracemalloc.start()
        res = parse_junit_file(str(xml))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"JUnit 10,000 cases ({size_mb:.1f} MB, 200 failing): "
            f"median {statistics.median(times) * 1000:.0f} ms, "
            f"peak Python memory {peak / 1e6:.1f} MB"
        )


def _fmt(xs: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


if __name__ == "__main__":
    run()
