"""Runs Kubernetes resources: apply them with the engine's images, follow their pods.

The engine side of `tilt.k8s` (the runtime-independent layer, `tilt.k8s.session.K8sSession`).
For each update of a K8S resource it:

1. connects once (kubeconfig, `k8s_context()`, `allow_k8s_contexts`): a refused or unreadable
   context fails the update with the message for the user; an unreachable cluster fails it
   too, and the next change or trigger tries again (local and compose resources go on);
2. when the update comes from file changes only and the resource's pods run containers of
   an image with ``live_update``: the engine's `decide` (`UpdateRequest.live_update`), then
   `apply_plan` through the session's
   `ExecUpdater` for each running container of that image; a fallback, a failed step or a
   crashed container hands the update back to the engine (`LiveUpdateFellBack`), which
   builds the images and starts it again for:
3. the full path: `K8sSession.deploy` with the images the engine built injected
   (`UpdateRequest.images`, the refs the cluster pulls). Before the engine's first build
   (`prepare_build`) the runner probes how images reach the cluster (`ClusterDelivery`)
   and sets the images' destinations;
4. the session follows the pods: `PodsView` -> `RuntimeChanged` (status, reason), pod logs
   into the resource's log (span ``runtime``), port forwards to the newest running pod;
5. and their Kubernetes events (`tilt.k8s.events`): ``[event]`` lines into the log (span
   ``event``), the `EventsView` -> `PodEventsChanged` (records, newest first, and the Warning
   that applies), and the reason of `RuntimeChanged` becomes `status_line` (``Pending —
   FailedScheduling: ...``) while a Warning applies. ``k8s_quiet_events`` reaches the session
   when it connects and on each reload (`settings_changed`).

The runner keeps no facts: what it learns goes back as events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tilt.engine.events import (
    ContainerUpdated,
    Event,
    PodEventsChanged,
    RuntimeChanged,
    Tick,
    TriggerRequested,
)
from tilt.engine.runner import RunnerBase, UpdateRequest
from tilt.engine.runtime import PodEvent, PodRuntime, PodSummary, RuntimeStatus

if TYPE_CHECKING:
    from tilt.engine.images import ImageBuilds
    from tilt.engine.k8s_delivery import ClusterDelivery
    from tilt.engine.k8s_helper import HelperImage
    from tilt.image_build import BuildResult
    from tilt.k8s.events import EventsView
    from tilt.k8s.kubeconfig import PinnedKubeconfig
    from tilt.k8s.monitor import PodsView
    from tilt.k8s.session import K8sSession
    from tilt.logstore import LogStore
    from tilt.model import ImageTarget, Resource, Settings, TiltfileResult
    from tilt.process import ProcessSupervisor

__all__ = ["K8sRunner", "pod_events_of", "pod_summary_of", "runtime_of"]

#: How `tilt.k8s.client` words a cluster that does not answer.
UNREACHABLE = "cannot reach the Kubernetes API"


def runtime_of(view: PodsView) -> tuple[RuntimeStatus, str, str]:
    """(status, message, state) of a resource's pods for the engine."""
    from tilt.k8s.pods import Readiness

    if not view.pods:
        status = RuntimeStatus.OK if view.readiness is Readiness.READY else RuntimeStatus.PENDING
        return status, view.reason or "no pods", "no pods"
    p = view.pods[0]
    state = f"pod {p.name}: {p.reason}, {p.ready_display} ready"
    if p.restarts:
        state += f", {p.restarts} restart{'s' if p.restarts > 1 else ''}"
    if not view.connected:
        return RuntimeStatus.PENDING, f"cluster unreachable: {view.connection_error}", state
    if view.readiness is Readiness.READY:
        return RuntimeStatus.OK, p.reason, state
    if view.readiness is Readiness.FAILED:
        return RuntimeStatus.ERROR, view.reason, state
    return RuntimeStatus.PENDING, view.reason, state


def pod_summary_of(view: PodsView) -> PodSummary | None:
    """The resource's main pod (the newest current one) as the engine's fields."""
    if not view.pods:
        return None
    p = view.pods[0]
    return PodSummary(
        name=p.name,
        phase=p.k8s_phase,
        status=p.phase.value,
        reason=p.reason,
        restarts=p.restarts,
        ready_containers=p.ready_containers,
        total_containers=p.total_containers,
    )


def pod_events_of(view: EventsView) -> tuple[PodEvent, ...]:
    """The engine's neutral records of an `EventsView`'s (newest first, counts as they are)."""
    return tuple(
        PodEvent(
            type=e.type,
            reason=e.reason,
            object=e.object,
            message=e.message,
            count=e.count,
            first_seen=e.first_seen,
            last_seen=e.last_seen,
            current=e.current,
            quiet=e.quiet,
            explanation=e.explanation,
            container=e.container,
        )
        for e in view.events
    )


class _Updater:
    """`tilt.k8s.exec_updater.ExecUpdater` as the engine's `ContainerUpdater`: its errors
    become `UpdateStepError`/`ContainerGoneError` (which `apply_plan` turns into fallbacks)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def short_id(self) -> str:
        return str(self.inner.short_id)

    def _call(self, fn: Callable[[], Any]) -> Any:
        from tilt.engine.liveupdate import ContainerGoneError, UpdateStepError
        from tilt.k8s.client import ApiError
        from tilt.k8s.exec_updater import ContainerGone, UpdateError

        try:
            return fn()
        except ContainerGone as e:
            raise ContainerGoneError(str(e)) from None
        except ApiError as e:
            raise ContainerGoneError(f"pod {self.short_id}: {e}") from None
        except UpdateError as e:
            raise UpdateStepError(str(e)) from None

    def check(self) -> str:
        return str(self._call(self.inner.check))

    def delete(self, paths: Sequence[str]) -> None:
        self._call(lambda: self.inner.delete(paths))

    def copy_tar(self, data: bytes) -> None:
        self._call(lambda: self.inner.copy_tar(data))

    def exec(self, argv: Sequence[str], on_line: Callable[[str], None] | None) -> int:
        return int(self._call(lambda: self.inner.exec(argv, on_line)))

    def restart(self) -> int | None:
        self._call(self.inner.restart)
        # The count as the restart leaves it (the crash baseline; see ContainerUpdater.restart).
        return self.restart_count()

    def restart_count(self) -> int | None:
        out = self._call(self.inner.restart_count)
        return None if out is None else int(out)


class K8sRunner(RunnerBase):
    """Updates and follows K8S resources through one `K8sSession`."""

    def __init__(
        self,
        *,
        supervisor: ProcessSupervisor,
        logs: LogStore,
        post: Callable[[Event], None],
        images: ImageBuilds,
        base_dir: str,
        context: str = "",
        namespace: str = "",
    ) -> None:
        super().__init__(supervisor=supervisor, logs=logs, post=post, base_dir=base_dir)
        self._images = images
        self._context = context  # `--context`: wins over the Tiltfile's k8s_context()
        self._namespace = namespace  # `--namespace`: wins over k8s_namespace()
        self._session: K8sSession | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._delivery: ClusterDelivery | None = None  # probed when images are first needed
        # Images some Kubernetes resource deploys: only these go to the cluster (an image
        # only Compose runs stays where the Tiltfile's settings put it, as in Tilt).
        self._cluster_refs: set[str] = set()
        self._explained: set[tuple[str, str, str]] = set()  # (pod, reason, image) logged
        #: cluster unreachable: the next retry's delay per resource, and the pending retries
        self._backoff: dict[str, float] = {}
        self._retries: dict[str, asyncio.TimerHandle] = {}
        # The latest pods and events views per resource (event loop only): the reason is both.
        self._pods_views: dict[str, PodsView] = {}
        self._events_views: dict[str, EventsView] = {}
        self._quiet: tuple[tuple[str, str], ...] = ()
        self._pull_why: dict[str, str] = {}  # the delivery's explanation of a pull failure
        self._helper: HelperImage | None = None  # the live_update helper image, once needed
        self._kubeconfig: PinnedKubeconfig | None = None  # for the commands tilt runs

    # ---- the session (created on the first update: `tilt up` with no k8s needs no cluster)
    async def _get_session(self) -> K8sSession:
        if self._session is not None:
            return self._session
        from tilt.k8s.session import K8sSession

        self._loop = asyncio.get_running_loop()
        settings = self._images.settings
        self._quiet = settings.k8s_quiet_events
        self._session = await asyncio.to_thread(
            K8sSession.connect,
            settings,
            on_view=self._on_view,
            on_log=self._on_log,
            context=self._context,
            namespace=self._namespace,
            on_events=self._on_events,
            on_event_log=self._on_event_log,
            # The log store scrubs every line; the Secrets deployed are learned into it.
            scrubber=self._logs.secrets,
        )
        self._install_helper(self._session)
        return self._session

    # ---- the live_update helper image (built only when a container has no copy tool)
    def _install_helper(self, session: K8sSession) -> None:
        from tilt.engine.k8s_helper import HelperImage

        assert self._loop is not None
        self._helper = HelperImage(self._build_helper, self._loop)
        session.helper = self._helper.ref_for_cluster

    async def _build_helper(self, target: ImageTarget, log: Callable[[str], None]) -> BuildResult:
        """Build ``target`` with the engine's image builder and deliver it to the cluster the
        way the Tiltfile's images go (`tilt.engine.k8s_helper`)."""
        assert self._session is not None
        await self._ensure_delivery(self._session, log)
        self._cluster_refs.add(target.ref)  # the delivery's chooser: to the cluster
        return await self._images.build_unlisted(target, log)

    async def _ensure_delivery(self, session: K8sSession, log: Callable[[str], None]) -> None:
        """Once per `tilt up`: decide how built images reach this cluster (issue 13)."""
        if self._delivery is not None:
            return
        from tilt.engine.k8s_delivery import ClusterDelivery

        context = session.context.name if session.context else self._context
        delivery = await ClusterDelivery.probe(
            self._images.settings, context=context, supervisor=self._sup
        )
        if self._delivery is None:  # another update may have probed meanwhile
            self._delivery = delivery
            self._images.set_destinations(delivery.chooser(self._cluster_refs.__contains__))
        for line in self._delivery.plan.log_lines():
            log(line)

    def _explain_pulls(self, resource: str, view: PodsView) -> str:  # worker threads
        """Why an image cannot be pulled (logged once per pod, reason and image)."""
        if self._delivery is None:
            return ""
        from tilt.engine.k8s_delivery import pull_failures

        first = ""
        for pod, reason, image in pull_failures(view.objects):
            why = self._delivery.explain(reason, image)
            first = first or why
            if why and (pod, reason, image) not in self._explained:
                self._explained.add((pod, reason, image))
                self._on_log(resource, why)
        return first

    def _from_thread(self, fn: Callable[..., None], *args: object) -> None:  # worker threads
        """Run ``fn(*args)`` on the engine's loop; dropped once the loop has closed.

        The session's watch threads are stopped by ``close`` but not joined, so one may still
        be delivering while ``tilt`` exits; what it reports then has nowhere to go.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed between the check and the call
            loop.call_soon_threadsafe(fn, *args)

    def _on_view(self, resource: str, view: PodsView) -> None:  # worker threads
        why = self._explain_pulls(resource, view)
        self._from_thread(self._pods_changed, resource, view, why)

    def _on_log(self, resource: str, line: str) -> None:  # worker threads
        if resource:
            self._from_thread(self._append_runtime_log, resource, line)

    def _append_runtime_log(self, resource: str, line: str) -> None:
        self._logs.append(resource, line, span="runtime")

    # ---- Kubernetes events (issue 12)
    def _on_events(self, resource: str, view: EventsView) -> None:  # worker threads
        self._from_thread(self._events_changed, resource, view)

    def _on_event_log(self, resource: str, line: str, key: str) -> None:  # worker threads
        if resource:
            self._from_thread(self._append_event_log, resource, line, key)

    def _append_event_log(self, resource: str, line: str, key: str = "") -> None:
        # A keyed line (a repeated event) is updated in place: its count, not a new line.
        self._logs.append(resource, line, span="event", key=key or None)

    def _pods_changed(self, resource: str, view: PodsView, pull_why: str = "") -> None:
        self._pods_views[resource] = view
        self._pull_why[resource] = pull_why
        self._post_runtime(resource)

    def _events_changed(self, resource: str, view: EventsView) -> None:
        self._events_views[resource] = view
        self._post(
            PodEventsChanged(
                name=resource, events=pod_events_of(view), problem=view.reason, at=time.time()
            )
        )
        if resource in self._pods_views:
            self._post_runtime(resource)

    def _post_runtime(self, resource: str) -> None:
        """`RuntimeChanged` from the latest pods view; its reason is `status_line` while an
        event's Warning applies (``Pending — FailedScheduling: ...``)."""
        from tilt.k8s.events import status_line

        view = self._pods_views[resource]
        status, message, state = runtime_of(view)
        events = self._events_views.get(resource)
        if events is not None and events.reason and view.connected:
            message = status_line(view, events)
        # Why an image cannot be pulled (the delivery's explanation) wins over both.
        message = self._pull_why.get(resource) or message
        self._post(
            RuntimeChanged(
                name=resource,
                status=status,
                message=message,
                state=state,
                at=time.time(),
                container_id=view.pods[0].name if view.pods else "",
                pod=pod_summary_of(view),
            )
        )

    def tiltfile_loaded(self, result: TiltfileResult) -> None:
        """Once the Tiltfile declares Kubernetes resources: every command tilt runs from now
        on (``k8s_custom_deploy``'s ``apply_cmd``/``delete_cmd``, ``local_resource``'s
        ``cmd``/``serve_cmd``, ...) gets ``KUBECONFIG`` pinned to tilt's context and
        namespace, as Tilt does (`tilt.k8s.kubeconfig`); a command's own ``env`` still wins.
        Written once (the context is chosen once per `tilt up`), removed at `close`."""
        from tilt.model import ResourceKind

        if self._kubeconfig is not None:
            return
        kinds = (ResourceKind.K8S, ResourceKind.K8S_CUSTOM_DEPLOY)
        if not any(r.kind in kinds for r in result.resources):
            return
        from tilt.k8s.kubeconfig import KubeconfigError, PinnedKubeconfig

        settings = result.settings
        try:
            self._kubeconfig = PinnedKubeconfig.write(
                self._context or settings.k8s_context,
                self._namespace or settings.k8s_namespace,
            )
        except KubeconfigError:
            return  # no usable context: the first deploy says why
        self._sup.base_env["KUBECONFIG"] = self._kubeconfig.path

    def settings_changed(self, settings: Settings) -> None:
        """A reloaded Tiltfile's settings: new ``k8s_quiet_events`` re-mark the kept events."""
        if self._session is None or settings.k8s_quiet_events == self._quiet:
            return
        from tilt.k8s.events import QuietRules

        self._quiet = settings.k8s_quiet_events
        self._session.events.set_quiet(QuietRules.from_pairs(self._quiet))

    # ---- engine interface
    async def prepare_build(self, spec: Resource, log: Callable[[str], None]) -> bool:
        """Before the engine builds ``spec``'s images: connect, decide where images go.

        False when the context cannot be used: the update then fails with the reason
        (and retries an unreachable cluster) without building.
        """
        from tilt.k8s.client import ApiError, ContextError

        # Only images some Kubernetes resource deploys go to the cluster.
        self._cluster_refs.update(spec.image_refs)
        try:
            session = await self._get_session()
        except (ContextError, ApiError):
            return False
        await self._ensure_delivery(session, log)
        return True

    def start_update(self, req: UpdateRequest) -> None:
        from tilt.engine.k8s_jobs import is_job_test, run_job_test

        if req.live_update and is_job_test(req.spec):
            # A Job test reruns in full: it has no running container to update.
            self._fell_back(req.name, req.update_id, "a Job test reruns as a new Job")
            return
        work = run_job_test(self, req.spec, req) if is_job_test(req.spec) else None
        self._start(
            self._updates,
            req.name,
            work or self._update(req.spec, req),
            task_name=f"k8s-update:{req.name}",
        )

    def start_runtime(self, spec: Resource, run_id: int) -> None:
        """Nothing: the update deploys what runs."""

    def stop(self, name: str, spec: Resource | None, *, remove: bool) -> None:
        if (retry := self._retries.pop(name, None)) is not None:
            retry.cancel()
        if self._session is None:
            return
        if remove and spec is not None and (spec.k8s is not None or spec.custom_deploy):
            # Disabled: its objects are deleted (as Tilt does), in the background.
            task = asyncio.get_running_loop().create_task(
                self._remove(name, spec), name=f"k8s-down:{name}"
            )
            self._chores.add(task)
            task.add_done_callback(self._chore_done)
        else:
            self._session.forget(name)
        self._pods_views.pop(name, None)
        self._events_views.pop(name, None)
        self._pull_why.pop(name, None)

    async def _remove(self, name: str, spec: Resource) -> None:
        assert self._session is not None
        log = self._log(name, "build")
        log("Resource disabled: deleting its Kubernetes objects")
        try:
            if spec.custom_deploy is not None:
                from tilt.engine.k8s_custom import run_delete_cmd

                self._session.forget(name)
                await run_delete_cmd(
                    self._sup, spec.custom_deploy, base_dir=self._base_dir, log=log
                )
            elif spec.k8s is not None:
                await self._session.down([(name, spec.k8s)])
        except Exception as e:  # the cluster went away: say so, nothing else to do
            log(f"ERROR: could not delete the objects: {e}")

    def _chore_done(self, task: asyncio.Task[None]) -> None:
        self._chores.discard(task)
        self._post(Tick(at=time.time()))

    def _other_tasks(self) -> Iterable[asyncio.Task[None]]:
        return self._chores

    async def close(self) -> None:
        for handle in self._retries.values():
            handle.cancel()
        self._retries.clear()
        for t in list(self._updates.values()):
            t.cancel()
        if self._session is not None:
            await asyncio.to_thread(self._session.close)
        if self._helper is not None:
            self._helper.close()
        if self._kubeconfig is not None:
            if self._sup.base_env.get("KUBECONFIG") == self._kubeconfig.path:
                del self._sup.base_env["KUBECONFIG"]
            self._kubeconfig.remove()

    # ---- one update
    async def _update(self, spec: Resource, req: UpdateRequest) -> None:
        from tilt.engine.k8s_custom import CustomDeployError
        from tilt.k8s.apply import ApplyError, container_commands, env_var_images
        from tilt.k8s.client import ApiError, ContextError

        name = spec.name
        log = self._log(name, "build")
        try:
            # Every line of this update (apply errors, apply_cmd output, live_update run()
            # output) is scrubbed of Secret values by the log store, as every line is.
            session = await self._get_session()
            if req.live_update:
                if not await self._live_update(session, spec, req, log):
                    self._fell_back(name, req.update_id, "no live update applied")
                    return
                self._finish(name, req.update_id, ok=True)
                return
            images = {r: b.cluster_ref for r, b in req.images.items() if b.cluster_ref}
            if spec.custom_deploy is not None:
                await self._custom_deploy(session, spec, images, log)
                self._finish(name, req.update_id, ok=True)
                return
            assert spec.k8s is not None
            where = f"context {session.context.name}" if session.context else "the cluster"
            log(f"Applying {len(spec.k8s.objects)} object(s) to {where}")
            targets = self._images.images_of(spec)
            result = await session.deploy(
                name,
                spec.k8s,
                images,
                commands=container_commands(targets),
                env_images=env_var_images(targets),
            )
            for o in result.objects:
                meta = o.get("metadata") or {}
                log(f"  {o.get('kind')}/{meta.get('name')} applied")
            for link in session.links(name):
                if link.url:
                    log(f"Port forward: {link.url}")
        except asyncio.CancelledError:
            log("Update cancelled")
            self._finish(name, req.update_id, ok=False, cancelled=True, error="cancelled")
            return
        except (ContextError, ApplyError, CustomDeployError, ApiError) as e:
            # Scrubbed here too: the error is also the update's (the snapshot, the API).
            error = self._logs.secrets.scrub(str(e))
            for line in error.splitlines():
                log(f"ERROR: {line}")
            self._finish(name, req.update_id, ok=False, error=error)
            self._retry_if_unreachable(name, str(e), log)
            return
        self._backoff.pop(name, None)
        self._finish(name, req.update_id, ok=True)

    def _retry_if_unreachable(self, name: str, error: str, log: Callable[[str], None]) -> None:
        """The cluster did not answer: say so once on the resource, deploy again later
        (0.5 s doubling to 30 s); other resources are not concerned."""
        at = error.find(UNREACHABLE)
        if at < 0:
            return
        why = error[at:].splitlines()[0]
        delay = self._backoff.get(name, 0.5)
        self._backoff[name] = min(delay * 2, 30.0)
        log(f"Deploying again in {delay:g}s")
        self._post(
            RuntimeChanged(
                name=name,
                status=RuntimeStatus.PENDING,
                message=f"{why} (retrying in {delay:g}s)",
                state="",
                at=time.time(),
                container_id="",
            )
        )
        old = self._retries.pop(name, None)
        if old is not None:
            old.cancel()

        def retry() -> None:
            self._retries.pop(name, None)
            self._post(TriggerRequested(name=name, at=time.time()))

        self._retries[name] = asyncio.get_running_loop().call_later(delay, retry)

    async def _custom_deploy(
        self,
        session: K8sSession,
        spec: Resource,
        images: dict[str, str],
        log: Callable[[str], None],
    ) -> None:
        """k8s_custom_deploy: run apply_cmd, then follow the objects it printed."""
        from tilt.engine.k8s_custom import run_apply_cmd
        from tilt.model import K8sTarget

        assert spec.custom_deploy is not None
        objects = await run_apply_cmd(
            self._sup,
            spec.custom_deploy,
            base_dir=self._base_dir,
            images=images,
            image_refs=spec.image_refs,
            log=log,
        )
        for o in objects:
            meta = o.get("metadata") or {}
            log(f"  {o.get('kind')}/{meta.get('name')} deployed by apply_cmd")
        session.track_objects(spec.name, objects, spec.k8s or K8sTarget())
        for link in session.links(spec.name):
            if link.url:
                log(f"Port forward: {link.url}")

    async def _live_update(
        self, session: K8sSession, spec: Resource, req: UpdateRequest, log: Callable[[str], None]
    ) -> bool:
        from tilt.engine.liveupdate import apply_plan_async

        done_any = False
        rt = req.runtime
        restarts_at_sync = rt.restarts_at_sync if isinstance(rt, PodRuntime) else None
        for image in self._images.images_of(spec):
            if not image.live_update:
                continue
            last = req.images.get(image.ref)  # the image its containers run
            built = last.cluster_ref if last is not None else ""
            if not built:
                return False
            decision = req.live_update.get(image.ref)  # the engine's (UpdateRequest.live_update)
            if decision is None:
                return False
            if decision.message:
                log(decision.message)
            if decision.nothing_to_do:
                continue
            if decision.plan is None:
                return False
            updaters = session.updaters(spec.name, built)
            if not updaters:
                return False
            for up in updaters:
                up.restarts_at_sync = restarts_at_sync
                result = await apply_plan_async(decision.plan, _Updater(up), on_log=log)
                if not result.ok:
                    return False
                self._post(
                    ContainerUpdated(
                        name=spec.name,
                        update_id=req.update_id,
                        container_id=up.short_id,
                        live_update=True,
                        at=time.time(),
                        restarts=result.restarts,
                    )
                )
                done_any = True
        return done_any
