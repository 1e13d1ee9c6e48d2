"""Image builds: docker_build through the Docker Engine API, and custom_build.

`ImageBuilder.build` is what the engine calls for one image target. For a
docker_build it:

1. archives the build context with the image's matcher
   (`tilt.docker.context.build_context`, in a thread);
2. computes the content tag (`tilt.docker.tags.content_tag`) and, when the
   engine already has ``name:tilt-<digest>``, skips the build (``skipped``);
3. otherwise streams the archive to the engine's build endpoint through the
   ``docker`` SDK (blocking calls in `asyncio.to_thread`), passing every line
   of progress to ``on_output`` on the event loop. A failing step raises
   `BuildError` with the step (``Step 3/5 : RUN make``), the engine's message
   and the step's output;
4. when the Dockerfile needs BuildKit (``# syntax=``, ``RUN --mount``,
   ``COPY --chmod``/``--link``, heredocs, ``ssh=``/``secret=``), which the
   engine API's classic builder cannot run, builds with ``docker buildx build``
   if the plugin is installed, and otherwise raises one `BuildKitRequiredError`
   saying exactly that;
   either way the image gets `BUILT_LABELS` (``dev.tilt.built=true``, as Tilt's),
   which is how `tilt.docker.prune` knows the images it may remove;
5. tags ``extra_tag`` refs, then hands the image to its destination
   (`tilt.docker.destination`: kept local, or pushed with ``default_registry``).

Cancelling the task that awaits `ImageBuilder.build` cancels the build: the
Engine API's build stream is shut from the loop (the engine stops the build and
tags nothing), a command's process group is stopped, and the cancellation
returns only once the worker thread is done, so no line arrives afterwards.

custom_build targets go to `tilt.docker.custom.run_custom_build`.

Scheduling several builds (bases first, in parallel, one TaskGroup) is
`tilt.image_build.build_all`, which this module re-exports with the other
runtime-neutral names.

Engine down: `tilt.docker.client.DockerUnavailableError` (one message) is
raised from `ImageBuilder.build` as it is; the next trigger simply calls
`ImageBuilder.build` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from tilt.image_build import (
    BuildCancelledError,
    BuildError,
    BuildResult,
    DependencyFailedError,
    OnOutput,
    build_all,
    cancel_on,
)
from tilt.model import ImageBuildKind, ImageTarget, Settings

if TYPE_CHECKING:
    from tilt.docker.context import ContextTar
    from tilt.docker.destination import DestinationChooser
    from tilt.process import ProcessSupervisor
    from tilt.watch.matcher import TargetMatcher

# The neutral part (results, errors, scheduling) lives in tilt.image_build.
__all__ = [
    "BUILT_LABELS",
    "BuildCancelledError",
    "BuildError",
    "BuildKitRequiredError",
    "BuildResult",
    "DependencyFailedError",
    "ImageBuilder",
    "OnOutput",
    "build_all",
    "buildkit_features",
    "buildx_available",
    "cancel_on",
    "run_abortable",
    "wait_process",
]

_T = TypeVar("_T")
_ERROR_OUTPUT_LINES = 40
#: The labels of every image docker_build builds (Tilt's: built by Tilt, and
#: eligible for its pruner). custom_build images carry none.
BUILT_LABELS: Mapping[str, str] = {"dev.tilt.built": "true", "dev.tilt.gc": "true"}
_STEP_RE = re.compile(r"^Step \d+/\d+ : ")


class BuildKitRequiredError(BuildError):
    """The Dockerfile needs BuildKit, and neither the API nor ``docker buildx`` can provide it."""


# --- BuildKit detection ----------------------------------------------------------------

_SYNTAX_RE = re.compile(r"^#\s*syntax\s*=", re.IGNORECASE)
_FLAG_NEEDS_BUILDKIT = {
    "RUN": ("--mount", "--network", "--security"),
    "COPY": ("--chmod", "--link", "--parents", "--exclude"),
    "ADD": ("--chmod", "--link", "--checksum", "--keep-git-dir", "--exclude"),
}
_HEREDOC_RE = re.compile(r"<<-?\s*[\"']?[A-Za-z_][A-Za-z0-9_]*")


def buildkit_features(dockerfile_text: str, image: ImageTarget) -> list[str]:
    """What in this build needs BuildKit (empty when the classic builder can run it).

    Args:
        dockerfile_text: The Dockerfile as it will be sent.
        image: The image target (``ssh=`` and ``secret=`` need BuildKit).

    Returns:
        Human descriptions with line numbers, e.g. ``RUN --mount (line 3)``.
    """
    found: list[str] = []
    lines = dockerfile_text.splitlines()
    for i, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if _SYNTAX_RE.match(stripped) and all(
                p.strip().startswith("#") or not p.strip() for p in lines[: i - 1]
            ):
                found.append(f"the '{stripped}' parser directive (line {i})")
            continue
        word, _, rest = stripped.partition(" ")
        instr = word.upper()
        for flag in _FLAG_NEEDS_BUILDKIT.get(instr, ()):
            if re.search(rf"(^|\s){re.escape(flag)}(=|\s)", rest, re.IGNORECASE):
                found.append(f"{instr} {flag} (line {i})")
        if instr in ("RUN", "COPY", "ADD") and _HEREDOC_RE.search(rest):
            found.append(f"a heredoc in {instr} (line {i})")
    if image.ssh:
        found.append("docker_build(ssh=)")
    if image.secret:
        found.append("docker_build(secret=)")
    return found


@functools.cache
def buildx_available() -> bool:
    """Whether ``docker buildx`` is installed (checked once per process)."""
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        probe = subprocess.run(
            [docker, "buildx", "version"], capture_output=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


# --- streaming helpers -----------------------------------------------------------------


class _Emitter:
    """Hands lines from a worker thread to ``on_output`` on the event loop, in order.

    After `close` (a cancelled build) lines still queued on the loop are dropped:
    nothing of a cancelled build reaches the log after "Update cancelled".
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, on_output: OnOutput) -> None:
        self._loop = loop
        self._on_output = on_output
        self._partial = ""
        self._closed = False

    def close(self) -> None:
        """Drop every line from now on (call on the event loop)."""
        self._closed = True

    def _deliver(self, text: str) -> None:
        if not self._closed:
            self._on_output(text)

    def line(self, text: str) -> None:
        if not self._closed:
            # RuntimeError: the loop closed under a build thread that outlived it (shutdown).
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._deliver, text)

    def text(self, chunk: str) -> list[str]:
        """Feed stream text; emits and returns the complete lines."""
        data = self._partial + chunk.replace("\r\n", "\n")
        *lines, self._partial = data.split("\n")
        for line in lines:
            self.line(line)
        return lines

    def flush(self) -> list[str]:
        if self._partial:
            rest, self._partial = self._partial, ""
            self.line(rest)
            return [rest]
        return []


class _Stream:
    """The HTTP response of one streaming Engine API call, abortable from the loop.

    The SDK hides the response behind a generator; `capture` hooks the API
    client so the response is kept. `abort` shuts its socket, so the worker
    thread's blocked read returns and the engine sees the client go away (it
    stops a classic build and never tags its result). A response that arrives
    after `abort` is closed at once.
    """

    def __init__(self, api: Any) -> None:
        self._lock = threading.Lock()
        self._response: Any = None
        self.aborted = False
        original = api._stream_helper

        def capture(response: Any, decode: bool = False) -> Any:
            with self._lock:
                self._response = response
                aborted = self.aborted
            if aborted:
                _abort_response(response)
                raise _AbortedError
            return original(response, decode=decode)

        api._stream_helper = capture

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            response = self._response
        if response is not None:
            _abort_response(response)

    def close(self) -> None:
        """Release the connection of a finished (or failed) stream."""
        with self._lock:
            response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()


def _abort_response(response: Any) -> None:
    """Shut the socket of a streaming response so a blocked read returns."""
    with contextlib.suppress(Exception):
        response.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


class _AbortedError(Exception):
    """The worker thread's call was aborted (its task was cancelled)."""


def _image_id(client: Any, ref: str) -> str | None:
    import docker.errors

    try:
        return str(client.api.inspect_image(ref)["Id"])
    except docker.errors.ImageNotFound:
        return None


# --- the builder -----------------------------------------------------------------------


class ImageBuilder:
    """Builds image targets; one per engine (it holds no per-image state).

    Args:
        settings: The Tiltfile's settings (``default_registry``).
        supervisor: Runs custom_build commands and ``docker buildx``; a private
            one by default.
        destination_for: Picks each image's destination (push, load into the
            cluster, ...); default: `tilt.docker.destination.destination_for`.
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        supervisor: ProcessSupervisor | None = None,
        destination_for: DestinationChooser | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        from tilt.docker.destination import destination_for as by_settings

        #: What happens to an image after its build (`tilt.docker.destination`).
        self.destination_for: DestinationChooser = destination_for or by_settings
        if supervisor is None:
            from tilt.process import ProcessSupervisor

            supervisor = ProcessSupervisor()
        self.supervisor = supervisor

    async def build(
        self,
        image: ImageTarget,
        *,
        on_output: OnOutput,
        cancel: asyncio.Event | None = None,
        base_refs: Mapping[str, str] | None = None,
        matcher: TargetMatcher | None = None,
    ) -> BuildResult:
        """Build one image (or find it already built), then deliver it.

        Cancelling the calling task aborts the build: the Engine API stream is
        shut (the engine stops the build and tags nothing), a command's process
        group is stopped, and no line of it reaches ``on_output`` afterwards.

        Args:
            image: The image target.
            on_output: Gets every line of progress, on the event loop.
            cancel: Also aborts the build when set (`BuildCancelledError`), for
                callers that hold an event rather than the task.
            base_refs: For each of ``image.image_deps``, the ref built for it
                (`BuildResult.ref`); FROM lines are pinned to them.
            matcher: The image's matcher (default: built from ``image.watch``).

        Returns:
            What was built.

        Raises:
            BuildError: the build, the command or the push failed (subclasses:
                `BuildKitRequiredError`).
            DockerUnavailableError: the engine cannot be reached.
            BuildCancelledError: ``cancel`` was set.
        """
        return await cancel_on(
            cancel, self._build(image, on_output=on_output, base_refs=base_refs, matcher=matcher)
        )

    async def _build(
        self,
        image: ImageTarget,
        *,
        on_output: OnOutput,
        base_refs: Mapping[str, str] | None,
        matcher: TargetMatcher | None,
    ) -> BuildResult:
        if image.kind is ImageBuildKind.CUSTOM:
            from tilt.docker.custom import run_custom_build

            return await run_custom_build(
                image,
                supervisor=self.supervisor,
                settings=self.settings,
                on_output=on_output,
                base_refs=base_refs or {},
                destination_for=self.destination_for,
            )
        try:
            return await self._docker_build(
                image, on_output=on_output, base_refs=base_refs, matcher=matcher
            )
        except BuildError:
            raise
        except Exception as e:
            translated = _translate(image, e)
            if translated is e:
                raise
            raise translated from e

    async def _docker_build(
        self,
        image: ImageTarget,
        *,
        on_output: OnOutput,
        base_refs: Mapping[str, str] | None,
        matcher: TargetMatcher | None,
    ) -> BuildResult:
        from tilt.docker.client import get_client
        from tilt.docker.context import ContextError, build_context
        from tilt.docker.destination import LocalImage
        from tilt.docker.tags import content_tag
        from tilt.refs import with_tag

        start = time.monotonic()
        try:
            ctx = await asyncio.to_thread(build_context, image, matcher, base_refs=base_refs)
        except ContextError as e:
            raise BuildError(image.ref, str(e), step="build context") from None
        with ctx:
            tag = content_tag(image, ctx)
            ref = with_tag(image.ref, tag)
            on_output(
                f"Building image {ref} (context: {len(ctx.files)} files, "
                f"{_human_bytes(ctx.size_bytes)})"
            )
            client = await asyncio.to_thread(get_client)
            image_id = await asyncio.to_thread(_image_id, client, ref)
            skipped = image_id is not None
            if skipped:
                on_output(f"Image {ref} is already built (same content): skipping the build")
            else:
                image_id = await self._run_build(image, ctx, ref, on_output)
            assert image_id is not None
            await self._extra_tags(
                client=client, image=image, image_id=image_id, on_output=on_output
            )
            delivered = await self.destination_for(image, self.settings).deliver(
                image, LocalImage(ref=ref, image_id=image_id, tag=tag), on_output=on_output
            )
            return BuildResult(
                image_ref=image.ref,
                ref=ref,
                image_id=image_id,
                pushed_ref=delivered.pushed_ref,
                cluster_ref=delivered.cluster_ref,
                skipped=skipped,
                context_bytes=ctx.size_bytes,
                context_files=len(ctx.files),
                duration_s=time.monotonic() - start,
            )

    async def _run_build(
        self, image: ImageTarget, ctx: ContextTar, ref: str, on_output: OnOutput
    ) -> str:
        features = buildkit_features(ctx.dockerfile_text, image)
        if not features:
            try:
                return await self._classic_build(image, ctx, ref, on_output)
            except BuildError as e:
                # Engines differ in what their classic builder refuses; trust its word.
                if "requires BuildKit" not in e.message:
                    raise
                features = [e.message]
        if not buildx_available():
            raise BuildKitRequiredError(
                image.ref,
                "this Dockerfile needs BuildKit (" + "; ".join(features) + "), which the "
                "Docker Engine API's classic builder cannot run, and `docker buildx` is not "
                "installed. Install the buildx plugin (e.g. the docker-buildx package) or "
                "remove the BuildKit-only syntax.",
                step="BuildKit check",
            )
        return await self._buildx_build(image, ctx, ref, on_output)

    async def _classic_build(
        self, image: ImageTarget, ctx: ContextTar, ref: str, on_output: OnOutput
    ) -> str:
        from tilt.docker.client import new_api_client

        api = await asyncio.to_thread(new_api_client)
        # The SDK hides the HTTP response of a build; keep it to abort on cancel.
        stream = _Stream(api)
        emit = _Emitter(asyncio.get_running_loop(), on_output)

        def run() -> str:
            chunks = api.build(
                fileobj=ctx.open(),
                custom_context=True,
                tag=ref,
                dockerfile=ctx.dockerfile_name,
                buildargs=dict(image.build_args) or None,
                target=image.target or None,
                network_mode=image.network or None,
                platform=image.platform or None,
                cache_from=list(image.cache_from) or None,
                extra_hosts=list(image.extra_hosts) or None,
                pull=image.pull,
                labels=dict(BUILT_LABELS),
                rm=True,
                forcerm=True,
                decode=True,
            )
            try:
                return consume(chunks)
            finally:
                # A stream left early (an error) must not leak its connection.
                stream.close()

        def consume(chunks: Any) -> str:
            step = ""
            step_output: list[str] = []
            image_id = ""
            for chunk in chunks:
                if "stream" in chunk:
                    for line in emit.text(str(chunk["stream"])):
                        if _STEP_RE.match(line):
                            step, step_output = line, []
                        elif line.strip():
                            step_output.append(line)
                elif "error" in chunk:
                    step_output += emit.flush()
                    detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    emit.line(f"ERROR: {detail}")
                    raise BuildError(
                        image.ref,
                        str(detail).strip(),
                        step=step,
                        output=step_output[-_ERROR_OUTPUT_LINES:],
                    )
                elif "aux" in chunk and isinstance(chunk["aux"], dict):
                    image_id = str(chunk["aux"].get("ID", image_id))
                elif "status" in chunk:
                    emit.line(str(chunk["status"]))
            if stream.aborted:
                raise _AbortedError
            emit.flush()
            if not image_id:
                image_id = str(api.inspect_image(ref)["Id"])
            return image_id

        try:
            return await run_abortable(run, stream.abort, emit)
        finally:
            api.close()

    async def _buildx_build(
        self, image: ImageTarget, ctx: ContextTar, ref: str, on_output: OnOutput
    ) -> str:
        import shlex

        from tilt.docker.client import get_client

        # BuildKit gets the same filtered context, unpacked into a private folder, and an
        # argv (no shell: build args and tags are user data).
        ctx_dir = tempfile.mkdtemp(prefix="tilt-context-")
        try:
            await asyncio.to_thread(_unpack, ctx, ctx_dir)
            argv = ["docker", "buildx", "build", "--load", "--progress=plain", "-t", ref]
            argv += ["-f", os.path.join(ctx_dir, ctx.dockerfile_name)]
            for k, v in sorted(image.build_args.items()):
                argv += ["--build-arg", f"{k}={v}"]
            for k, v in BUILT_LABELS.items():
                argv += ["--label", f"{k}={v}"]
            for flag, values in (
                ("--target", [image.target] if image.target else []),
                ("--platform", [image.platform] if image.platform else []),
                ("--network", [image.network] if image.network else []),
                ("--ssh", list(image.ssh)),
                ("--secret", list(image.secret)),
                ("--cache-from", list(image.cache_from)),
                ("--add-host", list(image.extra_hosts)),
            ):
                for v in values:
                    argv += [flag, v]
            if image.pull:
                argv.append("--pull")
            argv.append(ctx_dir)
            on_output(f"Building with docker buildx (BuildKit): {shlex.join(argv)}")
            output: list[str] = []
            cancelled = False

            def collect(line: str) -> None:
                if cancelled:
                    return
                output.append(line)
                del output[: -_ERROR_OUTPUT_LINES * 2]
                on_output(line)

            proc = await self.supervisor.start(argv, cwd=ctx.context_dir, on_output=collect)

            def mute() -> None:
                nonlocal cancelled
                cancelled = True

            status = await wait_process(proc, on_cancel=mute)
            if not status.success:
                raise BuildError(
                    image.ref,
                    f"docker buildx build failed: {status.describe()}",
                    step="docker buildx build",
                    output=output[-_ERROR_OUTPUT_LINES:],
                )
        finally:
            shutil.rmtree(ctx_dir, ignore_errors=True)
        client = await asyncio.to_thread(get_client)
        image_id = await asyncio.to_thread(_image_id, client, ref)
        if image_id is None:
            raise BuildError(image.ref, f"docker buildx did not load {ref} into the engine")
        return image_id

    async def _extra_tags(
        self, *, client: Any, image: ImageTarget, image_id: str, on_output: OnOutput
    ) -> None:
        from tilt.refs import repository, tag_of

        for extra in image.extra_tags:
            repo, extra_tag = repository(extra), tag_of(extra) or "latest"
            await asyncio.to_thread(client.api.tag, image_id, repo, extra_tag)
            on_output(f"Tagged {repo}:{extra_tag}")


#: How long a cancelled build waits for its worker thread to notice the abort.
_ABORT_GRACE_S = 10.0


async def run_abortable(fn: Callable[[], _T], abort: Callable[[], None], emit: _Emitter) -> _T:
    """Run blocking ``fn`` in a thread; when the calling task is cancelled, ``abort`` it.

    On cancellation the emitter is closed (no line of ``fn`` reaches the log
    any more), ``abort`` makes the thread's blocked call return, and the thread
    is waited for (at most `_ABORT_GRACE_S`) before the cancellation goes on:
    when the caller learns of the cancel, the build is over.
    """
    task = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        emit.close()
        abort()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(task), _ABORT_GRACE_S)
        raise


async def wait_process(proc: Any, *, on_cancel: Callable[[], None] | None = None) -> Any:
    """Wait for a supervised process; when the calling task is cancelled, stop its group.

    ``on_cancel`` runs first (e.g. to stop forwarding the process's output).
    """
    try:
        return await proc.wait()
    except asyncio.CancelledError:
        if on_cancel is not None:
            on_cancel()
        await asyncio.shield(proc.stop())
        raise


def _translate(image: ImageTarget, exc: Exception) -> Exception:
    """The SDK's exceptions as ours: engine gone mid-build, or an API error as a BuildError."""
    import docker.errors

    from tilt.docker.client import as_unavailable

    unavailable = as_unavailable(exc)
    if unavailable is not None:
        return unavailable
    if isinstance(exc, docker.errors.APIError):
        return BuildError(image.ref, str(exc.explanation or exc), step="docker build")
    return exc


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


# --- order and parallelism -------------------------------------------------------------


def _unpack(ctx: ContextTar, dest: str) -> None:
    """Unpack a build context archive (exactly the files the matcher accepted) into ``dest``."""
    import tarfile

    with tarfile.open(fileobj=ctx.open(), mode="r|") as tar:
        tar.extractall(dest, filter="data")
