"""Child processes: each in its own process group, and none outlives tilt.

`ProcessSupervisor.start` runs a command in a new session (so in a process
group of its own, led by the child: ``pgid == pid``), with stdin from
``/dev/null`` (or a pty, for ``stdin_mode='pty'``) and stdout and stderr merged into
one pipe. Output reaches
``on_output`` one line at a time (no trailing newline), decoded as UTF-8 with
invalid bytes replaced, so binary output cannot break anything. A line longer
than `MAX_LINE_CHARS` is delivered in pieces of that size rather than buffered
without bound. ``on_output`` is called synchronously from the event loop as
the data is read, and the pipe is not read again until it returns: a slow
consumer makes the child block on its pipe instead of making tilt buffer.

Stopping (`ManagedProcess.stop`) sends SIGTERM to the whole group, waits up to
the grace period for the group to go, then sends SIGKILL to the group, and
reports each step through the ``on_system`` hook (``on_output`` when none is
given). Signalling the group reaches grandchildren that stayed in it.

If tilt dies without stopping its children - even by SIGKILL - the guardian
(`tilt._guardian`), a small process started once in a session of its own,
sees the pipe from tilt reach end-of-file and kills every group tilt
registered with it (and every group of a child marked with its token, see
`tilt._guardian`). We do not also set ``PR_SET_PDEATHSIG`` on each child: it
needs a ``preexec_fn``, which makes CPython fork instead of vfork (measured:
3.1 ms instead of 0.16 ms per spawn in a 58 MB process, against a 40 ms
save-to-cmd budget), and it would reach the direct child only, not its group.

Exit is detected with a pidfd (Linux 5.3+) on the event loop, not with a
thread per child or a timer.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_LINE_CHARS",
    "CommandNotFoundError",
    "ExitStatus",
    "ManagedProcess",
    "ProcessSupervisor",
    "guard_group",
    "kill_guarded_groups",
    "raise_open_files_limit",
    "stop_signals_held",
    "unguard_group",
]

#: Lines longer than this (in characters) are delivered in pieces of this size.
MAX_LINE_CHARS = 64 * 1024

#: After the direct child exits, how long `ManagedProcess.wait` waits for the
#: end of its output (a grandchild may hold the pipe open for ever).
DRAIN_TIMEOUT_S = 0.5

# Polling only happens while stopping a group whose leader is gone (there is
# no event for "the last member of a process group exited").
_GROUP_POLL_S = 0.02


def _close_fds(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


class CommandNotFoundError(FileNotFoundError):
    """The command to run does not exist (or is not on ``PATH``).

    Attributes:
        command: The command name as given (``argv[0]``).
    """

    def __init__(self, command: str) -> None:
        super().__init__(2, f"command not found: {command}", command)
        self.command = command

    def __str__(self) -> str:
        return f"command not found: {self.command}"


@dataclass(frozen=True, kw_only=True)
class ExitStatus:
    """How a process ended.

    Attributes:
        returncode: The exit code, or minus the signal number when a signal
            ended it (Python's convention).
        signal: The signal that ended it, if one did.
        stopped_by_us: True when tilt asked it to stop (`ManagedProcess.stop`)
            before it exited on its own.
    """

    returncode: int
    signal: int | None
    stopped_by_us: bool

    @property
    def success(self) -> bool:
        """Exit code 0."""
        return self.returncode == 0

    def describe(self) -> str:
        """A short human text: ``exit code 3``, ``killed by SIGKILL``..."""
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"killed by {name}"
        return f"exit code {self.returncode}"


def raise_open_files_limit() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit, as Go programs do.

    The default soft limit (often 1024) is easily reached by a busy tilt (file
    watches, pipes, API connections). Children inherit the raised limit.

    Returns:
        The soft limit now in force.
    """
    import resource

    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20  # Linux refuses "unlimited" for open files
        if soft == resource.RLIM_INFINITY or soft >= hard:
            return int(soft)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return int(hard)
    except (ValueError, OSError):
        return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


# --- the guardian ------------------------------------------------------------


class _Guardian:
    """The one guardian process of this tilt process, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None
        self._owner_pid = 0
        self._token = ""

    def _ensure(self, grace_period_s: float) -> int:
        if self._fd is not None and self._owner_pid == os.getpid():
            return self._fd
        r, w = os.pipe()
        self._token = os.urandom(8).hex()
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_guardian.py")
        # posix_spawn rather than Popen: the guardian must outlive every Python object here
        # (it exits when our end of the pipe closes, i.e. when tilt is gone), and a Popen
        # still running at interpreter exit is reported as a leak.
        os.set_inheritable(w, False)
        try:
            self._pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", script, str(grace_period_s), self._token],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, r, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
                setsid=True,
            )
        finally:
            os.close(r)
        self._fd = w
        self._owner_pid = os.getpid()
        return w

    def _send(self, line: str, grace_period_s: float) -> None:
        with self._lock:
            fd = self._ensure(grace_period_s)
            with contextlib.suppress(OSError):
                os.write(fd, line.encode())

    def marker(self, grace_period_s: float) -> tuple[str, str]:
        """The environment entry that marks a child as tilt's (`tilt._guardian`)."""
        with self._lock:
            self._ensure(grace_period_s)
            return ("TILT_GUARDIAN", self._token)

    def register(self, pgid: int, grace_period_s: float) -> None:
        self._send(f"+{pgid}\n", grace_period_s)

    def unregister(self, pgid: int) -> None:
        if self._fd is not None and self._owner_pid == os.getpid():
            self._send(f"-{pgid}\n", 0)

    @property
    def pid(self) -> int | None:
        return self._pid


_guardian = _Guardian()


#: Groups registered through `guard_group` (commands run outside a supervisor).
_guarded: set[int] = set()


def guard_group(pgid: int, grace_period_s: float = 0.5) -> None:
    """Have the guardian stop group ``pgid`` if this process dies first.

    For children started outside a `ProcessSupervisor` (the commands a Tiltfile
    runs while it loads, the Tiltfile worker itself), in a session of their own.
    """
    _guarded.add(pgid)
    _guardian.register(pgid, grace_period_s)


@contextlib.contextmanager
def stop_signals_held() -> Iterator[None]:
    """Hold SIGTERM, SIGHUP and SIGINT back while the block runs.

    Around starting a child and `guard_group`: a stop signal that arrives in
    between would otherwise find the child not registered yet, and leave it
    running. Held signals are delivered when the block ends.
    """
    held = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def unguard_group(pgid: int) -> None:
    """Forget ``pgid`` (it is gone, or was stopped)."""
    _guarded.discard(pgid)
    _guardian.unregister(pgid)


def kill_guarded_groups(grace_period_s: float = 0.2) -> None:
    """SIGTERM every group of `guard_group`, SIGKILL what is left after the grace.

    Synchronous and safe in a signal handler (it only signals and polls).
    """
    from tilt._guardian import reap

    pgids = set(_guarded)
    _guarded.clear()
    if pgids:
        reap(pgids, grace_period_s)


def guardian_pid() -> int | None:
    """The guardian's pid, once one runs (for diagnostics and tests)."""
    return _guardian.pid


# --- output ------------------------------------------------------------------


class _OutputProtocol(asyncio.Protocol):
    """Splits the merged output pipe into lines for ``on_output``."""

    def __init__(self, on_output: Callable[[str], None]) -> None:
        self._on_output = on_output
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.ReadTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._feed(self._decoder.decode(data))

    def _feed(self, text: str) -> None:
        if self._partial:
            text = self._partial + text
        lines = text.split("\n")
        partial = lines.pop()
        emit = self._on_output
        for line in lines:
            if len(line) > MAX_LINE_CHARS:
                self._emit_long(line.removesuffix("\r"))
            else:
                emit(line.removesuffix("\r"))
        while len(partial) >= MAX_LINE_CHARS:
            emit(partial[:MAX_LINE_CHARS])
            partial = partial[MAX_LINE_CHARS:]
        self._partial = partial

    def _emit_long(self, line: str) -> None:
        for i in range(0, len(line), MAX_LINE_CHARS):
            self._on_output(line[i : i + MAX_LINE_CHARS])

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        tail = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if tail:
            self._feed(tail + "\n")
        if not self.closed.done():
            self.closed.set_result(None)


# --- processes -----------------------------------------------------------------


def _group_alive(pgid: int) -> bool:
    # A zombie member counts as gone (see tilt._guardian.group_alive).
    from tilt._guardian import group_alive

    return group_alive(pgid)


class ManagedProcess:
    """A running child and its process group.

    Attributes:
        pid: The child's pid.
        pgid: Its process group id (equal to ``pid``).
        argv: The command.
    """

    def __init__(
        self,
        *,
        popen: subprocess.Popen[bytes],
        argv: Sequence[str],
        on_system: Callable[[str], None],
        supervisor: ProcessSupervisor,
        grace_period_s: float,
    ) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.pgid = popen.pid
        self.argv = tuple(argv)
        self._on_system = on_system
        self._supervisor = supervisor
        self._grace_period_s = grace_period_s
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._exited: asyncio.Future[int] = loop.create_future()
        self._stop_requested = False
        self._stop_task: asyncio.Task[ExitStatus] | None = None
        self._output: _OutputProtocol | None = None
        self._released = False
        self._pty: int | None = None

    def _hold_pty(self, master: int) -> None:
        """Keep the pty whose other end is the child's stdin, draining what it writes there.

        Nothing is typed into it. What the child writes to its terminal through stdin is
        discarded (its stdout and stderr are the pipe); the pty closes once no process
        holds the other end, or when the group is released.
        """
        self._pty = master
        os.set_blocking(master, False)

        def drain() -> None:
            try:
                if os.read(master, 65536):
                    return
            except BlockingIOError:
                return
            except OSError:  # EIO: every holder of the other end has closed it
                pass
            self._close_pty()

        self._loop.add_reader(master, drain)

    def _close_pty(self) -> None:
        master, self._pty = self._pty, None
        if master is not None:
            self._loop.remove_reader(master)
            os.close(master)

    async def _attach(self, on_output: Callable[[str], None]) -> None:
        stdout = self._popen.stdout
        assert stdout is not None
        _, protocol = await self._loop.connect_read_pipe(lambda: _OutputProtocol(on_output), stdout)
        self._output = protocol
        self._watch_exit()

    def _watch_exit(self) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            # No pidfd (old kernel, or not Linux): one thread blocks in waitpid.
            self._loop.create_task(self._wait_in_thread())
            return

        def on_ready() -> None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            self._on_exit(self._popen.wait())

        self._loop.add_reader(pidfd, on_ready)

    async def _wait_in_thread(self) -> None:
        self._on_exit(await asyncio.to_thread(self._popen.wait))

    def _on_exit(self, returncode: int) -> None:
        if not self._exited.done():
            self._exited.set_result(returncode)
        # The group may live on without its leader (a backgrounded grandchild):
        # keep it registered until it is empty or stopped.
        if not _group_alive(self.pgid):
            self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._close_pty()
            self._supervisor._forget(self)

    @property
    def running(self) -> bool:
        """True until the child itself has exited."""
        return not self._exited.done()

    @property
    def group_alive(self) -> bool:
        """True while any process is left in the child's process group."""
        return _group_alive(self.pgid)

    def _status(self, returncode: int) -> ExitStatus:
        return ExitStatus(
            returncode=returncode,
            signal=-returncode if returncode < 0 else None,
            stopped_by_us=self._stop_requested,
        )

    async def wait(self) -> ExitStatus:
        """Wait for the child to exit and its output to be delivered.

        Output is waited for at most `DRAIN_TIMEOUT_S` after the exit: a
        process left in the group may keep the pipe open, and its later
        output is still delivered.

        Returns:
            How the child ended.
        """
        returncode = await asyncio.shield(self._exited)
        if self._output is not None and not self._output.closed.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._output.closed), DRAIN_TIMEOUT_S)
        return self._status(returncode)

    def pause_reading(self) -> None:
        """Stop reading output (the child blocks once its pipe is full)."""
        if self._output is not None and self._output.transport is not None:
            self._output.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read output again after `pause_reading`."""
        if self._output is not None and self._output.transport is not None:
            self._output.transport.resume_reading()

    async def stop(self, grace_period_s: float | None = None) -> ExitStatus:
        """Stop the whole process group: SIGTERM, the grace period, then SIGKILL.

        Each step is reported through the ``on_system`` hook. Safe to call
        more than once and after the child has exited (whatever is left of its
        group is still stopped).

        Args:
            grace_period_s: Seconds between SIGTERM and SIGKILL; the
                supervisor's grace period when not given.

        Returns:
            How the child ended (``stopped_by_us`` is True if it was still
            running when the stop was asked for).
        """
        if self._stop_task is None:
            if self.running:
                self._stop_requested = True
            grace = self._grace_period_s if grace_period_s is None else grace_period_s
            self._stop_task = self._loop.create_task(self._stop(grace))
        return await asyncio.shield(self._stop_task)

    async def _gone(self) -> None:
        await asyncio.shield(self._exited)
        while _group_alive(self.pgid):
            await asyncio.sleep(_GROUP_POLL_S)

    async def _stop(self, grace_s: float) -> ExitStatus:
        name = os.path.basename(self.argv[0]) if self.argv else "process"
        if self.running or _group_alive(self.pgid):
            self._on_system(f"Stopping {name} (pid {self.pid}): SIGTERM to process group")
            self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._gone(), grace_s)
            except TimeoutError:
                self._on_system(
                    f"{name} (pid {self.pid}) still running after {grace_s:g}s: "
                    "SIGKILL to process group"
                )
                self._signal(signal.SIGKILL)
                await asyncio.shield(self._exited)
        status = await self.wait()
        self._release()
        if self._stop_requested:
            self._on_system(f"{name} (pid {self.pid}) stopped ({status.describe()})")
        return status

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def kill_now(self) -> None:
        """SIGKILL the group at once, without waiting (for emergencies)."""
        if self.running:
            self._stop_requested = True
        self._signal(signal.SIGKILL)


class ProcessSupervisor:
    """Starts children, knows every live group, and stops them all.

    Args:
        grace_period_s: Default seconds between SIGTERM and SIGKILL.
    """

    def __init__(self, *, grace_period_s: float = 5.0) -> None:
        self.grace_period_s = grace_period_s
        self._procs: dict[int, ManagedProcess] = {}
        self._output_paused = False
        #: Set for every child started from now on, over tilt's own environment and under
        #: the command's ``env`` (the Kubernetes runner's pinned ``KUBECONFIG``).
        self.base_env: dict[str, str] = {}

    def pause_output(self, paused: bool) -> None:
        """Stop (True) or resume (False) reading every child's output, new ones too.

        For backpressure: while tilt's own output cannot keep up (a slow reader
        of ``--stream``), the children block on their full pipes instead of tilt
        buffering without bound.
        """
        self._output_paused = paused
        for proc in list(self._procs.values()):
            if paused:
                proc.pause_reading()
            else:
                proc.resume_reading()

    @property
    def processes(self) -> list[ManagedProcess]:
        """Processes whose group may still be alive."""
        return list(self._procs.values())

    async def start(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str] | None = None,
        on_output: Callable[[str], None],
        on_system: Callable[[str], None] | None = None,
        stdin_pty: bool = False,
    ) -> ManagedProcess:
        """Start ``argv`` in a process group of its own.

        Args:
            argv: The command and its arguments (no shell; pass
                ``["sh", "-c", script]`` for one).
            cwd: The working directory.
            env: Variables set on top of tilt's own environment and `base_env`
                (Tilt's ``env=``/``serve_env=`` add to the environment; they do not
                replace it). ``None`` for that environment unchanged.
            on_output: Called with each line of merged stdout/stderr.
            on_system: Called with tilt's own messages about the process
                (the steps of a stop); ``on_output`` when not given.
            stdin_pty: stdin is a pseudo-terminal instead of ``/dev/null``
                (``stdin_mode='pty'``): ``isatty(0)`` holds, for commands that
                refuse to run otherwise (``docker run -it``). Nothing is typed into
                it, and it is not the child's controlling terminal.

        Returns:
            The running process.

        Raises:
            CommandNotFoundError: ``argv[0]`` does not exist.
            FileNotFoundError: ``cwd`` does not exist.
            PermissionError: ``argv[0]`` is not executable.
            ValueError: ``argv`` is empty.
        """
        if not argv:
            raise ValueError("empty command")
        if not os.path.isdir(cwd):
            raise FileNotFoundError(2, f"working directory does not exist: {cwd}", cwd)
        full_env = dict(os.environ)
        full_env.update(self.base_env)
        if env is not None:
            full_env.update(env)
        # Marked before it starts: a SIGKILL of tilt between the start and the
        # registration below still finds it (see tilt._guardian).
        key, token = _guardian.marker(self.grace_period_s)
        full_env[key] = token
        master, slave = os.openpty() if stdin_pty else (None, None)
        try:
            popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL if slave is None else slave,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                bufsize=0,
            )
        except FileNotFoundError as e:
            _close_fds(master, slave)
            raise CommandNotFoundError(argv[0]) from e
        except PermissionError as e:
            _close_fds(master, slave)
            raise PermissionError(13, f"permission denied: {argv[0]}", argv[0]) from e
        except BaseException:
            _close_fds(master, slave)
            raise
        _close_fds(slave)
        _guardian.register(popen.pid, self.grace_period_s)
        proc = ManagedProcess(
            popen=popen,
            argv=argv,
            on_system=on_system if on_system is not None else on_output,
            supervisor=self,
            grace_period_s=self.grace_period_s,
        )
        self._procs[proc.pgid] = proc
        if master is not None:
            proc._hold_pty(master)
        try:
            await proc._attach(on_output)
        except BaseException:
            proc.kill_now()
            raise
        if self._output_paused:
            proc.pause_reading()
        return proc

    def _forget(self, proc: ManagedProcess) -> None:
        if self._procs.get(proc.pgid) is proc:
            del self._procs[proc.pgid]
        _guardian.unregister(proc.pgid)

    async def stop_all(self) -> None:
        """Stop every process group this supervisor started, all at once."""
        procs = list(self._procs.values())
        if procs:
            await asyncio.gather(*(p.stop() for p in procs), return_exceptions=True)

    def kill_all_now(self) -> None:
        """SIGKILL every live group at once, synchronously (atexit, second Ctrl-C)."""
        for proc in list(self._procs.values()):
            proc.kill_now()
