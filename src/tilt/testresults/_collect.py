"""Which results a test command produces, and collecting them from one run.

`ResultsCollector` is made per run (per shard): it says which environment the
command needs (for pytest, ``PYTEST_ADDOPTS`` asking for a JUnit XML file: no plugin,
nothing to change in the command), reads the output as it streams (``go test
-json``), and after the exit reads the files and returns one `TestResults`.
"""

from __future__ import annotations

import enum
import os
import re
import shlex
from collections.abc import Mapping, Sequence

from tilt.testresults._gotest import GoTestParser
from tilt.testresults._junit import parse_junit_file, parse_junit_glob
from tilt.testresults._model import ResultsStatus, TestResults, merge, pytest_node_id

__all__ = [
    "ResultsCollector",
    "ResultsFormat",
    "is_gotest_command",
    "is_pytest_command",
    "pytest_node_id",
]


class ResultsFormat(enum.Enum):
    """Where a test resource's per-test results come from (``test(results_format=)``)."""

    AUTO = "auto"
    PYTEST = "pytest"
    GOTEST = "gotest"
    JUNIT = "junit"
    NONE = "none"


_PYTEST_WORD = re.compile(r"(^|[\s/;&|(])(py\.test|pytest)(\s|$)|-m\s+pytest\b")
_GOTEST = re.compile(r"(^|[\s/;&|(])go\s+test\b")


def is_pytest_command(command: str) -> bool:
    """Whether the command runs pytest (``pytest``, ``python -m pytest``, ``uv run pytest``)."""
    return bool(_PYTEST_WORD.search(command))


def is_gotest_command(command: str) -> bool:
    """Whether the command line runs ``go test -json``."""
    return bool(_GOTEST.search(command)) and "-json" in command


class ResultsCollector:
    """Collects one run's results.

    Args:
        fmt: The resource's results format.
        command: The command line as shown (for auto-detection).
        results: Glob patterns of JUnit XML files the command writes (``test(results=)``).
        base_dir: What relative ``results`` patterns are relative to.
        work_dir: A private folder for this run (pytest's JUnit file goes there).
        started_at: The run's start (``time.time()``): older result files are stale.
        env: The command's own environment additions (an existing ``PYTEST_ADDOPTS``
            is kept and extended).
        pytest_args: More arguments for pytest (a shard's files, failing tests first).
    """

    def __init__(
        self,
        *,
        fmt: ResultsFormat,
        command: str,
        results: Sequence[str],
        base_dir: str,
        work_dir: str,
        started_at: float,
        env: Mapping[str, str] | None = None,
        pytest_args: Sequence[str] = (),
    ) -> None:
        self.results = tuple(results)
        self.base_dir = base_dir
        self.started_at = started_at
        self._env = dict(env or {})
        self._pytest_args = tuple(pytest_args)
        self._go = GoTestParser()
        self.junit_path = os.path.join(work_dir, "junit.xml")
        self.requested = fmt
        self.format = self._effective(fmt, command)
        self._sniff = fmt is ResultsFormat.AUTO and self.format is ResultsFormat.NONE

    def _effective(self, fmt: ResultsFormat, command: str) -> ResultsFormat:
        if fmt is ResultsFormat.NONE:
            return fmt
        if self.results and fmt in (ResultsFormat.AUTO, ResultsFormat.JUNIT, ResultsFormat.PYTEST):
            # The command writes its own files where results= says.
            return ResultsFormat.JUNIT
        if fmt is ResultsFormat.AUTO:
            if is_pytest_command(command):
                return ResultsFormat.PYTEST
            if is_gotest_command(command):
                return ResultsFormat.GOTEST
            return ResultsFormat.NONE
        return fmt

    def env(self) -> dict[str, str]:
        """Variables to add to the command's environment."""
        out: dict[str, str] = {"TILT_RESULTS_FILE": self.junit_path}
        if self.format is ResultsFormat.PYTEST:
            existing = self._env.get("PYTEST_ADDOPTS", os.environ.get("PYTEST_ADDOPTS", ""))
            ours = [
                f"--junitxml={self.junit_path}",
                # xunit1 names each case's file and line: shard balancing and reruns need it.
                "-o",
                "junit_family=xunit1",
                *self._pytest_args,
            ]
            out["PYTEST_ADDOPTS"] = " ".join(x for x in (existing, shlex.join(ours)) if x)
        return out

    def feed(self, line: str) -> None:
        """One line of the command's output."""
        if self.format is ResultsFormat.GOTEST or self._sniff:
            self._go.feed(line)

    def result(self, exit_code: int | None) -> TestResults:
        """The run's results, read after it ended; never raises.

        Besides its format's source, a JUnit XML file the command wrote to
        ``$TILT_RESULTS_FILE`` is read (any runner, one file per shard), unless
        the resource asked for no results (``none``).
        """
        own = (
            self.requested is not ResultsFormat.NONE
            and self.format is not ResultsFormat.PYTEST
            and os.path.exists(self.junit_path)
        )
        found = self._read(exit_code)
        if not own:
            return found
        mine = parse_junit_file(self.junit_path)
        if found.status in (ResultsStatus.NONE, ResultsStatus.MISSING):
            return mine
        return merge([found, mine])

    def _read(self, exit_code: int | None) -> TestResults:
        match self.format:
            case ResultsFormat.JUNIT:
                return parse_junit_glob(
                    self.results, base_dir=self.base_dir, newer_than=self.started_at - 1.0
                )
            case ResultsFormat.PYTEST:
                if not os.path.exists(self.junit_path):
                    hint = (
                        "pytest could not start or run (exit 4: usage error)"
                        if exit_code == 4
                        else "did the command run pytest? a --junitxml of its own wins"
                    )
                    return TestResults(
                        status=ResultsStatus.MISSING, note=f"pytest wrote no JUnit XML ({hint})"
                    )
                return parse_junit_file(self.junit_path)
            case ResultsFormat.GOTEST:
                return self._go.result()
            case _:
                if self._sniff and self._go.events:
                    return self._go.result()
                return TestResults(status=ResultsStatus.NONE)
