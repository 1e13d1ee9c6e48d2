"""The engine loop: one asyncio task owns the `EngineState` and handles every event.

Producers (the file watcher, the process runners and probes, the API, signal
handlers) post events; the loop applies each to the state, carries out the
effects the state returns (start/stop a serve_cmd, cancel an update, reload
the Tiltfile, re-aim the watcher), then asks the scheduler what may start now.
An update that starts builds the resource's images (in a task of the update's,
cancelled with it), then hands the results to the resource's runner, which
deploys them (`tilt.engine.runner`).
Observers read `Engine.snapshot()` and the log store; the engine imports no UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tilt.engine.events import (
    CancelRequested,
    DisableRequested,
    Event,
    FilesChanged,
    HoldsChanged,
    ImageBuilt,
    LiveUpdateFellBack,
    MatchersChanged,
    ShutdownRequested,
    Tick,
    TiltfileFailed,
    TiltfileReloaded,
    TiltfileReloadStarted,
    TriggerDirtyRequested,
    TriggerModeOverridden,
    TriggerRequested,
    UpdateFinished,
    UpdateStarted,
)
from tilt.engine.runner import Runner, RunnerContext, RunnerFactory, UpdateRequest
from tilt.engine.scheduler import plan
from tilt.engine.snapshot import EngineSnapshot
from tilt.engine.state import (
    TILTFILE_NAME,
    AppendLog,
    CancelUpdate,
    EngineState,
    Matcher,
    ReloadTiltfile,
    ResourceState,
    StartRuntime,
    StopRuntime,
    WatchChanged,
)
from tilt.logstore import LogStore
from tilt.model import ImageBuildKind

if TYPE_CHECKING:
    from tilt.buttons import ButtonAction, ButtonCommand
    from tilt.engine.images import ImageBuilds
    from tilt.engine.liveupdate import Decision
    from tilt.engine.prune import DockerPruner
    from tilt.model import ResourceKind, TiltfileResult
    from tilt.process import ProcessSupervisor
    from tilt.tiltfile.worker import TiltfileWorkers
    from tilt.watch.watcher import FileWatcher

__all__ = ["CI_SETTLE_S", "CiOutcome", "Engine", "EngineError"]

#: `tilt ci` succeeds once every resource has been ready for this long without a break.
CI_SETTLE_S = 0.2
#: A Tiltfile save stops a load that has been running this long (and restarts it).
SUPERSEDE_AFTER_S = 1.0


class EngineError(Exception):
    """A request the engine refuses (unknown resource, nothing to cancel...)."""


@dataclass(frozen=True, kw_only=True)
class CiOutcome:
    """How `tilt ci` ended: ``ok``, or the first failure (``resource``, ``message``)."""

    ok: bool
    resource: str = ""
    message: str = ""


@dataclass
class _Update:
    """The engine's part of one running update: from `UpdateStarted` to `UpdateFinished`.

    Attributes:
        runner: The runner that deploys it.
        req: The request as it started.
        build: The task building its images (None when it builds nothing).
        cancelled: A cancel arrived: a runner handing it back ends it.
    """

    runner: Runner
    req: UpdateRequest
    build: asyncio.Task[None] | None = None
    cancelled: bool = False


class Engine:
    """Runs a Tiltfile's resources until shut down.

    Args:
        tiltfile_path: The main Tiltfile.
        args: Arguments for the Tiltfile's config (after ``--``, and `tilt up NAME...`).
        selected: Resource names to run (with their deps); None for all.
        logs: The log store (one is created when not given).
        supervisor: Owns the child processes (one is created when not given).
        watch: Watch files (off for `tilt ci`).
        ci: Stop once every enabled resource is ready/succeeded, or at the first failure.
        ci_timeout_s: For ``ci``: give up after this long (default: ci_settings' timeout).
        quiet_period_s: How long a burst of changes must pause before its follow-up update.
        subcommand: What the Tiltfile sees as ``config.tilt_subcommand``.
        loader: Loads the Tiltfile (for tests: returns a prepared graph).
        runners: Builds the runner of each resource kind when the engine starts
            (default: `tilt.engine.runner.standard_runners`, local processes and
            Docker Compose). A kind without a runner fails its updates.
    """

    def __init__(
        self,
        tiltfile_path: str,
        *,
        args: Sequence[str] = (),
        selected: Sequence[str] | None = None,
        logs: LogStore | None = None,
        supervisor: ProcessSupervisor | None = None,
        watch: bool = True,
        ci: bool = False,
        ci_timeout_s: float | None = None,
        quiet_period_s: float = 0.2,
        subcommand: str = "up",
        loader: Callable[[], TiltfileResult] | None = None,
        runners: RunnerFactory | None = None,
    ) -> None:
        path = os.path.abspath(tiltfile_path)
        if os.path.isdir(path):
            path = os.path.join(path, "Tiltfile")
        self.tiltfile_path = path
        self.args = tuple(args)
        self.logs = logs if logs is not None else LogStore()
        self.state = EngineState(path, selected=selected, quiet_period_s=quiet_period_s)
        self._supervisor = supervisor
        self._watch = watch
        self._ci = ci
        self._ci_timeout_s = ci_timeout_s
        self._subcommand = subcommand
        self._loader = loader if loader is not None else self._load_tiltfile
        # The Tiltfile runs in a worker process (tilt.tiltfile.worker) unless a test
        # hands in its own loader.
        self._isolated = loader is None
        self._workers: TiltfileWorkers | None = None
        self._queue: asyncio.Queue[Event] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner_factory = runners
        self._runners: dict[ResourceKind, Runner] = {}
        self.images: ImageBuilds | None = None
        # The running update of each resource, and the tasks building images for them.
        self._updates: dict[str, _Update] = {}
        self._builds: set[asyncio.Task[None]] = set()
        self._watcher: FileWatcher | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        self._reload_started = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._observers: list[Callable[[], None]] = []
        self._prune_fn: Callable[[str], bool] = lambda _d: False
        self.ci_outcome: CiOutcome | None = None
        self._ci_ok_since: float | None = None
        self._ci_readiness_at: float | None = None
        self.ready_event = asyncio.Event()
        self._button_tasks: set[asyncio.Future[None]] = set()
        self._buttons_of: TiltfileResult | None = None
        self._buttons: tuple[ButtonAction, ...] = ()
        #: Removes old images this session built (``docker_prune_settings``); not in CI.
        self.pruner: DockerPruner | None = None

    # ---- public API (event loop thread) ------------------------------------------------------

    def post(self, ev: Event) -> None:
        """Queue an event (call from the event loop's thread)."""
        if self._queue is not None:
            self._queue.put_nowait(ev)

    def add_observer(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn`` after each batch of events changed the state; returns an unsubscribe."""
        self._observers.append(fn)
        return lambda: self._observers.remove(fn) if fn in self._observers else None

    def snapshot(self) -> EngineSnapshot:
        """The JSON-able view of the state (see `EngineState.snapshot`)."""
        snap = self.state.snapshot()
        snap["log_seq"] = self.logs.last_seq
        return snap

    def trigger(self, name: str) -> None:
        """Queue an update of ``name`` (deduplicated).

        Raises:
            EngineError: no such resource, or it is disabled.
        """
        r = self._resource(name)
        if not r.enabled:
            raise EngineError(f"resource {name!r} is disabled")
        self.post(TriggerRequested(name=name, at=time.time()))

    def trigger_dirty(self) -> list[str]:
        """Queue an update of every enabled resource with pending changes (the UI's `T`).

        Returns:
            The names of the resources queued.
        """
        names = [r.name for r in self.state.resources.values() if r.enabled and r.dirty]
        self.post(TriggerDirtyRequested(at=time.time()))
        return names

    def set_trigger_mode(self, name: str, mode: str | None) -> None:
        """Run ``name`` in trigger mode ``mode`` (``"auto"``/``"manual"``) until tilt exits.

        ``None`` goes back to the Tiltfile's mode. The override survives reloads.

        Raises:
            EngineError: no such resource, or an unknown mode.
        """
        from tilt.model import TriggerMode

        self._resource(name)
        try:
            tm = TriggerMode(mode) if mode is not None else None
        except ValueError:
            raise EngineError(f"unknown trigger mode {mode!r} (auto or manual)") from None
        self.post(TriggerModeOverridden(name=name, mode=tm, at=time.time()))

    def cancel(self, name: str) -> str:
        """Cancel ``name``'s running (or queued) update; returns what was done.

        Raises:
            EngineError: no such resource, or it has no update running or queued.
        """
        r = self._resource(name)
        if r.in_progress:
            self.post(CancelRequested(name=name, at=time.time()))
            return "cancelling the running update"
        if r.queued:
            self.post(CancelRequested(name=name, at=time.time()))
            return "removed the queued update"
        raise EngineError(f"resource {name!r} has no update running or queued")

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (stop) or enable a resource."""
        self._resource(name)
        self.post(DisableRequested(name=name, disabled=disabled, at=time.time()))

    def shutdown(self, reason: str = "shutting down", exit_code: int = 0) -> None:
        """Stop everything and make `run` return ``exit_code``."""
        self.post(ShutdownRequested(reason=reason, at=time.time(), exit_code=exit_code))

    # ---- buttons (v1alpha1.ui_button) -------------------------------------------------------

    def buttons(self, name: str) -> tuple[ButtonAction, ...]:
        """The buttons located on resource ``name`` (empty when none, or no Tiltfile yet)."""
        from tilt.buttons import actions

        result = self.state.result
        if result is None or not result.api_objects:
            return ()
        if self._buttons_of is not result:  # derived once per loaded graph (the TUI asks often)
            self._buttons_of, self._buttons = result, actions(result)
        return tuple(a for a in self._buttons if a.resource == name)

    def run_button(self, name: str, button: str, values: dict[str, str]) -> str:
        """Run button ``button`` of resource ``name``: each of its commands, with its inputs.

        The commands run in the background, in their own process groups (the supervisor
        stops them with everything else); their output goes to the resource's log.

        Raises:
            EngineError: no such resource or button, a disabled button, a bad input value.
        """
        from tilt.buttons import ButtonError, environment

        self._resource(name)
        found = {a.name: a for a in self.buttons(name)}
        action = found.get(button)
        if action is None:
            known = ", ".join(found) or "none"
            raise EngineError(f"resource {name!r} has no button {button!r} (buttons: {known})")
        if action.disabled:
            raise EngineError(f"button {button!r} of {name!r} is disabled")
        try:
            inputs = environment(action, values)
        except ButtonError as e:
            raise EngineError(str(e)) from None
        if not action.commands:
            raise EngineError(f"button {button!r} of {name!r} starts no command (v1alpha1.cmd)")
        for c in action.commands:
            task = asyncio.ensure_future(self._run_button_cmd(action.name, c, inputs))
            self._button_tasks.add(task)
            task.add_done_callback(self._button_tasks.discard)
        return f"{name}: running button {action.text or action.name}"

    async def _run_button_cmd(
        self, button: str, cmd: ButtonCommand, inputs: dict[str, str]
    ) -> None:
        from tilt.engine.local import _start_error, describe_exit
        from tilt.model import Cmd

        def log(text: str) -> None:
            self.logs.append(cmd.log_resource, text, span="runtime")

        env: dict[str, str] = {}
        for item in cmd.env:
            key, _, value = item.partition("=")
            env[key] = value
        env.update(inputs)
        shown = " ".join(f"{k}={v}" for k, v in inputs.items())
        log(
            f"Button {button}: running {Cmd(argv=cmd.argv).display}"
            + (f" ({shown})" if shown else "")
        )
        assert self._supervisor is not None
        try:
            proc = await self._supervisor.start(
                cmd.argv,
                cwd=cmd.dir or os.path.dirname(self.tiltfile_path),
                env=env,
                on_output=log,
                on_system=log,
            )
        except (OSError, ValueError) as e:
            err = _start_error(Cmd(argv=cmd.argv), e) if isinstance(e, OSError) else str(e)
            log(f"Button {button}: {err}")
            return
        status = await proc.wait()
        log(f"Button {button}: {'done' if status.success else describe_exit(status)}")

    def _resource(self, name: str) -> Any:
        r = self.state.resources.get(name)
        if r is None:
            known = ", ".join(self.state.resources) or "none"
            raise EngineError(f"no resource named {name!r} (resources: {known})")
        return r

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self) -> int:
        """Load the Tiltfile, run until shut down; returns the exit code."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        if self._supervisor is None:
            from tilt.process import ProcessSupervisor

            self._supervisor = ProcessSupervisor()
        from tilt.engine.images import ImageBuilds
        from tilt.engine.runner import standard_runners

        self.images = ImageBuilds(supervisor=self._supervisor, post=self.post)
        if not self._ci and self.pruner is None:
            from tilt.engine.prune import DockerPruner

            def prune_log(text: str) -> None:
                self.logs.append(TILTFILE_NAME, text, span="tiltfile")

            self.pruner = DockerPruner(log=prune_log, wake=lambda: self.post(Tick(at=time.time())))
        factory = self._runner_factory or standard_runners
        self._runners = dict(
            factory(
                RunnerContext(
                    supervisor=self._supervisor,
                    logs=self.logs,
                    post=self.post,
                    base_dir=os.path.dirname(self.tiltfile_path),
                    images=self.images,
                )
            )
        )
        if self._ci and self._ci_timeout_s is not None:
            self._loop.call_later(self._ci_timeout_s, self._ci_timed_out, self._ci_timeout_s)
        self._start_reload(initial=True)
        try:
            await self._main()
        finally:
            await self._cleanup()
        return self.state.exit_code

    async def _main(self) -> None:
        assert self._queue is not None
        while True:
            ev = await self._queue.get()
            self._handle(ev)
            while not self._queue.empty():
                self._handle(self._queue.get_nowait())
            if self._ci and self.ci_outcome is None:
                self._check_ci()
            if self.state.shutting_down:
                reloading = self._reload_task is not None and not self._reload_task.done()
                if reloading and self._isolated:
                    # A runaway Tiltfile must not hold up the exit: stop its worker.
                    assert self._reload_task is not None
                    self._reload_task.cancel()
                building = any(not t.done() for t in self._builds)
                if not reloading and not building and not self._runners_busy():
                    break
            else:
                self._schedule()
                self._poll_pruner()
            for fn in list(self._observers):
                fn()

    def _handle(self, ev: Event) -> None:
        if isinstance(ev, TiltfileReloaded) and self.images is not None:
            # Before the state re-aims the watch: resource matchers come from the images.
            self.images.set_graph(ev.result.images, ev.result.settings)
            if self.pruner is not None:
                from tilt.refs import repository

                self.pruner.configure(
                    ev.result.settings.docker_prune,
                    [
                        repository(i.ref)
                        for i in ev.result.images
                        if i.kind is ImageBuildKind.DOCKER
                    ],
                )
            for each in self._distinct_runners():
                # A runner that keeps settings of its own (k8s_quiet_events) takes the new ones.
                hook = getattr(each, "settings_changed", None)
                if hook is not None:
                    hook(ev.result.settings)
                # One that sets up for the whole graph (the Kubernetes runner's pinned
                # kubeconfig), before this load's first command starts.
                loaded = getattr(each, "tiltfile_loaded", None)
                if loaded is not None:
                    loaded(ev.result)
        previous = dict(self.state.resources)
        effects = self.state.apply(self._scrubbed(ev))
        for eff in effects:
            match eff:
                case StartRuntime():
                    spec = self.state.resources[eff.name].spec
                    runner = self._runners.get(spec.kind)
                    if runner is not None:
                        runner.start_runtime(spec, eff.run_id)
                case StopRuntime():
                    r = self.state.resources.get(eff.name) or previous.get(eff.name)
                    runner = self._runners.get(r.spec.kind) if r is not None else None
                    if r is not None and runner is not None:
                        runner.stop(eff.name, r.spec, remove=eff.remove)
                case CancelUpdate():
                    self._cancel_update(eff.name)
                case AppendLog():
                    self.logs.append(eff.name, eff.text, span=eff.span)
                case ReloadTiltfile():
                    self._start_reload(initial=False)
                case WatchChanged():
                    self._rebuild_watch()
        if isinstance(ev, ImageBuilt) and self.pruner is not None:
            self.pruner.build_done()
        if isinstance(ev, LiveUpdateFellBack):
            self._fell_back(ev)
        elif isinstance(ev, UpdateFinished):
            upd = self._updates.get(ev.name)
            if upd is not None and upd.req.update_id == ev.update_id:
                del self._updates[ev.name]
        if isinstance(ev, TiltfileReloaded | TiltfileFailed):
            if self._ci and self._ci_timeout_s is None and isinstance(ev, TiltfileReloaded):
                # No --timeout: ci_settings(timeout=) (Tilt's default 30m) applies.
                self._ci_timeout_s = self.state.settings.ci_timeout_secs
                assert self._loop is not None
                self._loop.call_later(self._ci_timeout_s, self._ci_timed_out, self._ci_timeout_s)
            if not self.ready_event.is_set():
                self.ready_event.set()
            if self._reload_again and not self.state.shutting_down:
                self._reload_again = False
                self._start_reload(initial=False)

    def _poll_pruner(self) -> None:
        """Let the pruner start a pass when one is due and nothing is building."""
        if self.pruner is None:
            return
        busy = bool(self._updates) or any(not t.done() for t in self._builds)
        keep = {ref for b in self.state.built_images.values() for ref in (b.local_ref, b.image_id)}
        self.pruner.poll(busy=busy, keep=keep)

    def _distinct_runners(self) -> list[Runner]:
        """Each runner once (one runner may serve several kinds)."""
        seen: dict[int, Runner] = {}
        for runner in self._runners.values():
            seen.setdefault(id(runner), runner)
        return list(seen.values())

    def _runners_busy(self) -> bool:
        return any(r.busy() for r in self._distinct_runners())

    def _schedule(self) -> None:
        now = time.time()
        p = plan(self.state, now)
        for name in p.start:
            uid = self.state.new_id()
            self._handle(UpdateStarted(name=name, update_id=uid, at=now))
            r = self.state.resources[name]
            runner = self._runners.get(r.spec.kind)
            if runner is None:
                self._no_runner(r, uid, now)
                continue
            self._begin(runner, self._request(r, uid))
        self.state.apply(HoldsChanged(holds=p.holds, at=now))
        if p.wake_at is not None and (self._timer_at is None or p.wake_at < self._timer_at):
            if self._timer is not None:
                self._timer.cancel()
            assert self._loop is not None
            delay = max(0.0, p.wake_at - now)
            self._timer_at = p.wake_at
            self._timer = self._loop.call_later(delay, self._on_timer)

    def _request(self, r: ResourceState, update_id: int) -> UpdateRequest:
        built = self.state.built_images
        images = {ref: built[ref] for ref in r.spec.image_refs if ref in built}
        return UpdateRequest(
            spec=r.spec,
            update_id=update_id,
            reason=r.update_reason,
            files=r.update_files,
            full=r.update_force,
            triggered=r.update_triggered,
            images=images,
            runtime=r.runtime.copy(),
            live_update=self._live_update_decisions(r),
        )

    # ---- one update: build (the engine), deploy (the runner) ---------------------------------

    def _begin(self, runner: Runner, req: UpdateRequest) -> None:
        """Start update ``req``: build its images first unless a live update may serve it."""
        log = self._build_log(req.name)
        log("")
        log(req.reason)
        upd = _Update(runner=runner, req=req)
        self._updates[req.name] = upd
        if req.live_update or self.images is None or not self.images.images_of(req.spec):
            # Live-update decisions: the runner tries them and hands back if it must build.
            runner.start_update(req)
            return
        self._start_build(upd, req)

    def _start_build(self, upd: _Update, req: UpdateRequest) -> None:
        """Build ``req``'s images in a task of the update's, then hand ``req`` to its runner."""
        task = asyncio.create_task(self._build_then_deploy(upd, req), name=f"build:{req.name}")
        upd.build = task
        self._builds.add(task)
        task.add_done_callback(self._build_done)

    def _build_done(self, task: asyncio.Task[None]) -> None:
        self._builds.discard(task)
        # Wake the loop: a shutdown waits until no build is left.
        self.post(Tick(at=time.time()))

    async def _build_then_deploy(self, upd: _Update, req: UpdateRequest) -> None:
        from tilt.engine.images import ImageBuildFailedError, image_built

        assert self.images is not None
        name = req.name
        log = self._build_log(name)
        first = upd.req
        # A first deploy, a trigger, a Tiltfile change: every image (content tags skip
        # what did not change); else what the changed files touch.
        full = first.full or first.runtime is None or not first.runtime.deployed
        fresh: dict[str, ImageBuilt] = {}
        try:
            targets = self.images.to_build(req.spec, req.files, full=full)
            if targets and await upd.runner.prepare_build(req.spec, log):
                results = await self.images.build(targets, resource=name, on_output=log)
                fresh = {ref: image_built(b, name) for ref, b in results.items()}
        except asyncio.CancelledError:
            log("Update cancelled")
            self._end(req, ok=False, cancelled=True, error="cancelled")
            return
        except ImageBuildFailedError as e:
            for line in str(e).splitlines():
                log(f"ERROR: {line}" if line and not line.startswith(" ") else line)
            self._end(req, ok=False, error=str(e))
            return
        except Exception as e:  # a bug in a builder must end the update, not the engine
            from tilt import debuglog

            msg = f"{type(e).__name__}: {e}"
            debuglog.log(f"engine: building the images of {name} failed: {msg}", exc=e)
            log(f"ERROR: {msg}")
            self._end(req, ok=False, error=msg)
            return
        upd.runner.start_update(replace(req, images={**req.images, **fresh}, live_update={}))

    def _fell_back(self, ev: LiveUpdateFellBack) -> None:
        """A runner could not live-update: build, then hand it the same update, in full."""
        upd = self._updates.get(ev.name)
        if upd is None or upd.req.update_id != ev.update_id:
            return
        req = replace(upd.req, full=True, live_update={})
        if upd.cancelled:
            self._build_log(ev.name)("Update cancelled")
            self._end(req, ok=False, cancelled=True, error="cancelled")
            return
        self._start_build(upd, req)

    def _cancel_update(self, name: str) -> None:
        """Cancel ``name``'s update: its build, and whatever its runner runs."""
        upd = self._updates.get(name)
        if upd is not None:
            upd.cancelled = True
            if upd.build is not None:
                upd.build.cancel()
        # The resource may be gone (or have changed kind) by now.
        for runner in self._distinct_runners():
            runner.cancel(name)

    def _scrubbed(self, ev: Event) -> Event:
        """``ev`` with Secret values taken out of its ``error``/``message`` text.

        What an event says is kept in the state and shown (status line, `tilt get`,
        the API), so it passes the same scrubber as every log line.
        """
        secrets = self.logs.secrets
        if not secrets.active:
            return ev
        changes: dict[str, Any] = {}
        for attr in ("error", "message"):
            text = getattr(ev, attr, None)
            if isinstance(text, str) and text:
                clean = secrets.scrub(text)
                if clean != text:
                    changes[attr] = clean
        return replace(ev, **changes) if changes else ev

    def _end(self, req: UpdateRequest, *, ok: bool, error: str, cancelled: bool = False) -> None:
        self.post(
            UpdateFinished(
                name=req.name,
                update_id=req.update_id,
                at=time.time(),
                ok=ok,
                error=error,
                cancelled=cancelled,
            )
        )

    def _build_log(self, name: str) -> Callable[[str], None]:
        logs = self.logs

        def log(text: str) -> None:
            logs.append(name, text, span="build")

        return log

    def _live_update_decisions(self, r: ResourceState) -> dict[str, Decision]:
        """Per image with live_update steps: can this update's files be live-updated?

        Asked only for an update that file changes alone asked for, of a resource
        with something deployed (a running container to update); the runner
        applies a plan (see `UpdateRequest.live_update`).
        """
        if r.update_force or not r.runtime.deployed or not r.spec.image_refs:
            return {}
        if self.images is None:
            return {}
        from tilt.engine.liveupdate import decide

        images = self.images
        affected = images.affected(r.spec, r.update_files)
        decisions: dict[str, Decision] = {}
        for ref in r.spec.image_refs:
            image = images.image(ref)
            if image is None or not image.live_update:
                continue
            decisions[ref] = decide(
                image,
                affected=affected,
                files=r.update_files,
                matcher=images.watch_matcher(ref),
                base_dir=os.path.dirname(self.tiltfile_path),
            )
        return decisions

    def _no_runner(self, r: ResourceState, update_id: int, now: float) -> None:
        """A kind this tilt cannot deploy: the update fails and says so (never a false ok)."""
        kind = r.spec.kind.value
        msg = (
            f"cannot deploy {kind} resources yet: this tilt has no runtime for them "
            "(nothing was deployed)"
        )
        self.logs.append(r.name, "", span="build")
        self.logs.append(r.name, r.update_reason, span="build")
        self.logs.append(r.name, f"ERROR: {msg}", span="build")
        self.post(UpdateFinished(name=r.name, update_id=update_id, at=now, ok=False, error=msg))

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.post(Tick(at=time.time()))

    def _check_ci(self) -> None:
        if self._check_ci_readiness():
            return
        verdict = self.state.ci_outcome()
        if verdict is None:
            self._ci_ok_since = None
            return
        kind, name, message = verdict
        if kind == "ok":
            # Success must hold for a moment: a serve_cmd without a probe counts as
            # ready once started, and one that exits at once must fail ci, not pass it.
            now = time.monotonic()
            if self._ci_ok_since is None:
                self._ci_ok_since = now
            if now - self._ci_ok_since < CI_SETTLE_S:
                assert self._loop is not None
                self._loop.call_later(
                    CI_SETTLE_S - (now - self._ci_ok_since) + 0.001,
                    self.post,
                    Tick(at=time.time()),
                )
                return
        self.ci_outcome = CiOutcome(ok=kind == "ok", resource=name, message=message)
        if kind == "ok":
            self.shutdown("tilt ci: all resources ready", 0)
        else:
            self.shutdown(f"tilt ci: {name} failed", 1)

    def _check_ci_readiness(self) -> bool:
        """ci_settings(readiness_timeout=): a serve_cmd not ready in time fails ci."""
        from tilt.engine.state import RuntimeStatus

        limit = self.state.settings.ci_readiness_timeout_secs
        now = time.time()
        next_deadline: float | None = None
        for r in self.state.resources.values():
            if not (r.enabled and r.runtime_status is RuntimeStatus.PENDING):
                continue
            started_at = r.runtime.started_at
            if started_at is None:
                continue
            deadline = started_at + limit
            if now >= deadline:
                msg = f"not ready after {limit:g}s (ci_settings readiness_timeout)"
                if r.runtime_message:
                    msg += f": {r.runtime_message}"
                self.ci_outcome = CiOutcome(ok=False, resource=r.name, message=msg)
                self.shutdown(f"tilt ci: {r.name} not ready", 1)
                return True
            next_deadline = deadline if next_deadline is None else min(next_deadline, deadline)
        if next_deadline is not None and next_deadline != self._ci_readiness_at:
            self._ci_readiness_at = next_deadline
            assert self._loop is not None
            self._loop.call_later(next_deadline - now + 0.001, self.post, Tick(at=time.time()))
        return False

    def _ci_timed_out(self, timeout_s: float) -> None:
        if self.ci_outcome is None:
            waiting = [
                f"{r.name} ({r.hold or r.status})"
                for r in self.state.resources.values()
                if r.enabled and not r.ready
            ]
            msg = f"Timeout after {timeout_s:g}s"
            if waiting:
                msg += "; not ready: " + ", ".join(waiting)
            self.ci_outcome = CiOutcome(ok=False, resource="", message=msg)
            self.shutdown(f"tilt ci: {msg}", 1)

    async def _cleanup(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._watch_task is not None:
            self._watch_task.cancel()
        if self._watcher is not None:
            try:
                await self._watcher.close()
            except Exception as e:  # it is going away anyway
                from tilt import debuglog

                debuglog.log(f"engine: closing the file watcher failed: {e}", exc=e)
        if self._reload_task is not None and not self._reload_task.done():
            self._reload_task.cancel()
            with contextlib.suppress(BaseException):
                await self._reload_task
        if self._workers is not None:
            await self._workers.close()
        for build in list(self._builds):
            build.cancel()
            with contextlib.suppress(BaseException):
                await build
        for runner in self._distinct_runners():
            # Followers stop; deployed workloads keep running (Tilt's `up`).
            await runner.close()
        if self._supervisor is not None:
            await self._supervisor.stop_all()
        for task in list(self._button_tasks):
            task.cancel()
        if self.pruner is not None:
            await self.pruner.close()

    # ---- Tiltfile ----------------------------------------------------------------------------

    def _load_tiltfile(self) -> TiltfileResult:
        from tilt.tiltfile import load_tiltfile

        return load_tiltfile(self.tiltfile_path, self.args, subcommand=self._subcommand)

    def _start_reload(self, *, initial: bool) -> None:
        if self._reload_task is not None and not self._reload_task.done():
            self._reload_again = True
            if self._isolated:
                # A newer save supersedes a load that has run for a while (it may never
                # end); a young one finishes first, so quick saves cannot starve loads.
                age = time.monotonic() - self._reload_started
                task = self._reload_task
                assert self._loop is not None
                self._loop.call_later(max(0.0, SUPERSEDE_AFTER_S - age), self._supersede, task)
            return
        if not initial:
            self.state.apply(TiltfileReloadStarted(paths=(), at=time.time()))
        self._reload_started = time.monotonic()
        self._reload_task = asyncio.create_task(self._reload(), name="tiltfile-load")
        self._reload_task.add_done_callback(self._reload_done)

    def _supersede(self, task: asyncio.Task[None]) -> None:
        if not task.done() and self._reload_again:
            task.cancel()

    def _reload_done(self, task: asyncio.Task[None]) -> None:
        # Wake the loop (a shutdown waits for the load); restart a superseded load.
        self.post(Tick(at=time.time()))
        if task.cancelled() and self._reload_again and not self.state.shutting_down:
            self._reload_again = False
            self._start_reload(initial=False)

    async def _evaluate(self) -> TiltfileResult:
        if not self._isolated:
            return await asyncio.to_thread(self._loader)
        if self._workers is None:
            from tilt.tiltfile.worker import TiltfileWorkers

            self._workers = TiltfileWorkers(keep_spare=self._watch)
        return await self._workers.load(self.tiltfile_path, self.args, subcommand=self._subcommand)

    async def _reload(self) -> None:
        from tilt.tiltfile import TiltfileLoadError

        def log(text: str) -> None:
            self.logs.append(TILTFILE_NAME, text, span="tiltfile")

        first = self.state.tiltfile.load_count == 0
        log(f"{'Loading' if first else 'Reloading'} Tiltfile at: {self.tiltfile_path}")
        t0 = time.monotonic()
        try:
            result = await self._evaluate()
        except TiltfileLoadError as e:
            for line in e.render().splitlines():
                log(line)
            paths = (e.location.file,) if e.location is not None else ()
            if not first:
                log("Tiltfile failed to load; the last good resources keep running.")
            self.post(TiltfileFailed(error=e.render(), at=time.time(), watch_paths=paths))
            return
        except Exception as e:  # a bug in a builtin must not take down the loop
            log(f"Error: internal error while loading the Tiltfile: {type(e).__name__}: {e}")
            self.post(TiltfileFailed(error=f"internal error: {e}", at=time.time()))
            return
        dur = time.monotonic() - t0
        # The Secrets the Tiltfile declares are scrubbed from every log from now on, this
        # load's own output included (Tilt learns them at load, not at deploy).
        self._learn_secrets(result)
        for line in result.logs:
            log(line)
        for w in result.warnings:
            where = f"{w.location}: " if w.location else ""
            log(f"WARNING: {where}{w.message}")
        log(f"Successfully loaded Tiltfile ({dur * 1000:.0f}ms)")
        self.post(TiltfileReloaded(result=result, at=time.time(), duration_s=dur))

    def _learn_secrets(self, result: TiltfileResult) -> None:
        """Learn the values of the Secrets among the Tiltfile's Kubernetes objects (every
        resource's, enabled or not), unless ``secret_settings(disable_scrub=True)``."""
        self.logs.secrets.learn_tiltfile(result)

    # ---- watching ----------------------------------------------------------------------------

    def _rebuild_watch(self) -> None:
        # Matchers always exist (a FilesChanged event may come from elsewhere than the
        # watcher, e.g. tests); the watcher itself only when watching.
        if self.state.shutting_down:
            return
        from tilt.engine.images import UnionMatcher
        from tilt.watch.matcher import TargetMatcher

        settings = self.state.settings
        matchers: dict[str, Matcher] = {}
        roots: set[str] = set()
        for r in self.state.resources.values():
            if r.enabled and self.images is not None:
                union = self.images.resource_matcher(r.spec)
                if union is not None:
                    matchers[r.name] = union
                    roots.update(self.images.watch_roots(r.spec))
            local = r.spec.local
            if local is None or not r.enabled or not local.watch.paths:
                continue
            matchers[r.name] = TargetMatcher.from_spec(
                local.watch, extra_ignores=settings.watch_ignores
            )
            roots.update(local.watch.paths)
        self.state.apply(MatchersChanged(matchers=matchers, at=time.time()))
        tiltfile_dirs = {os.path.dirname(p) for p in self.state.tiltfile_files}
        roots.update(tiltfile_dirs)
        roots = _outermost(roots)

        def prune_dir(d: str) -> bool:
            for t in tiltfile_dirs:
                if t == d or t.startswith(d + os.sep):
                    return False
            return all(
                m.prunes_dir(d)
                for m in matchers.values()
                if isinstance(m, TargetMatcher | UnionMatcher)
            )

        self._prune_fn = prune_dir
        if not self._watch:
            return
        if self._watcher is None:
            from tilt.watch.watcher import FileWatcher

            self._watcher = FileWatcher(sorted(roots), prune_dir=self._prune_dir)
            self._watch_task = asyncio.create_task(self._watch_loop(), name="watch")
        else:
            self._watcher.update_roots(sorted(roots))

    def _prune_dir(self, d: str) -> bool:
        # Indirection: the matchers change on reload, the watcher keeps this callable.
        return self._prune_fn(d)

    async def _watch_loop(self) -> None:
        assert self._watcher is not None
        async for batch in self._watcher.changes():
            if batch:
                self.post(FilesChanged(paths=frozenset(batch), at=time.time()))


def _outermost(paths: set[str]) -> set[str]:
    """Drop paths that lie below another path of the set."""
    out: set[str] = set()
    for p in sorted(paths, key=len):
        if not any(p == o or p.startswith(o.rstrip(os.sep) + os.sep) for o in out):
            out.add(p)
    return out
