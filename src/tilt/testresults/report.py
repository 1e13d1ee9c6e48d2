"""The end of `tilt ci`: a summary of every test resource, and its JUnit XML.

`ci_summary` lists each test resource with its counts, then each failing test with
its resource, its file:line and the first line of its failure, so the reason a CI
run failed is on the last screen of its log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tilt.testresults._model import ResultsStatus, TestResults

__all__ = ["ResourceReport", "ci_summary"]

#: How many failing tests the summary lists in all (the counts stay exact).
MAX_SUMMARY_FAILURES = 50


@dataclass(frozen=True, kw_only=True)
class ResourceReport:
    """One resource at the end of a run.

    Attributes:
        name: The resource.
        ok: Whether it passed (its update succeeded).
        message: Why it failed (the update's error), or "".
        results: Its per-test results (None: not a test resource).
        ran: Whether it ran at all in this run.
    """

    name: str
    ok: bool
    message: str = ""
    results: TestResults | None = None
    ran: bool = True


def ci_summary(reports: Sequence[ResourceReport]) -> list[str]:
    """The summary lines (empty when no test resource ran)."""
    tests = [r for r in reports if r.results is not None]
    if not tests:
        return []
    width = max(len(r.name) for r in tests)
    out = ["Test results:"]
    failing: list[tuple[str, str]] = []
    for r in tests:
        res = r.results
        assert res is not None
        mark = "✔" if r.ok else "✖"
        if not r.ran:
            what = "did not run"
        elif res.status is ResultsStatus.PARSED:
            what = res.summary()
        elif res.status is ResultsStatus.NONE:
            what = "passed (exit code)" if r.ok else f"failed: {r.message}"
        else:
            verdict = "passed" if r.ok else "failed"
            what = f"{verdict} by exit code; {res.summary()}"
        out.append(f"  {mark} {r.name:<{width}}  {what}")
        if r.ok:
            continue
        if res.failures:
            for c in res.failures:
                where = f"{c.location}  " if c.location else ""
                msg = f": {c.message}" if c.message else ""
                failing.append((r.name, f"{where}{c.full_name}{msg}"))
        elif r.ran:
            failing.append((r.name, r.message or "failed"))
    if failing:
        out.append("")
        n_res = len({name for name, _ in failing})
        out.append(f"Failing ({len(failing)}, in {n_res} resource(s)):")
        for name, text in failing[:MAX_SUMMARY_FAILURES]:
            out.append(f"  ✖ {name:<{width}}  {text}")
        if len(failing) > MAX_SUMMARY_FAILURES:
            out.append(f"  ... and {len(failing) - MAX_SUMMARY_FAILURES} more")
    return out
