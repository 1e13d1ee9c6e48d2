"""Finding the ``file:line`` of a failure in a runner's failure text."""

from __future__ import annotations

import os
import re

__all__ = ["locate"]

# path:line as tracebacks print it: `tests/test_a.py:12: AssertionError`,
# `    add_test.go:12: got 3`, `/src/x_test.go:40 +0x1d`, `(FooTest.java:42)`.
_LOC = re.compile(r"(?<![\w:/])((?:[A-Za-z]:)?[\w./\\@+-]*\w\.[A-Za-z]\w{0,9}):(\d+)\b")


def locate(
    text: str, *, file_hint: str = "", suite_hint: str = "", prefer_suffix: str = ""
) -> tuple[str, int]:
    """The most telling ``(file, line)`` in ``text``, or ``("", 0)``.

    A location in the test's own file (``file_hint``, or the last part of
    ``suite_hint``, e.g. ``FooTest`` of ``com.x.FooTest``) wins; among those the
    last one (pytest prints the failing line last; a Java trace lists the test's
    frame after the assertion library's, and the outermost frames after it are
    the runner's, so there the first match in the test's file is taken). With
    ``prefer_suffix`` (``_test.go``), the first location in such a file. With no
    hint, the last location of a Python traceback, else the first one.
    """
    found = [(m.group(1), int(m.group(2))) for m in _LOC.finditer(text)]
    if not found:
        return ("", 0)
    if prefer_suffix:
        mine = [f for f in found if f[0].endswith(prefer_suffix)]
        return mine[0] if mine else found[0]
    java_like = " at " in text and "(" in text
    if file_hint:
        base = os.path.basename(file_hint)
        mine = [f for f in found if os.path.basename(f[0]) == base]
        if mine:
            return mine[0] if java_like else mine[-1]
    if suite_hint:
        stem = re.split(r"[./$]", suite_hint)[-1]
        mine = [f for f in found if os.path.splitext(os.path.basename(f[0]))[0] == stem]
        if mine:
            return mine[0] if java_like else mine[-1]
    if java_like:
        return found[0]
    return found[-1]
