"""JUnit XML: a streaming reader (any runner's files) and the writer of `tilt ci --output-junit`.

The reader walks the file with ``iterparse`` and clears each ``<testcase>`` once read,
so a 10,000-test file never sits in memory as a tree. It accepts the dialects in the
wild: a ``<testsuites>`` root or a bare ``<testsuite>``, nested suites, ``<failure>``
and ``<error>`` with a ``message`` attribute and/or text, ``<skipped>``, pytest's
``file``/``line`` attributes (``junit_family=xunit1``), and ``<rerunFailure>``-style
extras (ignored).
"""

from __future__ import annotations

import glob
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import IO

from tilt.testresults._locate import locate
from tilt.testresults._model import (
    Outcome,
    ResultsStatus,
    TestCase,
    TestResults,
    first_lines,
    merge,
)

__all__ = ["parse_junit_file", "parse_junit_glob", "parse_junit_text", "write_junit"]


def _float(v: str | None) -> float:
    if not v:
        return 0.0
    try:
        return max(0.0, float(v.replace(",", "")))
    except ValueError:
        return 0.0


def _case(elem: ET.Element) -> TestCase:
    name = elem.get("name") or "(unnamed)"
    suite = elem.get("classname") or ""
    source = elem.get("file") or ""
    outcome = Outcome.PASSED
    message = ""
    text = ""
    for child in elem:
        tag = child.tag
        if tag in ("failure", "error"):
            outcome = Outcome.FAILED if tag == "failure" else Outcome.ERRORED
            message = child.get("message") or ""
            text = child.text or ""
            break
        if tag == "skipped":
            outcome = Outcome.SKIPPED
            message = child.get("message") or (child.text or "").strip()
    file = ""
    line = 0
    details: tuple[str, ...] = ()
    if outcome in (Outcome.FAILED, Outcome.ERRORED):
        details = first_lines(text or message)
        file, line = locate(text or message, file_hint=source, suite_hint=suite)
        if not file and source:
            file = source
            # pytest's xunit1 line is 0-based (the def line).
            line = int(elem.get("line") or -1) + 1 if (elem.get("line") or "").isdigit() else 0
        if not message:
            message = details[0] if details else ""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return TestCase(
        name=name,
        suite=suite,
        outcome=outcome,
        duration_s=_float(elem.get("time")),
        message=first,
        details=details,
        file=file,
        line=line,
        source_file=source,
    )


def parse_junit_file(path: str) -> TestResults:
    """Read one JUnit XML file; never raises (a bad file is `ResultsStatus.MALFORMED`)."""
    return _parse(path, label=path)


def parse_junit_text(text: str, *, label: str, first_line: int = 1) -> TestResults:
    """Read one JUnit XML document held in memory (e.g. printed into a log); never raises.

    Args:
        text: The document.
        label: What notes name it by (``pod web-abc12 log``).
        first_line: The line the document starts on in what ``label`` names, so a
            note's ``label:line:col`` points there.
    """
    return _parse(io.BytesIO(text.encode("utf-8")), label=label, line_offset=first_line - 1)


def _parse(source: str | IO[bytes], *, label: str, line_offset: int = 0) -> TestResults:
    cases: list[TestCase] = []
    suite_time = 0.0
    depth = 0
    saw_root = False
    try:
        for event, elem in ET.iterparse(source, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if not saw_root:
                    saw_root = True
                    if tag not in ("testsuites", "testsuite"):
                        return TestResults(
                            status=ResultsStatus.MALFORMED,
                            note=f"{label}: not JUnit XML (root element <{tag}>)",
                            sources=(label,),
                        )
                if tag == "testsuite":
                    depth += 1
                continue
            if tag == "testcase":
                cases.append(_case(elem))
                elem.clear()
            elif tag == "testsuite":
                depth -= 1
                if depth == 0:
                    suite_time += _float(elem.get("time"))
                elem.clear()
    except ET.ParseError as e:
        line, col = e.position
        return TestResults(
            status=ResultsStatus.MALFORMED,
            note=f"{label}:{line + line_offset}:{col}: not valid XML ({_reason(e)})",
            sources=(label,),
        )
    except OSError as e:
        return TestResults(
            status=ResultsStatus.MISSING,
            note=f"{label}: cannot read ({e.strerror or e})",
            sources=(label,),
        )
    if not saw_root:
        return TestResults(
            status=ResultsStatus.MALFORMED, note=f"{label}: empty file", sources=(label,)
        )
    total = sum(c.duration_s for c in cases)
    return TestResults(
        status=ResultsStatus.PARSED,
        cases=tuple(cases),
        duration_s=suite_time or total,
        sources=(label,),
    )


def _reason(e: ET.ParseError) -> str:
    msg = str(e)
    return msg.split(":", 1)[0] if ": line" in msg else msg


def parse_junit_glob(
    patterns: Sequence[str], *, base_dir: str, newer_than: float | None = None
) -> TestResults:
    """Read every file matching ``patterns`` (relative to ``base_dir``) and merge them.

    Args:
        patterns: Glob patterns (``**`` allowed).
        base_dir: What relative patterns are relative to.
        newer_than: Ignore files last written before this time (a stale file
            from an earlier run must not pass for this run's results).
    """
    paths: list[str] = []
    stale: list[str] = []
    for pat in patterns:
        full = pat if os.path.isabs(pat) else os.path.join(base_dir, pat)
        for p in sorted(glob.glob(full, recursive=True)):
            if not os.path.isfile(p) or p in paths:
                continue
            try:
                mtime = os.stat(p).st_mtime
            except OSError:
                continue
            if newer_than is not None and mtime < newer_than:
                stale.append(p)
                continue
            paths.append(p)
    if not paths:
        what = ", ".join(patterns)
        note = f"no JUnit XML file matches {what}"
        if stale:
            note = f"only stale JUnit XML files (from an earlier run) match {what}"
        return TestResults(status=ResultsStatus.MISSING, note=note)
    return merge([parse_junit_file(p) for p in paths])


# ---- the writer ------------------------------------------------------------------------------


def write_junit(
    path: str,
    suites: Mapping[str, TestResults],
    *,
    resource_outcomes: Iterable[tuple[str, bool, str]] = (),
) -> None:
    """Write one JUnit XML file for a whole `tilt ci` run.

    Args:
        path: Where (its folder is created).
        suites: A test resource's name -> its results; one ``<testsuite>`` each. A
            resource without per-test results appears as one test case named after
            it, failed with ``resource_outcomes``' message when it failed.
        resource_outcomes: ``(name, ok, message)`` of every resource (tests and not).
    """
    outcomes = {name: (ok, msg) for name, ok, msg in resource_outcomes}
    root = ET.Element("testsuites", {"name": "tilt ci"})
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    total_time = 0.0
    names = list(suites) + [n for n in outcomes if n not in suites]
    for name in names:
        res = suites.get(name)
        ok, msg = outcomes.get(name, (True, ""))
        suite = ET.SubElement(root, "testsuite", {"name": name})
        cases = list(res.cases) if res is not None and res.status is ResultsStatus.PARSED else []
        if not cases:
            outcome = Outcome.PASSED if ok else Outcome.FAILED
            note = res.note if res is not None else ""
            cases = [
                TestCase(
                    name=name,
                    suite=name,
                    outcome=outcome,
                    message=msg if not ok else "",
                    details=tuple(x for x in (msg, note) if x) if not ok else (),
                    duration_s=res.duration_s if res is not None else 0.0,
                )
            ]
        counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
        time_s = 0.0
        for c in cases:
            counts["tests"] += 1
            time_s += c.duration_s
            attrs = {"name": c.name, "classname": c.suite or name, "time": f"{c.duration_s:.3f}"}
            if c.file:
                attrs["file"] = c.file
                if c.line:
                    attrs["line"] = str(c.line)
            tc = ET.SubElement(suite, "testcase", attrs)
            if c.outcome is Outcome.FAILED:
                counts["failures"] += 1
                el = ET.SubElement(tc, "failure", {"message": c.message})
                el.text = "\n".join(c.details)
            elif c.outcome is Outcome.ERRORED:
                counts["errors"] += 1
                el = ET.SubElement(tc, "error", {"message": c.message})
                el.text = "\n".join(c.details)
            elif c.outcome is Outcome.SKIPPED:
                counts["skipped"] += 1
                ET.SubElement(tc, "skipped", {"message": c.message})
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{time_s:.3f}")
        total_time += time_s
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
