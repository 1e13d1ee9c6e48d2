"""`tilt ci`'s test report: the summary of every test resource and ``--output-junit``.

Read from the engine's state once the run is over (`tilt.testresults.report` formats).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tilt.testresults import ResourceReport, TestResults, ci_summary, write_junit

if TYPE_CHECKING:
    from tilt.engine.state import EngineState

__all__ = ["reports", "summary_lines", "write_report"]


def reports(state: EngineState) -> list[ResourceReport]:
    """Every enabled resource at the end of the run, test resources with their results."""
    from tilt.engine.state import RuntimeStatus, UpdateStatus

    out: list[ResourceReport] = []
    for r in state.resources.values():
        if not r.enabled:
            continue
        ran = r.update_count > 0
        failed_runtime = r.runtime_status is RuntimeStatus.ERROR
        ok = ran and r.update_status is UpdateStatus.OK and not failed_runtime
        message = r.last_error or (r.runtime_message if failed_runtime else "")
        if not ran:
            message = r.hold or "did not run"
        results: TestResults | None = None
        if r.spec.test is not None:
            results = r.test_results if r.test_results is not None else TestResults()
        out.append(ResourceReport(name=r.name, ok=ok, message=message, results=results, ran=ran))
    return out


def summary_lines(state: EngineState) -> list[str]:
    """The test summary `tilt ci` prints last (empty without test resources)."""
    return ci_summary(reports(state))


def write_report(state: EngineState, path: str) -> None:
    """Write the run as JUnit XML to ``path`` (one testsuite per resource)."""
    reps = reports(state)
    write_junit(
        path,
        {r.name: r.results for r in reps if r.results is not None},
        resource_outcomes=[(r.name, r.ok, r.message) for r in reps],
    )
