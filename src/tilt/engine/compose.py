"""Runs Docker Compose resources: ``up`` the service with the engine's images, follow it.

The runner keeps no facts (`tilt.engine.state` does): the container it
deployed and whether it drifted come in the request, and what it learns goes
back as events (`ContainerUpdated`, `RuntimeChanged`, `RuntimeEventReceived`).
For each update of a DOCKER_COMPOSE resource it:

1. gets the Docker client (`tilt.docker.client.get_client`): when the engine is
   down, the update fails with one clear message and the next change or
   trigger tries again; resources that need no Docker are not affected;
2. when the engine decided the change can be live-updated into the container
   we deployed (`UpdateRequest.live_update`, made by `tilt.engine.liveupdate.decide`
   for an update that file changes alone asked for): applies the plan with
   `apply_plan` through a `tilt.docker.sync.DockerContainerUpdater`. A ``fall_back_on`` match, a
   change outside the syncs, a change to a base image, a failed step or a
   crash-looping container hands the update back to the engine
   (`LiveUpdateFellBack`), which builds the images and starts it again for:
3. the full path: ``docker compose up --no-deps`` the service with the image
   the engine built (``UpdateRequest.images``, ``image_override``; a service
   with ``build:`` and no image of ours: ``--build``, Compose rebuilds it;
   otherwise Compose pulls what is missing),
   recreating the container when it was live-updated (it drifted from its
   image) or the user triggered the update; ``initial_sync`` after a new
   container;
4. after the first deploy: follows the service's logs into the resource's
   log (span ``runtime``), its project's Docker events (one watcher per
   project, routed per service, posted as `RuntimeEventReceived`) and its
   container status (read again on each event; posted as `RuntimeChanged`).

Which path was taken and why is written to the resource's log (span
``build``). Ctrl-C stops the followers and leaves the containers running, as
Tilt's ``up`` does; `tilt down` removes them (`tilt.commands.remote.down`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tilt.engine.events import (
    ContainerUpdated,
    Event,
    RuntimeChanged,
    RuntimeEventReceived,
    Tick,
)
from tilt.engine.runner import RunnerBase, UpdateRequest
from tilt.engine.runtime import ContainerRuntime, RuntimeStatus

if TYPE_CHECKING:
    from tilt.docker.compose import ComposeProject, ServiceStatus
    from tilt.docker.events import ContainerEvent
    from tilt.engine.images import ImageBuilds
    from tilt.engine.liveupdate import ContainerUpdater
    from tilt.logstore import LogStore
    from tilt.model import ComposeTarget, ImageTarget, Resource
    from tilt.process import ProcessSupervisor

__all__ = ["ComposeRunner", "runtime_of"]

#: Wait this long before following a project's Docker events again after the stream broke.
EVENTS_RETRY_S = 2.0


def _runtime(req: UpdateRequest) -> ContainerRuntime:
    """The container the engine knows for this resource (none before the first deploy)."""
    rt = req.runtime
    return rt if isinstance(rt, ContainerRuntime) else ContainerRuntime()


class _UpdateFailed(Exception):
    """The update failed; the message is the resource's error."""


def runtime_of(status: ServiceStatus) -> tuple[RuntimeStatus, str]:
    """The engine's runtime status and message for a container.

    As Tilt: running (and healthy, with a healthcheck) or exited with code 0 is
    ok; a non-zero exit, an error, unhealthy or restarting is an error; created,
    starting (healthcheck pending) and paused are pending.
    """
    from tilt.docker.compose import ServiceState

    s = status.state
    text = status.describe()
    if s is ServiceState.NOT_FOUND:
        return RuntimeStatus.NONE, "no container"
    if s in (ServiceState.RUNNING, ServiceState.HEALTHY):
        return RuntimeStatus.OK, text
    if s is ServiceState.EXITED:
        if status.exit_code == 0 and not status.error and not status.oom_killed:
            return RuntimeStatus.OK, text
        return RuntimeStatus.ERROR, text
    if s in (ServiceState.UNHEALTHY, ServiceState.RESTARTING, ServiceState.DEAD):
        if s is ServiceState.UNHEALTHY:
            text = "unhealthy: its healthcheck is failing"
        return RuntimeStatus.ERROR, text
    if s is ServiceState.STARTING:
        return RuntimeStatus.PENDING, "starting: waiting for its healthcheck to pass"
    return RuntimeStatus.PENDING, text


class ComposeRunner(RunnerBase):
    """Updates and follows DOCKER_COMPOSE resources.

    Args:
        supervisor: Owns the Compose CLI processes.
        logs: The log store (span ``build`` for updates, ``runtime`` for the
            container's output, ``event`` for container events via the state).
        post: Hands an event to the engine (called on the event loop).
        images: The engine's image targets (live_update steps, watch matchers).
        base_dir: The Tiltfile's folder (paths in log lines are shown relative to it).
    """

    def __init__(
        self,
        *,
        supervisor: ProcessSupervisor,
        logs: LogStore,
        post: Callable[[Event], None],
        images: ImageBuilds,
        base_dir: str,
    ) -> None:
        super().__init__(supervisor=supervisor, logs=logs, post=post, base_dir=base_dir)
        self._images = images
        self._chores: set[asyncio.Task[None]] = set()
        self._followers: dict[str, list[asyncio.Task[None]]] = {}
        self._event_watchers: dict[str, asyncio.Task[None]] = {}
        self._pokes: dict[str, asyncio.Event] = {}
        # (project, service) -> resource name, for routing Docker events.
        self._services: dict[tuple[str, str], str] = {}

    # ---- engine interface ------------------------------------------------------------------

    def start_update(self, req: UpdateRequest) -> None:
        """Update the resource in the background; posts `UpdateFinished` when done."""
        spec = req.spec
        self._start(
            self._updates,
            spec.name,
            self._update(spec, req),
            task_name=f"compose-update:{spec.name}",
        )

    def _other_tasks(self) -> Iterable[asyncio.Task[None]]:
        # A removal of a disabled resource's container.
        return self._chores

    def start_runtime(self, spec: Resource, run_id: int) -> None:
        """Nothing: the update itself deploys the container."""

    def stop(self, name: str, spec: Resource | None, *, remove: bool) -> None:
        """Stop following ``name``; with ``remove``, stop and remove its container (disable)."""
        for task in self._followers.pop(name, []):
            task.cancel()
        self._pokes.pop(name, None)
        if remove and spec is not None and spec.compose is not None:
            target = spec.compose
            chore = asyncio.create_task(self._remove(name, target), name=f"compose-rm:{name}")
            self._chores.add(chore)
            chore.add_done_callback(self._chore_done)

    def _chore_done(self, task: asyncio.Task[None]) -> None:
        self._chores.discard(task)
        self._post(Tick(at=time.time()))

    async def close(self) -> None:
        """Stop every follower and event watcher; containers keep running (as Tilt's ``up``)."""
        tasks = [t for ts in self._followers.values() for t in ts]
        tasks += list(self._event_watchers.values())
        tasks += list(self._updates.values())
        for t in tasks:
            t.cancel()
        for t in [*tasks, *self._chores]:
            try:
                await t
            except asyncio.CancelledError:
                pass
            except Exception as e:
                from tilt import debuglog

                debuglog.log(f"compose: task {t.get_name()} failed while closing: {e}", exc=e)
        self._followers.clear()
        self._event_watchers.clear()

    # ---- helpers -----------------------------------------------------------------------------

    async def _project(self, target: ComposeTarget) -> ComposeProject:
        from tilt.docker.compose import ComposeProject, compose_command

        # The first look-up may run `docker compose version`: not on the loop.
        command = await asyncio.to_thread(compose_command)
        return ComposeProject.from_target(target, command=command)

    async def _remove(self, name: str, target: ComposeTarget) -> None:
        from tilt.docker.compose import ComposeError

        log = self._log(name, "build")
        try:
            project = await self._project(target)
            log(f"Resource disabled: removing the container of service {target.service}")
            result = await project.rm(target.service, on_output=log, supervisor=self._sup)
        except (ComposeError, OSError) as e:
            log(f"ERROR: could not remove service {target.service}: {e}")
            return
        if not result.ok:
            log(f"ERROR: could not remove service {target.service}: {result.error()}")

    def _updater(
        self, client: Any, name: str, cid: str, restarts_at_sync: int | None
    ) -> ContainerUpdater:
        from tilt.docker.sync import DockerContainerUpdater

        return DockerContainerUpdater(
            client, cid, restarts_at_sync=restarts_at_sync, on_log=self._log(name, "build")
        )

    # ---- one update --------------------------------------------------------------------------

    async def _update(self, spec: Resource, req: UpdateRequest) -> None:
        from tilt.docker.client import DockerUnavailableError, get_client
        from tilt.docker.compose import ComposeError

        name = spec.name
        log = self._log(name, "build")
        assert spec.compose is not None
        target = spec.compose
        t0 = time.monotonic()
        try:
            client = await asyncio.to_thread(get_client)
            project = await self._project(target)
            self._services[(project.name, target.service)] = name
            self._watch_project(project, client)
            if req.live_update:
                why = "no container to update"
                if _runtime(req).container_id:
                    why = await self._live_update(spec, req, client, log, t0)
                if why:
                    self._fell_back(name, req.update_id, why)
                    return
                self._finish(name, req.update_id, ok=True)
                return
            await self._full_update(spec, req=req, project=project, client=client, log=log)
        except asyncio.CancelledError:
            log("Update cancelled")
            self._finish(name, req.update_id, ok=False, cancelled=True, error="cancelled")
            return
        except DockerUnavailableError as e:
            log(f"ERROR: {e}")
            self._finish(name, req.update_id, ok=False, error=str(e))
            return
        except (_UpdateFailed, ComposeError) as e:
            for line in str(e).splitlines():
                log(f"ERROR: {line}" if line and not line.startswith(" ") else line)
            self._finish(name, req.update_id, ok=False, error=str(e))
            return
        except Exception as e:
            from tilt.docker.client import is_unavailable_error

            if is_unavailable_error(e):
                from tilt.docker.client import docker_host

                msg = str(DockerUnavailableError(docker_host(), str(e).splitlines()[0][:200]))
            else:
                msg = f"{type(e).__name__}: {e}"
            log(f"ERROR: {msg}")
            self._finish(name, req.update_id, ok=False, error=msg)
            return
        self._finish(name, req.update_id, ok=True)

    async def _live_update(
        self,
        spec: Resource,
        req: UpdateRequest,
        client: Any,
        log: Callable[[str], None],
        t0: float,
    ) -> str:
        """Apply the engine's live-update decision; "" when the container is up to date,
        else why it needs a build."""
        from tilt.engine.liveupdate import apply_plan_async

        assert spec.compose is not None
        decision = req.live_update.get(spec.compose.image_ref) if spec.image_refs else None
        if decision is None:
            return "the service's image has no live_update steps"
        name = spec.name
        runtime = _runtime(req)
        cid = runtime.container_id
        if decision.message:
            log(decision.message)
        if decision.nothing_to_do:
            return ""
        if decision.plan is None:
            return decision.fall_back or "no live update plan"
        log(f"Live update of container {cid[:12]} (no image build):")
        updater = self._updater(client, name, cid, runtime.restarts_at_sync)
        result = await apply_plan_async(decision.plan, updater, on_log=log)
        if not result.ok:
            log(f"Live update failed ({result.fall_back}): falling back to a full build + deploy")
            return result.fall_back or "live update failed"
        self._post(
            ContainerUpdated(
                name=name,
                update_id=req.update_id,
                container_id=cid,
                live_update=True,
                at=time.time(),
                restarts=result.restarts,
            )
        )
        log(f"Live update done in {max(0.0, result.finished_at - t0):.2f}s")
        self._poke(name)
        return ""

    async def _full_update(
        self,
        spec: Resource,
        *,
        req: UpdateRequest,
        project: ComposeProject,
        client: Any,
        log: Callable[[str], None],
    ) -> None:
        from tilt.liveupdate import has_initial_sync

        assert spec.compose is not None
        target = spec.compose
        name = spec.name
        runtime = _runtime(req)
        image: ImageTarget | None = None
        override: str | None = None
        if spec.image_refs:
            image = self._images.image(target.image_ref)
            built = req.images.get(target.image_ref)
            override = built.deploy_ref if built is not None else None
        recreate = req.triggered or runtime.live_updated
        # A service Compose builds itself is rebuilt on each update (`up --build`, as
        # Tilt): its build cache makes an unchanged context cheap.
        compose_builds = not spec.image_refs and bool(target.build_context)
        if override:
            how = f"with image {override}"
        elif compose_builds:
            how = "(Compose builds its image)"
        else:
            how = "(Compose pulls its image if missing)"
        extra = " (recreating the container)" if recreate else ""
        log(f"Running docker compose up for service {target.service} {how}{extra}")
        result = await project.up(
            target.service,
            image_override=override,
            build=compose_builds,
            force_recreate=recreate,
            on_output=log,
            supervisor=self._sup,
        )
        if not result.ok:
            raise _UpdateFailed(result.error())
        status = await project.status_async(target.service, client)
        cid = status.container_id
        old = runtime.container_id
        new_container = cid != old
        self._post(
            ContainerUpdated(
                name=name,
                update_id=req.update_id,
                container_id=cid,
                live_update=False,
                at=time.time(),
            )
        )
        self._post_status(name, status)
        self._follow(name, project, target.service, client)
        if new_container and image is not None and has_initial_sync(image.live_update):
            await self._initial_sync(
                name,
                image,
                cid=cid,
                update_id=req.update_id,
                project=project,
                service=target.service,
                client=client,
                log=log,
            )

    async def _initial_sync(
        self,
        name: str,
        image: ImageTarget,
        *,
        cid: str,
        update_id: int,
        project: ComposeProject,
        service: str,
        client: Any,
        log: Callable[[str], None],
    ) -> None:
        """``initial_sync()``: bring a new container up to date with the local sources."""
        from tilt.engine.liveupdate import apply_plan_async, initial_sync_plan

        plan = initial_sync_plan(
            image, matcher=self._images.watch_matcher(image.ref), base_dir=self._base_dir
        )
        updater = self._updater(client, name, cid, None)
        sync = await apply_plan_async(plan, updater, on_log=self._log(name, "build"), check=False)
        if sync.ok:
            # The container now differs from its image, as after a live update: a
            # crash from here on rebuilds it.
            self._post(
                ContainerUpdated(
                    name=name,
                    update_id=update_id,
                    container_id=cid,
                    live_update=True,
                    at=time.time(),
                    restarts=sync.restarts,
                )
            )
            return
        status = await project.status_async(service, client)
        if not status.ready and status.state.value != "starting":
            # It already stopped (a one-shot job, a crash): its status says so; a sync
            # into a stopped container is meaningless, not an update failure.
            log(f"initial sync skipped: the container is {status.describe()}")
            return
        raise _UpdateFailed(f"initial sync failed: {sync.fall_back}")

    # ---- following a deployed service --------------------------------------------------------

    def _post_status(self, name: str, status: ServiceStatus) -> None:
        value, message = runtime_of(status)
        self._post(
            RuntimeChanged(
                name=name,
                status=value,
                state=status.describe(),
                message=message,
                at=time.time(),
                container_id=status.container_id,
                exit_code=status.exit_code,
            )
        )

    def _poke(self, name: str) -> None:
        poke = self._pokes.get(name)
        if poke is not None:
            poke.set()

    def _follow(self, name: str, project: ComposeProject, service: str, client: Any) -> None:
        """Start following the service's logs and status (once per resource)."""
        if name in self._followers:
            self._poke(name)
            return
        poke = self._pokes[name] = asyncio.Event()
        poke.set()
        on_line = self._log(name, "runtime")
        logs = asyncio.create_task(
            project.follow_logs(service, on_line, client=client, since=time.time() - 1),
            name=f"compose-logs:{name}",
        )
        status = asyncio.create_task(
            self._status_loop(name, project, service, client, poke),
            name=f"compose-status:{name}",
        )
        self._followers[name] = [logs, status]

    async def _status_loop(
        self, name: str, project: ComposeProject, service: str, client: Any, poke: asyncio.Event
    ) -> None:
        while True:
            await poke.wait()
            poke.clear()
            try:
                status = await project.status_async(service, client)
            except Exception as e:  # Docker went away: say so, wait for the next event
                self._post(
                    RuntimeChanged(
                        name=name,
                        status=RuntimeStatus.ERROR,
                        state="unknown",
                        message=f"cannot read the container's status: {e}",
                        at=time.time(),
                    )
                )
                continue
            self._post_status(name, status)

    def _watch_project(self, project: ComposeProject, client: Any) -> None:
        """Follow ``project``'s Docker events (one watcher per project)."""
        task = self._event_watchers.get(project.name)
        if task is not None and not task.done():
            return
        self._event_watchers[project.name] = asyncio.create_task(
            self._events_loop(project.name, client), name=f"compose-events:{project.name}"
        )

    async def _events_loop(self, project: str, client: Any) -> None:
        from tilt.docker.events import watch_events

        def on_event(ev: ContainerEvent) -> None:
            name = self._services.get((ev.project, ev.service))
            if name is None:
                return
            self._post(RuntimeEventReceived(name=name, event=ev.to_runtime_event(), at=time.time()))
            self._poke(name)

        from tilt import debuglog

        while True:
            try:
                await watch_events(client, project, on_event)
                debuglog.log(f"compose: the Docker event stream of project {project} ended")
            except Exception as e:
                debuglog.log(
                    f"compose: following the Docker events of project {project} failed "
                    f"({type(e).__name__}: {e}); again in {EVENTS_RETRY_S:g}s",
                    exc=e,
                )
            await asyncio.sleep(EVENTS_RETRY_S)
