"""Evaluates a Tiltfile in a child process: crash-isolated, memory-limited, killable.

A Tiltfile is a program: a long loop holds the interpreter (and Python's GIL)
for as long as it likes, deep nesting overflows the native stack, and a big
string or a YAML alias bomb grows memory without bound. Run in tilt's own
process, any of these freezes or kills tilt. So `load_tiltfile` runs in a
child process, in a session (process group) of its own:

- tilt stays responsive while it runs, and stopping it (Ctrl-C, SIGTERM,
  `tilt down`, ``ci --timeout``, a newer save) is SIGTERM to its group, a short
  grace (`STOP_GRACE_S`), then SIGKILL;
- its address space is limited (``RLIMIT_AS``, `memory_limit_mb` MB over what
  it uses when it starts): going over is the Tiltfile error "Tiltfile
  evaluation used more than N MB";
- a crash (a stack overflow aborts the interpreter) is the Tiltfile error
  `CRASH_MESSAGE`; tilt and the last good graph keep running;
- the commands ``local()``, ``helm()`` and ``kustomize()`` run are in process
  groups of their own, registered with the child's guardian
  (`tilt.process.guard_group`), and stopped with it.

Two ways to get the child, the result is the same:

- `TiltfileWorkers` (the engine): a fresh interpreter (``python -m
  tilt.tiltfile.worker``) that has imported the loader and waits for one
  request on stdin; one is kept ready in advance, so a reload does not pay
  for interpreter start and imports. The engine has threads, so it never forks.
- `load_isolated` (one-shot commands: ``tilt dump tiltfile``, ``tilt down``):
  ``fork()`` of the single-threaded command process, which costs about a
  millisecond, where a fresh interpreter would cost most of the load.

The result (or the error, with its location) comes back pickled through a
pipe; what the child writes to stdout/stderr is kept (its last
`_STDERR_TAIL_BYTES`) to tell an out-of-memory abort from a crash.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    import asyncio

    from tilt.model import TiltfileResult

__all__ = [
    "CRASH_MESSAGE",
    "MEMORY_LIMIT_ENV",
    "STOP_GRACE_S",
    "LoadRequest",
    "TiltfileWorkers",
    "load_isolated",
    "memory_limit_mb",
]

#: The Tiltfile error when the evaluating process dies.
CRASH_MESSAGE = "Tiltfile evaluation crashed (stack overflow?)"
#: Environment variable: the evaluation's memory limit in MB.
MEMORY_LIMIT_ENV = "TILT_TILTFILE_MEMORY_MB"
DEFAULT_MEMORY_LIMIT_MB = 1024
#: Seconds between SIGTERM and SIGKILL when a load is stopped.
STOP_GRACE_S = 0.3

_STDERR_TAIL_BYTES = 8192
# What an allocation failure prints before the process aborts: Rust's alloc error
# handler (the Starlark interpreter), CPython.
_OOM_MARKERS = (b"memory allocation of", b"MemoryError", b"Cannot allocate memory")


def memory_limit_mb() -> int:
    """The evaluation's memory limit: ``$TILT_TILTFILE_MEMORY_MB``, default 1024."""
    raw = os.environ.get(MEMORY_LIMIT_ENV, "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MEMORY_LIMIT_MB
    return value if value > 0 else DEFAULT_MEMORY_LIMIT_MB


@dataclass(frozen=True, kw_only=True)
class LoadRequest:
    """What to load (the arguments of `tilt.tiltfile.load_tiltfile`)."""

    path: str
    args: tuple[str, ...] = ()
    subcommand: str = "up"
    env: Mapping[str, str] | None = None
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB


# ---- the child ------------------------------------------------------------------------------


def _import_loader() -> None:
    import tilt.tiltfile
    from tilt.tiltfile import _register_builtins

    _register_builtins()
    del tilt


def _vm_size_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _limit_memory(limit_mb: int) -> None:
    import resource

    want = _vm_size_bytes() + limit_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))


def _on_stop(signum: int, frame: object) -> None:
    # Stop what local()/helm()/kustomize() started, then go. (A runaway Starlark loop
    # never gets here - no Python bytecode runs - and is SIGKILLed after the grace;
    # this process's guardian then stops those groups.)
    from tilt.process import kill_guarded_groups

    kill_guarded_groups()
    os._exit(128 + signum)


def _evaluate(req: LoadRequest, then: Callable[[TiltfileResult], object] | None = None) -> bytes:
    """Load in this (child) process; the pickled response (``then(result)`` if given)."""
    from tilt.tiltfile import TiltfileLoadError, load_tiltfile

    _limit_memory(req.memory_limit_mb)
    try:
        result = load_tiltfile(req.path, req.args, subcommand=req.subcommand, env=req.env)
    except TiltfileLoadError as e:
        return pickle.dumps(("error", e.message, e.location, e.column))
    except MemoryError:
        return pickle.dumps(("memory",))
    except RecursionError:
        return pickle.dumps(("crash",))
    except Exception as e:  # a bug in a builtin: say what, not a traceback
        return pickle.dumps(("internal", f"{type(e).__name__}: {e}"))
    try:
        value = then(result) if then is not None else result
        return pickle.dumps(("ok", value), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return pickle.dumps(("memory",))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _child(
    req: LoadRequest, resp_fd: int, then: Callable[[TiltfileResult], object] | None = None
) -> None:
    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGHUP, _on_stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides
    try:
        data = _evaluate(req, then)
    except MemoryError:
        data = pickle.dumps(("memory",))
    _write_all(resp_fd, data)
    os.close(resp_fd)


def main() -> int:
    """``python -m tilt.tiltfile.worker``: import the loader, then serve one request.

    The request (a pickled `LoadRequest`) arrives on stdin; the response goes to
    stdout. Anything else the evaluation prints goes to stderr.
    """
    resp_fd = os.dup(1)
    os.dup2(2, 1)
    _import_loader()
    data = sys.stdin.buffer.read()
    if not data:
        return 0  # tilt went away (or did not need this spare)
    req = pickle.loads(data)
    assert isinstance(req, LoadRequest)
    _child(req, resp_fd)
    from tilt.process import kill_guarded_groups

    kill_guarded_groups()
    return 0


# ---- the parent -----------------------------------------------------------------------------


def _decode(out: bytes, err_tail: bytes, returncode: int, limit_mb: int) -> object:
    from tilt.tiltfile import TiltfileLoadError

    memory_msg = f"Tiltfile evaluation used more than {limit_mb} MB"
    if out:
        try:
            resp = pickle.loads(out)
        except Exception:
            resp = None
        if isinstance(resp, tuple) and resp:
            kind = resp[0]
            if kind == "ok":
                return resp[1]
            if kind == "error":
                raise TiltfileLoadError(resp[1], resp[2], resp[3])
            if kind == "memory":
                raise TiltfileLoadError(memory_msg, None)
            if kind == "crash":
                raise TiltfileLoadError(CRASH_MESSAGE, None)
            if kind == "internal":
                raise TiltfileLoadError(
                    f"internal error while loading the Tiltfile: {resp[1]}", None
                )
    if any(m in err_tail for m in _OOM_MARKERS):
        raise TiltfileLoadError(memory_msg, None)
    how = ""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            how = f" ({signal.Signals(-returncode).name})"
    elif returncode > 0:
        how = f" (exit code {returncode})"
    raise TiltfileLoadError(CRASH_MESSAGE + how, None)


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class TiltfileWorkers:
    """Evaluates Tiltfiles for the engine, one fresh worker process per load.

    Args:
        keep_spare: Keep a worker started in advance, so the next load skips the
            interpreter start and imports (about 100 ms).
    """

    def __init__(self, *, keep_spare: bool = True) -> None:
        self._keep_spare = keep_spare
        self._spare: asyncio.Task[asyncio.subprocess.Process] | None = None
        self._closed = False

    async def _spawn(self) -> asyncio.subprocess.Process:
        import asyncio

        from tilt.process import guard_group

        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tilt.tiltfile.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        guard_group(proc.pid)
        return proc

    def _take(self) -> asyncio.Task[asyncio.subprocess.Process]:
        import asyncio

        spare, self._spare = self._spare, None
        return spare if spare is not None else asyncio.ensure_future(self._spawn())

    def _prepare_spare(self) -> None:
        # After a load, not during it: the two would compete for the CPU.
        if self._keep_spare and not self._closed and self._spare is None:
            import asyncio

            self._spare = asyncio.ensure_future(self._spawn())

    async def load(
        self, path: str, args: Sequence[str] = (), *, subcommand: str = "up"
    ) -> TiltfileResult:
        """Load the Tiltfile at ``path`` in a worker process.

        Cancelling stops the worker (SIGTERM to its group, `STOP_GRACE_S`, SIGKILL)
        before the cancellation goes on.

        Raises:
            TiltfileLoadError: the Tiltfile's error, or that its evaluation
                crashed or used more than the memory limit.
        """
        import asyncio

        limit = memory_limit_mb()
        req = LoadRequest(path=path, args=tuple(args), subcommand=subcommand, memory_limit_mb=limit)
        proc = await self._take()
        try:
            assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
            proc.stdin.write(pickle.dumps(req))
            with contextlib.suppress(ConnectionError):
                await proc.stdin.drain()
            proc.stdin.close()
            out, err = await asyncio.gather(proc.stdout.read(), _read_tail(proc.stderr))
            returncode = await proc.wait()
        except BaseException:
            await _stop(proc)
            raise
        finally:
            from tilt.process import unguard_group

            unguard_group(proc.pid)
        self._prepare_spare()
        # Unpickling a big graph takes tens of milliseconds: not on the event loop.
        result = await asyncio.to_thread(_decode, out, err, returncode, limit)
        assert _is_result(result)
        return result

    async def close(self) -> None:
        """Stop the spare worker."""
        import asyncio

        self._closed = True
        spare, self._spare = self._spare, None
        if spare is None:
            return
        try:
            proc = await spare
        except (OSError, asyncio.CancelledError):
            return
        await _stop(proc)
        from tilt.process import unguard_group

        unguard_group(proc.pid)


async def _read_tail(stream: asyncio.StreamReader) -> bytes:
    tail = b""
    while chunk := await stream.read(65536):
        tail = (tail + chunk)[-_STDERR_TAIL_BYTES:]
    return tail


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the worker's group, then SIGKILL after the grace; wait for it (uncancellably)."""
    import asyncio

    if proc.returncode is None:
        _kill_group(proc.pid, signal.SIGTERM)
        waiter = asyncio.ensure_future(proc.wait())
        loop = asyncio.get_running_loop()
        timer = loop.call_later(STOP_GRACE_S, _kill_group, proc.pid, signal.SIGKILL)
        try:
            while not waiter.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({waiter})
        finally:
            timer.cancel()
    # Whatever the worker left in its group (it was killed before stopping them).
    _kill_group(proc.pid, signal.SIGKILL)


def _is_result(value: object) -> TypeGuard[TiltfileResult]:
    from tilt.model import TiltfileResult

    return isinstance(value, TiltfileResult)


def load_isolated(
    path: str,
    args: Sequence[str] = (),
    *,
    subcommand: str = "up",
    env: Mapping[str, str] | None = None,
) -> TiltfileResult:
    """`load_tiltfile` in a forked child, for single-threaded one-shot commands.

    Ctrl-C, SIGTERM and SIGHUP stop the child (its whole group) and raise
    `KeyboardInterrupt` here.

    Raises:
        TiltfileLoadError: as `TiltfileWorkers.load`.
    """
    result = run_isolated(path, args, subcommand=subcommand, env=env, then=None)
    assert _is_result(result)
    return result


def run_isolated(
    path: str,
    args: Sequence[str] = (),
    *,
    subcommand: str = "up",
    env: Mapping[str, str] | None = None,
    then: Callable[[TiltfileResult], object] | None,
) -> object:
    """As `load_isolated`, returning ``then(result)`` computed in the child.

    For output made from the graph (``tilt dump tiltfile``'s JSON): sending that
    back is much cheaper than pickling the graph.
    """
    # The builtins are imported in the child, not here: a smaller parent forks
    # faster, and the child copies fewer of its pages on write.
    limit = memory_limit_mb()
    req = LoadRequest(
        path=path, args=tuple(args), subcommand=subcommand, env=env, memory_limit_mb=limit
    )
    resp_r, resp_w = os.pipe()
    err_r, err_w = os.pipe()
    # What the child inherits is not its garbage: without this its collections walk
    # (and so copy, page by page) the parent's whole heap.
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (measured through the parent)
        code = 0
        try:
            os.setsid()
            os.close(resp_r)
            os.close(err_r)
            _die_with_parent()
            os.dup2(err_w, 1)
            os.dup2(err_w, 2)
            os.close(err_w)
            _child(req, resp_w, then)
            from tilt.process import kill_guarded_groups

            kill_guarded_groups()
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(resp_w)
    os.close(err_w)

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        out, err = _read_both(resp_r, err_r)
        _, status = os.waitpid(pid, 0)
    except BaseException:
        _kill_group(pid, signal.SIGTERM)
        _wait_or_kill(pid)
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for fd in (resp_r, err_r):
            with contextlib.suppress(OSError):
                os.close(fd)
    return _decode(out, err, os.waitstatus_to_exitcode(status), limit)


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: a SIGKILLed command takes its evaluation with it.
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1:
            os._exit(1)


def _read_both(resp_fd: int, err_fd: int) -> tuple[bytes, bytes]:
    import selectors

    chunks: list[bytes] = []
    tail = b""
    sel = selectors.DefaultSelector()
    sel.register(resp_fd, selectors.EVENT_READ)
    sel.register(err_fd, selectors.EVENT_READ)
    open_fds = 2
    while open_fds:
        for key, _ in sel.select():
            data = os.read(int(key.fd), 1 << 20)
            if not data:
                sel.unregister(key.fd)
                open_fds -= 1
            elif key.fd == resp_fd:
                chunks.append(data)
            else:
                tail = (tail + data)[-_STDERR_TAIL_BYTES:]
    sel.close()
    return b"".join(chunks), tail


def _wait_or_kill(pid: int) -> None:
    import time

    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    _kill_group(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


if __name__ == "__main__":
    # Through the module, so that unpickling finds the same `LoadRequest` class.
    from tilt.tiltfile.worker import main as _worker_main

    sys.exit(_worker_main())
