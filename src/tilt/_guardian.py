"""The guardian: kills tilt's process groups when tilt dies, however it dies.

`tilt.process` starts this file once per tilt process as
``python -I -S _guardian.py GRACE_S`` in a session of its own (so a Ctrl-C or
a SIGHUP aimed at tilt's terminal does not reach it), with its stdin the read
end of a pipe whose only write end tilt holds. tilt writes one line per event:

- ``+PGID`` - a process group to kill if tilt goes away;
- ``-PGID`` - that group is gone (or was stopped); forget it.

When the pipe reaches end-of-file - tilt exited, crashed or was killed with
SIGKILL; the kernel closes the write end in every case - the guardian sends
SIGTERM to every group still registered, waits up to ``GRACE_S`` seconds for
them to go, sends SIGKILL to what is left, and exits. Signalling the *group*
reaches grandchildren too, as long as they did not start a session of their
own.

Registering a group happens right after its child started, so a SIGKILL can
land in between: the child runs, tilt is gone, and the guardian never heard
of it. To close that window, tilt starts every supervised child with
``TILT_GUARDIAN=TOKEN`` in its environment (``TOKEN`` is this guardian's second
argument); at end-of-file the guardian also stops the group of every process
whose environment carries it (read from ``/proc/PID/environ``).

It uses the standard library only and imports nothing from tilt, so it starts
in a few milliseconds and keeps working while tilt's environment changes.
"""

from __future__ import annotations

import os
import signal
import sys
import time

__all__ = ["group_alive", "main", "reap"]

_POLL_S = 0.02


def _alive(pgid: int) -> bool:
    return group_alive(pgid)


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member that is not a zombie.

    A zombie has exited; it only waits for its parent to reap it. Where PID 1
    reaps orphans slowly or never (a container without an init), counting
    zombies as alive would make every stop wait out its whole grace period.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A pgid reused by someone else's group: not ours to signal.
        return False
    return _has_running_member(pgid)


def _has_running_member(pgid: int) -> bool:
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True  # no /proc: trust kill(0)
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = data.rpartition(b")")[2].split()
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b"Z":
            return True
    return False


#: The environment variable that marks tilt's children for the guardian.
TOKEN_VAR = "TILT_GUARDIAN"


def marked_groups(token: str) -> set[int]:
    """Process groups with a live process whose environment has ``TILT_GUARDIAN=token``."""
    if not token:
        return set()
    marker = f"{TOKEN_VAR}={token}".encode()
    mine = os.getpgid(0)
    found: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone, or not ours to read
        if marker not in env.split(b"\0"):
            continue
        fields = stat.rpartition(b")")[2].split()
        if len(fields) > 2 and fields[0] != b"Z":
            pgid = int(fields[2])
            if pgid > 1 and pgid != mine:
                found.add(pgid)
    return found


def _signal_all(pgids: set[int], sig: int) -> None:
    for pgid in list(pgids):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pgids.discard(pgid)


def reap(pgids: set[int], grace_s: float) -> None:
    """SIGTERM every group, wait up to ``grace_s`` for them to go, then SIGKILL.

    Args:
        pgids: Process group ids; emptied of the groups found gone.
        grace_s: Seconds between SIGTERM and SIGKILL.
    """
    _signal_all(pgids, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while pgids and time.monotonic() < deadline:
        pgids.intersection_update({p for p in pgids if _alive(p)})
        if pgids:
            time.sleep(_POLL_S)
    _signal_all(pgids, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    """Run the guardian until its stdin reaches end-of-file.

    Args:
        argv: ``[GRACE_S, TOKEN]``; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code (0).
    """
    args = sys.argv[1:] if argv is None else argv
    grace_s = float(args[0]) if args else 5.0
    token = args[1] if len(args) > 1 else ""
    # The signals meant for tilt's terminal or tilt itself are not for us: we
    # act on end-of-file only. SIGTERM aimed at the guardian still ends it, after
    # cleaning up.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(sig, signal.SIG_IGN)
    pgids: set[int] = set()

    def on_term(signum: int, frame: object) -> None:
        reap(pgids, grace_s)
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    os.chdir("/")  # do not keep tilt's working directory busy
    buf = b""
    while True:
        try:
            chunk = os.read(0, 4096)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            line = raw.strip()
            if len(line) < 2:
                continue
            try:
                pgid = int(line[1:])
            except ValueError:
                continue
            if pgid <= 1:
                continue  # never signal init or "every process"
            if line[:1] == b"+":
                pgids.add(pgid)
            elif line[:1] == b"-":
                pgids.discard(pgid)
    # Children started just before tilt died, not registered yet (see the module doc).
    pgids |= marked_groups(token)
    reap(pgids, grace_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
