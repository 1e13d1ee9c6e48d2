"""``go test -json`` (test2json) streams, read line by line as the command prints them.

Each line is one JSON event: ``{"Time", "Action", "Package", "Test", "Elapsed",
"Output"}`` with Action ``start``, ``run``, ``pause``, ``cont``, ``output``, ``pass``,
``fail``, ``skip``, ``bench``, and (Go 1.24) ``build-output`` / ``build-fail`` keyed by
``ImportPath``. Lines that are not JSON (a build error printed before the stream
starts, a wrapper script's echo) are kept as package-level output, not an error.

Subtests (``TestA/sub``) count as tests, as ``go test`` counts them; a parent that
failed because a subtest did says so instead of repeating the subtest's message.
A package that failed without a failing test (a build failure, a panic in
``TestMain``, a timeout) is an errored case named after the package.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from tilt.testresults._locate import locate
from tilt.testresults._model import (
    MAX_DETAIL_LINES,
    Outcome,
    ResultsStatus,
    TestCase,
    TestResults,
)

__all__ = ["GoTestParser", "looks_like_gotest"]

# go test's own framing lines, not part of a failure's message.
_FRAMING = re.compile(r"^\s*(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|FAIL|SKIP):|PASS$|FAIL$|ok\s)")
_MAX_KEPT_LINES = 200


def looks_like_gotest(line: str) -> bool:
    """Whether ``line`` is a test2json event."""
    s = line.lstrip()
    if not s.startswith("{"):
        return False
    try:
        ev = json.loads(s)
    except ValueError:
        return False
    return isinstance(ev, dict) and "Action" in ev and ("Package" in ev or "ImportPath" in ev)


@dataclass
class _Test:
    package: str
    name: str
    outcome: Outcome | None = None
    elapsed: float = 0.0
    output: list[str] = field(default_factory=list)


class GoTestParser:
    """Feed it the lines of a ``go test -json`` run; `result` gives the `TestResults`."""

    def __init__(self) -> None:
        self._tests: dict[tuple[str, str], _Test] = {}
        self._packages: dict[str, _Test] = {}
        self._events = 0
        self._bad_lines = 0
        self._elapsed = 0.0
        # Packages whose failure is their build's, already reported by its build-fail.
        self._build_failed: set[str] = set()

    @property
    def events(self) -> int:
        """How many test2json events were read."""
        return self._events

    def feed(self, line: str) -> None:
        """Read one line of output (anything that is not an event is noted and skipped)."""
        s = line.strip()
        if not s.startswith("{"):
            return
        try:
            ev = json.loads(s)
        except ValueError:
            self._bad_lines += 1
            return
        if not isinstance(ev, dict) or not isinstance(ev.get("Action"), str):
            self._bad_lines += 1
            return
        self._events += 1
        action = ev["Action"]
        pkg = str(ev.get("Package") or ev.get("ImportPath") or "")
        name = ev.get("Test")
        if isinstance(name, str) and name:
            t = self._tests.get((pkg, name))
            if t is None:
                t = self._tests[(pkg, name)] = _Test(package=pkg, name=name)
        else:
            t = self._packages.get(pkg)
            if t is None:
                t = self._packages[pkg] = _Test(package=pkg, name=pkg)
        if action in ("output", "build-output"):
            out = ev.get("Output")
            if isinstance(out, str) and len(t.output) < _MAX_KEPT_LINES:
                t.output.extend(out.rstrip("\n").split("\n"))
        elif action in ("pass", "fail", "skip", "build-fail"):
            if action == "fail" and not name and ev.get("FailedBuild"):
                self._build_failed.add(pkg)
            t.outcome = {
                "pass": Outcome.PASSED,
                "fail": Outcome.FAILED,
                "skip": Outcome.SKIPPED,
                "build-fail": Outcome.ERRORED,
            }[action]
            elapsed = ev.get("Elapsed")
            if isinstance(elapsed, int | float):
                t.elapsed = float(elapsed)
                if not (isinstance(name, str) and name):
                    self._elapsed += float(elapsed)

    def result(self) -> TestResults:
        """The results so far (call after the command ended)."""
        if self._events == 0:
            note = "no go test -json events in the output"
            if self._bad_lines:
                note += f" ({self._bad_lines} line(s) looked like JSON but were not events)"
            return TestResults(status=ResultsStatus.MISSING, note=note, sources=("output",))
        failed_children: dict[tuple[str, str], list[str]] = {}
        for (pkg, name), t in self._tests.items():
            if t.outcome is Outcome.FAILED and "/" in name:
                parent = name.rsplit("/", 1)[0]
                failed_children.setdefault((pkg, parent), []).append(name)
        cases: list[TestCase] = []
        failed_pkgs: set[str] = set()
        for key, t in self._tests.items():
            outcome = t.outcome
            if outcome is None:
                # Started, never ended: the package timed out or crashed under it.
                outcome = Outcome.ERRORED
            if outcome in (Outcome.FAILED, Outcome.ERRORED):
                failed_pkgs.add(t.package)
            case = self._case(t, outcome, detailed=outcome is not Outcome.PASSED)
            children = failed_children.get(key)
            if children and not case.file:
                case = replace(case, message="failed subtest(s): " + ", ".join(children))
            cases.append(case)
        notes: list[str] = []
        for pkg, p in self._packages.items():
            if pkg in failed_pkgs or pkg in self._build_failed:
                continue
            if p.outcome in (Outcome.FAILED, Outcome.ERRORED):
                cases.append(self._case(p, Outcome.ERRORED, detailed=True, suite=pkg))
        if self._bad_lines:
            notes.append(f"{self._bad_lines} malformed JSON line(s) skipped")
        total = self._elapsed or sum(c.duration_s for c in cases if "/" not in c.name)
        return TestResults(
            status=ResultsStatus.PARSED,
            cases=tuple(cases),
            duration_s=total,
            note="; ".join(notes),
            sources=("output",),
        )

    @staticmethod
    def _case(t: _Test, outcome: Outcome, *, detailed: bool, suite: str = "") -> TestCase:
        lines = [ln for ln in t.output if ln.strip() and not _FRAMING.match(ln)]
        message = ""
        details: tuple[str, ...] = ()
        file, line = "", 0
        if outcome is Outcome.SKIPPED and lines:
            message = lines[-1].strip()
        if detailed:
            details = tuple(ln.rstrip() for ln in lines[:MAX_DETAIL_LINES])
            text = "\n".join(lines)
            file, line = locate(text, prefer_suffix="_test.go")
            said = [ln for ln in lines if not ln.startswith("# ")] or lines
            message = said[0].strip() if said else ("did not finish" if t.outcome is None else "")
        return TestCase(
            name=t.name,
            suite=suite or t.package,
            outcome=outcome,
            duration_s=t.elapsed,
            message=message,
            details=details,
            file=file,
            line=line,
        )
