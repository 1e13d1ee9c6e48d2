"""Runs a test resource's update: its cmd, in shards, with a timeout, read into per-test results.

`tilt.engine.local.LocalRunner` hands a resource declared with ``test()`` here.
One update:

1. With ``rerun_failed_first`` and tests that failed last time (pytest), those run
   first, alone; if they still fail the update ends there (the quick answer),
   otherwise the whole suite runs.
2. With ``shards=N`` the command runs N times at once, each told its shard by
   ``TILT_SHARD_INDEX`` / ``TILT_SHARD_COUNT``; for pytest tilt finds the test files,
   splits them balanced by the last run's durations and passes each shard its own
   (``TILT_SHARD_FILES``, and through ``PYTEST_ADDOPTS``). Each shard's output goes
   to the resource's log prefixed ``[shard i/N]`` in a span of its own
   (``build:shard-i``), so a failed shard's log can be read alone.
3. ``timeout``: when it passes, every shard is stopped (SIGTERM, grace, SIGKILL)
   and the update fails saying so.
4. The shards' results merge into one `TestResults`, carried by `UpdateFinished`.
   The update fails when a command fails or the results list a failing test; when
   results are missing or malformed the exit codes decide, and the note says why.

The durations and failing tests are remembered under the tilt dev folder
(`tilt.testresults.RunMemory`).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tilt.engine.events import UpdateFinished
from tilt.testresults import (
    DEFAULT_TEST_FILES,
    ResultsCollector,
    ResultsFormat,
    ResultsStatus,
    RunMemory,
    TestResults,
    balance,
    discover_test_files,
    merge,
    pytest_node_id,
    shard_env,
)

if TYPE_CHECKING:
    from tilt.engine.local import LocalRunner
    from tilt.model import Cmd, LocalTarget, Resource, TestSpec
    from tilt.process import ExitStatus, ManagedProcess, ProcessSupervisor

__all__ = ["ShardRun", "TestRunOutcome", "run_test_update", "run_tests", "shard_span"]

#: How many failing tests the update's log summary names.
_LOGGED_FAILURES = 20


def shard_span(index: int) -> str:
    """The log span of shard ``index`` (0-based): ``build:shard-1``..."""
    return f"build:shard-{index + 1}"


@dataclass(frozen=True, kw_only=True)
class ShardRun:
    """How one shard ended."""

    index: int
    count: int
    files: tuple[str, ...]
    status: ExitStatus | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status.returncode == 0 and not self.error


@dataclass(frozen=True, kw_only=True)
class TestRunOutcome:
    """How a test update ended."""

    __test__ = False

    ok: bool
    results: TestResults
    error: str = ""
    exit_code: int | None = None
    cancelled: bool = False
    timed_out: bool = False
    shards: tuple[ShardRun, ...] = ()


@dataclass(frozen=True, kw_only=True)
class _Job:
    """What every shard of one update shares."""

    sup: ProcessSupervisor
    name: str
    cmd: Cmd
    cwd: str
    local: LocalTarget
    test: TestSpec
    base_dir: str
    log: Callable[[str, str], None]
    fmt: ResultsFormat

    def collector(self, work: str, started: float, pytest_args: Sequence[str]) -> ResultsCollector:
        return ResultsCollector(
            fmt=self.fmt,
            command=self.cmd.display,
            results=self.test.results,
            base_dir=self.base_dir,
            work_dir=work,
            started_at=started,
            env=self.local.env,
            pytest_args=pytest_args,
        )


def _node_ids(results: TestResults, pytest: bool) -> list[str]:
    out = []
    for c in results.failures:
        if pytest and c.source_file:
            out.append(pytest_node_id(c.source_file, c.suite, c.name))
        else:
            out.append(c.name)
    return out


async def run_tests(
    *,
    sup: ProcessSupervisor,
    name: str,
    local: LocalTarget,
    test: TestSpec,
    base_dir: str,
    log: Callable[[str, str], None],
    memory: RunMemory | None = None,
) -> TestRunOutcome:
    """Run one test update (see the module docstring); cancelling it stops every shard.

    Args:
        sup: Owns the processes.
        name: The resource's name (for messages).
        local: Its command, folder and environment.
        test: Its test settings.
        base_dir: The Tiltfile's folder (default working directory, results globs).
        log: Appends ``(text, span)`` to the resource's log.
        memory: Durations and failures of earlier runs (None: remember nothing).
    """
    assert local.cmd is not None
    cmd = local.cmd
    cwd = local.dir or base_dir
    job = _Job(
        sup=sup,
        name=name,
        cmd=cmd,
        cwd=cwd,
        local=local,
        test=test,
        base_dir=base_dir,
        log=log,
        fmt=ResultsFormat(test.results_format),
    )
    with tempfile.TemporaryDirectory(prefix="tilt-test-") as work:
        probe = job.collector(work, time.time(), ())
        pytest = probe.format is ResultsFormat.PYTEST
        failed_before = memory.failed() if memory is not None and test.rerun_failed_first else []
        if pytest and failed_before:
            log(f"Rerunning the {len(failed_before)} test(s) that failed last time first", "build")
            first = await _run_shards(
                job, os.path.join(work, "rerun"), groups=[tuple(failed_before)], pass_files=True
            )
            if first.cancelled:
                return first
            if not first.ok and first.results.ok is False:
                outcome = _annotate(
                    first,
                    f"the {len(failed_before)} test(s) that failed last time still fail; "
                    "the rest of the suite did not run",
                )
                _remember(memory, outcome, pytest, durations=False)
                return outcome
            if first.ok:
                log("They pass now: running the whole suite", "build")
            else:
                # Renamed or deleted tests, a collection error...: no verdict on them alone.
                log("They could not be rerun alone: running the whole suite", "build")
        groups: list[tuple[str, ...]] = [()] * max(1, test.shards)
        pass_files = False
        if pytest and test.shards > 1:
            files = discover_test_files(cwd, test.test_files or DEFAULT_TEST_FILES)
            if files:
                n = min(test.shards, len(files))
                durations = memory.durations() if memory is not None else {}
                groups = [tuple(g) for g in balance(files, durations, n)]
                pass_files = True
            else:
                log("No test files found to split into shards: running one shard", "build")
                groups = [()]
        outcome = await _run_shards(
            job, os.path.join(work, "run"), groups=groups, pass_files=pass_files
        )
        _remember(memory, outcome, pytest, durations=True)
        return outcome


def _annotate(outcome: TestRunOutcome, note: str) -> TestRunOutcome:
    res = outcome.results
    notes = "; ".join(x for x in (note, res.note) if x)
    return replace(outcome, results=replace(res, note=notes))


def _remember(
    memory: RunMemory | None, outcome: TestRunOutcome, pytest: bool, *, durations: bool
) -> None:
    if memory is None or outcome.cancelled:
        return
    res = outcome.results
    if res.status is not ResultsStatus.PARSED and not (
        res.status is ResultsStatus.MALFORMED and res.cases
    ):
        return
    memory.save(
        durations=res.file_durations() if durations and not outcome.timed_out else None,
        failed=_node_ids(res, pytest),
    )


async def _run_shards(
    job: _Job, work: str, *, groups: Sequence[tuple[str, ...]], pass_files: bool
) -> TestRunOutcome:
    sup, cmd, local, test, log = job.sup, job.cmd, job.local, job.test, job.log
    count = len(groups)
    started = time.time()
    collectors: list[ResultsCollector] = []
    procs: list[ManagedProcess | None] = []
    errors: list[str] = [""] * count
    for i, files in enumerate(groups):
        shard_dir = os.path.join(work, f"shard-{i + 1}")
        os.makedirs(shard_dir, exist_ok=True)
        col = job.collector(shard_dir, started, files if pass_files else ())
        collectors.append(col)
        span = shard_span(i) if count > 1 else "build"
        prefix = f"[shard {i + 1}/{count}] " if count > 1 else ""

        def on_output(
            text: str, _col: ResultsCollector = col, _p: str = prefix, _s: str = span
        ) -> None:
            _col.feed(text)
            log(_p + text, _s)

        def on_system(text: str, _p: str = prefix, _s: str = span) -> None:
            log(_p + text, _s)

        env = dict(local.env)
        env.update(col.env())
        if count > 1:
            env.update(shard_env(i, count, files))
        if count > 1:
            what = f"{len(files)} file(s)" if pass_files else "the whole command"
            log(f"{prefix}Running cmd: {cmd.display} ({what})", span)
        else:
            log(f"Running cmd: {cmd.display}", span)
        try:
            procs.append(
                await sup.start(
                    cmd.argv,
                    cwd=job.cwd,
                    env=env,
                    on_output=on_output,
                    on_system=on_system,
                    stdin_pty=local.stdin_mode == "pty",
                )
            )
        except asyncio.CancelledError:
            await _stop_all(procs)
            return _cancelled()
        except OSError as e:
            from tilt.engine.local import _start_error

            errors[i] = _start_error(cmd, e)
            log(f"{prefix}ERROR: {errors[i]}", span)
            procs.append(None)
    statuses: list[ExitStatus | None] = [None] * count
    timed_out = False
    waits = {asyncio.ensure_future(p.wait()): i for i, p in enumerate(procs) if p is not None}
    try:
        if waits:
            done, pending = await asyncio.wait(waits, timeout=test.timeout_s)
            for fut in done:
                statuses[waits[fut]] = fut.result()
            if pending:
                timed_out = True
                assert test.timeout_s is not None
                log(f"Timeout: {job.name} ran over {test.timeout_s:g}s; stopping it", "build")
                late = [waits[fut] for fut in pending]
                for fut in pending:
                    fut.cancel()
                stopped = await asyncio.gather(*(_stop(procs[i]) for i in late))
                for i, stop_status in zip(late, stopped, strict=True):
                    statuses[i] = stop_status
    except asyncio.CancelledError:
        for fut in waits:
            fut.cancel()
        log("Cancelling update: stopping its processes", "build")
        await _stop_all(procs)
        log("Update cancelled", "build")
        return _cancelled()
    shards = tuple(
        ShardRun(index=i, count=count, files=groups[i], status=statuses[i], error=errors[i])
        for i in range(count)
    )
    parts = []
    for i, col in enumerate(collectors):
        st = statuses[i]
        res = col.result(st.returncode if st is not None else None)
        parts.append(res.with_shard(i) if count > 1 else res)
    results = merge(parts) if count > 1 else parts[0]
    if timed_out:
        results = _with_note(results, f"stopped after the {test.timeout_s:g}s timeout")
    return _verdict(job, results, shards, timed_out=timed_out)


def _with_note(results: TestResults, note: str) -> TestResults:
    return replace(results, note="; ".join(x for x in (note, results.note) if x))


def _cancelled() -> TestRunOutcome:
    return TestRunOutcome(ok=False, results=TestResults(), error="cancelled", cancelled=True)


async def _stop(proc: ManagedProcess | None) -> ExitStatus:
    assert proc is not None
    return await proc.stop()


async def _stop_all(procs: Sequence[ManagedProcess | None]) -> None:
    await asyncio.gather(*(p.stop() for p in procs if p is not None), return_exceptions=True)


def _verdict(
    job: _Job, results: TestResults, shards: tuple[ShardRun, ...], *, timed_out: bool
) -> TestRunOutcome:
    from tilt.engine.local import describe_exit

    cmd, test, log = job.cmd, job.test, job.log
    count = len(shards)
    failed_shards = [s for s in shards if not s.ok]
    exit_code: int | None = None
    for s in shards:
        if s.status is not None and (exit_code is None or s.status.returncode != 0):
            exit_code = s.status.returncode if exit_code in (None, 0) else exit_code
    summary = results.summary()
    if summary:
        log(f"Tests: {summary}", "build")
    for c in results.failures[:_LOGGED_FAILURES]:
        where = f" ({c.location})" if c.location else ""
        shard = f" [shard {c.shard + 1}/{count}]" if c.shard is not None and count > 1 else ""
        log(f"  ✖ {c.outcome.value.upper()} {c.full_name}{where}{shard}: {c.message}", "build")
    more = len(results.failures) - _LOGGED_FAILURES
    if more > 0:
        log(f"  ... and {more} more", "build")
    error = ""
    if timed_out:
        error = f"timed out after {test.timeout_s:g}s (test timeout)"
    elif results.ok is False:
        n = results.failed + results.errored
        first = results.failures[0]
        where = f" ({first.location})" if first.location else ""
        error = f"{n} of {results.total} test(s) failed: {first.full_name}{where}"
    elif failed_shards:
        s = failed_shards[0]
        why = s.error or (describe_exit(s.status) if s.status is not None else "did not run")
        if count > 1:
            error = (
                f"shard {s.index + 1}/{count} failed: {why} (its log: span {shard_span(s.index)})"
            )
        else:
            error = f'Command "{cmd.display}" failed: {why}'
    if results.status in (ResultsStatus.MISSING, ResultsStatus.MALFORMED):
        log(f"WARNING: per-test results {results.status.value}: {results.note}", "build")
    if error:
        log(f"ERROR: {error}", "build")
    return TestRunOutcome(
        ok=not error,
        results=results,
        error=error,
        exit_code=exit_code,
        timed_out=timed_out,
        shards=shards,
    )


async def run_test_update(runner: LocalRunner, spec: Resource, update_id: int) -> None:
    """`LocalRunner`'s update for a resource declared with ``test()``; posts `UpdateFinished`."""
    from tilt.api.token import tilt_dev_dir

    assert spec.test is not None and spec.local is not None
    name = spec.name
    logs = runner._logs

    def log(text: str, span: str) -> None:
        logs.append(name, text, span=span)

    memory = RunMemory(tilt_dev_dir(), runner._base_dir, name)
    try:
        out = await run_tests(
            sup=runner._sup,
            name=name,
            local=spec.local,
            test=spec.test,
            base_dir=runner._base_dir,
            log=log,
            memory=memory,
        )
    except asyncio.CancelledError:
        out = TestRunOutcome(ok=False, results=TestResults(), error="cancelled", cancelled=True)
    except Exception as e:  # a bug here must fail the update, not hang the engine
        log(f"ERROR: internal error running the tests: {type(e).__name__}: {e}", "build")
        out = TestRunOutcome(ok=False, results=TestResults(), error=f"internal error: {e}")
    runner._post(
        UpdateFinished(
            name=name,
            update_id=update_id,
            at=time.time(),
            ok=out.ok,
            error=out.error,
            exit_code=out.exit_code,
            cancelled=out.cancelled,
            results=out.results,
        )
    )
