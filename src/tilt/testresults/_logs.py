"""Per-test results read from a log alone (a Kubernetes Job's pod log: no file is visible).

A log can carry results three ways, and ``auto`` looks for them in this order:

1. a ``go test -json`` stream (`GoTestParser`);
2. JUnit XML documents printed among the other lines (``pytest --junitxml=/dev/stdout``,
   ``cat report.xml``): each ``<testsuites>`` / ``<testsuite>`` document is cut out of the
   text (it may start and end mid-line, as a runner writing the XML through its own file
   handle leaves it) and read by the JUnit reader;
3. pytest's terminal output (`PytestLogParser`: ``-v`` lines, the ``-rA`` short summary).

``results_format='pytest'`` reads a JUnit document pytest printed when there is one (it has
durations and the file and line of every test), else pytest's terminal output. Nothing found
is `ResultsStatus.MISSING` with a note saying what to print; never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tilt.testresults._collect import ResultsFormat, is_gotest_command, is_pytest_command
from tilt.testresults._gotest import GoTestParser
from tilt.testresults._junit import parse_junit_text
from tilt.testresults._model import ResultsStatus, TestResults, merge
from tilt.testresults._pytestlog import PytestLogParser

__all__ = ["JunitInLog", "find_junit_documents", "results_from_log"]

_START = re.compile(r"(?:<\?xml[^>]*\?>\s*)?<(testsuites|testsuite)\b")
_TAG = re.compile(r"<(/?)(testsuites|testsuite)\b[^>]*?(/?)>")


@dataclass(frozen=True, kw_only=True)
class JunitInLog:
    """One JUnit XML document found in a log.

    Attributes:
        line: The (1-based) log line it starts on.
        text: The document ('' when it never ends).
        truncated: It starts but its closing tag never comes (the log was cut).
    """

    line: int
    text: str
    truncated: bool = False


def find_junit_documents(lines: Sequence[str]) -> list[JunitInLog]:
    """The JUnit XML documents printed in ``lines``, in order."""
    text = "\n".join(lines)
    if "<testsuite" not in text:
        return []
    out: list[JunitInLog] = []
    pos = 0
    while True:
        start = _START.search(text, pos)
        if start is None:
            return out
        root = start.group(1)
        line = text.count("\n", 0, start.start()) + 1
        depth = 0
        end = -1
        for tag in _TAG.finditer(text, start.start(1) - 1):
            if tag.group(2) != root:
                continue
            closing, selfclosing = tag.group(1) == "/", tag.group(3) == "/"
            if not closing and not selfclosing:
                depth += 1
            elif closing:
                depth -= 1
            if depth <= 0:
                end = tag.end()
                break
        if end < 0:
            out.append(JunitInLog(line=line, text="", truncated=True))
            return out
        out.append(JunitInLog(line=line, text=text[start.start() : end]))
        pos = end


def results_from_log(
    lines: Sequence[str], fmt: ResultsFormat, *, command: str = "", label: str = "log"
) -> TestResults:
    """The results a log carries, in the resource's ``fmt``; never raises.

    Args:
        lines: The log's lines (without line ends).
        fmt: The resource's results format.
        command: The command that wrote the log, as shown (which runner ``auto`` expects
            when the log carries nothing it recognises).
        label: What notes call the log (``pod web-abc12``).
    """
    if fmt is ResultsFormat.NONE:
        return TestResults(status=ResultsStatus.NONE)
    if fmt is ResultsFormat.GOTEST:
        return _gotest(lines)
    if fmt is ResultsFormat.JUNIT:
        found = _junit(lines, label)
        if found is None:
            return TestResults(
                status=ResultsStatus.MISSING,
                note=(
                    f"no JUnit XML document in the {label} log (print one, e.g. "
                    "pytest --junitxml=/dev/stdout, or cat the report file)"
                ),
                sources=(label,),
            )
        return found
    if fmt is ResultsFormat.PYTEST:
        return _pytest(lines, label, _junit(lines, label))
    # auto
    go = _gotest(lines)
    if go.status is ResultsStatus.PARSED:
        return go
    junit = _junit(lines, label)
    if junit is not None and junit.status is ResultsStatus.PARSED:
        return junit
    parser = _pytest_parser(lines)
    if parser.seen:
        return _with_junit_note(parser.result(), junit)
    if junit is not None:
        return junit  # malformed or cut: say so
    if is_pytest_command(command):
        return _pytest(lines, label, None, parser)
    if is_gotest_command(command):
        return go
    return TestResults(status=ResultsStatus.NONE)


def _gotest(lines: Sequence[str]) -> TestResults:
    go = GoTestParser()
    for line in lines:
        go.feed(line)
    return go.result()


def _junit(lines: Sequence[str], label: str) -> TestResults | None:
    """The JUnit documents in the log, merged (None: there are none)."""
    docs = find_junit_documents(lines)
    if not docs:
        return None
    parts: list[TestResults] = []
    for d in docs:
        if d.truncated:
            parts.append(
                TestResults(
                    status=ResultsStatus.MALFORMED,
                    note=(
                        f"{label} log:{d.line}: a JUnit XML document starts here and never "
                        "ends (the log was cut short?)"
                    ),
                    sources=(label,),
                )
            )
        else:
            parts.append(parse_junit_text(d.text, label=f"{label} log", first_line=d.line))
    return parts[0] if len(parts) == 1 else merge(parts)


def _pytest_parser(lines: Sequence[str]) -> PytestLogParser:
    parser = PytestLogParser()
    for line in lines:
        parser.feed(line)
    return parser


def _pytest(
    lines: Sequence[str],
    label: str,
    junit: TestResults | None,
    parser: PytestLogParser | None = None,
) -> TestResults:
    """pytest's results: the JUnit document it printed (``junit``), else its output (read
    by ``parser`` when the caller has read it already)."""
    if junit is not None and junit.status is ResultsStatus.PARSED:
        return junit
    parser = parser or _pytest_parser(lines)
    res = parser.result()
    if res.status is ResultsStatus.MISSING and not parser.seen:
        res = replace(
            res,
            note=(
                f"no pytest output in the {label} log (run pytest with -rA, or print its "
                "JUnit XML: --junitxml=/dev/stdout)"
            ),
        )
    return _with_junit_note(res, junit)


def _with_junit_note(res: TestResults, junit: TestResults | None) -> TestResults:
    """``res`` (read from pytest's output) noting why a printed JUnit document was not used."""
    if junit is None or junit.status is ResultsStatus.PARSED:
        return res
    why = f"{junit.note}; results read from pytest's output instead"
    return replace(res, note="; ".join(x for x in (why, res.note) if x))
