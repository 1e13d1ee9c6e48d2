"""Per-test results of test resources: reading them, sharding a suite, reporting a run.

- `_model`: `TestResults` (counts, duration, cases, failures with file:line) and `merge`.
- `_junit`: streaming JUnit XML reader (any runner) and the `tilt ci --output-junit` writer.
- `_gotest`: ``go test -json`` stream reader.
- `_pytestlog`: pytest's terminal output reader (``-v`` lines, the ``-rA`` short summary).
- `_logs`: results from a log alone (a Job's pod log): go test -json, JUnit XML printed
  among other lines, pytest's output, or auto-detected among them.
- `_collect`: which format a command produces (auto-detect) and collecting one run's results.
- `_shard`: splitting a suite into shards balanced by the last run's durations.
- `report`: the `tilt ci` summary text.
"""

from tilt.testresults._collect import (
    ResultsCollector,
    ResultsFormat,
    is_gotest_command,
    is_pytest_command,
    pytest_node_id,
)
from tilt.testresults._gotest import GoTestParser, looks_like_gotest
from tilt.testresults._junit import (
    parse_junit_file,
    parse_junit_glob,
    parse_junit_text,
    write_junit,
)
from tilt.testresults._logs import JunitInLog, find_junit_documents, results_from_log
from tilt.testresults._model import Outcome, ResultsStatus, TestCase, TestResults, merge
from tilt.testresults._pytestlog import PytestLogParser
from tilt.testresults._shard import (
    DEFAULT_TEST_FILES,
    ENV_SHARD_COUNT,
    ENV_SHARD_FILES,
    ENV_SHARD_INDEX,
    RunMemory,
    balance,
    discover_test_files,
    shard_env,
)
from tilt.testresults.report import ResourceReport, ci_summary

__all__ = [
    "DEFAULT_TEST_FILES",
    "ENV_SHARD_COUNT",
    "ENV_SHARD_FILES",
    "ENV_SHARD_INDEX",
    "GoTestParser",
    "JunitInLog",
    "Outcome",
    "PytestLogParser",
    "ResourceReport",
    "ResultsCollector",
    "ResultsFormat",
    "ResultsStatus",
    "RunMemory",
    "TestCase",
    "TestResults",
    "balance",
    "ci_summary",
    "discover_test_files",
    "find_junit_documents",
    "is_gotest_command",
    "is_pytest_command",
    "looks_like_gotest",
    "merge",
    "parse_junit_file",
    "parse_junit_glob",
    "parse_junit_text",
    "pytest_node_id",
    "results_from_log",
    "shard_env",
    "write_junit",
]
