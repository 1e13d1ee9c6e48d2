"""Reading real results: a pytest suite run as a subprocess, a go test -json stream,
a Maven Surefire JUnit file, and every way a result file can be missing or broken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tilt.testresults import (
    GoTestParser,
    Outcome,
    ResultsCollector,
    ResultsFormat,
    ResultsStatus,
    TestResults,
    merge,
    parse_junit_file,
    parse_junit_glob,
    pytest_node_id,
)

FIXTURES = Path(__file__).parent / "fixtures"


def run_pysuite(tmp_path: Path, *args: str) -> tuple[TestResults, int, str]:
    """Run the fixture pytest suite in a copy, as tilt would: PYTEST_ADDOPTS, real process."""
    suite = tmp_path / "pysuite"
    shutil.copytree(FIXTURES / "pysuite", suite)
    work = tmp_path / "work"
    work.mkdir()
    command = f"{sys.executable} -m pytest -q " + " ".join(args)
    col = ResultsCollector(
        fmt=ResultsFormat.AUTO,
        command=command,
        results=(),
        base_dir=str(suite),
        work_dir=str(work),
        started_at=time.time(),
    )
    assert col.format is ResultsFormat.PYTEST
    env = {**os.environ, **col.env()}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for line in proc.stdout.splitlines():
        col.feed(line)
    return col.result(proc.returncode), proc.returncode, proc.stdout


def test_pytest_suite_counts_and_failures(tmp_path: Path) -> None:
    res, code, out = run_pysuite(tmp_path)
    assert code == 1, out
    assert res.status is ResultsStatus.PARSED
    assert (res.passed, res.failed, res.errored, res.skipped) == (5, 2, 1, 2)
    by_name = {c.name: c for c in res.failures}
    wrong = by_name["test_sub_wrong"]
    assert wrong.outcome is Outcome.FAILED
    assert wrong.file == "tests/test_math.py"
    assert wrong.line == 23  # the assert line
    assert "subtraction is off" in wrong.message
    assert any("assert got == 3" in d for d in wrong.details)
    setup = by_name["test_uses_database"]
    assert setup.outcome is Outcome.ERRORED
    assert "database fixture could not connect" in "\n".join(setup.details)
    assert setup.location.startswith("tests/test_errors.py:")
    raised = by_name["test_raises_unexpectedly"]
    assert raised.outcome is Outcome.FAILED and raised.line == 14
    assert res.duration_s >= 0
    assert set(res.file_durations()) == {
        "tests/test_math.py",
        "tests/test_errors.py",
        "tests/test_skips.py",
    }
    assert res.summary().startswith("5 passed, 2 failed, 1 errored, 2 skipped in ")


def test_pytest_node_ids_rerun_exactly_the_failures(tmp_path: Path) -> None:
    res, _, _ = run_pysuite(tmp_path)
    ids = sorted(pytest_node_id(c.source_file, c.suite, c.name) for c in res.failures)
    assert ids == [
        "tests/test_errors.py::test_raises_unexpectedly",
        "tests/test_errors.py::test_uses_database",
        "tests/test_math.py::TestSub::test_sub_wrong",
    ]
    again, code, out = run_pysuite(tmp_path / "again", *ids)
    assert code == 1, out
    assert (again.passed, again.failed, again.errored) == (0, 2, 1)


def test_pytest_passing_subset(tmp_path: Path) -> None:
    res, code, _ = run_pysuite(tmp_path, "tests/test_skips.py")
    assert code == 0
    assert res.ok is True
    assert (res.passed, res.skipped) == (1, 2)
    assert res.failures == []


def test_pytest_that_never_ran_is_missing(tmp_path: Path) -> None:
    col = ResultsCollector(
        fmt=ResultsFormat.PYTEST,
        command="pytest",
        results=(),
        base_dir=str(tmp_path),
        work_dir=str(tmp_path),
        started_at=time.time(),
    )
    res = col.result(127)
    assert res.status is ResultsStatus.MISSING
    assert "pytest wrote no JUnit XML" in res.note
    assert res.ok is None  # the verdict falls back to the exit code


def test_gotest_json_stream() -> None:
    p = GoTestParser()
    for line in (FIXTURES / "gotest.jsonl").read_text().splitlines():
        p.feed(line)
    res = p.result()
    assert res.status is ResultsStatus.PARSED
    # TestAdd, TestDivide/exact, TestTrim pass; TestDivide, /by_zero, TestParse fail;
    # TestSlow skipped; the broken package did not build.
    assert (res.passed, res.failed, res.skipped, res.errored) == (3, 3, 1, 1)
    listed = {c.name: c for c in res.failures}
    assert listed["TestDivide"].message == "failed subtest(s): TestDivide/by_zero"
    sub = listed["TestDivide/by_zero"]
    assert (sub.file, sub.line) == ("calc_test.go", 27)
    assert sub.message == "calc_test.go:27: Divide(1, 0) = 0, want an error"
    assert sub.suite == "example.com/calc"
    panic = listed["TestParse"]
    assert panic.message.startswith("panic: runtime error: index out of range")
    assert panic.location == "/home/dev/calc/parse_test.go:9"
    broken = listed["example.com/broken [example.com/broken.test]"]
    assert broken.outcome is Outcome.ERRORED
    assert broken.location == "broken/broken_test.go:5"
    assert res.duration_s == pytest.approx(0.033)


def test_gotest_auto_detected_from_output(tmp_path: Path) -> None:
    col = ResultsCollector(
        fmt=ResultsFormat.AUTO,
        command="./scripts/unit.sh",
        results=(),
        base_dir=str(tmp_path),
        work_dir=str(tmp_path),
        started_at=time.time(),
    )
    assert col.format is ResultsFormat.NONE
    col.feed("building...")
    for line in (FIXTURES / "gotest.jsonl").read_text().splitlines():
        col.feed(line)
    assert col.result(1).failed == 3


def test_gotest_without_events_is_missing() -> None:
    p = GoTestParser()
    p.feed("ok  \texample.com/x\t0.01s")
    p.feed('{"not": "an event"')
    res = p.result()
    assert res.status is ResultsStatus.MISSING
    assert "no go test -json events" in res.note


def test_gotest_test_that_never_ended_is_errored() -> None:
    p = GoTestParser()
    p.feed('{"Action":"run","Package":"p","Test":"TestHang"}')
    p.feed('{"Action":"output","Package":"p","Test":"TestHang","Output":"=== RUN   TestHang\\n"}')
    p.feed('{"Action":"output","Package":"p","Output":"panic: test timed out after 1s\\n"}')
    p.feed('{"Action":"fail","Package":"p","Elapsed":1}')
    res = p.result()
    assert [(c.name, c.outcome) for c in res.cases] == [("TestHang", Outcome.ERRORED)]
    assert res.failures[0].message == "did not finish"


def test_surefire_junit_from_another_runner() -> None:
    res = parse_junit_file(str(FIXTURES / "surefire.xml"))
    assert res.status is ResultsStatus.PARSED
    assert (res.passed, res.failed, res.errored, res.skipped) == (2, 1, 1, 1)
    assert res.duration_s == pytest.approx(0.342)
    fail, err = res.failures
    assert fail.name == "totalsWithTax"
    assert fail.message == "expected: <10.80> but was: <10.00>"
    assert fail.location == "CartTest.java:42"
    assert err.outcome is Outcome.ERRORED and err.location == "CartTest.java:58"
    skipped = [c for c in res.cases if c.outcome is Outcome.SKIPPED]
    assert skipped[0].message == "discounts are not implemented yet"


@pytest.mark.parametrize(
    ("content", "want"),
    [
        pytest.param('<testsuite><testcase name="a">', "not valid XML", id="truncated"),
        pytest.param("", "not valid XML", id="empty"),
        pytest.param("<html>502</html>", "not JUnit XML (root element <html>)", id="html"),
        pytest.param("\x00\x01garbage", "not valid XML", id="binary"),
    ],
)
def test_malformed_junit_says_so(tmp_path: Path, content: str, want: str) -> None:
    f = tmp_path / "junit.xml"
    f.write_text(content)
    res = parse_junit_file(str(f))
    assert res.status is ResultsStatus.MALFORMED
    assert want in res.note and str(f) in res.note
    assert res.ok is None and res.total == 0
    assert res.summary().startswith("results malformed: ")


def test_junit_glob_missing_stale_and_merged(tmp_path: Path) -> None:
    missing = parse_junit_glob(["out/*.xml"], base_dir=str(tmp_path))
    assert missing.status is ResultsStatus.MISSING
    assert missing.note == "no JUnit XML file matches out/*.xml"
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(FIXTURES / "surefire.xml", out / "a.xml")
    old = time.time() - 3600
    os.utime(out / "a.xml", (old, old))
    stale = parse_junit_glob(["out/*.xml"], base_dir=str(tmp_path), newer_than=time.time() - 60)
    assert stale.status is ResultsStatus.MISSING and "stale" in stale.note
    shutil.copy(FIXTURES / "surefire.xml", out / "b.xml")
    (out / "c.xml").write_text("<testsuite>")
    both = parse_junit_glob(["out/*.xml"], base_dir=str(tmp_path))
    assert both.status is ResultsStatus.MALFORMED  # one bad file spoils the verdict
    assert both.failed == 2  # ... but what could be read is kept
    assert "c.xml" in both.note


def test_merge_of_parsed_parts() -> None:
    a = parse_junit_file(str(FIXTURES / "surefire.xml")).with_shard(0)
    b = parse_junit_file(str(FIXTURES / "surefire.xml")).with_shard(1)
    m = merge([a, b])
    assert m.status is ResultsStatus.PARSED
    assert (m.passed, m.failed, m.errored) == (4, 2, 2)
    assert [c.shard for c in m.failures] == [0, 0, 1, 1]
    assert m.to_json()["failure_count"] == 4
