"""The runner contract: how the engine hands a resource's update to a runtime.

A *runtime* (local processes, Docker Compose, Kubernetes...) is one `Runner`.
The engine keeps a mapping from `tilt.model.ResourceKind` to runner, built by
whoever creates the engine (`commands/up.py`; `standard_runners` by default),
and never looks at a resource's kind itself:

- the scheduler decides that ``name`` updates now; the engine writes the
  update's first log lines (a blank line, the reason) and owns the update: a
  resource with image targets gets its images built by the engine first
  (`tilt.engine.images.ImageBuilds`, in a task of the update's: cancelling the
  update cancels the builds), after the runner's `prepare_build` (where
  images go: the Kubernetes runner probes the cluster's delivery). Then
  ``runners[kind].start_update(UpdateRequest(...))`` with the images just built
  in ``req.images``: runners only deploy;
- an update that file changes alone asked for, of a deployed resource whose
  images have live_update steps, goes to the runner first with the engine's
  live-update decisions and no build. A runner that cannot serve it by a live
  update posts `LiveUpdateFellBack` instead of `UpdateFinished`; the engine
  then builds and hands the same update over again, in full, with no decisions;
- the runner does the work in the background and reports every fact it
  learns as an event through ``post`` (`UpdateFinished` exactly once per
  update, unless it handed the update back; `RuntimeChanged`,
  `ContainerUpdated`, `RuntimeEventReceived`, `ServeStarted`... as they
  happen). It keeps no fact of its own between updates: what it needs (the
  deployed container, whether it drifted from its image, the images to
  deploy) is in the request;
- the state answers with effects the engine carries out through the same
  runner: `start_runtime` (after a successful update, for a runtime that runs
  apart from the update: a serve_cmd), `stop` (resource removed, disabled,
  its runtime left its definition), `cancel` (the user cancelled, the
  resource was disabled); `busy` and `close` at shutdown.

A kind with no runner in the mapping is not deployed: its update ends in an
error that says so (never ok), so `tilt ci` fails on it.

`RunnerBase` holds the bookkeeping every runner shares (one update task per
resource, cancelling it, waking the engine when a task ends).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tilt.engine.events import Event, ImageBuilt, LiveUpdateFellBack, Tick, UpdateFinished

if TYPE_CHECKING:
    from tilt.engine.images import ImageBuilds
    from tilt.engine.liveupdate import Decision
    from tilt.engine.runtime import RuntimeState
    from tilt.logstore import LogStore
    from tilt.model import Resource, ResourceKind
    from tilt.process import ProcessSupervisor

__all__ = [
    "Runner",
    "RunnerBase",
    "RunnerContext",
    "RunnerFactory",
    "UpdateRequest",
    "standard_runners",
]


@dataclass(frozen=True, kw_only=True)
class UpdateRequest:
    """Everything a runner needs for one update of one resource.

    Attributes:
        spec: The resource as the Tiltfile declares it.
        update_id: The update's id; every event about this update carries it
            back (the state ignores events of a replaced update).
        reason: Why it updates, Tilt's words (``Initial Build``, ``1 File
            Changed: [src/a.py]``, ``Triggered``): the first line of its log.
        files: The changed files this update covers (absolute paths).
        full: Build and deploy in full (first update, trigger, Tiltfile change,
            crash after a live update...). False: only file changes asked for
            it, so a live update may do.
        triggered: The user asked for it (`tilt trigger`, the UI): a runtime
            that can recreate its workload does.
        images: Per image ref the resource deploys, the build to deploy
            (`ImageBuilt`: the local ref, the ref a cluster pulls, the ref to
            deploy): the engine's fresh builds for the images this update
            built, the state's last builds for the others.
        runtime: A copy of the resource's runtime state as the engine knows
            it (e.g. the container deployed, whether it drifted from its image).
            Read-only: what changes goes back as events.
        live_update: The engine's live-update decision (`tilt.engine.liveupdate.decide`)
            per image ref that has live_update steps, made when the update comes
            from file changes only and something of the resource is deployed
            (empty otherwise: deploy ``images``). A decision with a plan: the
            runner applies it to its running container(s) with `apply_plan`
            (through its own `ContainerUpdater`); ``nothing_to_do``: the update
            is done; a decision to fall back, or a plan that falls back: the
            runner posts `LiveUpdateFellBack` and the engine builds.
    """

    spec: Resource
    update_id: int
    reason: str
    files: tuple[str, ...] = ()
    full: bool = True
    triggered: bool = False
    images: Mapping[str, ImageBuilt] = field(default_factory=dict)
    runtime: RuntimeState | None = None
    live_update: Mapping[str, Decision] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The resource's name."""
        return self.spec.name


class Runner(Protocol):
    """One runtime, as the engine drives it. Every method is called on the event loop."""

    def start_update(self, req: UpdateRequest) -> None:
        """Start ``req`` in the background; post `UpdateFinished` exactly once when it ends.

        A cancelled update posts `UpdateFinished` with ``cancelled=True``. An
        update with ``live_update`` decisions that a live update cannot serve
        posts `LiveUpdateFellBack` instead (the engine builds, then starts it again).
        """
        ...

    async def prepare_build(self, spec: Resource, log: Callable[[str], None]) -> bool:
        """Get ready for the engine to build ``spec``'s images (called before each build).

        A runtime that decides where images go sets it up here (the Kubernetes
        runner probes the cluster's delivery, `ImageBuilds.set_destinations`);
        most do nothing (`RunnerBase`). ``log`` writes to the update's log.

        Returns:
            False: the runtime cannot deploy now (e.g. its cluster refuses the
            context); the engine builds nothing and starts the update, whose
            runner reports why.
        """
        ...

    def start_runtime(self, spec: Resource, run_id: int) -> None:
        """(Re)start the long-running part of ``spec`` as run ``run_id``.

        Called after a successful update when the state asks for it
        (`StartRuntime`); events about the run carry ``run_id``. A runtime
        whose update already deploys what runs (containers, pods) does nothing.
        """
        ...

    def stop(self, name: str, spec: Resource | None, *, remove: bool) -> None:
        """Stop running and following resource ``name``.

        Args:
            name: The resource.
            spec: Its last known definition (None when unknown).
            remove: Also remove what it deployed (disabled: Tilt removes a
                disabled service's container); False leaves it (removed from
                the Tiltfile, shutting down).
        """
        ...

    def cancel(self, name: str) -> bool:
        """Cancel ``name``'s running update; False when none runs."""
        ...

    def busy(self) -> bool:
        """Whether anything still runs that a shutdown must wait for."""
        ...

    async def close(self) -> None:
        """Stop every background task (followers, watchers); deployed workloads stay."""
        ...


@dataclass(frozen=True, kw_only=True)
class RunnerContext:
    """What the engine gives the runners it is built with.

    Attributes:
        supervisor: Owns every child process (one process group each).
        logs: The log store (spans ``build``, ``runtime``, ``event``).
        post: Hands an event to the engine (call on the event loop).
        base_dir: The Tiltfile's folder.
        images: The engine's image targets and matchers (what an image
            watches, its live_update steps, the Tiltfile's settings). The
            engine builds; runners deploy `UpdateRequest.images`.
    """

    supervisor: ProcessSupervisor
    logs: LogStore
    post: Callable[[Event], None]
    base_dir: str
    images: ImageBuilds


#: Builds the engine's runners, once, when the engine starts.
RunnerFactory = Callable[[RunnerContext], "Mapping[ResourceKind, Runner]"]


def standard_runners(
    ctx: RunnerContext, *, k8s_context: str = "", k8s_namespace: str = ""
) -> dict[ResourceKind, Runner]:
    """The runtimes this tilt has: local processes, Docker Compose, Kubernetes.

    ``k8s_context``/``k8s_namespace`` (`tilt up --context/--namespace`) override the
    Tiltfile's `k8s_context()`/`k8s_namespace()` for the Kubernetes runner.

    ``k8s_custom_deploy`` runs on the Kubernetes runner (`tilt.engine.k8s_custom`).
    """
    # Imported here: the engine package imports no concrete runtime at import time.
    from tilt.engine.compose import ComposeRunner
    from tilt.engine.local import LocalRunner
    from tilt.model import ResourceKind

    local = LocalRunner(
        supervisor=ctx.supervisor, logs=ctx.logs, post=ctx.post, base_dir=ctx.base_dir
    )
    compose = ComposeRunner(
        supervisor=ctx.supervisor,
        logs=ctx.logs,
        post=ctx.post,
        images=ctx.images,
        base_dir=ctx.base_dir,
    )
    from tilt.engine.k8s import K8sRunner

    k8s = K8sRunner(
        supervisor=ctx.supervisor,
        logs=ctx.logs,
        post=ctx.post,
        images=ctx.images,
        base_dir=ctx.base_dir,
        context=k8s_context,
        namespace=k8s_namespace,
    )
    return {
        ResourceKind.LOCAL: local,
        ResourceKind.DOCKER_COMPOSE: compose,
        ResourceKind.K8S: k8s,
        ResourceKind.K8S_CUSTOM_DEPLOY: k8s,
    }


class RunnerBase:
    """Tracks a runner's update tasks, one per resource.

    Besides the update itself, a runner differs only in the hook
    `_other_tasks`: its work besides updates that a shutdown must wait for.

    Args:
        supervisor: Owns every child process.
        logs: The log store.
        post: Hands an event to the engine (called on the event loop).
        base_dir: The Tiltfile's folder.
    """

    def __init__(
        self,
        *,
        supervisor: ProcessSupervisor,
        logs: LogStore,
        post: Callable[[Event], None],
        base_dir: str,
    ) -> None:
        self._sup = supervisor
        self._logs = logs
        self._post = post
        self._base_dir = base_dir
        self._updates: dict[str, asyncio.Task[None]] = {}

    # ---- the hook ----------------------------------------------------------------------------

    def _other_tasks(self) -> Iterable[asyncio.Task[None]]:
        """Tasks besides updates that `busy` counts (none by default)."""
        return ()

    # ---- engine interface --------------------------------------------------------------------

    async def prepare_build(self, spec: Resource, log: Callable[[str], None]) -> bool:
        """Nothing to prepare: images go where the Tiltfile's settings say."""
        return True

    def cancel(self, name: str) -> bool:
        """Cancel ``name``'s running update (stopping its processes); False if none runs."""
        task = self._updates.get(name)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def busy(self) -> bool:
        """Whether an update, or other work of the runner's (a serve_cmd, a removal), runs."""
        return any(not t.done() for t in (*self._updates.values(), *self._other_tasks()))

    # ---- helpers -----------------------------------------------------------------------------

    def _start(
        self,
        tasks: dict[str, asyncio.Task[None]],
        name: str,
        coro: Coroutine[Any, Any, None],
        *,
        task_name: str,
    ) -> None:
        """Run ``coro`` as ``tasks[name]``, forgotten again when it ends."""
        task = asyncio.create_task(coro, name=task_name)
        tasks[name] = task
        task.add_done_callback(functools.partial(self._forget, tasks, name))

    def _forget(
        self, tasks: dict[str, asyncio.Task[None]], name: str, task: asyncio.Task[None]
    ) -> None:
        if tasks.get(name) is task:
            del tasks[name]
        # Wake the engine: a shutdown waits until no task is left.
        self._post(Tick(at=time.time()))

    def _log(self, name: str, span: str) -> Callable[[str], None]:
        """A function that appends a line to ``name``'s log in ``span``."""
        logs = self._logs

        def log(text: str) -> None:
            logs.append(name, text, span=span)

        return log

    def _fell_back(self, name: str, update_id: int, reason: str) -> None:
        """Hand update ``update_id`` back to the engine: a live update cannot serve it."""
        self._post(
            LiveUpdateFellBack(name=name, update_id=update_id, reason=reason, at=time.time())
        )

    def _finish(
        self,
        name: str,
        update_id: int,
        *,
        ok: bool,
        error: str = "",
        exit_code: int | None = None,
        cancelled: bool = False,
    ) -> None:
        """Post ``name``'s `UpdateFinished` for update ``update_id``."""
        self._post(
            UpdateFinished(
                name=name,
                update_id=update_id,
                at=time.time(),
                ok=ok,
                error=error,
                exit_code=exit_code,
                cancelled=cancelled,
            )
        )
