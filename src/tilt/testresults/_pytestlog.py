"""pytest's terminal output, read back into per-test results (a Job's pod log).

Where pytest's JUnit file cannot be read (it stays in a Kubernetes Job's pod), what
pytest printed is all there is. Per-test outcomes are in its output in two forms:

- ``-v`` lines: ``tests/test_a.py::test_x PASSED [ 10%]`` (also ``SKIPPED (reason)``,
  ``XFAIL``, ``XPASS``, ``ERROR``; with xdist ``[gw0] [ 10%] PASSED tests/...``);
- the short test summary (``-rA``, or the default ``-rfE`` for failures and errors):
  ``PASSED tests/test_a.py::test_x``, ``FAILED tests/test_a.py::test_y - AssertionError``,
  ``ERROR ...``, ``XFAIL ...``, ``XPASS ...``, and ``SKIPPED [1] tests/test_b.py:6: reason``
  (skips are listed by location, not by test).

A failing test's first lines and file:line come from its section under ``FAILURES`` or
``ERRORS`` (``___ TestSub.test_y ___``, ``___ ERROR at setup of test_z ___``): the ``E``
lines and the ``path:line: Exception`` line that ends the traceback. The final line
(``=== 2 failed, 5 passed, 1 error in 0.05s ===``) gives the duration, and tells when the
log names fewer tests than pytest ran (default output names only the failures): the
note says so and suggests ``-rA``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tilt.testresults._locate import locate
from tilt.testresults._model import (
    MAX_DETAIL_LINES,
    Outcome,
    ResultsStatus,
    TestCase,
    TestResults,
    first_lines,
)

__all__ = ["PytestLogParser"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_WORDS = "PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS"
# `tests/a.py::T::test_x[p] PASSED  [ 10%]`, `... SKIPPED (reason)  [ 20%]`,
# `tests/a.py::T::test_x <- tests/base.py PASSED`.
_VERBOSE = re.compile(
    rf"^(?P<id>\S+?\.py(?:::\S.*?)?)(?: <- \S+)? (?P<word>{_WORDS})"
    r"(?: \((?P<reason>.*)\))?(?:\s+\[\s*\d+%\])?\s*$"
)
# xdist: `[gw0] [ 10%] PASSED tests/a.py::test_x`
_XDIST = re.compile(rf"^\[gw\d+\](?: \[\s*\d+%\])? (?P<word>{_WORDS}) (?P<id>\S.*?)\s*$")
# The short test summary: `FAILED tests/a.py::test_y - AssertionError: boom`.
_SUMMARY = re.compile(rf"^(?P<word>{_WORDS}) (?P<id>\S+?\.py(?:::\S.*?)?)(?: - (?P<msg>.*))?$")
_SUMMARY_SKIP = re.compile(r"^SKIPPED \[(?P<n>\d+)\] (?P<file>[^\s:]+):(?P<line>\d+): (?P<msg>.*)$")
_BANNER = re.compile(r"^=+ (?P<title>.*?) =+$")
_SUBHEAD = re.compile(r"^_{3,} (?P<title>.*?) _{3,}$")
_COUNT = re.compile(
    r"(?P<n>\d+) (?P<what>passed|failed|errors?|skipped|xfailed|xpassed|deselected|"
    r"warnings?|rerun)\b"
)
# `2 failed, 5 passed in 0.05s`, `no tests ran in 0.01s`, `... in 65.2s (0:01:05)`.
_TOTALS = re.compile(
    r"^(?P<counts>(?:\d+ [a-z]+(?:, )?)+|no tests ran) in (?P<secs>[\d.]+)s(?: \([\d:]+\))?$"
)
_NATIVE_LOC = re.compile(r'File "([^"]+)", line (\d+)')
# The line that ends a traceback: `tests/test_a.py:23: AssertionError`.
_TB_LOC = re.compile(r"^\S+:\d+: \S")

_OUTCOME = {
    "PASSED": Outcome.PASSED,
    "XPASS": Outcome.PASSED,
    "FAILED": Outcome.FAILED,
    "ERROR": Outcome.ERRORED,
    "SKIPPED": Outcome.SKIPPED,
    "XFAIL": Outcome.SKIPPED,
}
# A test reported twice (passed, then errored in teardown) keeps the worse outcome.
_RANK = {Outcome.PASSED: 0, Outcome.SKIPPED: 1, Outcome.ERRORED: 2, Outcome.FAILED: 3}
# pytest's count words, per outcome word of the per-test lines.
_COUNTED = {
    "passed": ("PASSED",),
    "xpassed": ("XPASS",),
    "failed": ("FAILED",),
    "error": ("ERROR",),
    "errors": ("ERROR",),
    "skipped": ("SKIPPED",),
    "xfailed": ("XFAIL",),
}
_MAX_SECTION_LINES = 400


@dataclass
class _Node:
    nodeid: str
    outcome: Outcome
    message: str = ""
    words: set[str] = field(default_factory=set)


@dataclass
class _Section:
    kind: str  # "failure" or "error"
    title: str
    body: list[str] = field(default_factory=list)


class PytestLogParser:
    """Feed it pytest's output line by line; `result` gives the `TestResults`."""

    def __init__(self) -> None:
        self._nodes: dict[str, _Node] = {}
        self._skips: list[tuple[int, str, int, str]] = []  # (n, file, line, reason)
        self._sections: list[_Section] = []
        self._section = ""  # the current ===== section's title, lower case
        self._current: _Section | None = None
        self._totals: dict[str, int] | None = None
        self._totals_text = ""
        self._duration = 0.0
        self._verbose_lines = 0
        self._seen = False  # anything pytest prints

    @property
    def seen(self) -> bool:
        """Whether any line pytest prints was read."""
        return self._seen

    def feed(self, line: str) -> None:
        """One line of the output (lines that are not pytest's are skipped)."""
        s = _ANSI.sub("", line).rstrip()
        banner = _BANNER.match(s)
        if banner:
            self._banner(banner.group("title"))
            return
        if self._totals_line(s):
            return
        if self._section in ("failures", "errors"):
            sub = _SUBHEAD.match(s)
            if sub:
                kind = "failure" if self._section == "failures" else "error"
                self._current = _Section(kind=kind, title=sub.group("title"))
                self._sections.append(self._current)
                return
            if self._current is not None and len(self._current.body) < _MAX_SECTION_LINES:
                self._current.body.append(s)
            return
        if self._section == "short test summary info" and self._summary_line(s):
            return
        m = _VERBOSE.match(s) or _XDIST.match(s)
        if m:
            self._seen = True
            self._verbose_lines += 1
            word = m.group("word")
            reason = m.groupdict().get("reason") or ""
            self._add(m.group("id"), word, _message(word, reason))

    def _banner(self, title: str) -> None:
        self._current = None
        if self._totals_line(title):
            self._section = ""
            return
        self._section = title.strip().lower()
        if self._section in (
            "test session starts",
            "failures",
            "errors",
            "short test summary info",
        ):
            self._seen = True

    def _totals_line(self, text: str) -> bool:
        m = _TOTALS.match(text.strip())
        if not m:
            return False
        self._seen = True
        counts: dict[str, int] = {}
        for c in _COUNT.finditer(m.group("counts")):
            counts[c.group("what")] = counts.get(c.group("what"), 0) + int(c.group("n"))
        self._totals = counts
        self._totals_text = text.strip()
        self._duration = float(m.group("secs"))
        self._section = ""
        self._current = None
        return True

    def _summary_line(self, s: str) -> bool:
        skip = _SUMMARY_SKIP.match(s)
        if skip:
            self._skips.append(
                (int(skip.group("n")), skip.group("file"), int(skip.group("line")), skip["msg"])
            )
            return True
        m = _SUMMARY.match(s)
        if not m:
            return False
        word = m.group("word")
        self._add(m.group("id"), word, _message(word, m.group("msg") or ""))
        return True

    def _add(self, nodeid: str, word: str, message: str) -> None:
        outcome = _OUTCOME[word]
        node = self._nodes.get(nodeid)
        if node is None:
            node = self._nodes[nodeid] = _Node(nodeid=nodeid, outcome=outcome)
        elif _RANK[outcome] > _RANK[node.outcome]:
            node.outcome = outcome
            node.message = ""
        node.words.add(word)
        # The -v line's reason and the summary's message: the longer (less cut) wins.
        longer = len(message) > len(node.message)
        if message and longer and _OUTCOME[word] is node.outcome:
            node.message = message

    def result(self) -> TestResults:
        """The results (call after the output ended); never raises."""
        if not self._seen:
            return TestResults(
                status=ResultsStatus.MISSING,
                note="no pytest output in the log",
                sources=("output",),
            )
        pool = list(self._sections)
        cases = [self._case(n, pool) for n in self._nodes.values()]
        if not self._verbose_lines:
            # Without -v, skips are named only by location.
            for n, file, line, reason in self._skips:
                for _ in range(n):
                    cases.append(
                        TestCase(
                            name=f"{file}:{line}",
                            outcome=Outcome.SKIPPED,
                            message=reason,
                        )
                    )
        notes: list[str] = []
        unnamed = self._unnamed()
        if self._totals is None:
            notes.append("pytest's final summary line is missing (was the run cut short?)")
        if unnamed:
            if not cases:
                return TestResults(
                    status=ResultsStatus.MISSING,
                    note=(
                        f"pytest's summary says {self._totals_text.strip('= ')!r} but the log "
                        "names no test: run pytest with -rA (or -v) to have each outcome printed"
                    ),
                    duration_s=self._duration,
                    sources=("output",),
                )
            notes.append(
                f"the log does not name every test ({unnamed}); run pytest with -rA (or -v) "
                "to have each outcome printed"
            )
        return TestResults(
            status=ResultsStatus.PARSED,
            cases=tuple(cases),
            duration_s=self._duration,
            note="; ".join(notes),
            sources=("output",),
        )

    def _unnamed(self) -> str:
        """pytest's counts the named tests fall short of, e.g. ``5 passed, 2 skipped``."""
        if not self._totals:
            return ""
        short: list[str] = []
        for what, n in self._totals.items():
            words = _COUNTED.get(what)
            if words is None:
                continue
            named = sum(1 for node in self._nodes.values() if node.words & set(words))
            if what == "skipped" and not self._verbose_lines:
                named += sum(k for k, *_ in self._skips)
            if named < n:
                short.append(f"{n - named} {what}")
        return ", ".join(short)

    def _case(self, node: _Node, pool: list[_Section]) -> TestCase:
        file, _, rest = node.nodeid.partition("::")
        parts = rest.split("::") if rest else []
        if not parts:
            # A collection error: the node is the file itself.
            name, suite, source = node.nodeid, "", ""
        elif file.endswith(".py"):
            module = file[:-3].replace("/", ".")
            name, suite, source = parts[-1], ".".join([module, *parts[:-1]]), file
        else:
            name, suite, source = "::".join(parts), file, file
        message = node.message
        details: tuple[str, ...] = ()
        where, line = "", 0
        if node.outcome in (Outcome.FAILED, Outcome.ERRORED):
            section = self._section_for(node, name, parts, pool)
            if section is not None:
                said, details, where, line = _read_section(section.body, file)
                message = said or message
            if not message:
                message = details[0].strip() if details else ""
        return TestCase(
            name=name,
            suite=suite,
            outcome=node.outcome,
            message=message,
            details=details,
            file=where,
            line=line,
            source_file=source,
        )

    @staticmethod
    def _section_for(
        node: _Node, name: str, parts: list[str], pool: list[_Section]
    ) -> _Section | None:
        """The FAILURES/ERRORS section of a failing node (each is claimed once)."""
        domain = ".".join(parts) if parts else node.nodeid
        titles = [domain, name]
        errors = [
            f"ERROR at {when} of {n}" for when in ("setup", "teardown") for n in (domain, name)
        ]
        errors.append(f"ERROR collecting {node.nodeid}")
        wanted = errors + titles if node.outcome is Outcome.ERRORED else titles + errors
        for title in wanted:
            for s in pool:
                if s.title == title:
                    pool.remove(s)
                    return s
        return None


def _message(word: str, text: str) -> str:
    text = text.strip()
    if word == "XFAIL":
        return f"xfail: {text}" if text else "xfail"
    return text


def _read_section(body: list[str], file: str) -> tuple[str, tuple[str, ...], str, int]:
    """A failure section's (message, details, file, line).

    The details are the end of pytest's traceback as it printed it: the failing line
    (``>``), the ``E`` lines and the ``path:line: Exception`` line.
    """
    text = "\n".join(body)
    where, line = locate(text, file_hint=file)
    if not where:
        native = _NATIVE_LOC.findall(text)
        mine = [f for f in native if file and f[0].endswith(file)]
        if mine or native:
            where, num = (mine or native)[-1]
            line = int(num)
    e_idx = [i for i, ln in enumerate(body) if ln.startswith("E ") or ln == "E"]
    if e_idx:
        first = e_idx[0]
        start = max((i for i in range(first) if body[i].startswith(">")), default=first)
        end = e_idx[-1] + 1
        for i in range(end, len(body)):
            if _TB_LOC.match(body[i]):
                end = i + 1
                break
        chunk = [ln.rstrip() for ln in body[start:end] if ln.strip()]
        said = [ln[1:].strip() for ln in body[first:] if ln.startswith("E ")]
        return (said[0] if said else ""), tuple(chunk[:MAX_DETAIL_LINES]), where, line
    details = first_lines(text)
    said = [ln.strip() for ln in body if ln.strip() and not ln.startswith(("-", " "))]
    return (said[-1] if said else ""), details, where, line
