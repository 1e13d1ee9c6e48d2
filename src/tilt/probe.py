"""Readiness probes: HTTP GET, TCP connect and exec, with Kubernetes' knobs.

A `ProbeRunner` runs one `tilt.model.Probe` until it is cancelled and calls
``on_change(ready, message)`` on every transition of readiness:

- ``http_get``: a real HTTP/1.1 GET (``https`` without certificate checks,
  as the kubelet does); a status of 200 to 399 is a success.
- ``tcp_socket``: a TCP connection that opens is a success.
- ``exec``: the command is run (in a process group of its own); exit code 0
  is a success. It is killed if it runs past ``timeout_secs``.

``initial_delay_secs``, ``period_secs``, ``timeout_secs``,
``success_threshold`` and ``failure_threshold`` mean what they mean in
Kubernetes: readiness starts unknown, becomes ready after
``success_threshold`` consecutive successes and not ready after
``failure_threshold`` consecutive failures.

Beyond Tilt: until the probe first reports ready, it runs every
`FAST_INTERVAL_S` (50 ms), backing off by 20% per attempt up to one second
(or ``period_secs`` if shorter), and never starting an attempt before the
previous one has finished. A service that is up in 300 ms is seen ready about
then rather than a whole ``period_secs`` later, and one that stays down is not
hammered. After the first ready, attempts run every ``period_secs`` (start to
start).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from tilt.model import ExecAction, HttpGetAction, Probe, TcpSocketAction

if TYPE_CHECKING:
    import ssl

__all__ = ["FAST_INTERVAL_S", "ProbeResult", "ProbeRunner", "probe_once"]

#: The first interval between attempts until the first ready.
FAST_INTERVAL_S = 0.05
#: The most the fast interval grows to.
_FAST_MAX_S = 1.0
_FAST_BACKOFF = 1.2

ProbeResult = tuple[bool, str]

# An HTTP status code: three ASCII digits (str.isdigit() also takes "²").
_STATUS_RE = re.compile(r"[1-9][0-9]{2}")
# The longest status line read (asyncio's default stream limit).
_LIMIT = 64 * 1024


def _http_target(a: HttpGetAction) -> tuple[str, str]:
    path = a.path or "/"
    if not path.startswith("/"):
        path = "/" + path
    host = f"[{a.host}]" if ":" in a.host else a.host
    return path, f"{a.scheme.lower()}://{host}:{a.port}{path}"


def _unreachable(a: HttpGetAction | TcpSocketAction) -> str:
    """Why an action (accepted by the Tiltfile, as Tilt accepts it) can never succeed."""
    if isinstance(a, HttpGetAction) and a.scheme.lower() not in ("http", "https"):
        return f'unsupported protocol scheme "{a.scheme.lower()}"'
    if not 1 <= a.port <= 65535:
        return f"invalid port {a.port}"
    return ""


async def _http_get(a: HttpGetAction) -> ProbeResult:
    path, url = _http_target(a)
    if why := _unreachable(a):
        return False, f"GET {url}: {why}"
    import ssl  # lazily: most probes are plain HTTP

    ctx: ssl.SSLContext | None = None
    if a.scheme.lower() == "https":
        # The kubelet does not verify certificates for probes; neither do we.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.open_connection(a.host, a.port, ssl=ctx)
    except OSError as e:
        return False, f"GET {url}: {_os_error(e)}"
    try:
        host_header = f"{a.host}:{a.port}" if ":" not in a.host else f"[{a.host}]:{a.port}"
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n"
                "User-Agent: tilt-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
        )
        await writer.drain()
        status_line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as e:
        status_line = e.partial  # closed before the end of the line
    except asyncio.LimitOverrunError:
        return False, f"GET {url}: malformed response: status line longer than {_LIMIT} bytes"
    except OSError as e:
        return False, f"GET {url}: {_os_error(e)}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # ssl.SSLError is an OSError
            await writer.wait_closed()
    parts = status_line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not _STATUS_RE.fullmatch(parts[1]):
        if not status_line:
            return False, f"GET {url}: connection closed without a response"
        return False, f"GET {url}: malformed response {status_line[:60]!r}"
    code = int(parts[1])
    reason = parts[2].strip() if len(parts) > 2 else ""
    text = f"GET {url}: {code} {reason}".rstrip()
    return 200 <= code < 400, text


async def _tcp_connect(a: TcpSocketAction) -> ProbeResult:
    target = f"{a.host}:{a.port}"
    if why := _unreachable(a):
        return False, f"TCP {target}: {why}"
    try:
        _, writer = await asyncio.open_connection(a.host, a.port)
    except OSError as e:
        return False, f"TCP {target}: {_os_error(e)}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, f"TCP {target}: connected"


async def _exec(a: ExecAction, timeout_s: float, cwd: str | None) -> ProbeResult:
    from tilt.model import Cmd
    from tilt.process import ProcessSupervisor

    display = Cmd(argv=a.command).display
    if not a.command:
        return False, "exec: empty command"
    last: collections.deque[str] = collections.deque(maxlen=3)
    sup = ProcessSupervisor(grace_period_s=0.5)
    try:
        proc = await sup.start(a.command, cwd=cwd or os.getcwd(), on_output=last.append)
    except OSError as e:
        return False, f"exec {display}: {e}"
    try:
        async with asyncio.timeout(timeout_s):
            status = await proc.wait()
    except TimeoutError:
        await proc.stop(0)
        return False, f"exec {display}: timed out after {timeout_s:g}s"
    except asyncio.CancelledError:
        # Reap it before giving up, so no zombie or stray group is left behind.
        proc.kill_now()
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
        raise
    tail = "; ".join(x for x in last if x.strip())
    if status.success:
        return True, f"exec {display}: exit code 0"
    return False, f"exec {display}: {status.describe()}" + (f": {tail}" if tail else "")


def _os_error(e: OSError) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    return e.strerror or str(e) or type(e).__name__


async def probe_once(probe: Probe, *, cwd: str | None = None) -> ProbeResult:
    """Run one attempt of a probe, bounded by its ``timeout_secs``.

    Args:
        probe: The probe.
        cwd: The working directory of an ``exec`` probe (tilt's own when None).

    Returns:
        ``(success, message)``.
    """
    timeout_s = float(max(probe.timeout_secs, 1))
    if probe.exec is not None:
        # exec enforces its own timeout so it can kill the command's group.
        return await _exec(probe.exec, timeout_s, cwd)
    try:
        async with asyncio.timeout(timeout_s):
            if probe.http_get is not None:
                return await _http_get(probe.http_get)
            if probe.tcp_socket is not None:
                return await _tcp_connect(probe.tcp_socket)
    except TimeoutError:
        if probe.http_get is not None:
            what = "GET " + _http_target(probe.http_get)[1]
        else:
            assert probe.tcp_socket is not None
            what = f"TCP {probe.tcp_socket.host}:{probe.tcp_socket.port}"
        return False, f"{what}: timed out after {timeout_s:g}s"
    return False, "probe has no action (http_get, tcp_socket or exec)"


class ProbeRunner:
    """Runs a readiness probe and reports readiness transitions.

    Args:
        probe: What to run and how often.
        on_change: Called with ``(ready, message)`` each time readiness
            changes (from unknown to either value, and between them), and
            with ``(False, message)`` when, while not ready, the reason changes.
        fast_interval_s: The first interval of the fast phase before the
            first ready (see the module docstring).
        cwd: The working directory of an ``exec`` probe (tilt's own when None;
            the engine passes the resource's directory).
    """

    def __init__(
        self,
        probe: Probe,
        on_change: Callable[[bool, str], None],
        *,
        fast_interval_s: float = FAST_INTERVAL_S,
        cwd: str | None = None,
    ) -> None:
        self.probe = probe
        self._cwd = cwd
        self._on_change = on_change
        self._fast_interval_s = fast_interval_s
        self.ready: bool | None = None
        """The current readiness: ``None`` until a threshold is first reached."""
        self.message = ""
        """The message of the latest attempt."""
        self.attempts = 0
        """How many attempts have run."""

    async def run(self) -> None:
        """Probe until cancelled."""
        p = self.probe
        loop = asyncio.get_running_loop()
        if p.initial_delay_secs > 0:
            await asyncio.sleep(p.initial_delay_secs)
        period_s = float(max(p.period_secs, 1))
        success_threshold = max(p.success_threshold, 1)
        failure_threshold = max(p.failure_threshold, 1)
        fast_s = self._fast_interval_s
        fast_cap_s = min(_FAST_MAX_S, period_s)
        been_ready = False
        successes = failures = 0
        reported = ""
        while True:
            started = loop.time()
            try:
                ok, message = await probe_once(p, cwd=self._cwd)
            except Exception as e:  # whatever the answer, the probe goes on
                ok, message = False, f"probe failed: {type(e).__name__}: {e}"
            self.attempts += 1
            self.message = message
            if ok:
                successes, failures = successes + 1, 0
                if successes >= success_threshold and self.ready is not True:
                    self.ready = been_ready = True
                    self._on_change(True, message)
                    reported = message
            else:
                successes, failures = 0, failures + 1
                if failures >= failure_threshold and self.ready is not False:
                    self.ready = False
                    self._on_change(False, message)
                    reported = message
                elif self.ready is False and message != reported:
                    # Still not ready: show why now, not why the first time.
                    self._on_change(False, message)
                    reported = message
            if been_ready:
                interval = period_s
            else:
                interval = fast_s
                fast_s = min(fast_s * _FAST_BACKOFF, fast_cap_s)
            await asyncio.sleep(max(0.0, started + interval - loop.time()))
