"""Tiltfile builtins: images (docker_build, custom_build, default_registry) and live_update.

Each ``docker_build``/``custom_build`` call records an image target: how to build
it, what it watches (``WatchSpec`` with origin-tagged ignore rules, so `tilt`
can say why a path is ignored) and how to live-update its containers. After the
Tiltfile ran, `finalize` works out which images are built FROM which (image
dependencies), rejects cycles, checks live_update sync sources against the
watched paths, and hands the image targets to the assembler in declaration order.

The live_update steps (``sync``, ``run``, ``fall_back_on``, ``initial_sync``,
``restart_container``) return `tilt.model` step objects. As in Tilt, every step a
Tiltfile creates must end up in some ``live_update``; other families that take a
``live_update`` list (``k8s_custom_deploy``) parse it with `live_update_steps`,
which validates it and marks its steps used.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from tilt.model import (
    FallBackOnStep,
    IgnoreRule,
    ImageBuildKind,
    ImageTarget,
    InitialSyncStep,
    LiveUpdateStep,
    RestartContainerStep,
    RunStep,
    SourceLocation,
    SyncStep,
    WatchSpec,
)
from tilt.refs import familiar_name, parse_ref, ref_error
from tilt.tiltfile._context import (
    Ctx,
    LoadState,
    TiltfileError,
    _typename,
    as_bool,
    as_cmd,
    as_str,
    as_str_dict,
    as_str_list,
    builtin,
)

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = [
    "context_dockerignore_rules",
    "context_watch",
    "finalize",
    "live_update_steps",
]

_STEP_TYPES = (SyncStep, RunStep, FallBackOnStep, InitialSyncStep, RestartContainerStep)
_DOCKER_PLATFORM_ENV = "DOCKER_DEFAULT_PLATFORM"


# --- defaults that print as Tilt's ------------------------------------------------------
# Tilt documents ``build_args={}``, ``live_update=[]`` ...; Python must not share a
# mutable default, so these immutable stand-ins print the same in the API docs.


class _EmptyList(tuple[Any, ...]):
    def __repr__(self) -> str:
        return "[]"


class _EmptyDict(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


class _Default(str):
    """A default string value that can be told apart from the same text passed explicitly."""

    __slots__ = ()


_NO_ITEMS = _EmptyList()
_NO_ENTRIES = _EmptyDict()
_DEFAULT_DOCKERFILE = _Default("Dockerfile")
_DEFAULT_CONTENTS = _Default("")


def _plain(value: object) -> object:
    """Our stand-in defaults as the plain values the argument helpers expect."""
    if isinstance(value, _EmptyList):
        return []
    if isinstance(value, _EmptyDict):
        return {}
    return value


# --- image references ------------------------------------------------------------------
# Docker's grammar (github.com/distribution/reference) lives in tilt.refs.

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?)"
_PATH_COMPONENT = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)"
# default_registry's host: a domain and an optional path (``gcr.io/my-project``).
_HOST_RE = re.compile(rf"^{_DOMAIN}(?:/{_PATH_COMPONENT})*$")


def _selector_key(ref: str) -> tuple[str, str]:
    """(normalized name, tag): the identity two image declarations must not share."""
    parsed = parse_ref(ref)
    return parsed.name, parsed.tag


def _parse_ref_arg(fn: str, value: object) -> str:
    ref = as_str(fn, "ref", value).strip()
    err = ref_error(ref)
    if err:
        raise TiltfileError(f"{fn}: Argument 1 (ref): can't parse {json.dumps(ref)}: {err}")
    return ref


# --- family state ----------------------------------------------------------------------


@dataclass
class _Declared:
    """An image as its builtin recorded it; finalize adds its image dependencies."""

    target: ImageTarget
    fn: str
    # Refs named by the Dockerfile (FROM, COPY --from) or by custom_build(image_deps=).
    used_refs: list[str] = field(default_factory=list)
    explicit_deps: bool = False
    # Paths whose changes reach this image: the context (and Dockerfile) or the deps.
    roots: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class _Registry:
    host: str
    host_from_cluster: str
    single_name: str


@dataclass(frozen=True, kw_only=True)
class _StepRecord:
    step: LiveUpdateStep
    location: SourceLocation
    what: str


class ImagesState:
    """What this family records while the Tiltfile runs."""

    def __init__(self) -> None:
        self.images: list[_Declared] = []
        self.selectors: dict[tuple[str, str], str] = {}
        self.registry: _Registry | None = None
        # Every live_update step created, by identity (the objects come back from
        # Starlark as the same Python objects), and the ones some live_update used.
        self.steps: dict[int, _StepRecord] = {}
        self.used_steps: set[int] = set()


def _state(ctx: Ctx) -> ImagesState:
    return ctx.state.family(ImagesState)


# --- argument helpers ------------------------------------------------------------------


def _show(value: object) -> str:
    """A value as Starlark would print it in an error."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return "None"
    return str(value)


def _go_list(items: list[str] | tuple[str, ...]) -> str:
    """A list of paths as Tilt (Go's %v) prints it: ``[/a /b]``."""
    return "[" + " ".join(items) + "]"


def _pattern_list(fn: str, arg: str, value: object) -> list[str]:
    """ignore=/only=: a string or list of strings, none with a newline (Tilt's rule)."""
    value = _plain(value)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if isinstance(items, dict):  # a set() (a dict here): a Starlark sequence, as in Tilt
        items = list(items)
    if not isinstance(items, list | tuple):
        raise TiltfileError(
            f"{fn}: {arg} must be a string or a sequence of strings; found a {_typename(value)}"
        )
    out = []
    for item in items:
        if not isinstance(item, str):
            raise TiltfileError(
                f"{fn}: {arg} must be a string or a sequence of strings; found a {_typename(item)}"
            )
        if "\n" in item:
            raise TiltfileError(
                f"{fn}: {arg} cannot contain newlines; found {arg}: {json.dumps(item)}"
            )
        out.append(item)
    return out


def _container_args(fn: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise TiltfileError(
            f"{fn}: Argument 'container_args': got {_typename(value)}, want list of strings"
        )
    return tuple(as_str_list(fn, "container_args", value))


def _str_or_list(fn: str, arg: str, value: object) -> list[str]:
    """A string or list of strings where Tilt's default is ``''``: that means none."""
    value = _plain(value)
    if value == "":
        return []
    return as_str_list(fn, arg, value)


def _abs_paths(ctx: Ctx, fn: str, arg: str, value: object) -> list[str]:
    return [ctx.abspath(p) for p in as_str_list(fn, arg, _plain(value))]


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _glob_escape(name: str) -> str:
    """A literal file name as a gitwildmatch pattern."""
    return re.sub(r"([\\*?\[\]!# ])", r"\\\1", name)


# --- ignore rules ----------------------------------------------------------------------


def _rules(patterns: list[str], base_dir: str, origin: str) -> list[IgnoreRule]:
    """Dockerignore-syntax patterns (relative to ``base_dir``) as gitwildmatch rules."""
    from tilt.tiltfile._dockerfile import to_gitwildmatch

    out = []
    for pattern in patterns:
        for converted in to_gitwildmatch(pattern):
            out.append(IgnoreRule(pattern=converted, base_dir=base_dir, origin=origin))
    return out


def _dockerignore_rules(state: LoadState, base_dir: str, path: str) -> list[IgnoreRule]:
    """The rules of one .dockerignore file, each tagged ``/abs/.dockerignore:LINE``.

    The file is recorded as read even when it does not exist yet, so creating it
    reloads the Tiltfile (as in Tilt).
    """
    from tilt.tiltfile._dockerfile import read_dockerignore, to_gitwildmatch

    state.record_read(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    except OSError as e:
        raise TiltfileError(f"reading {path}: {e.strerror}") from None
    out = []
    for line in read_dockerignore(text):
        for converted in to_gitwildmatch(line.pattern):
            out.append(
                IgnoreRule(pattern=converted, base_dir=base_dir, origin=f"{path}:{line.line}")
            )
    return out


def context_dockerignore_rules(
    state: LoadState, ctx_dir: str, dockerfile_path: str
) -> list[IgnoreRule]:
    """The .dockerignore rules of build context ``ctx_dir`` built with ``dockerfile_path``.

    BuildKit (and Tilt) prefer ``<Dockerfile>.dockerignore`` over the context's.
    """
    dockerignore = os.path.join(ctx_dir, ".dockerignore")
    if os.path.exists(dockerfile_path + ".dockerignore"):
        dockerignore = dockerfile_path + ".dockerignore"
    return _dockerignore_rules(state, ctx_dir, dockerignore)


def _git_rule(base_dir: str) -> IgnoreRule:
    # Tilt never watches or sends a repository's .git folder.
    return IgnoreRule(pattern=".git", base_dir=base_dir, origin="built-in")


def context_watch(state: LoadState, ctx_dir: str, dockerfile_path: str) -> WatchSpec:
    """What a build of ``ctx_dir`` with ``dockerfile_path`` watches (no ignore=/only=).

    As a docker_build: the context (and the Dockerfile when it lies outside),
    minus the context's .dockerignore and .git. For a service Compose builds.
    """
    paths = [ctx_dir]
    if not _is_within(dockerfile_path, ctx_dir):
        paths.append(dockerfile_path)
    rules = context_dockerignore_rules(state, ctx_dir, dockerfile_path)
    rules.append(_git_rule(ctx_dir))
    return WatchSpec(paths=tuple(paths), ignores=tuple(rules))


# --- live_update -----------------------------------------------------------------------


_Step = TypeVar("_Step", SyncStep, RunStep, FallBackOnStep, InitialSyncStep, RestartContainerStep)


def step_text(step: object) -> str | None:
    """A live_update step as Tilt's ``str()`` shows it (its String()); None for other values."""
    if isinstance(step, SyncStep):
        return f"sync step: '{step.local_path}'->'{step.remote_path}'"
    if isinstance(step, RunStep):
        text = f"run step: {json.dumps(step.command.display)}"
        if step.triggers:
            text += f" (triggers: {'; '.join(step.triggers)})"
        return text
    if isinstance(step, FallBackOnStep):
        return f"fall_back_on step: {_go_list(step.paths)}"
    if isinstance(step, InitialSyncStep):
        return "initial_sync step"
    if isinstance(step, RestartContainerStep):
        return "restart_container step"
    return None


def _record_step(ctx: Ctx, step: _Step) -> _Step:
    what = step_text(step)
    assert what is not None
    _state(ctx).steps[id(step)] = _StepRecord(step=step, location=ctx.here(), what=what)
    return step


def live_update_steps(ctx: Ctx, fn: str, value: object) -> tuple[LiveUpdateStep, ...]:
    """Parse and validate a ``live_update=`` argument, and mark its steps used.

    Tilt's rules: every item is a live_update step; ``fall_back_on`` steps come
    first, then ``sync`` steps, then ``run`` steps; ``restart_container`` may only be
    last; sync destinations are absolute container paths. Beyond Tilt (which would
    silently never run such a step): ``initial_sync`` comes at most once, before any
    sync or run; a ``run`` trigger outside every sync's local path is a warning.

    Args:
        ctx: the calling builtin's context.
        fn: the builtin's name, for messages.
        value: a step, a list of steps, or None.

    Returns:
        The steps, in order.

    Raises:
        TiltfileError: the first rule broken.
    """
    value = _plain(value)
    if value is None:
        items: list[object] = []
    elif isinstance(value, _STEP_TYPES):
        items = [value]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    steps: list[LiveUpdateStep] = []
    for v in items:
        if not isinstance(v, _STEP_TYPES):
            raise TiltfileError(
                f"{fn}: live_update: 'steps' must be a list of live update steps - "
                f"got value '{_show(v)}' of type '{_typename(v)}'"
            )
        steps.append(v)

    st = _state(ctx)
    seen_other = seen_run = seen_initial = False
    for i, step in enumerate(steps):
        where = st.steps.get(id(step))
        if isinstance(step, InitialSyncStep):
            # Tilt's reference puts it at the very start, before any fall_back_on; one
            # among the leading fall_back_on steps is accepted too.
            if seen_initial:
                raise TiltfileError(f"{fn}: live_update: initial_sync may only appear once")
            if seen_other:
                raise TiltfileError(
                    f"{fn}: live_update: initial_sync must precede all sync and run steps"
                )
            seen_initial = True
            continue
        if isinstance(step, FallBackOnStep):
            if seen_other:
                raise TiltfileError(
                    f"{fn}: live_update: all fall_back_on steps must precede all other steps"
                )
            continue
        seen_other = True
        if isinstance(step, SyncStep):
            if seen_run:
                raise TiltfileError(f"{fn}: live_update: all sync steps must precede all run steps")
            # Containers are Linux: the destination is a POSIX path whatever the host.
            if not posixpath.isabs(step.remote_path):
                at = f" ({where.location})" if where else ""
                raise TiltfileError(
                    f"{fn}: live_update: sync destination '{step.remote_path}'{at} is not absolute"
                )
        elif isinstance(step, RunStep):
            seen_run = True
        elif isinstance(step, RestartContainerStep) and i != len(steps) - 1:
            raise TiltfileError(
                f"{fn}: live_update: restart container is only valid as the last step"
            )

    # Tilt accepts such a trigger (the step just never fires): a warning, not an error.
    sync_sources = [s.local_path for s in steps if isinstance(s, SyncStep)]
    for step in steps:
        if isinstance(step, RunStep):
            for trigger in step.triggers:
                if not any(_is_within(trigger, src) for src in sync_sources):
                    rec = st.steps.get(id(step))
                    ctx.state.warn(
                        f"{fn}: live_update: run step trigger '{trigger}' is not inside any "
                        f"sync step's local path {_go_list(sync_sources)}; a change there "
                        "is never synced, so the run step will never fire",
                        rec.location if rec else ctx.location,
                    )
    st.used_steps.update(id(s) for s in steps)
    return tuple(steps)


@builtin("sync", located=True)
def sync(ctx: Ctx, local_path: object, remote_path: object) -> SyncStep:
    """A live_update step: copy changed files from ``local_path`` into the container.

    Any change to a file matching ``local_path`` is copied to ``remote_path`` in the
    running container, instead of rebuilding the image. ``local_path`` may be a file
    or a directory (synced recursively). Sync steps may not follow ``run`` steps,
    and ``local_path`` must lie inside what the image watches (the docker_build
    context, or a custom_build dep), or the load fails.

    Args:
        local_path: a path relative to the Tiltfile's folder.
        remote_path: the absolute path in the container the changes are copied to.

    Returns:
        A LiveUpdateStep to put in a ``live_update`` list.
    """
    fn = "sync"
    step = SyncStep(
        local_path=ctx.abspath(as_str(fn, "local_path", local_path)),
        remote_path=as_str(fn, "remote_path", remote_path),
    )
    _record_step(ctx, step)
    return step


@builtin("run", located=True)
def run(ctx: Ctx, cmd: object, trigger: object = _NO_ITEMS, echo_off: bool = False) -> RunStep:
    """A live_update step: run a command in the container after files are synced.

    Run steps execute, in order, after every live update that synced at least one
    file. With ``trigger``, the step runs only when a synced file matches one of the
    trigger paths. Run steps may not precede ``sync`` steps.

    Args:
        cmd: the command. A string runs through ``sh -c`` in the container; a list is
            the program and its arguments.
        trigger: a path or list of paths (relative to the Tiltfile's folder); when
            given, the command only runs if a changed file matches one. Each must lie
            inside some sync step's ``local_path`` (we check this at load time; in
            Tilt such a step silently never runs).
        echo_off: if True, the command itself is not echoed to the resource's log.

    Returns:
        A LiveUpdateStep to put in a ``live_update`` list.
    """
    fn = "run"
    command = as_cmd(fn, "cmd", cmd, allow_empty=False)
    assert command is not None
    raw = _plain(trigger)
    items = [raw] if isinstance(raw, str) else raw
    if items is None:
        items = []
    if not isinstance(items, list | tuple):
        raise TiltfileError(
            f"{fn}: for parameter 'trigger': got {_typename(raw)}, want string or list of strings"
        )
    triggers = []
    for t in items:
        if not isinstance(t, str):
            raise TiltfileError(
                f"run cmd '{command.display}' triggers contained value '{_show(t)}' "
                f"of type '{_typename(t)}'. it may only contain strings"
            )
        triggers.append(ctx.abspath(t))
    step = RunStep(
        command=command,
        triggers=tuple(triggers),
        echo_off=as_bool(fn, "echo_off", echo_off),
    )
    _record_step(ctx, step)
    return step


@builtin("fall_back_on", located=True)
def fall_back_on(ctx: Ctx, files: object) -> FallBackOnStep:
    """A live_update step: a change to these files means a full rebuild instead.

    When a changed file matches one of ``files``, Tilt falls back to a full image
    build and deploy rather than a live update. ``fall_back_on`` steps may only open
    a ``live_update`` list, and the files must lie inside what the image watches.

    Args:
        files: a path or list of paths, relative to the Tiltfile's folder.

    Returns:
        A LiveUpdateStep to put in a ``live_update`` list.
    """
    paths = tuple(ctx.abspath(p) for p in as_str_list("fall_back_on", "files", files))
    step = FallBackOnStep(paths=paths)
    _record_step(ctx, step)
    return step


@builtin("initial_sync", located=True)
def initial_sync(ctx: Ctx) -> InitialSyncStep:
    """A live_update step: sync every file once when a container starts.

    With this step, the first live update after a container (re)starts copies all
    files covered by the sync steps, not only the changed ones, so a container that
    was built from an older image catches up. It may appear once, first in the list
    (as Tilt's reference asks) or among the leading ``fall_back_on`` steps, before
    every ``sync`` and ``run`` step.

    Returns:
        A LiveUpdateStep to put in a ``live_update`` list.
    """
    return _record_step(ctx, InitialSyncStep())


@builtin("restart_container", located=True)
def restart_container(ctx: Ctx) -> RestartContainerStep:
    """A live_update step: restart the container after the other steps ran.

    The container re-executes its ENTRYPOINT on the updated filesystem. May appear
    only once, as the last step. Tilt supports it for Docker Compose resources only: as
    in Tilt, the load fails when an image a Kubernetes resource deploys (or builds on)
    has it, pointing to the ``restart_process`` extension.

    Returns:
        A LiveUpdateStep to put in a ``live_update`` list.
    """
    step = RestartContainerStep()
    _record_step(ctx, step)
    return step


# --- docker_build ----------------------------------------------------------------------


def _read_dockerfile(ctx: Ctx, fn: str, path: str) -> str:
    ctx.state.record_read(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        reason = "no such file or directory"
    except IsADirectoryError:
        reason = "is a directory"
    except NotADirectoryError:
        reason = "not a directory"
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
    raise TiltfileError(f"{fn}: error reading dockerfile: open {path}: {reason}")


def _add_image(ctx: Ctx, fn: str, declared: _Declared) -> None:
    st = _state(ctx)
    key = _selector_key(declared.target.ref)
    if key in st.selectors:
        shown = familiar_name(key[0]) + (f":{key[1]}" if key[1] else "")
        raise TiltfileError(f"{fn}: Image for ref {json.dumps(shown)} has already been defined")
    st.selectors[key] = declared.target.ref
    st.images.append(declared)


@builtin("docker_build", located=True)
def docker_build(  # noqa: PLR0917 - Tilt's positional signature
    ctx: Ctx,
    ref: object,
    context: object,
    build_args: object = _NO_ENTRIES,
    dockerfile: object = _DEFAULT_DOCKERFILE,
    dockerfile_contents: object = _DEFAULT_CONTENTS,
    live_update: object = _NO_ITEMS,
    match_in_env_vars: object = False,
    ignore: object = _NO_ITEMS,
    only: object = _NO_ITEMS,
    entrypoint: object = _NO_ITEMS,
    target: object = "",
    ssh: object = "",
    network: object = "",
    secret: object = "",
    extra_tag: object = "",
    container_args: object = None,
    cache_from: object = _NO_ITEMS,
    pull: object = False,
    platform: object = "",
    extra_hosts: object = _NO_ITEMS,
    cache: object = None,
) -> None:
    """Build an image with ``docker build``.

    ``docker_build('myregistry/myproj/backend', '/path/to/code')`` is roughly
    ``docker build /path/to/code -t myregistry/myproj/backend``. Tilt rebuilds the
    image when a file under ``context`` changes (minus ignores), deploys it to every
    resource whose YAML or Compose service uses ``ref``, and builds first the images
    this one is built FROM (declared images named in the Dockerfile's ``FROM`` or
    ``COPY --from=`` lines).

    What is watched and sent to Docker: the context, minus the context's
    ``.dockerignore`` (or ``<Dockerfile>.dockerignore`` next to the Dockerfile, which
    wins, as BuildKit reads it), minus ``ignore``, minus ``.git``; when ``only`` is
    given, just those paths. ``tilt dump tiltfile`` shows each ignore rule with where
    it came from.

    Args:
        ref: name for this image (e.g. 'myproj/backend' or 'myregistry/myproj/backend').
            Deploys whose container image matches this name use the built image.
        context: path to use as the Docker build context, relative to the Tiltfile.
            An existing directory; one that is missing is an error when the
            Dockerfile is read from it, else (as Tilt is silent) a warning.
        build_args: build-time variables (``docker build --build-arg``), a dict of
            strings. Also used to resolve ``ARG``s in ``FROM`` lines.
        dockerfile: path to the Dockerfile, relative to the Tiltfile; defaults to
            ``Dockerfile`` inside ``context``.
        dockerfile_contents: raw contents of the Dockerfile to use (a string or Blob).
            Cannot be combined with ``dockerfile``.
        live_update: list of steps (``sync``, ``run``, ``fall_back_on``,
            ``initial_sync``, ``restart_container``) to update running containers in
            place instead of rebuilding.
        match_in_env_vars: if True, references to this image in Kubernetes
            containers' environment variables are replaced too.
        ignore: dockerignore-syntax patterns (relative to ``context``) of files that
            neither trigger builds nor go into the image, in addition to ``.git``.
        only: paths (relative to ``context``, no globs) that are the only files
            considered for the build; everything else is ignored. An entry outside
            the context matches nothing (a warning; Tilt is silent).
        entrypoint: command to run when the container starts, overriding the image's
            ENTRYPOINT/CMD and the YAML's command. A string runs through
            ``/bin/sh -c``; a list is the program and its arguments. Not supported
            for an image a Docker Compose service runs (the load fails, as in Tilt).
        target: the Dockerfile stage to build (``docker build --target``).
        ssh: SSH agent sockets or keys to expose to the build (``--ssh``), a string
            or list, e.g. ``'default'``.
        network: networking mode for RUN instructions (``--network``).
        secret: secrets to expose to the build (``--secret``), a string or list,
            e.g. ``'id=mysecret,src=secret.txt'``.
        extra_tag: one or more extra references to tag the image with after each
            build (``--tag``). Each must be a valid image reference.
        container_args: arguments for the container's command, overriding the YAML's
            ``args``. None keeps the YAML's.
        cache_from: images to use as cache sources (``--cache-from``), a string or list.
        pull: always pull the newest version of base images (``--pull``).
        platform: target platform, e.g. ``linux/amd64`` (``--platform``); defaults to
            ``$DOCKER_DEFAULT_PLATFORM``.
        extra_hosts: extra ``host:ip`` entries for the build's /etc/hosts
            (``--add-host``), a string or list.
        cache: obsolete in Tilt (a no-op there too); accepted so old Tiltfiles load,
            with a warning.
    """
    fn = "docker_build"
    ref_s = _parse_ref_arg(fn, ref)
    context_arg = as_str(fn, "context", context)
    ctx_dir = ctx.abspath(context_arg)
    explicit_file = dockerfile is not _DEFAULT_DOCKERFILE
    explicit_contents = dockerfile_contents is not _DEFAULT_CONTENTS
    problem = ""
    if not os.path.exists(ctx_dir):
        problem = f"context {json.dumps(context_arg)} does not exist (looked for {ctx_dir})"
    elif not os.path.isdir(ctx_dir):
        problem = f"context {json.dumps(context_arg)} is not a directory: {ctx_dir}"
    if problem and not (explicit_file or explicit_contents):
        # Tilt fails here too, reading <context>/Dockerfile.
        raise TiltfileError(f"{fn}: {problem}")
    if problem:
        # Tilt does not look at the context when the Dockerfile comes from elsewhere:
        # the Tiltfile loads and the build fails (or works once the folder exists).
        ctx.warn(f"{fn}: {problem}; the build will fail until it does")
    if explicit_file and explicit_contents:
        raise TiltfileError(
            f"{fn}: Cannot specify both dockerfile and dockerfile_contents keyword arguments"
        )
    dockerfile_path = os.path.join(ctx_dir, "Dockerfile")
    contents = ""
    if explicit_contents:
        if not isinstance(dockerfile_contents, str) and not hasattr(
            dockerfile_contents, "starlark_text"
        ):
            raise TiltfileError(f"{fn}: Argument (dockerfile_contents): must be string or blob.")
        contents = as_str(fn, "dockerfile_contents", dockerfile_contents)
    else:
        if explicit_file:
            dockerfile_path = ctx.abspath(as_str(fn, "dockerfile", dockerfile))
        contents = _read_dockerfile(ctx, fn, dockerfile_path)

    args = dict(sorted(as_str_dict(fn, "build_args", _plain(build_args)).items()))
    steps = live_update_steps(ctx, fn, live_update)
    ignores = _pattern_list(fn, "ignore", ignore)
    onlys = _pattern_list(fn, "only", only)
    for p in onlys:
        # Tilt forbids globs here (tilt-dev/tilt#1982, moby/moby#30018).
        if "*" in p:
            raise TiltfileError(
                f"{fn}: 'only' does not support '*' file globs. Must be a real path: {p}"
            )
        if not _is_within(os.path.normpath(os.path.join(ctx_dir, p)), ctx_dir):
            # Tilt accepts it (the entry just matches nothing in the context).
            ctx.warn(
                f"{fn}: only entry {json.dumps(p)} is outside the context {ctx_dir}; "
                "it matches nothing"
            )
    entry = as_cmd(fn, "entrypoint", _plain(entrypoint))
    override_args = _container_args(fn, container_args)
    extra_tags = _str_or_list(fn, "extra_tag", extra_tag)
    for tag in extra_tags:
        err = ref_error(tag)
        if err:
            raise TiltfileError(
                f"{fn}: Argument extra_tag={json.dumps(tag)} not a valid image reference: {err}"
            )
    platform_s = as_str(fn, "platform", platform) or ctx.state.env.get(_DOCKER_PLATFORM_ENV, "")
    if cache is not None:
        ctx.state.warn(
            "docker_build(cache=...) is obsolete, and currently a no-op.\n"
            "You should switch to live_update to optimize your builds.",
            ctx.location,
        )

    loc = ctx.here()
    rules = context_dockerignore_rules(ctx.state, ctx_dir, dockerfile_path)
    rules += _rules(ignores, ctx_dir, f"{loc} {fn}(ignore=)")
    rules.append(_git_rule(ctx_dir))
    only_rules = _rules(onlys, ctx_dir, f"{loc} {fn}(only=)")
    paths = [ctx_dir]
    if not explicit_contents and not _is_within(dockerfile_path, ctx_dir):
        paths.append(dockerfile_path)

    from tilt.tiltfile._dockerfile import dockerfile_image_refs

    image = ImageTarget(
        ref=ref_s,
        kind=ImageBuildKind.DOCKER,
        context=ctx_dir,
        location=loc,
        dockerfile="" if explicit_contents else dockerfile_path,
        dockerfile_contents=contents if explicit_contents else "",
        build_args=args,
        target=as_str(fn, "target", target),
        entrypoint=entry,
        extra_tags=tuple(extra_tags),
        platform=platform_s,
        network=as_str(fn, "network", network),
        ssh=tuple(_str_or_list(fn, "ssh", ssh)),
        secret=tuple(_str_or_list(fn, "secret", secret)),
        cache_from=tuple(_str_or_list(fn, "cache_from", _plain(cache_from))),
        pull=as_bool(fn, "pull", pull),
        extra_hosts=tuple(_str_or_list(fn, "extra_hosts", _plain(extra_hosts))),
        ignore=tuple(ignores),
        only=tuple(onlys),
        live_update=steps,
        match_in_env_vars=as_bool(fn, "match_in_env_vars", match_in_env_vars),
        container_args=override_args,
        watch=WatchSpec(paths=tuple(paths), ignores=tuple(rules), only=tuple(only_rules)),
    )
    _add_image(
        ctx,
        fn,
        _Declared(
            target=image,
            fn=fn,
            used_refs=dockerfile_image_refs(contents, args),
            roots=tuple(paths) if explicit_contents else (*paths, dockerfile_path),
        ),
    )


# --- custom_build ----------------------------------------------------------------------


@builtin("custom_build", located=True)
def custom_build(  # noqa: PLR0917 - Tilt's positional signature
    ctx: Ctx,
    ref: object,
    command: object,
    deps: object,
    tag: object = "",
    disable_push: object = False,
    skips_local_docker: object = False,
    live_update: object = _NO_ITEMS,
    match_in_env_vars: object = False,
    ignore: object = _NO_ITEMS,
    entrypoint: object = _NO_ITEMS,
    container_args: object = None,
    command_bat_val: object = "",
    outputs_image_ref_to: object = "",
    command_bat: object = "",
    image_deps: object = _NO_ITEMS,
    env: object = _NO_ENTRIES,
    dir: object = "",
) -> None:
    """Build an image with your own command.

    The command must produce the image named ``$EXPECTED_REF`` (Tilt sets it; with
    ``tag`` it is ``ref:tag``), unless ``outputs_image_ref_to`` names a file the
    command writes the built ref into. Tilt reruns the command when a file under
    ``deps`` changes (minus ignores), and deploys the image wherever ``ref`` is used.

    What is watched: each dep, minus its ``.dockerignore``, minus ``ignore`` (applied
    relative to each dep), minus ``.git`` and the ``outputs_image_ref_to`` file.

    Args:
        ref: name for this image (e.g. 'myproj/backend' or 'myregistry/myproj/backend').
        command: the build command. A string runs through ``sh -c``; a list is the
            program and its arguments. Must not be empty.
        deps: files or directories (relative to the Tiltfile) whose changes rebuild
            the image. Real paths, not globs.
        tag: a fixed tag the command produces; ``$EXPECTED_REF`` is then ``ref:tag``
            and Tilt re-tags the result. Cannot be combined with
            ``outputs_image_ref_to``.
        disable_push: if True, Tilt does not push the image; the command does.
        skips_local_docker: if True, the command does not put the image in the
            local Docker image store (e.g. a remote builder or ``buildah``).
        live_update: list of steps to update running containers in place (see
            ``sync``, ``run``, ``fall_back_on``, ``initial_sync``, ``restart_container``).
        match_in_env_vars: if True, references to this image in Kubernetes
            containers' environment variables are replaced too.
        ignore: dockerignore-syntax patterns of files that do not trigger builds,
            applied relative to each dep.
        entrypoint: command to run when the container starts (string: ``/bin/sh -c``;
            list: program and arguments). Kubernetes only: an image a Docker Compose
            service runs fails the load.
        container_args: arguments for the container's command, overriding the YAML's
            ``args``. None keeps the YAML's.
        command_bat_val: deprecated alias of ``command_bat``.
        outputs_image_ref_to: a file (relative to the Tiltfile) the command writes
            the content-tagged image ref to; Tilt reads it after the command ran.
        command_bat: the command on Windows; ignored on other platforms.
        image_deps: refs of other images (docker_build or custom_build) this build
            needs first. Their built refs reach the command as ``$TILT_IMAGE_i`` and
            ``$TILT_IMAGE_MAP_i``.
        env: environment variables for the command, over Tilt's own environment.
        dir: working directory of the command, relative to the Tiltfile; defaults to
            the Tiltfile's folder.
    """
    fn = "custom_build"
    ref_s = _parse_ref_arg(fn, ref)
    # command_bat / command_bat_val only matter on Windows, which this tilt does not
    # target; they are still type-checked.
    as_cmd(fn, "command_bat", _plain(command_bat))
    as_cmd(fn, "command_bat_val", _plain(command_bat_val))
    try:
        cmd = as_cmd(fn, "command", _plain(command))
    except TiltfileError as e:
        raise TiltfileError(f"{fn}: Argument 2 (command): {e.message}") from None
    if cmd is None or not any(cmd.argv[2:] if cmd.shell else cmd.argv):
        raise TiltfileError(f"{fn}: Argument 2 (command) can't be empty")
    dep_paths = _abs_paths(ctx, fn, "deps", deps)
    steps = live_update_steps(ctx, fn, live_update)
    ignores = _pattern_list(fn, "ignore", ignore)
    entry = as_cmd(fn, "entrypoint", _plain(entrypoint))
    override_args = _container_args(fn, container_args)
    tag_s = as_str(fn, "tag", tag)
    out_ref = as_str(fn, "outputs_image_ref_to", outputs_image_ref_to)
    if tag_s and out_ref:
        raise TiltfileError(f"{fn}: Cannot specify both tag= and outputs_image_ref_to=")
    out_path = ctx.abspath(out_ref) if out_ref else ""
    deps_refs = as_str_list(fn, "image_deps", _plain(image_deps))
    for dep in deps_refs:
        err = ref_error(dep)
        if err:
            raise TiltfileError(f"{fn}: image_deps: can't parse {json.dumps(dep)}: {err}")
    dir_s = as_str(fn, "dir", dir)
    command_dir = ctx.abspath(dir_s) if dir_s else ctx.dir

    loc = ctx.here()
    rules: list[IgnoreRule] = []
    for dep in dep_paths:
        # As in Tilt, ignores apply under deps that are folders.
        if not os.path.isdir(dep):
            continue
        rules += _dockerignore_rules(ctx.state, dep, os.path.join(dep, ".dockerignore"))
        rules += _rules(ignores, dep, f"{loc} {fn}(ignore=)")
        rules.append(_git_rule(dep))
    if out_path:
        # The command writes this file on every build; it must not trigger the next.
        rules.append(
            IgnoreRule(
                pattern="/" + _glob_escape(os.path.basename(out_path)),
                base_dir=os.path.dirname(out_path),
                origin=f"{loc} {fn}(outputs_image_ref_to=)",
            )
        )

    image = ImageTarget(
        ref=ref_s,
        kind=ImageBuildKind.CUSTOM,
        context="",
        location=loc,
        entrypoint=entry,
        command=cmd,
        command_dir=command_dir,
        command_env=as_str_dict(fn, "env", _plain(env)),
        deps=tuple(dep_paths),
        tag=tag_s,
        disable_push=as_bool(fn, "disable_push", disable_push),
        skips_local_docker=as_bool(fn, "skips_local_docker", skips_local_docker),
        outputs_image_ref_to=out_path,
        ignore=tuple(ignores),
        live_update=steps,
        match_in_env_vars=as_bool(fn, "match_in_env_vars", match_in_env_vars),
        container_args=override_args,
        watch=WatchSpec(paths=tuple(dep_paths), ignores=tuple(rules)),
    )
    _add_image(
        ctx,
        fn,
        _Declared(
            target=image,
            fn=fn,
            used_refs=deps_refs,
            explicit_deps=True,
            roots=tuple(dep_paths),
        ),
    )


# --- default_registry ------------------------------------------------------------------


@builtin("fast_build")
def fast_build(ctx: Ctx, *args: object, **kwargs: object) -> None:
    """Removed from Tilt: calling it fails the load, as in Tilt.

    Old Tiltfiles may still mention it in a branch that does not run; the name exists
    so that such a file loads. Use ``docker_build(live_update=[...])`` instead.
    """
    raise TiltfileError(
        "fast_build is no longer supported. live_update provides the same functionality "
        "with less set-up: https://docs.tilt.dev/live_update_tutorial.html"
    )


@builtin("default_registry", located=True)
def default_registry(
    ctx: Ctx, host: object, host_from_cluster: object = None, single_name: object = ""
) -> None:
    """Push every image Tilt builds to this registry, renaming it accordingly.

    For example ``default_registry('gcr.io/myorg')`` pushes ``user-service`` as
    ``gcr.io/myorg/user-service``. Images are renamed by replacing ``/`` and ``@``
    with ``_`` and prepending ``host/``. May be called once.

    Args:
        host: the registry (and optional path) that all built images are pushed to.
        host_from_cluster: the registry's address as seen from inside the cluster
            (what the YAML gets), when it differs from ``host``.
        single_name: push every image to this one repository of the registry, with
            the image name in the tag (for registries like ECR where repositories
            must be created up-front).
    """
    fn = "default_registry"
    st = _state(ctx)
    if st.registry is not None and st.registry.host:
        raise TiltfileError(f"{fn}: default registry already defined")
    host_s = as_str(fn, "host", host).strip()
    cluster_s = as_str(fn, "host_from_cluster", host_from_cluster, allow_none=True).strip()
    for what, value in (("host", host_s), ("host_from_cluster", cluster_s)):
        if value and not _HOST_RE.match(value):
            raise TiltfileError(
                f"{fn}: validating defaultRegistry: {what} {json.dumps(value)} is not a valid "
                "registry host (want e.g. 'localhost:5000' or 'gcr.io/my-project')"
            )
    st.registry = _Registry(
        host=host_s,
        host_from_cluster=cluster_s,
        single_name=as_str(fn, "single_name", single_name),
    )


# --- after the Tiltfile ran ------------------------------------------------------------


def _check_unused_steps(st: ImagesState) -> None:
    unused = [rec for key, rec in st.steps.items() if key not in st.used_steps]
    if not unused:
        return
    listed = "; ".join(f"{rec.what} declared at {rec.location}" for rec in unused)
    raise TiltfileError(
        f"found {len(unused)} live_update steps that were created but not used in a "
        f"live_update: {listed}",
        unused[0].location,
    )


def _image_deps(st: ImagesState) -> dict[str, list[str]]:
    """For each image, the refs of the other declared images it is built from."""
    from tilt.graph import CycleError, topological_order

    # refs_match's rule (same normalized name; a tagged build only matches its own
    # tag), through an index by name so 200 images do not cost 40,000 comparisons.
    by_name: dict[str, list[tuple[str, _Declared]]] = {}
    for img in st.images:
        parsed = parse_ref(img.target.ref)
        by_name.setdefault(parsed.name, []).append((parsed.tag, img))

    deps: dict[str, list[str]] = {}
    for img in st.images:
        found: list[str] = []
        for used in img.used_refs:
            try:
                want = parse_ref(used)
            except ValueError:
                continue
            # A Dockerfile may build FROM an older version of its own image; naming
            # oneself in image_deps, though, is a cycle.
            matches = [
                other.target.ref
                for tag, other in by_name.get(want.name, ())
                if (not tag or tag == want.tag) and (other is not img or img.explicit_deps)
            ]
            if img.explicit_deps and not matches:
                raise TiltfileError(
                    f"{img.fn}: image_deps names {json.dumps(used)}, which no docker_build "
                    "or custom_build declares",
                    img.target.location,
                )
            found += [m for m in matches if m not in found]
        deps[img.target.ref] = found
    refs = [img.target.ref for img in st.images]
    try:
        topological_order(refs, deps)
    except CycleError as e:
        first = next(img for img in st.images if img.target.ref == e.cycle[0])
        raise TiltfileError(
            "image builds depend on each other in a cycle (FROM / image_deps): "
            + " -> ".join(e.cycle),
            first.target.location,
        ) from None
    return deps


def _check_live_update_paths(
    st: ImagesState, deps: dict[str, list[str]], deployed: set[str]
) -> None:
    """Sync sources and fall_back_on files must be inside what the image watches.

    As in Tilt, an image's watched paths include those of the images it is built
    from (a sync may copy a base image's files), and only an image some resource
    deploys is checked (Tilt's checkForImpossibleLiveUpdates skips the others).
    """
    by_ref = {img.target.ref: img for img in st.images}
    for img in st.images:
        steps = img.target.live_update
        if not steps or img.target.ref not in deployed:
            continue
        watched: list[str] = []
        todo, seen = [img.target.ref], set()
        while todo:
            ref = todo.pop(0)
            if ref in seen:
                continue
            seen.add(ref)
            watched += by_ref[ref].roots
            todo += deps.get(ref, [])
        label = f"{img.fn}({json.dumps(img.target.ref)}): live_update"
        for step in steps:
            if isinstance(step, SyncStep) and not any(
                _is_within(step.local_path, w) for w in watched
            ):
                raise TiltfileError(
                    f"{label}: sync step source '{step.local_path}' is not a child of any "
                    f"watched filepaths {_go_list(watched)}",
                    img.target.location,
                )
            if isinstance(step, FallBackOnStep):
                for path in step.paths:
                    if not any(_is_within(path, w) for w in watched):
                        raise TiltfileError(
                            f"{label}: fall_back_on paths '{path}' is not a child of any "
                            f"watched filepaths {_go_list(watched)}",
                            img.target.location,
                        )


def finalize(state: LoadState, asm: Assembly) -> None:
    """Resolve image dependencies, validate, and add the image targets to ``asm.images``.

    Raises:
        TiltfileError: an unused live_update step, an unknown image_deps ref, a cycle
            between images, or (once every family ran: only deployed images are
            checked) a live_update path outside what its image watches.
    """
    st = state.family(ImagesState)
    _check_unused_steps(st)
    deps = _image_deps(st)
    asm.late_checks.append(lambda a: _check_live_update_paths(st, deps, a.used_images))
    for img in st.images:
        asm.images.append(replace(img.target, image_deps=tuple(deps[img.target.ref])))
    if st.registry is not None and st.registry.host:
        asm.settings = replace(
            asm.settings,
            default_registry=st.registry.host,
            default_registry_host_from_cluster=st.registry.host_from_cluster,
            default_registry_single_name=st.registry.single_name,
        )
