"""Results read from a log alone (a Job's pod log): pytest's real terminal output in the
forms it prints, JUnit XML printed among other lines, go test -json, and what is missing
or broken. The pytest output comes from running the fixture suite in a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tilt.testresults import (
    Outcome,
    PytestLogParser,
    ResultsFormat,
    ResultsStatus,
    TestResults,
    find_junit_documents,
    results_from_log,
)

FIXTURES = Path(__file__).parent / "fixtures"
FAILING = [
    "tests/test_errors.py::test_raises_unexpectedly",
    "tests/test_errors.py::test_uses_database",
    "tests/test_math.py::TestSub::test_sub_wrong",
]


def pytest_log(tmp_path: Path, *args: str) -> list[str]:
    """What the fixture suite prints (stdout a pipe, as in a container), as log lines."""
    suite = tmp_path / "pysuite"
    if not suite.exists():
        shutil.copytree(FIXTURES / "pysuite", suite)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=suite,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def parse(lines: list[str], fmt: ResultsFormat = ResultsFormat.AUTO) -> TestResults:
    return results_from_log(lines, fmt, command="", label="pod unit-1")


def check_failures(res: TestResults) -> None:
    by_id = {c.full_name: c for c in res.failures}
    assert sorted(by_id) == FAILING
    wrong = by_id["tests/test_math.py::TestSub::test_sub_wrong"]
    assert wrong.outcome is Outcome.FAILED
    assert wrong.message == "AssertionError: subtraction is off"
    assert (wrong.file, wrong.line) == ("tests/test_math.py", 23)
    assert any("assert got == 3" in d for d in wrong.details), wrong.details
    db = by_id["tests/test_errors.py::test_uses_database"]
    assert db.outcome is Outcome.ERRORED
    # pytest cuts the summary's message to the terminal width; the section has all of it.
    assert "RuntimeError: database fixture could not connect" in db.message
    assert db.location == "tests/test_errors.py:6"
    raised = by_id["tests/test_errors.py::test_raises_unexpectedly"]
    assert raised.message == "KeyError: 'missing'" and raised.line == 14


@pytest.mark.parametrize("args", [["-rA"], ["-rA", "-q"], ["-v"], ["-v", "-rA"]])
def test_pytest_output_with_every_outcome(tmp_path: Path, args: list[str]) -> None:
    lines = pytest_log(tmp_path, *args)
    for fmt in (ResultsFormat.AUTO, ResultsFormat.PYTEST):
        res = parse(lines, fmt)
        assert res.status is ResultsStatus.PARSED, res.note
        assert (res.passed, res.failed, res.errored, res.skipped) == (5, 2, 1, 2), res
        assert res.note == ""
        assert res.ok is False
        check_failures(res)
        passed = sorted(c.full_name for c in res.cases if c.outcome is Outcome.PASSED)
        assert passed == [
            "tests/test_math.py::TestSub::test_sub",
            "tests/test_math.py::test_add",
            "tests/test_math.py::test_add_table[1-1-2]",
            "tests/test_math.py::test_add_table[2-2-4]",
            "tests/test_skips.py::test_passes_too",
        ]
        # The duration is pytest's own figure (its final line).
        assert res.summary().startswith("5 passed, 2 failed, 1 errored, 2 skipped in ")


def test_verbose_lines_name_the_skipped_tests_with_their_reasons(tmp_path: Path) -> None:
    res = parse(pytest_log(tmp_path, "-v"))
    skipped = {c.full_name: c.message for c in res.cases if c.outcome is Outcome.SKIPPED}
    assert skipped == {
        "tests/test_skips.py::test_skipped": "not on this platform",
        "tests/test_skips.py::test_skipped_if": "python 3 only skips this",
    }


def test_short_summary_names_skips_by_location(tmp_path: Path) -> None:
    res = parse(pytest_log(tmp_path, "-rA"))
    skipped = sorted((c.name, c.message) for c in res.cases if c.outcome is Outcome.SKIPPED)
    assert {m for _, m in skipped} == {"not on this platform", "python 3 only skips this"}
    assert all(n.startswith("tests/test_skips.py:") for n, _ in skipped)


def test_default_output_names_only_the_failures_and_says_so(tmp_path: Path) -> None:
    res = parse(pytest_log(tmp_path))
    assert res.status is ResultsStatus.PARSED
    assert (res.failed, res.errored, res.passed) == (2, 1, 0)
    check_failures(res)
    assert "the log does not name every test (5 passed, 2 skipped)" in res.note
    assert "-rA" in res.note


def test_default_output_of_a_passing_run_is_missing_and_says_why(tmp_path: Path) -> None:
    res = parse(pytest_log(tmp_path, "tests/test_math.py", "-k", "not wrong"))
    assert res.status is ResultsStatus.MISSING
    assert res.ok is None  # the Job's verdict decides
    assert "pytest's summary says '4 passed" in res.note and "-rA" in res.note


def test_junit_printed_to_stdout_is_read_from_the_log(tmp_path: Path) -> None:
    lines = pytest_log(tmp_path, "--junitxml=/dev/stdout", "-o", "junit_family=xunit1")
    (doc,) = find_junit_documents(lines)
    assert not doc.truncated and doc.text.endswith("</testsuites>")
    for fmt in (ResultsFormat.AUTO, ResultsFormat.JUNIT, ResultsFormat.PYTEST):
        res = parse(lines, fmt)
        assert res.status is ResultsStatus.PARSED, res.note
        assert res.sources == ("pod unit-1 log",)
        assert (res.passed, res.failed, res.errored, res.skipped) == (5, 2, 1, 2)
        check_failures(res)
        # JUnit carries every test's file, so shard balancing has durations per file.
        assert set(res.file_durations()) == {
            "tests/test_math.py",
            "tests/test_errors.py",
            "tests/test_skips.py",
        }


def test_junit_file_catted_among_other_lines() -> None:
    xml = (FIXTURES / "surefire.xml").read_text().splitlines()
    lines = ["+ mvn -q test", "[INFO] done", "+ cat target/surefire-reports/TEST-x.xml", *xml]
    lines += ["+ exit 1"]
    res = parse(lines)
    assert res.status is ResultsStatus.PARSED
    assert res.total > 0 and res.failures
    doc = find_junit_documents(lines)[0]
    assert doc.line == 4


def test_a_cut_junit_document_falls_back_to_pytest_output(tmp_path: Path) -> None:
    lines = pytest_log(tmp_path, "-rA", "--junitxml=/dev/stdout")
    text = "\n".join(lines)
    cut = text.index("</testcase>") + len("</testcase>")
    end = text.index("</testsuites>") + len("</testsuites>")
    broken = (text[:cut] + text[end:]).splitlines()
    (doc,) = find_junit_documents(broken)
    assert doc.truncated
    res = parse(broken)
    assert res.status is ResultsStatus.PARSED  # from pytest's -rA summary
    assert (res.passed, res.failed, res.errored, res.skipped) == (5, 2, 1, 2)
    assert "a JUnit XML document starts here and never ends" in res.note
    assert "results read from pytest's output instead" in res.note
    junit = parse(broken, ResultsFormat.JUNIT)
    assert junit.status is ResultsStatus.MALFORMED
    assert junit.note.startswith(f"pod unit-1 log:{doc.line}: ")


def test_junit_that_is_not_xml_is_malformed_naming_the_line() -> None:
    lines = ["starting", '<testsuite name="x"><testcase name="a"></testsuite>', "done"]
    res = parse(lines, ResultsFormat.JUNIT)
    assert res.status is ResultsStatus.MALFORMED
    assert res.note.startswith("pod unit-1 log:2:"), res.note
    assert "not valid XML" in res.note
    assert parse(lines).status is ResultsStatus.MALFORMED  # auto says so too


@pytest.mark.parametrize(
    ("fmt", "status", "words"),
    [
        (ResultsFormat.AUTO, ResultsStatus.NONE, ""),
        (ResultsFormat.PYTEST, ResultsStatus.MISSING, "no pytest output in the pod unit-1 log"),
        (ResultsFormat.JUNIT, ResultsStatus.MISSING, "no JUnit XML document in the pod unit-1"),
        (ResultsFormat.GOTEST, ResultsStatus.MISSING, "no go test -json events"),
        (ResultsFormat.NONE, ResultsStatus.NONE, ""),
    ],
)
def test_a_log_without_results(fmt: ResultsFormat, status: ResultsStatus, words: str) -> None:
    res = parse(["hello", "PASSED is not a test id", "=== not pytest ==="], fmt)
    assert res.status is status
    assert words in res.note
    assert res.ok is None


def test_auto_expects_what_the_command_runs() -> None:
    res = results_from_log(["boom"], ResultsFormat.AUTO, command="pytest -rA", label="pod p")
    assert res.status is ResultsStatus.MISSING
    assert "no pytest output in the pod p log" in res.note


def test_go_test_json_in_a_log_is_auto_detected() -> None:
    lines = ["+ go test -json ./...", *(FIXTURES / "gotest.jsonl").read_text().splitlines()]
    res = parse(lines)
    assert res.status is ResultsStatus.PARSED and res.sources == ("output",)
    assert res.failed >= 2


def test_pytest_output_cut_short_says_so() -> None:
    parser = PytestLogParser()
    for line in [
        "============================= test session starts ==============================",
        "tests/test_a.py::test_one PASSED                                         [ 50%]",
        "tests/test_a.py::test_two ",
    ]:
        parser.feed(line)
    res = parser.result()
    assert res.status is ResultsStatus.PARSED and res.passed == 1
    assert "final summary line is missing" in res.note


def test_teardown_error_after_a_pass_counts_as_errored() -> None:
    parser = PytestLogParser()
    for line in [
        "tests/test_a.py::test_one PASSED                                         [100%]",
        "tests/test_a.py::test_one ERROR                                          [100%]",
        "==================================== ERRORS ====================================",
        "_____________________ ERROR at teardown of test_one _____________________",
        "E       OSError: disk full",
        "",
        "tests/conftest.py:9: OSError",
        "========================= 1 passed, 1 error in 0.01s =========================",
    ]:
        parser.feed(line)
    res = parser.result()
    (case,) = res.cases
    assert case.outcome is Outcome.ERRORED
    assert case.message == "OSError: disk full"
    assert case.location == "tests/conftest.py:9"
