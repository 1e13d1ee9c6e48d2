"""The result model of a test run: counts, duration, every case, the failures in detail.

A runner's output (a JUnit XML file, a ``go test -json`` stream) is turned into one
`TestResults`. When there is nothing to read, or what is there cannot be read, the
results say so (`ResultsStatus.MISSING` / `MALFORMED`, with a ``note``) and the
pass/fail verdict falls back to the command's exit code: a parser never raises.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "MAX_DETAIL_LINES",
    "MAX_LISTED_FAILURES",
    "Outcome",
    "ResultsStatus",
    "TestCase",
    "TestResults",
    "first_lines",
    "merge",
    "pytest_node_id",
]

#: How many lines of a failure's text a case keeps (the first ones).
MAX_DETAIL_LINES = 12
#: How many failing cases a snapshot lists (the counts are always exact).
MAX_LISTED_FAILURES = 50


class Outcome(enum.Enum):
    """How one test ended."""

    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"
    SKIPPED = "skipped"


class ResultsStatus(enum.Enum):
    """Whether per-test results could be read.

    ``NONE``: the resource asks for none (pass/fail is the exit code); ``PARSED``:
    read; ``MISSING``: the runner wrote nothing where we looked; ``MALFORMED``: it
    wrote something we could not read.
    """

    NONE = "none"
    PARSED = "parsed"
    MISSING = "missing"
    MALFORMED = "malformed"


@dataclass(frozen=True, kw_only=True, slots=True)
class TestCase:
    """One test.

    Attributes:
        name: The test's name (``test_add[2-3]``, ``TestAdd/negative``).
        suite: Its class, module or package (JUnit's ``classname``, Go's package).
        outcome: Passed, failed, errored or skipped.
        duration_s: How long it ran.
        message: The first line of the failure (or the skip reason).
        details: The first lines of the failure text (at most `MAX_DETAIL_LINES`).
        file: The file of the failure (relative as the runner printed it), or "".
        line: Its line, or 0.
        source_file: The file that defines the test, when the runner says (pytest).
        shard: The shard (0-based) that ran it, or None when not sharded.
    """

    __test__ = False  # not a pytest test class

    name: str
    suite: str = ""
    outcome: Outcome = Outcome.PASSED
    duration_s: float = 0.0
    message: str = ""
    details: tuple[str, ...] = ()
    file: str = ""
    line: int = 0
    source_file: str = ""
    shard: int | None = None

    @property
    def location(self) -> str:
        """``file:line`` of the failure, or ``""``."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def full_name(self) -> str:
        """pytest's node id when the case names its ``.py`` file, else ``suite::name``."""
        if self.source_file.endswith(".py"):
            return pytest_node_id(self.source_file, self.suite, self.name)
        return f"{self.suite}::{self.name}" if self.suite and self.suite != self.name else self.name

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "suite": self.suite,
            "outcome": self.outcome.value,
            "duration_s": round(self.duration_s, 4),
            "message": self.message,
            "details": list(self.details),
            "file": self.file,
            "line": self.line,
            "location": self.location,
            "shard": self.shard,
        }


def pytest_node_id(file: str, suite: str, name: str) -> str:
    """pytest's node id from a JUnit (xunit1) case: ``tests/test_a.py::TestX::test_y``."""
    module = file[:-3].replace("/", ".") if file.endswith(".py") else ""
    cls = ""
    if module and suite.startswith(module + "."):
        cls = suite[len(module) + 1 :]
    elif module and suite != module and "." in suite:
        # classname relative to another rootdir: keep the capitalised tail as the class
        tail = suite.rsplit(".", 1)[-1]
        cls = tail if tail[:1].isupper() else ""
    parts = [file, *cls.split(".")] if cls else [file]
    return "::".join([*parts, name])


def first_lines(text: str, n: int = MAX_DETAIL_LINES) -> tuple[str, ...]:
    """The first ``n`` non-blank-led lines of ``text`` (leading blank lines dropped)."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not out and not line.strip():
            continue
        out.append(line)
        if len(out) >= n:
            break
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class TestResults:
    """What a test run produced.

    Attributes:
        status: Whether per-test results were read (see `ResultsStatus`).
        cases: Every test, in the order the runner reported them.
        duration_s: The run's test time (the runner's figure, or the cases' sum).
        note: Why results are missing or malformed, or what else the reader noticed.
        sources: The files (or "output") the results were read from.
    """

    __test__ = False

    status: ResultsStatus = ResultsStatus.NONE
    cases: tuple[TestCase, ...] = ()
    duration_s: float = 0.0
    note: str = ""
    sources: tuple[str, ...] = ()
    _counts: dict[Outcome, int] = field(default_factory=dict, repr=False, compare=False)
    # to_json is asked for on every snapshot: computed once (the results never change).
    _json: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = dict.fromkeys(Outcome, 0)
        for c in self.cases:
            counts[c.outcome] += 1
        self._counts.update(counts)

    def count(self, outcome: Outcome) -> int:
        """How many tests ended so."""
        return self._counts.get(outcome, 0)

    @property
    def passed(self) -> int:
        return self.count(Outcome.PASSED)

    @property
    def failed(self) -> int:
        return self.count(Outcome.FAILED)

    @property
    def errored(self) -> int:
        return self.count(Outcome.ERRORED)

    @property
    def skipped(self) -> int:
        return self.count(Outcome.SKIPPED)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def failures(self) -> list[TestCase]:
        """Failed and errored cases, in report order."""
        return [c for c in self.cases if c.outcome in (Outcome.FAILED, Outcome.ERRORED)]

    @property
    def ok(self) -> bool | None:
        """Whether the results say the run passed (None: no results to say it)."""
        if self.status is not ResultsStatus.PARSED:
            return None
        return self.failed == 0 and self.errored == 0

    def summary(self) -> str:
        """``12 passed, 2 failed, 1 skipped in 3.4s`` (or why there are no counts)."""
        if self.status is ResultsStatus.NONE:
            return ""
        if self.status is not ResultsStatus.PARSED:
            return (
                f"results {self.status.value}: {self.note}"
                if self.note
                else (f"results {self.status.value}")
            )
        parts = [f"{self.passed} passed"]
        for n, word in ((self.failed, "failed"), (self.errored, "errored")):
            if n:
                parts.append(f"{n} {word}")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        return ", ".join(parts) + f" in {self.duration_s:.1f}s"

    def with_shard(self, shard: int) -> TestResults:
        """The same results with every case marked as run by ``shard``."""
        return replace(self, cases=tuple(replace(c, shard=shard) for c in self.cases))

    def file_durations(self) -> dict[str, float]:
        """Seconds per test file (from the cases that name theirs), for shard balancing."""
        out: dict[str, float] = {}
        for c in self.cases:
            if c.source_file:
                out[c.source_file] = out.get(c.source_file, 0.0) + c.duration_s
        return out

    def to_json(self, *, max_failures: int = MAX_LISTED_FAILURES) -> dict[str, Any]:
        """The JSON-able view a snapshot carries: counts, duration, the first failures."""
        cached = self._json.get(max_failures)
        if cached is None:
            cached = self._json[max_failures] = self._to_json(max_failures)
        return dict(cached)

    def _to_json(self, max_failures: int) -> dict[str, Any]:
        failures = self.failures
        return {
            "status": self.status.value,
            "passed": self.passed,
            "failed": self.failed,
            "errored": self.errored,
            "skipped": self.skipped,
            "total": self.total,
            "duration_s": round(self.duration_s, 3),
            "note": self.note,
            "summary": self.summary(),
            "failures": [c.to_json() for c in failures[:max_failures]],
            "failure_count": len(failures),
        }


def merge(parts: Sequence[TestResults], *, note: str = "") -> TestResults:
    """One result of several (shards, or result files).

    The merged status is PARSED when every part was; otherwise the worst status
    (MALFORMED over MISSING), with the parts' notes joined. Durations add up.
    """
    if not parts:
        return TestResults(status=ResultsStatus.MISSING, note=note or "no results")
    statuses = {p.status for p in parts}
    if statuses == {ResultsStatus.NONE}:
        return TestResults(status=ResultsStatus.NONE, note=note)
    status = ResultsStatus.PARSED
    for worse in (ResultsStatus.MISSING, ResultsStatus.MALFORMED):
        if worse in statuses:
            status = worse
    notes = _unique(p.note for p in parts if p.note)
    if note:
        notes.insert(0, note)
    cases: list[TestCase] = []
    for p in parts:
        cases.extend(p.cases)
    return TestResults(
        status=status,
        cases=tuple(cases),
        duration_s=sum(p.duration_s for p in parts),
        note="; ".join(notes),
        sources=tuple(_unique(s for p in parts for s in p.sources)),
    )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
