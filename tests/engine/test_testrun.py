"""Test resources' updates: real shards in parallel, pytest files split by durations,
timeouts, malformed results, failing tests rerun first (tilt.engine.testrun)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from tilt.engine.testrun import TestRunOutcome, run_tests, shard_span
from tilt.logstore import LogStore
from tilt.model import Cmd, LocalTarget, TestSpec
from tilt.process import ProcessSupervisor
from tilt.testresults import ResultsStatus, RunMemory, balance

FIXTURES = Path(__file__).parent.parent / "testresults" / "fixtures"
PYTEST = f"{sys.executable} -m pytest -q"


def sh(script: str) -> Cmd:
    return Cmd(argv=("sh", "-c", script), shell=True)


def run(
    cmd: str,
    cwd: Path,
    test: TestSpec,
    *,
    memory: RunMemory | None = None,
    env: dict[str, str] | None = None,
) -> tuple[TestRunOutcome, LogStore]:
    logs = LogStore()

    async def main() -> TestRunOutcome:
        sup = ProcessSupervisor(grace_period_s=2.0)
        try:
            return await run_tests(
                sup=sup,
                name="unit",
                local=LocalTarget(cmd=sh(cmd), dir=str(cwd), env=env or {}),
                test=test,
                base_dir=str(cwd),
                log=lambda text, span: logs.append("unit", text, span=span),
                memory=memory,
            )
        finally:
            await sup.stop_all()

    return asyncio.run(asyncio.wait_for(main(), 90)), logs


def texts(logs: LogStore, span: str | None = None) -> list[str]:
    return [ln.text for ln in logs.lines("unit", span=span)]


def test_shards_run_at_the_same_time(tmp_path: Path) -> None:
    # A barrier, not a clock: each shard marks its start, then waits until every shard
    # has started; run one after another, the first would give up (exit 3).
    marks = tmp_path / "marks"
    marks.mkdir()
    script = (
        f"touch {marks}/start-$TILT_SHARD_INDEX; n=0; "
        f'while [ "$(ls {marks} | grep -c start)" -lt "$TILT_SHARD_COUNT" ]; do '
        "n=$((n+1)); [ $n -gt 1500 ] && { echo gave up; exit 3; }; sleep 0.02; done; "
        'echo "shard $TILT_SHARD_INDEX of $TILT_SHARD_COUNT saw every shard started"'
    )
    out, logs = run(script, tmp_path, TestSpec(shards=4, results_format="none"))
    assert out.ok, texts(logs)
    assert sorted(os.listdir(marks)) == [f"start-{i}" for i in range(4)]
    for i in range(4):
        lines = texts(logs, shard_span(i))
        assert f"[shard {i + 1}/4] shard {i} of 4 saw every shard started" in lines
    assert out.results.status is ResultsStatus.NONE


def make_suite(root: Path, n_files: int, *, failing: int | None = None) -> None:
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    tests = root / "tests"
    tests.mkdir(parents=True)
    for i in range(n_files):
        body = f"def test_{i}_a():\n    assert True\n\n\ndef test_{i}_b():\n"
        body += "    assert False, 'broken on purpose'\n" if i == failing else "    assert True\n"
        (tests / f"test_f{i}.py").write_text(body)


def test_pytest_shards_get_the_files_and_results_merge(tmp_path: Path) -> None:
    make_suite(tmp_path, 6, failing=4)
    memory = RunMemory(str(tmp_path / "dev"), str(tmp_path), "unit")
    out, logs = run(PYTEST, tmp_path, TestSpec(shards=3), memory=memory)
    assert not out.ok
    assert (out.results.passed, out.results.failed) == (11, 1)
    assert [len(s.files) for s in out.shards] == [2, 2, 2]
    every = sorted(f for s in out.shards for f in s.files)
    assert every == [f"tests/test_f{i}.py" for i in range(6)]
    failure = out.results.failures[0]
    assert failure.location == "tests/test_f4.py:6"
    bad = next(s for s in out.shards if "tests/test_f4.py" in s.files)
    assert failure.shard == bad.index
    assert out.error == "1 of 12 test(s) failed: tests/test_f4.py::test_4_b (tests/test_f4.py:6)"
    # The failed shard's own log holds the failure, and only its lines.
    own = texts(logs, shard_span(bad.index))
    assert any("broken on purpose" in t for t in own)
    assert all(t.startswith(f"[shard {bad.index + 1}/3]") for t in own)
    others = [t for s in out.shards if s is not bad for t in texts(logs, shard_span(s.index))]
    assert not any("broken on purpose" in t for t in others)
    # Durations of this run are kept for the next split; the failure too.
    assert set(memory.durations()) == {f"tests/test_f{i}.py" for i in range(6)}
    assert memory.failed() == ["tests/test_f4.py::test_4_b"]


def test_balance_by_durations() -> None:
    files = [f"t{i}.py" for i in range(6)]
    durs = {"t0.py": 10.0, "t1.py": 1.0, "t2.py": 1.0, "t3.py": 1.0, "t4.py": 1.0}
    # t5 unknown: counts as the median (1.0). The slow file gets a shard to itself.
    assert balance(files, durs, 2) == [["t0.py"], ["t1.py", "t2.py", "t3.py", "t4.py", "t5.py"]]
    assert balance(files, {}, 4) == [["t0.py", "t4.py"], ["t1.py", "t5.py"], ["t2.py"], ["t3.py"]]
    # pytest names files from its rootdir, maybe above the command's folder.
    assert balance(["a.py", "b.py"], {"sub/a.py": 5.0, "sub/b.py": 1.0}, 2) == [["a.py"], ["b.py"]]
    assert balance([], {}, 3) == [[], [], []]


def test_timeout_stops_and_fails(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    out, logs = run(
        f"echo $$ > {pidfile}; sleep 60", tmp_path, TestSpec(timeout_s=0.5, results_format="none")
    )
    assert not out.ok and out.timed_out
    assert out.error == "timed out after 0.5s (test timeout)"
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "Timeout: unit ran over 0.5s; stopping it" in texts(logs)


@pytest.mark.parametrize(
    ("exit_code", "ok"), [pytest.param(0, True, id="exit-0"), pytest.param(1, False, id="exit-1")]
)
def test_malformed_results_fall_back_to_the_exit_code(
    tmp_path: Path, exit_code: int, ok: bool
) -> None:
    cmd = f"mkdir -p out; printf '<testsuite><testcase' > out/junit.xml; exit {exit_code}"
    out, logs = run(cmd, tmp_path, TestSpec(results=("out/*.xml",)))
    assert out.ok is ok
    assert out.results.status is ResultsStatus.MALFORMED
    assert any(t.startswith("WARNING: per-test results malformed: ") for t in texts(logs))
    if not ok:
        assert out.error == f'Command "{cmd}" failed: exit status 1'


def test_results_listing_failures_fail_even_with_exit_0(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "gotest.jsonl", tmp_path / "stream.jsonl")
    out, _ = run("cat stream.jsonl", tmp_path, TestSpec(results_format="gotest"))
    assert out.exit_code == 0 and not out.ok
    assert out.error.startswith("4 of 8 test(s) failed: example.com/calc::TestDivide")


def test_rerun_failed_first(tmp_path: Path) -> None:
    make_suite(tmp_path, 3, failing=1)
    memory = RunMemory(str(tmp_path / "dev"), str(tmp_path), "unit")
    spec = TestSpec(rerun_failed_first=True)
    out, _ = run(PYTEST, tmp_path, spec, memory=memory)
    assert (out.results.passed, out.results.failed) == (5, 1)
    # Still failing: only the failing test runs, and the update says the rest did not.
    out, logs = run(PYTEST, tmp_path, spec, memory=memory)
    assert (out.results.total, out.results.failed) == (1, 1)
    assert "the rest of the suite did not run" in out.results.note
    assert "Rerunning the 1 test(s) that failed last time first" in texts(logs)
    # Fixed: the failing test passes first, then the whole suite runs.
    (tmp_path / "tests" / "test_f1.py").write_text(
        "def test_1_a():\n    assert True\n\n\ndef test_1_b():\n    assert True\n"
    )
    out, logs = run(PYTEST, tmp_path, spec, memory=memory)
    assert out.ok and out.results.total == 6
    assert "They pass now: running the whole suite" in texts(logs)
    assert memory.failed() == []


def test_cancel_stops_every_shard(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    logs = LogStore()

    async def main() -> TestRunOutcome:
        sup = ProcessSupervisor(grace_period_s=2.0)
        task = asyncio.create_task(
            run_tests(
                sup=sup,
                name="unit",
                local=LocalTarget(
                    cmd=sh(f"echo $$ > {marks}/pid-$TILT_SHARD_INDEX; sleep 60"), dir=str(tmp_path)
                ),
                test=TestSpec(shards=3, results_format="none"),
                base_dir=str(tmp_path),
                log=lambda text, span: logs.append("unit", text, span=span),
            )
        )
        while len(os.listdir(marks)) < 3 or any(
            not (marks / f).read_text() for f in os.listdir(marks)
        ):
            await asyncio.sleep(0.02)
        task.cancel()
        out = await task
        await sup.stop_all()
        return out

    out = asyncio.run(asyncio.wait_for(main(), 30))
    assert out.cancelled and not out.ok
    for f in os.listdir(marks):
        with pytest.raises(ProcessLookupError):
            os.kill(int((marks / f).read_text()), 0)
    assert "Update cancelled" in texts(logs)


def test_results_file_of_each_shard_is_read(tmp_path: Path) -> None:
    # Any runner: each shard writes JUnit XML to its own $TILT_RESULTS_FILE.
    cmd = (
        'printf \'<testsuite><testcase classname="s%s" name="ok"/>'
        '<testcase classname="s%s" name="bad"><failure message="no"/></testcase>'
        "</testsuite>' $TILT_SHARD_INDEX $TILT_SHARD_INDEX > $TILT_RESULTS_FILE"
    )
    out, _ = run(cmd, tmp_path, TestSpec(shards=2))
    assert out.results.status is ResultsStatus.PARSED
    assert (out.results.passed, out.results.failed) == (2, 2)
    assert sorted(c.suite for c in out.results.failures) == ["s0", "s1"]
    assert not out.ok and out.exit_code == 0


def test_rerun_of_tests_that_no_longer_exist_runs_the_suite(tmp_path: Path) -> None:
    make_suite(tmp_path, 2)
    memory = RunMemory(str(tmp_path / "dev"), str(tmp_path), "unit")
    memory.save(durations=None, failed=["tests/test_gone.py::test_renamed"])
    out, logs = run(PYTEST, tmp_path, TestSpec(rerun_failed_first=True), memory=memory)
    assert out.ok and out.results.total == 4
    assert "They could not be rerun alone: running the whole suite" in texts(logs)
