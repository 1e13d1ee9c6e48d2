"""Kubernetes Jobs as tests: one update of a K8S resource that carries a `TestSpec`.

`tilt.engine.k8s.K8sRunner` hands an update here when the resource is a test
(``k8s_resource(..., test=True)`` on a Job, or ``test(name, image=..., command=...)``,
which fills a Job template). One update:

1. takes the images the engine built for it (`UpdateRequest.images`, as any K8S update);
2. deletes the resource's Jobs that exist in the cluster and waits until they are gone: a
   Job's pod template is immutable, and a finished Job never runs again, so every update
   (a new image, a changed file, a trigger) is a fresh run;
3. applies the objects (the session follows the pods: their logs stream into the
   resource's log, span ``runtime``, each pod's lines under a header naming it and its
   attempt, ``── pod unit-x7k2p (attempt 2) ──``);
4. follows the Jobs with a watch (`tilt.k8s.watch.Informer`: reconnects, relists on
   ``410 Gone``) until each has the condition ``Complete`` or ``Failed``
   (``backoffLimit`` retries are the cluster's business), within the test ``timeout``;
5. waits (briefly) until the pods' lines have all reached the resource's log, reads the
   logs of each Job's last attempt through the API (`tilt.testresults.results_from_log`:
   ``go test -json``, JUnit XML printed in the log, pytest's output, or auto-detected),
   and posts `UpdateFinished` passed/failed with the parsed results. Earlier attempts'
   output stays in the log; the Job's outcome decides when there are no results.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tilt.engine.events import UpdateFinished
from tilt.testresults import ResultsFormat, TestResults, merge, results_from_log

if TYPE_CHECKING:
    from tilt.engine.k8s import K8sRunner
    from tilt.engine.runner import UpdateRequest
    from tilt.k8s.client import KubeClient
    from tilt.model import Resource

__all__ = ["JobWatch", "is_job_test", "job_command", "run_job_test"]

Obj = dict[str, Any]
Key = tuple[str, str]  # (name, namespace)

#: How many failing tests the update's log names.
_LOGGED_FAILURES = 20
#: How long deleting the previous run's Jobs may take.
_DELETE_TIMEOUT_S = 60.0
#: How long the verdict waits for the pods' last lines to reach the resource's log.
_LOG_DRAIN_S = 30.0
#: The label of a pod of an Indexed Job (its completion index).
_INDEX = "batch.kubernetes.io/job-completion-index"


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


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


class JobWatch:
    """Follows the Jobs of some namespaces with one informer each (list, then watch).

    ``async with JobWatch(kube, namespaces, log) as w`` starts the watches; `wait` returns
    when a condition on `jobs` holds (checked after each change, once every namespace's
    first list is in). A dropped connection reconnects and a ``410 Gone`` relists (the
    informer's business); losing and regaining the link is logged once each.
    """

    def __init__(
        self,
        kube: KubeClient,
        namespaces: Mapping[str, str],
        log: Callable[[str], None],
    ) -> None:
        """``namespaces``: namespace -> the one Job name to watch there, or "" for all."""
        from tilt.k8s.watch import Informer

        self._informers = {
            ns: Informer(
                kube,
                "batch/v1",
                "Job",
                namespace=ns,
                field_selector=f"metadata.name={only}" if only else "",
            )
            for ns, only in namespaces.items()
        }
        self._log = log
        #: the Jobs as last seen: (name, namespace) -> object
        self.jobs: dict[Key, Obj] = {}
        self._synced: set[str] = set()
        self._down: set[str] = set()
        self._changed = asyncio.Event()
        self._error: BaseException | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> JobWatch:
        for ns, inf in self._informers.items():
            self._tasks.append(asyncio.create_task(self._follow(ns, inf), name=f"jobs:{ns}"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _follow(self, ns: str, informer: Any) -> None:
        from tilt.k8s.watch import watch_events

        try:
            async for ev in watch_events(informer):
                if ev.type == "CONNECTION":
                    if ev.connected:
                        self._synced.add(ns)
                        if ns in self._down:
                            self._down.discard(ns)
                            self._log(f"Job watch ({ns}): reconnected")
                    elif ns not in self._down:
                        self._down.add(ns)
                        self._log(f"Job watch ({ns}) lost: {ev.error}; reconnecting")
                else:
                    key = (str((ev.object.get("metadata") or {}).get("name") or ""), ns)
                    if ev.type == "DELETED":
                        self.jobs.pop(key, None)
                    else:
                        self.jobs[key] = ev.object
                self._changed.set()
        except Exception as e:  # the informer reconnects by itself: this is unexpected
            self._error = e
            self._changed.set()

    async def wait(self, done: Callable[[], bool], timeout_s: float | None) -> bool:
        """Wait until ``done()`` holds (True), or ``timeout_s`` passed (False)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            self._changed.clear()
            if self._error is not None:
                raise RuntimeError(f"watching Jobs failed: {self._error}")
            if len(self._synced) == len(self._informers) and done():
                return True
            if deadline is None:
                await self._changed.wait()
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def gone(self, keys: Iterable[Key], timeout_s: float) -> bool:
        """Wait until none of these Jobs exists."""
        wanted = list(keys)
        return await self.wait(lambda: all(k not in self.jobs for k in wanted), timeout_s)

    async def finished(
        self, applied: Mapping[Key, Obj], timeout_s: float | None
    ) -> tuple[list[Obj], bool]:
        """The applied Jobs once each has finished: (jobs, timed_out).

        Raises RuntimeError when one is deleted (or replaced) while the test runs.
        """
        seen: set[Key] = set()

        def done() -> bool:
            finished = True
            gone: list[str] = []
            for key, obj in applied.items():
                now = self.jobs.get(key)
                if now is not None and _uid(now) == _uid(obj):
                    seen.add(key)
                    finished = finished and bool(_condition(now))
                    continue
                finished = False
                if key in seen or now is not None:
                    gone.append(key[0])
            if gone:
                raise RuntimeError(f"Job(s) deleted while the test ran: {', '.join(gone)}")
            return finished

        ok = await self.wait(done, timeout_s)
        current = []
        for key, obj in applied.items():
            now = self.jobs.get(key)
            current.append(now if now is not None and _uid(now) == _uid(obj) else obj)
        return current, not ok


@dataclass(frozen=True, kw_only=True)
class _Attempt:
    """The pod of a Job whose logs give the results: its last attempt."""

    job: str
    pod: str
    number: int  # 1-based, among the Job's pods (of its completion index)
    of: int
    lines: tuple[str, ...] = ()


def _job_pods(kube: KubeClient, job: Obj) -> list[Obj]:
    """The Job's pods, oldest first."""
    from tilt.k8s.session import pod_created

    meta = job["metadata"]
    ns = meta.get("namespace") or kube.namespace
    pods = kube.list("v1", "Pod", ns, label_selector="").get("items") or []
    mine = [
        p
        for p in pods
        if any(o.get("uid") == meta.get("uid") for o in p["metadata"].get("ownerReferences") or [])
    ]
    mine.sort(key=pod_created)
    return mine


def _last_attempts(job: Obj, pods: Sequence[Obj]) -> list[tuple[Obj, int, int]]:
    """(pod, attempt, attempts) of the last attempt of each completion index.

    A Job's attempts are its pods, oldest first (an Indexed Job's, per index). The last
    one counts; for a Job that completed, the last that succeeded.
    """
    groups: dict[str, list[Obj]] = {}
    for p in pods:
        meta = p.get("metadata") or {}
        index = (meta.get("labels") or {}).get(_INDEX) or (meta.get("annotations") or {}).get(
            _INDEX
        )
        groups.setdefault(str(index or ""), []).append(p)
    out: list[tuple[Obj, int, int]] = []
    complete = _condition(job) == "Complete"
    for group in groups.values():
        pick = len(group) - 1
        if complete:
            ok = [
                i
                for i, p in enumerate(group)
                if (p.get("status") or {}).get("phase") == "Succeeded"
            ]
            pick = ok[-1] if ok else pick
        out.append((group[pick], pick + 1, len(group)))
    return out


def _read_log(kube: KubeClient, pod: Obj) -> list[str]:
    """Every line the pod's containers wrote (through the API)."""
    ns = pod["metadata"].get("namespace") or kube.namespace
    info = kube.resource("v1", "Pod")
    out: list[str] = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        stream = kube.open_stream(
            info.path(ns, pod["metadata"]["name"], "log"),
            query={"container": c["name"]},
            timeout_s=30,
        )
        try:
            out.extend(b.decode("utf-8", "replace").rstrip("\r") for b in stream.lines())
        finally:
            stream.close()
    return out


async def _delete_and_wait(
    kube: KubeClient, watch: JobWatch, jobs: Sequence[Key], log: Callable[[str], None]
) -> None:
    """Delete the Jobs (and, in the background, their pods) and wait until they are gone."""
    for name, ns in jobs:
        if await asyncio.to_thread(
            kube.delete, "batch/v1", "Job", name, ns, propagation="Background"
        ):
            log(f"Job/{name}: deleted (a test reruns as a new Job)")
    if not await watch.gone(jobs, _DELETE_TIMEOUT_S):
        left = [n for n, ns in jobs if (n, ns) in watch.jobs]
        job = left[0] if left else jobs[0][0]
        raise TimeoutError(f"Job/{job} is still being deleted after {_DELETE_TIMEOUT_S:g}s")


async def run_job_test(runner: K8sRunner, spec: Resource, req: UpdateRequest) -> None:
    """The update of a Job-based test resource; posts `UpdateFinished` with its results."""
    from tilt.k8s.apply import ApplyError, container_commands, env_var_images
    from tilt.k8s.client import ApiError, ContextError

    assert spec.test is not None and spec.k8s is not None
    name = spec.name
    log = runner._log(name, "build")
    results = TestResults()
    error = ""
    cancelled = False
    try:
        session = await runner._get_session()
        kube = session.kube
        images = {r: b.deploy_ref for r, b in req.images.items() if b.deploy_ref}
        jobs = [
            (o.name, o.namespace or kube.namespace) for o in spec.k8s.objects if o.kind == "Job"
        ]
        session.forget(name)  # the old pods' logs are done with
        per_ns: dict[str, list[str]] = {}
        for n, ns in jobs:
            per_ns.setdefault(ns, []).append(n)
        watched = {ns: names[0] if len(names) == 1 else "" for ns, names in per_ns.items()}
        async with JobWatch(kube, watched, log) as watch:
            await _delete_and_wait(kube, watch, jobs, log)
            log(f"Applying {len(spec.k8s.objects)} object(s)")
            result = await session.deploy(
                name,
                spec.k8s,
                images,
                pod_sections=True,
                commands=container_commands(runner._images.images_of(spec)),
                env_images=env_var_images(runner._images.images_of(spec)),
            )
            applied: dict[Key, Obj] = {}
            for o in result.objects:
                meta = o.get("metadata") or {}
                log(f"  {o.get('kind')}/{meta.get('name')} applied")
                if o.get("kind") == "Job":
                    applied[(str(meta.get("name")), meta.get("namespace") or kube.namespace)] = o
            finished, timed_out = await watch.finished(applied, spec.test.timeout_s)
        failed = [j for j in finished if _condition(j) == "Failed"]
        attempts: list[_Attempt] = []
        all_pods: list[str] = []
        for j in finished:
            pods = await asyncio.to_thread(_job_pods, kube, j)
            all_pods.extend(
                p["metadata"]["name"]
                for p in pods
                if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            )
            for pod, number, of in _last_attempts(j, pods):
                lines = await asyncio.to_thread(_read_log, kube, pod)
                attempts.append(
                    _Attempt(
                        job=j["metadata"]["name"],
                        pod=pod["metadata"]["name"],
                        number=number,
                        of=of,
                        lines=tuple(lines),
                    )
                )
        # The finished pods' output first, then the verdict (their log followers may still
        # be catching up).
        await session.wait_logs(name, all_pods, _LOG_DRAIN_S)
        results = _collect(spec, finished, attempts, log)
        error = _verdict(spec, results, failed, timed_out, log)
    except asyncio.CancelledError:
        log("Update cancelled")
        error, cancelled = "cancelled", True
    except (ContextError, ApplyError, ApiError, RuntimeError) as e:
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
    spec: Resource, jobs: Sequence[Obj], attempts: Sequence[_Attempt], log: Callable[[str], None]
) -> TestResults:
    """The results in the logs of each Job's last attempt (merged when there are several)."""
    assert spec.test is not None
    fmt = ResultsFormat(spec.test.results_format)
    commands = {j["metadata"]["name"]: job_command(j) for j in jobs}
    parts: list[TestResults] = []
    for a in attempts:
        if a.of > 1:
            log(f"Job/{a.job}: {a.of} attempts; results from pod {a.pod} (attempt {a.number})")
        parts.append(
            results_from_log(a.lines, fmt, command=commands.get(a.job, ""), label=f"pod {a.pod}")
        )
    if not parts:
        return TestResults()
    return parts[0] if len(parts) == 1 else merge(parts)


def _verdict(
    spec: Resource,
    results: TestResults,
    failed: Sequence[Obj],
    timed_out: bool,
    log: Callable[[str], None],
) -> str:
    assert spec.test is not None
    from tilt.testresults import ResultsStatus

    summary = results.summary()
    if summary:
        log(f"Tests: {summary}")
    if results.status is ResultsStatus.PARSED and results.note:
        log(f"  note: {results.note}")
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
