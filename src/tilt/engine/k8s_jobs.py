"""Kubernetes Jobs as tests: one update of a K8S resource that carries a `TestSpec`.

`tilt.engine.k8s.K8sRunner` hands an update here when the resource is a test
(``k8s_resource(..., test=True)`` on a Job, or ``test(name, image=..., command=...)``,
which fills a Job template). One update:

1. builds the images the resource deploys (as any K8S update);
2. deletes the resource's Jobs that exist in the cluster and waits until they are gone: a
   Job's pod template is immutable, and a finished Job never runs again, so every update
   (a new image, a changed file, a trigger) is a fresh run;
3. applies the objects (the session follows the pods: their logs stream into the
   resource's log, span ``runtime``);
4. waits for each Job's status condition ``Complete`` or ``Failed`` (``backoffLimit``
   is the cluster's business), within the test ``timeout``;
5. reads the logs of the Job's pods through the API into a `ResultsCollector` (a
   ``go test -json`` stream is read from the logs; ``results_format='auto'`` sniffs it),
   and posts `UpdateFinished` passed/failed with the parsed results.
"""

from __future__ import annotations

import asyncio
import shlex
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tilt.engine.events import UpdateFinished
from tilt.testresults import ResultsCollector, ResultsFormat, TestResults

if TYPE_CHECKING:
    from tilt.engine.k8s import K8sRunner
    from tilt.engine.runner import UpdateRequest
    from tilt.k8s.client import KubeClient
    from tilt.model import Resource

__all__ = ["JOB_POLL_S", "is_job_test", "job_command", "run_job_test"]

Obj = dict[str, Any]

#: How often a running Job's status is read.
JOB_POLL_S = 0.2
#: How many failing tests the update's log names.
_LOGGED_FAILURES = 20


def is_job_test(spec: Resource) -> bool:
    """Whether a K8S resource is a test whose workload is a Job."""
    return (
        spec.test is not None
        and spec.k8s is not None
        and any(o.kind == "Job" for o in spec.k8s.objects)
    )


def job_command(job: Obj) -> str:
    """The first container's command line (for results auto-detection and messages)."""
    containers = ((job.get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or [{}]
    c = containers[0]
    argv = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
    if len(argv) >= 3 and argv[1] == "-c":  # sh -c "go test -json ./..."
        return argv[2]
    return shlex.join(argv)


def _condition(job: Obj) -> str:
    """``Complete``, ``Failed`` or ``""`` (still running)."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
            return str(c["type"])
    return ""


def _failed_reason(job: Obj) -> str:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Failed" and c.get("status") == "True":
            return str(c.get("message") or c.get("reason") or "Failed")
    return "Failed"


def _delete_and_wait(kube: KubeClient, jobs: Sequence[tuple[str, str]], log: Any) -> None:
    """Delete the Jobs (and, in the background, their pods) and wait until they are gone."""
    for name, ns in jobs:
        if kube.delete("batch/v1", "Job", name, ns, propagation="Background"):
            log(f"Job/{name}: deleted (a test reruns as a new Job)")
    deadline = time.monotonic() + 60
    for name, ns in jobs:
        while kube.get("batch/v1", "Job", name, ns) is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Job/{name} is still being deleted after 60s")
            time.sleep(JOB_POLL_S)


def _pod_logs(kube: KubeClient, job: Obj) -> list[str]:
    """Every line the Job's pods wrote (oldest pod first)."""
    meta = job["metadata"]
    ns = meta.get("namespace") or kube.namespace
    pods = kube.list("v1", "Pod", ns, label_selector="").get("items") or []
    mine = [
        p
        for p in pods
        if any(o.get("uid") == meta.get("uid") for o in p["metadata"].get("ownerReferences") or [])
    ]
    mine.sort(key=lambda p: str(p["metadata"].get("creationTimestamp") or ""))
    info = kube.resource("v1", "Pod")
    out: list[str] = []
    for p in mine:
        for c in (p.get("spec") or {}).get("containers") or []:
            stream = kube.open_stream(
                info.path(ns, p["metadata"]["name"], "log"),
                query={"container": c["name"]},
                timeout_s=30,
            )
            try:
                out.extend(b.decode("utf-8", "replace").rstrip("\r") for b in stream.lines())
            finally:
                stream.close()
    return out


async def _wait_jobs(
    kube: KubeClient, jobs: Sequence[tuple[str, str]], timeout_s: float | None
) -> tuple[list[Obj], bool]:
    """The Jobs once each has finished; (jobs, timed_out)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        got = [await asyncio.to_thread(kube.get, "batch/v1", "Job", n, ns) for n, ns in jobs]
        current = [j for j in got if j is not None]
        if len(current) < len(jobs):
            missing = [n for (n, _), j in zip(jobs, got, strict=True) if j is None]
            raise RuntimeError(f"Job(s) deleted while the test ran: {', '.join(missing)}")
        if all(_condition(j) for j in current):
            return current, False
        if deadline is not None and time.monotonic() > deadline:
            return current, True
        await asyncio.sleep(JOB_POLL_S)


async def run_job_test(runner: K8sRunner, spec: Resource, req: UpdateRequest) -> None:
    """The update of a Job-based test resource; posts `UpdateFinished` with its results."""
    from tilt.engine.images import ImageBuildFailedError
    from tilt.k8s.apply import ApplyError
    from tilt.k8s.client import ApiError, ContextError

    assert spec.test is not None and spec.k8s is not None
    name = spec.name
    log = runner._log(name, "build")
    log("")
    log(req.reason)
    cancel = asyncio.Event()
    results = TestResults()
    error = ""
    cancelled = False
    try:
        session = await runner._get_session()
        kube = session.kube
        to_build = runner._images.to_build(spec, req.files, full=True)
        if to_build:
            await runner._images.build(to_build, resource=name, on_output=log, cancel=cancel)
        images = {r: ref for r in spec.image_refs if (ref := runner._images.deploy_ref(r))}
        jobs = [
            (o.name, o.namespace or kube.namespace) for o in spec.k8s.objects if o.kind == "Job"
        ]
        session.forget(name)  # the old pods' logs are done with
        await asyncio.to_thread(_delete_and_wait, kube, jobs, log)
        log(f"Applying {len(spec.k8s.objects)} object(s)")
        started = time.time()
        result = await session.deploy(name, spec.k8s, images)
        for o in result.objects:
            meta = o.get("metadata") or {}
            log(f"  {o.get('kind')}/{meta.get('name')} applied")
        finished, timed_out = await _wait_jobs(kube, jobs, spec.test.timeout_s)
        failed = [j for j in finished if _condition(j) == "Failed"]
        lines: list[str] = []
        for j in finished:
            lines.extend(await asyncio.to_thread(_pod_logs, kube, j))
        results = _collect(spec, finished, lines, started, ok=not failed and not timed_out)
        error = _verdict(spec, results, failed, timed_out, log)
    except asyncio.CancelledError:
        cancel.set()
        log("Update cancelled")
        error, cancelled = "cancelled", True
    except (ContextError, ApplyError, ImageBuildFailedError, ApiError, RuntimeError) as e:
        for line in str(e).splitlines():
            log(f"ERROR: {line}")
        error = str(e)
    except TimeoutError as e:
        log(f"ERROR: {e}")
        error = str(e)
    runner._post(
        UpdateFinished(
            name=name,
            update_id=req.update_id,
            at=time.time(),
            ok=not error,
            error=error,
            exit_code=None,
            cancelled=cancelled,
            results=results,
        )
    )


def _collect(
    spec: Resource, jobs: Sequence[Obj], lines: Sequence[str], started: float, *, ok: bool
) -> TestResults:
    assert spec.test is not None
    with tempfile.TemporaryDirectory(prefix="tilt-jobtest-") as work:
        col = ResultsCollector(
            fmt=ResultsFormat(spec.test.results_format),
            command=job_command(jobs[0]) if jobs else "",
            results=(),  # nothing the pod writes is visible here: results come from its logs
            base_dir=work,
            work_dir=work,
            started_at=started,
        )
        if col.format is ResultsFormat.PYTEST:
            # pytest's JUnit file stays in the pod: its logs carry no per-test results.
            return TestResults()
        for line in lines:
            col.feed(line)
        return col.result(0 if ok else 1)


def _verdict(
    spec: Resource,
    results: TestResults,
    failed: Sequence[Obj],
    timed_out: bool,
    log: Callable[[str], None],
) -> str:
    assert spec.test is not None
    summary = results.summary()
    if summary:
        log(f"Tests: {summary}")
    for c in results.failures[:_LOGGED_FAILURES]:
        where = f" ({c.location})" if c.location else ""
        log(f"  ✖ {c.outcome.value.upper()} {c.full_name}{where}: {c.message}")
    error = ""
    if timed_out:
        error = f"timed out after {spec.test.timeout_s:g}s (test timeout)"
    elif results.ok is False:
        n = results.failed + results.errored
        first = results.failures[0]
        where = f" ({first.location})" if first.location else ""
        error = f"{n} of {results.total} test(s) failed: {first.full_name}{where}"
    elif failed:
        j = failed[0]
        error = f"Job/{j['metadata']['name']} failed: {_failed_reason(j)}"
    if error:
        log(f"ERROR: {error}")
    return error
