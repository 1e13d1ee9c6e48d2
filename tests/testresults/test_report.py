"""The `tilt ci` summary and its JUnit XML output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tilt.testresults import (
    GoTestParser,
    ResourceReport,
    ResultsStatus,
    TestResults,
    ci_summary,
    parse_junit_file,
    write_junit,
)

FIXTURES = Path(__file__).parent / "fixtures"


def go_results() -> TestResults:
    p = GoTestParser()
    for line in (FIXTURES / "gotest.jsonl").read_text().splitlines():
        p.feed(line)
    return p.result()


def reports() -> list[ResourceReport]:
    return [
        ResourceReport(
            name="java",
            ok=False,
            message="2 of 5 test(s) failed",
            results=parse_junit_file(str(FIXTURES / "surefire.xml")),
        ),
        ResourceReport(name="go-unit", ok=False, message="...", results=go_results()),
        ResourceReport(name="lint", ok=True, results=TestResults()),
        ResourceReport(
            name="e2e",
            ok=False,
            message='Command "./e2e.sh" failed: exit status 2',
            results=TestResults(),
        ),
        ResourceReport(name="api", ok=True),  # not a test: not in the summary
    ]


def test_ci_summary_names_each_failing_test_its_resource_and_first_line() -> None:
    lines = ci_summary(reports())
    assert lines[:5] == [
        "Test results:",
        "  ✖ java     2 passed, 1 failed, 1 errored, 1 skipped in 0.3s",
        "  ✖ go-unit  3 passed, 3 failed, 1 errored, 1 skipped in 0.0s",
        "  ✔ lint     passed (exit code)",
        '  ✖ e2e      failed: Command "./e2e.sh" failed: exit status 2',
    ]
    assert lines[6] == "Failing (7, in 3 resource(s)):"
    assert (
        "  ✖ java     CartTest.java:42  com.example.cart.CartTest::totalsWithTax: "
        "expected: <10.80> but was: <10.00>"
    ) in lines
    assert (
        "  ✖ go-unit  calc_test.go:27  example.com/calc::TestDivide/by_zero: "
        "calc_test.go:27: Divide(1, 0) = 0, want an error"
    ) in lines
    assert lines[-1] == '  ✖ e2e      Command "./e2e.sh" failed: exit status 2'


def test_ci_summary_without_tests_is_empty() -> None:
    assert ci_summary([ResourceReport(name="api", ok=True)]) == []


def test_junit_output_round_trips(tmp_path: Path) -> None:
    reps = reports()
    out = tmp_path / "reports" / "tilt.xml"
    write_junit(
        str(out),
        {r.name: r.results for r in reps if r.results is not None},
        resource_outcomes=[(r.name, r.ok, r.message) for r in reps],
    )
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["java", "go-unit", "lint", "e2e", "api"]
    java = suites["java"]
    assert (java.get("tests"), java.get("failures"), java.get("errors"), java.get("skipped")) == (
        "5",
        "1",
        "1",
        "1",
    )
    failing = java.find("testcase[@name='totalsWithTax']")
    assert failing is not None
    assert failing.get("file") == "CartTest.java" and failing.get("line") == "42"
    failure = failing.find("failure")
    assert failure is not None
    assert failure.get("message") == "expected: <10.80> but was: <10.00>"
    e2e = suites["e2e"].find("testcase")
    assert e2e is not None and e2e.find("failure") is not None
    assert suites["api"].find("testcase/failure") is None
    assert root.get("tests") == str(5 + 8 + 1 + 1 + 1)
    # Our own reader reads it back with the same counts.
    again = parse_junit_file(str(out))
    assert again.status is ResultsStatus.PARSED
    assert (again.failed, again.errored, again.skipped) == (1 + 3 + 1, 1 + 1, 1 + 1)
    located = {c.name: c.file for c in again.failures}
    assert located["TestDivide/by_zero"] == "calc_test.go"
    assert located["totalsWithTax"] == "CartTest.java"
