"""Tiltfile builtins: local resources, readiness probes, links and the trigger-mode constants.

``local_resource`` (and its alias ``test``) records one resource per call; the
resources become `model.Resource` objects of kind LOCAL in `finalize`, after the
whole Tiltfile ran, because the default trigger mode (``trigger_mode()``) may be
set after the call. Everything else is validated at the call, as Tilt does, so an
error points at the offending line.

``probe``, the three ``*_action`` builtins and ``link`` return model objects;
Starlark holds them as opaque values and hands them back unchanged when they are
passed to ``local_resource``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tilt.model import (
    Cmd,
    ExecAction,
    HttpGetAction,
    IgnoreRule,
    Link,
    LocalTarget,
    Probe,
    Resource,
    ResourceKind,
    SourceLocation,
    TcpSocketAction,
    TestSpec,
    TriggerMode,
    WatchSpec,
)
from tilt.tiltfile._context import TILT_TYPE_NAMES as _TILT_NAMES
from tilt.tiltfile._context import (
    Ctx,
    LoadState,
    TiltfileError,
    as_bool,
    as_cmd,
    as_int,
    as_str,
    as_str_dict,
    as_str_list,
    builtin,
    unique,
)
from tilt.tiltfile._context import typename as _typename
from tilt.tiltfile._resource_args import labels_arg, links_arg, trigger_mode_arg, url_arg

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = ["LocalState", "finalize"]

# Tilt's deprecation notice for test() (internal/tiltfile/local_resource.go).
TEST_DEPRECATION = (
    "test() is deprecated and will be removed in a future release.\n"
    "Change this call to use `local_resource(..., allow_parallel=True)`"
)

_PORT_MIN, _PORT_MAX = 1, 65535

# How Tilt names these values in type errors.


@dataclass(frozen=True, kw_only=True)
class _Declared:
    """One local_resource call, validated; ``trigger_mode`` None means the global default."""

    name: str
    location: SourceLocation
    target: LocalTarget
    trigger_mode: TriggerMode | None
    auto_init: bool
    resource_deps: tuple[str, ...]
    links: tuple[Link, ...]
    labels: tuple[str, ...]
    update_on_dep_change: bool
    test: TestSpec | None = None


@dataclass
class LocalState:
    """What the local family recorded during one load, in declaration order."""

    resources: list[_Declared] = field(default_factory=list)
    by_name: dict[str, _Declared] = field(default_factory=dict)


# --- argument checks -------------------------------------------------------------------


def _check_name(fn: str, v: object) -> str:
    """A resource name: Tilt's rule is a valid Kubernetes path segment name."""
    name = as_str(fn, "name", v)
    problem = ""
    if not name:
        problem = "must not be empty"
    elif name in (".", ".."):
        problem = f"may not be {name!r}"
    else:
        for bad in ("/", "%"):
            if bad in name:
                problem = f"may not contain {bad!r}"
                break
    if problem:
        raise TiltfileError(f"{fn}: for parameter 'name': invalid value \"{name}\": {problem}")
    return name


def _string_list(fn: str, arg: str, v: object) -> list[str]:
    """A list of strings, where Tilt wants a sequence (a bare string is an error there too)."""
    if v is None:
        return []
    if isinstance(v, dict):  # a set() (a dict here): a Starlark sequence, as in Tilt
        v = list(v)
    if not isinstance(v, list | tuple):
        raise TiltfileError(
            f"{fn}: for parameter {arg!r}: got {_typename(v)}, want list of strings"
        )
    return as_str_list(fn, arg, v)


def _port(ctx: Ctx, fn: str, v: object) -> int:
    """A probe's port. Tilt takes any int here (the probe then fails): a warning."""
    port = as_int(fn, "port", v)
    if not _PORT_MIN <= port <= _PORT_MAX:
        ctx.warn(
            f"{fn}: port {port} is out of range (must be between {_PORT_MIN} and {_PORT_MAX}); "
            "the probe will fail"
        )
    return port


def _probe_arg(fn: str, v: object) -> Probe | None:
    if v is None or isinstance(v, Probe):
        return v
    raise TiltfileError(
        f"{fn}: for parameter 'readiness_probe': got {_typename(v)}, want Probe (made by probe())"
    )


def _dir(ctx: Ctx, fn: str, arg: str, v: object) -> str:
    """A working directory: the calling file's folder by default, relative paths against it."""
    path = as_str(fn, arg, v, allow_none=True)
    return ctx.abspath(path) if path else ctx.dir


def _command(fn: str, arg: str, v: object, bat_arg: str, bat: object) -> Cmd | None:
    """``cmd`` (or on Windows a non-empty ``cmd_bat``) as Tilt picks them."""
    if not isinstance(v, str | list | tuple | type(None)):
        raise TiltfileError(
            f"{fn}: for parameter {arg!r}: got {_typename(v)}, want string or list of strings"
        )
    unix = as_cmd(fn, arg, v)
    if not isinstance(bat, str | list | tuple | type(None)):
        raise TiltfileError(
            f"{fn}: for parameter {bat_arg!r}: got {_typename(bat)}, want string or list of strings"
        )
    # Tilt ignores the *_bat forms except on Windows, where a non-empty one wins.
    if os.name == "nt" and bat:
        if isinstance(bat, str):
            return Cmd(argv=("cmd", "/S", "/C", bat))
        return Cmd(argv=tuple(as_str_list(fn, bat_arg, bat)))
    if isinstance(bat, list | tuple):
        as_str_list(fn, bat_arg, bat)
    return unix


# --- local_resource / test ---------------------------------------------------------------


#: ``stdin_mode=`` values: Tilt had this argument for a week in May 2024 (with ``'pty'``),
#: then reverted it; kept here as an extra, meaning what it meant there.
STDIN_MODES = ("", "pty")


def _stdin_mode(fn: str, arg: str, value: object) -> str:
    """``stdin_mode=``/``serve_stdin_mode=``: ``''`` (stdin is /dev/null) or ``'pty'``."""
    mode = as_str(fn, arg, value, allow_none=True) or ""
    if mode not in STDIN_MODES:
        raise TiltfileError(
            f"{fn}: {arg} must be '' (stdin is /dev/null) or 'pty' (stdin is a "
            f"pseudo-terminal), got {mode!r}"
        )
    return mode


def _declare(
    ctx: Ctx,
    fn: str,
    *,
    name: object,
    cmd: object,
    deps: object,
    trigger_mode: object,
    resource_deps: object,
    ignore: object,
    auto_init: object,
    serve_cmd: object,
    cmd_bat: object,
    serve_cmd_bat: object,
    allow_parallel: object,
    links: object,
    tags: object,
    env: object,
    serve_env: object,
    readiness_probe: object,
    dir: object,
    serve_dir: object,
    labels: object,
    update_on_dep_change: object,
    stdin_mode: object = None,
    serve_stdin_mode: object = None,
    test: TestSpec | None = None,
) -> None:
    st = ctx.state.family(LocalState)
    loc = ctx.here()
    res_name = _check_name(fn, name)

    dep_paths = tuple(unique(ctx.abspath(p) for p in as_str_list(fn, "deps", deps)))
    ignores = tuple(
        IgnoreRule(pattern=p, base_dir=ctx.dir, origin=f"{loc} {fn}(ignore=)")
        for p in as_str_list(fn, "ignore", ignore)
    )
    update_cmd = _command(fn, "cmd", cmd, "cmd_bat", cmd_bat)
    long_cmd = _command(fn, "serve_cmd", serve_cmd, "serve_cmd_bat", serve_cmd_bat)
    if update_cmd is None and long_cmd is None:
        raise TiltfileError(f"{fn}: must have a cmd and/or a serve_cmd, but both were empty")
    probe_spec = _probe_arg(fn, readiness_probe)
    if probe_spec is not None and long_cmd is None:
        # Tilt warns and drops the probe: only a serve_cmd has a readiness to probe.
        ctx.state.warn(
            f'Ignoring readiness probe for local resource "{res_name}" (no serve_cmd was defined)',
            loc,
        )
        probe_spec = None
    # Tilt accepts `tags` (documented, never used); validated and otherwise ignored here too.
    _string_list(fn, "tags", tags)

    target = LocalTarget(
        cmd=update_cmd,
        dir=_dir(ctx, fn, "dir", dir),
        env=as_str_dict(fn, "env", env),
        serve_cmd=long_cmd,
        serve_dir=_dir(ctx, fn, "serve_dir", serve_dir),
        serve_env=as_str_dict(fn, "serve_env", serve_env),
        stdin_mode=_stdin_mode(fn, "stdin_mode", stdin_mode),
        serve_stdin_mode=_stdin_mode(fn, "serve_stdin_mode", serve_stdin_mode),
        readiness_probe=probe_spec,
        allow_parallel=as_bool(fn, "allow_parallel", allow_parallel),
        deps=dep_paths,
        watch=WatchSpec(paths=dep_paths, ignores=ignores),
    )
    declared = _Declared(
        name=res_name,
        location=loc,
        target=target,
        trigger_mode=trigger_mode_arg(fn, trigger_mode),
        auto_init=as_bool(fn, "auto_init", auto_init),
        resource_deps=tuple(unique(_string_list(fn, "resource_deps", resource_deps))),
        links=links_arg(fn, links, ctx.warn),
        labels=labels_arg(fn, labels),
        update_on_dep_change=as_bool(fn, "update_on_dep_change", update_on_dep_change),
        test=test,
    )
    first = st.by_name.get(res_name)
    if first is not None:
        raise TiltfileError(
            f'{fn}: resource name "{res_name}" is already used by the local resource '
            f"defined at {first.location}"
        )
    st.by_name[res_name] = declared
    st.resources.append(declared)


# Tilt's documented defaults; the lists and dicts are never mutated.
@builtin("local_resource", located=True)
def local_resource(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    name: object,
    cmd: object = "",
    deps: object = None,
    trigger_mode: object = None,
    resource_deps: object = [],
    ignore: object = [],
    auto_init: object = True,
    serve_cmd: object = "",
    cmd_bat: object = "",
    serve_cmd_bat: object = "",
    allow_parallel: object = False,
    links: object = [],
    tags: object = [],
    env: object = {},
    serve_env: object = {},
    readiness_probe: object = None,
    dir: object = "",
    serve_dir: object = "",
    labels: object = [],
    update_on_dep_change: object = False,
    stdin_mode: object = None,
    serve_stdin_mode: object = None,
) -> None:
    """Declares a resource that runs commands on this machine (not in a cluster).

    Tilt's meaning: on every update (at ``tilt up`` when ``auto_init``, and after a
    change to one of ``deps``), ``cmd`` runs to completion; when it succeeds, any
    ``serve_cmd`` still running from an earlier update is stopped and ``serve_cmd``
    is started again, and is expected to keep running. A string command runs
    through ``sh -c``; a list is the program and its arguments. A resource without
    ``deps`` runs once (and when its definition in the Tiltfile changes, or when
    triggered).

    The four combinations of ``trigger_mode`` and ``auto_init`` follow Tilt:
    AUTO+True updates at start and on every change; AUTO+False waits for a first
    manual trigger, then follows changes; MANUAL+True runs at start, then only when
    triggered; MANUAL+False only ever runs when triggered.

    Args:
        name: the resource's name in the UI and in ``resource_deps``; a valid
            Kubernetes path segment (not ``.``/``..``, no ``/`` or ``%``), unique
            among local resources.
        cmd: command run on each update (string: ``sh -c``; list: argv).
        deps: file(s) or folder(s), relative to this file, whose changes update the
            resource. Real paths, not globs.
        trigger_mode: ``TRIGGER_MODE_AUTO`` or ``TRIGGER_MODE_MANUAL``; by default
            the mode set with ``trigger_mode()`` (``TRIGGER_MODE_AUTO`` unless changed).
        resource_deps: names of resources that must be ready before this one's
            first update (a list; an unknown name is a warning).
        ignore: pattern(s) in dockerignore syntax, relative to this file's folder,
            of files under ``deps`` whose changes do not update the resource.
        auto_init: whether the resource updates at ``tilt up``.
        serve_cmd: long-running command (re)started after each successful ``cmd``.
        cmd_bat: Windows form of ``cmd`` (``cmd /S /C`` for a string); when
            non-empty it takes precedence on Windows and is ignored elsewhere.
        serve_cmd_bat: Windows form of ``serve_cmd``, with the same rule.
        allow_parallel: whether this resource's updates may run alongside other
            updates (local resources run one at a time by default).
        links: URL string(s) or ``link()`` value(s) shown with the resource; a URL
            without a scheme gets ``http://``.
        tags: accepted for compatibility; Tilt documents it but does not use it
            (use ``labels`` to group resources).
        env: environment variables added to the Tilt process's for ``cmd``.
        serve_env: environment variables added to the Tilt process's for ``serve_cmd``.
        readiness_probe: a ``probe()`` deciding when ``serve_cmd`` is ready; ignored
            with a warning when there is no ``serve_cmd``.
        dir: working directory of ``cmd``, relative to this file; defaults to the
            folder of the file that makes the call.
        serve_dir: working directory of ``serve_cmd``, with the same rule.
        labels: label(s) grouping resources in the UI; each starts and ends with an
            alphanumeric character, may contain ``-``, ``_`` and ``.``, has at most
            63 characters and no ``/``.
        update_on_dep_change: beyond Tilt: when True, the resource updates again
            after any of its ``resource_deps`` updates (in manual mode it is marked
            dirty instead).
        stdin_mode: what ``cmd``'s stdin is: ``''`` (``/dev/null``) or ``'pty'``, a
            pseudo-terminal, for commands that want a terminal on stdin
            (``docker run -it``); nothing is typed into it. Tilt had this argument
            briefly (May 2024) and removed it; kept here as an extra.
        serve_stdin_mode: the same for ``serve_cmd``.
    """
    _declare(
        ctx,
        "local_resource",
        name=name,
        cmd=cmd,
        deps=deps,
        trigger_mode=trigger_mode,
        resource_deps=resource_deps,
        ignore=ignore,
        auto_init=auto_init,
        serve_cmd=serve_cmd,
        cmd_bat=cmd_bat,
        serve_cmd_bat=serve_cmd_bat,
        allow_parallel=allow_parallel,
        links=links,
        tags=tags,
        env=env,
        serve_env=serve_env,
        stdin_mode=stdin_mode,
        serve_stdin_mode=serve_stdin_mode,
        readiness_probe=readiness_probe,
        dir=dir,
        serve_dir=serve_dir,
        labels=labels,
        update_on_dep_change=update_on_dep_change,
    )


@builtin("test", located=True)
def test(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    name: object,
    cmd: object = "",
    deps: object = None,
    trigger_mode: object = None,
    resource_deps: object = [],
    ignore: object = [],
    auto_init: object = True,
    serve_cmd: object = "",
    cmd_bat: object = "",
    serve_cmd_bat: object = "",
    allow_parallel: object = True,
    links: object = [],
    tags: object = [],
    env: object = {},
    serve_env: object = {},
    readiness_probe: object = None,
    dir: object = "",
    serve_dir: object = "",
    labels: object = [],
    timeout: object = "",
    update_on_dep_change: object = False,
    results_format: object = "auto",
    results: object = [],
    shards: object = 1,
    test_files: object = [],
    rerun_failed_first: object = False,
    stdin_mode: object = None,
    serve_stdin_mode: object = None,
    image: object = "",
    command: object = "",
) -> None:
    """Declares a test: Tilt's alias of ``local_resource`` with ``allow_parallel=True``.

    Everything ``local_resource`` accepts means the same here; only the default of
    ``allow_parallel`` differs. Tilt marks ``test()`` deprecated and logs a warning
    saying so; this tilt logs the same warning.

    Beyond Tilt, ``timeout`` is honoured, and a test resource shows per-test results:
    passed / failed / errored / skipped counts, its duration, and each failing test
    with the first lines of its failure and its file:line (`tilt ci` lists them and
    writes them as JUnit XML with ``--output-junit``). ``shards`` splits the command
    into parallel runs; each is told ``TILT_SHARD_INDEX`` (0-based) and
    ``TILT_SHARD_COUNT``, and for pytest tilt passes each shard its own test files
    (``TILT_SHARD_FILES``), balanced by the durations of the last run. See
    docs/testing.md.

    Args:
        name: the resource's name (see ``local_resource``).
        cmd: command run on each update (string: ``sh -c``; list: argv).
        deps: file(s) or folder(s), relative to this file, whose changes rerun the test.
        trigger_mode: ``TRIGGER_MODE_AUTO`` or ``TRIGGER_MODE_MANUAL``; by default
            the mode set with ``trigger_mode()``.
        resource_deps: names of resources that must be ready first.
        ignore: pattern(s), relative to this file's folder, of changes to ignore.
        auto_init: whether the test runs at ``tilt up``.
        serve_cmd: long-running command (re)started after each successful ``cmd``.
        cmd_bat: Windows form of ``cmd``.
        serve_cmd_bat: Windows form of ``serve_cmd``.
        allow_parallel: whether updates may run alongside others (True for tests).
        links: URL string(s) or ``link()`` value(s) shown with the resource.
        tags: accepted for compatibility; not used (as in Tilt).
        env: environment variables for ``cmd``.
        serve_env: environment variables for ``serve_cmd``.
        readiness_probe: a ``probe()`` for ``serve_cmd``.
        dir: working directory of ``cmd`` (default: this file's folder).
        serve_dir: working directory of ``serve_cmd`` (default: this file's folder).
        labels: label(s) grouping resources in the UI.
        timeout: how long one run of ``cmd`` may take: a number of seconds or a
            duration (``"90s"``, ``"5m"``); ``""`` for no limit (Tilt documents it and
            never enforced it). A run that takes longer is stopped and fails. A
            string that is not a duration is a warning and means no limit.
        update_on_dep_change: beyond Tilt (see ``local_resource``).
        results_format: beyond Tilt: where per-test results come from: ``"auto"``
            (pytest and ``go test -json`` commands are recognised, and a
            ``go test -json`` stream in any output), ``"pytest"`` (tilt asks pytest for
            JUnit XML through ``PYTEST_ADDOPTS``), ``"gotest"`` (the output is a
            ``go test -json`` stream), ``"junit"`` (the files ``results`` names), or
            ``"none"`` (the exit code only).
        results: beyond Tilt: glob pattern(s), relative to this file, of JUnit XML
            files the command writes (files older than the run are ignored).
        shards: beyond Tilt: run ``cmd`` this many times in parallel, one shard each.
        test_files: beyond Tilt: for sharded pytest, the patterns of the test files to
            split (default ``test_*.py`` and ``*_test.py``, under ``dir``).
        rerun_failed_first: beyond Tilt: after a failure, run the tests that failed
            first (pytest); only if they pass, the whole suite.
        stdin_mode: see ``local_resource``.
        serve_stdin_mode: see ``local_resource``.
        image: beyond Tilt: run the test in the cluster instead: a Kubernetes Job
            named ``name`` runs ``command`` in this image (a ``docker_build`` ref is
            built and injected); each update deletes and re-creates the Job, its pod
            logs stream into the resource's log and give its results (``results_format``
            as for ``k8s_resource(test=True)``: a ``go test -json`` stream, JUnit XML
            printed in the log, or pytest's ``-rA`` output: a pytest command gets
            ``PYTEST_ADDOPTS=-rA``); ``cmd``, ``serve_cmd``, ``deps`` and ``shards``
            do not apply.
            ``env``, ``timeout``, ``resource_deps``, ``trigger_mode``, ``auto_init``,
            ``labels`` and ``links`` do.
        command: beyond Tilt, with ``image``: the container's command (string:
            ``sh -c``; list: argv; empty: the image's entrypoint).
    """
    spec = _test_spec(
        ctx,
        timeout=timeout,
        results_format=results_format,
        results=results,
        shards=shards,
        test_files=test_files,
        rerun_failed_first=rerun_failed_first,
    )
    ctx.state.warn(TEST_DEPRECATION, ctx.here())
    if image != "":
        _job_test(
            ctx,
            name=name,
            image=image,
            command=command,
            spec=spec,
            cmd=cmd,
            deps=deps,
            serve_cmd=serve_cmd,
            trigger_mode=trigger_mode,
            resource_deps=resource_deps,
            auto_init=auto_init,
            env=env,
            labels=labels,
            links=links,
        )
        return
    if command != "":
        raise TiltfileError("test: command= runs in image=: give image= too (or use cmd=)")
    _declare(
        ctx,
        "test",
        name=name,
        cmd=cmd,
        deps=deps,
        trigger_mode=trigger_mode,
        resource_deps=resource_deps,
        ignore=ignore,
        auto_init=auto_init,
        serve_cmd=serve_cmd,
        cmd_bat=cmd_bat,
        serve_cmd_bat=serve_cmd_bat,
        allow_parallel=allow_parallel,
        links=links,
        tags=tags,
        env=env,
        serve_env=serve_env,
        stdin_mode=stdin_mode,
        serve_stdin_mode=serve_stdin_mode,
        readiness_probe=readiness_probe,
        dir=dir,
        serve_dir=serve_dir,
        labels=labels,
        update_on_dep_change=update_on_dep_change,
        test=spec,
    )


def _job_test(
    ctx: Ctx,
    *,
    name: object,
    image: object,
    command: object,
    spec: TestSpec,
    cmd: object,
    deps: object,
    serve_cmd: object,
    trigger_mode: object,
    resource_deps: object,
    auto_init: object,
    env: object,
    labels: object,
    links: object,
) -> None:
    """``test(name, image=...)``: a Job in the cluster (`tilt.tiltfile._k8s.job_test`)."""
    from tilt.tiltfile._k8s import job_test

    fn = "test"
    res_name = _check_name(fn, name)
    for arg, v in (("cmd", cmd), ("serve_cmd", serve_cmd), ("deps", deps)):
        if v not in ("", None, []):
            raise TiltfileError(
                f"test: {arg}= and image= do not go together (with image=, the test runs "
                "command= in a Kubernetes Job)"
            )
    if spec.shards > 1 or spec.results or spec.test_files or spec.rerun_failed_first:
        raise TiltfileError(
            "test: shards=, results=, test_files= and rerun_failed_first= do not apply to "
            "image= (a Job's results are read from its logs)"
        )
    job_test(
        ctx,
        name=res_name,
        image=image,
        command=command,
        env=as_str_dict(fn, "env", env),
        spec=spec,
        trigger_mode=trigger_mode_arg(fn, trigger_mode),
        resource_deps=list(unique(_string_list(fn, "resource_deps", resource_deps))),
        auto_init=as_bool(fn, "auto_init", auto_init),
        labels=list(labels_arg(fn, labels)),
        links=list(links_arg(fn, links)),
    )


_RESULTS_FORMATS = ("auto", "pytest", "gotest", "junit", "none")
_MAX_SHARDS = 64


def _test_spec(
    ctx: Ctx,
    *,
    timeout: object,
    results_format: object,
    results: object,
    shards: object,
    test_files: object,
    rerun_failed_first: object,
) -> TestSpec:
    """test()'s own arguments, checked."""
    fn = "test"
    timeout_s: float | None = None
    if isinstance(timeout, bool) or not isinstance(timeout, str | int | float):
        raise TiltfileError(
            f"test: for parameter 'timeout': got {_typename(timeout)}, want string or number"
        )
    if isinstance(timeout, str):
        if timeout.strip():
            from tilt.commands.up import parse_duration

            try:
                timeout_s = parse_duration(timeout)
            except ValueError as e:
                # Tilt documents timeout and never reads it: any string loads there.
                ctx.warn(f"test: for parameter 'timeout': {e}; the test runs without a limit")
    else:
        timeout_s = float(timeout)
    if timeout_s is not None and timeout_s <= 0:
        timeout_s = None  # 0 (or less): no limit, as an empty string
    fmt = as_str(fn, "results_format", results_format)
    if fmt not in _RESULTS_FORMATS:
        raise TiltfileError(
            f"test: for parameter 'results_format': unknown format {fmt!r} "
            f"(one of {', '.join(_RESULTS_FORMATS)})"
        )
    n = as_int(fn, "shards", shards)
    if not 1 <= n <= _MAX_SHARDS:
        raise TiltfileError(
            f"test: for parameter 'shards': must be between 1 and {_MAX_SHARDS}, got {n}"
        )
    return TestSpec(
        timeout_s=timeout_s,
        results_format=fmt,
        results=tuple(ctx.abspath(p) for p in as_str_list(fn, "results", results)),
        shards=n,
        test_files=tuple(as_str_list(fn, "test_files", test_files)),
        rerun_failed_first=as_bool(fn, "rerun_failed_first", rerun_failed_first),
    )


# --- probes and links --------------------------------------------------------------------


def _positive(ctx: Ctx, fn: str, arg: str, v: object, *, minimum: int, default: int) -> int:
    """A probe timing or threshold. Tilt takes any int: out of range, a warning and the default."""
    n = as_int(fn, arg, v)
    if n < minimum:
        rule = "must not be negative" if minimum == 0 else "must be greater than 0"
        ctx.warn(f"{fn}: {arg} {rule}, got {n}; using the default, {default}")
        return default
    return n


@builtin("probe", located=True)
def probe(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    initial_delay_secs: object = 0,
    timeout_secs: object = 1,
    period_secs: object = 10,
    success_threshold: object = 1,
    failure_threshold: object = 3,
    exec: object = None,
    http_get: object = None,
    tcp_socket: object = None,
) -> Probe:
    """Creates a readiness probe for a ``local_resource``'s ``serve_cmd``.

    As in Tilt (and Kubernetes), the probe first runs ``initial_delay_secs`` after
    the process starts, then every ``period_secs``; the resource is ready after
    ``success_threshold`` consecutive successes and not ready after
    ``failure_threshold`` consecutive failures. Exactly one of ``exec``,
    ``http_get`` and ``tcp_socket`` must be given.

    Args:
        initial_delay_secs: seconds after the start before the first probe (>= 0;
            Tilt accepts any int: out of range, a warning and the default).
        timeout_secs: seconds after which one probe counts as failed (> 0; default 1).
        period_secs: seconds between probes (> 0; default 10).
        success_threshold: consecutive successes that make the resource ready (> 0;
            default 1).
        failure_threshold: consecutive failures that make it not ready (> 0; default 3).
        exec: an ``exec_action()``: the probe succeeds when the command exits 0.
        http_get: an ``http_get_action()``: succeeds on a status in [200, 400).
        tcp_socket: a ``tcp_socket_action()``: succeeds when a connection opens.

    Returns:
        A Probe, for ``local_resource(readiness_probe=...)``.
    """
    fn = "probe"
    actions: list[tuple[str, object, type]] = [
        ("exec", exec, ExecAction),
        ("http_get", http_get, HttpGetAction),
        ("tcp_socket", tcp_socket, TcpSocketAction),
    ]
    for arg, value, cls in actions:
        if value is not None and not isinstance(value, cls):
            raise TiltfileError(
                f"{fn}: for parameter {arg!r}: got {_typename(value)}, want {_TILT_NAMES[cls]}"
            )
    if sum(value is not None for _, value, _ in actions) != 1:
        raise TiltfileError(f"{fn}: exactly one of exec, http_get, or tcp_socket must be specified")
    return Probe(
        initial_delay_secs=_positive(
            ctx, fn, "initial_delay_secs", initial_delay_secs, minimum=0, default=0
        ),
        timeout_secs=_positive(ctx, fn, "timeout_secs", timeout_secs, minimum=1, default=1),
        period_secs=_positive(ctx, fn, "period_secs", period_secs, minimum=1, default=10),
        success_threshold=_positive(
            ctx, fn, "success_threshold", success_threshold, minimum=1, default=1
        ),
        failure_threshold=_positive(
            ctx, fn, "failure_threshold", failure_threshold, minimum=1, default=3
        ),
        exec=exec if isinstance(exec, ExecAction) else None,
        http_get=http_get if isinstance(http_get, HttpGetAction) else None,
        tcp_socket=tcp_socket if isinstance(tcp_socket, TcpSocketAction) else None,
    )


@builtin("http_get_action", located=True)
def http_get_action(
    ctx: Ctx, port: object, host: object = "localhost", scheme: object = "http", path: object = ""
) -> HttpGetAction:
    """Creates a probe action that performs an HTTP GET request.

    The probe succeeds when a response with a status code >= 200 and < 400 arrives
    within the probe's timeout.

    Args:
        port: port to connect to (1-65535; another int is a warning, as Tilt takes it).
        host: host name for the request.
        scheme: ``http`` or ``https`` (any case; another scheme is a warning and a
            probe that always fails, as in Tilt).
        path: URI path of the request.

    Returns:
        An HTTPGetAction, for ``probe(http_get=...)``.
    """
    fn = "http_get_action"
    scheme_s = as_str(fn, "scheme", scheme).lower() or "http"
    if scheme_s not in ("http", "https"):
        # Tilt passes any scheme on (upper-cased); its probe then fails on each attempt.
        ctx.warn(f'{fn}: scheme must be "http" or "https", got "{scheme_s}"; the probe will fail')
    return HttpGetAction(
        port=_port(ctx, fn, port),
        host=as_str(fn, "host", host) or "localhost",
        scheme=scheme_s,
        path=as_str(fn, "path", path),
    )


@builtin("tcp_socket_action", located=True)
def tcp_socket_action(ctx: Ctx, port: object, host: object = "localhost") -> TcpSocketAction:
    """Creates a probe action that opens a TCP connection.

    The probe succeeds when the connection is established within the probe's
    timeout; nothing is sent or read.

    Args:
        port: port to connect to (1-65535; another int is a warning, as Tilt takes it).
        host: host name to connect to.

    Returns:
        A TCPSocketAction, for ``probe(tcp_socket=...)``.
    """
    fn = "tcp_socket_action"
    return TcpSocketAction(port=_port(ctx, fn, port), host=as_str(fn, "host", host) or "localhost")


@builtin("exec_action", located=True)
def exec_action(ctx: Ctx, command: object) -> ExecAction:
    """Creates a probe action that runs a command.

    The probe succeeds when the process exits with code 0 within the probe's
    timeout. The command is run directly (no shell), as in Tilt.

    Args:
        command: the program and its arguments, a list of strings (an empty one is a
            warning and a probe that always fails, as in Tilt).

    Returns:
        An ExecAction, for ``probe(exec=...)``.
    """
    fn = "exec_action"
    argv = _string_list(fn, "command", command)
    if not argv:
        # Tilt accepts it; the probe then fails on each attempt.
        ctx.warn(f"{fn}: command is empty; the probe will fail")
    return ExecAction(command=tuple(argv))


@builtin("link", located=True)
def link(ctx: Ctx, url: object, name: object = "") -> Link:
    """Creates a link to show with a resource (``local_resource(links=...)``, ``k8s_resource``).

    Args:
        url: the URL; one without a scheme gets ``http://`` (Tilt's rule).
        name: text shown for the link instead of the URL.

    Returns:
        A link.
    """
    fn = "link"
    return Link(url=url_arg(fn, as_str(fn, "url", url), ctx.warn), name=as_str(fn, "name", name))


# --- assembly ----------------------------------------------------------------------------


def finalize(state: LoadState, asm: Assembly) -> None:
    """Append one LOCAL resource per local_resource/test call, in declaration order."""
    st = state.family(LocalState)
    default_mode = asm.settings.default_trigger_mode
    for d in st.resources:
        asm.resources.append(
            Resource(
                name=d.name,
                kind=ResourceKind.LOCAL,
                location=d.location,
                labels=d.labels,
                resource_deps=d.resource_deps,
                trigger_mode=d.trigger_mode or default_mode,
                auto_init=d.auto_init,
                links=d.links,
                local=d.target,
                update_on_dep_change=d.update_on_dep_change,
                test=d.test,
            )
        )
