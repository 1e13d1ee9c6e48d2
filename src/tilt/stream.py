"""The streaming printer: `tilt up --stream` and `tilt ci` output.

Every log line goes out once, whole, in the order the log store numbered it
(a keyed line the store updates in place is printed again at its 1st, 2nd, 4th,
... update: output already written cannot change),
prefixed with its resource as Tilt does (``name`` right-aligned in 13 columns,
longer names cut with ``…``, then `` │ ``; the Tiltfile's and tilt's own lines
have no prefix). On a terminal each resource gets a colour of its own.

It never drops a line it accepted, and never blocks the event loop: lines
are buffered and handed in large chunks to a writer thread, which writes them
to a blocking file descriptor. When more than ``high_water_bytes`` wait for a
slow (or stalled) reader, ``on_congestion(True)`` asks the producers to pause
(tilt stops reading its children's output, so their pipes fill up and they
block) and ``on_congestion(False)`` resumes them once the writer caught up:
memory stays flat under a flood, and signals (Ctrl-C, SIGTERM) are still
handled while the reader stalls.

A write that fails (``> /dev/full``, a closed pipe) never reaches the
producers: the error is reported once on stderr and output stops; the log
store keeps every line (`tilt logs`).

Child output can carry terminal control sequences (a title change, a
clipboard write, a screen clear). `terminal_safe` keeps SGR (colours) and
strips every other one, for everything tilt prints from its children.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import BinaryIO

from tilt.logstore import LogLine, prints_update

__all__ = ["PREFIX_WIDTH", "StreamPrinter", "source_prefix", "terminal_safe"]

PREFIX_WIDTH = 13
_NO_PREFIX = ("", "(Tiltfile)")
# Colours that read on dark and light backgrounds (ANSI 31-36 and bright variants).
_PALETTE = ("32", "34", "35", "36", "33", "92", "94", "95", "96", "93")


def source_prefix(name: str) -> str:
    """Tilt's line prefix for a resource: ``'          api │ '``."""
    if name in _NO_PREFIX:
        return ""
    if len(name) > PREFIX_WIDTH:
        name = name[: PREFIX_WIDTH - 1] + "…"
    return f"{name:>{PREFIX_WIDTH}} │ "


# Any control character: C0 but tab, DEL, C1 (0x9b is an 8-bit CSI on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte (SGR is one of these)
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC ... BEL or ST (title, clipboard)
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC ... ST
    r"|\x1b[ -/]*[0-~]?"  # any other escape sequence, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]"  # the remaining control characters
)
_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def terminal_safe(text: str) -> str:
    """``text`` without control sequences except SGR (colours); tabs stay.

    OSC (window title, clipboard), cursor movement, screen clearing, mode
    switches and bare control characters are removed, so child output cannot
    take over the user's terminal.
    """
    if _CONTROL.search(text) is None:
        return text
    return _SEQUENCE.sub(_keep_sgr, text)


def _keep_sgr(m: re.Match[str]) -> str:
    seq = m.group()
    return seq if _SGR.fullmatch(seq) else ""


def _color_of(name: str) -> str:
    return _PALETTE[zlib.crc32(name.encode()) % len(_PALETTE)]


class StreamPrinter:
    """Writes log lines to a binary stream, prefixed, in order, never dropping one.

    Use `on_line` as a `tilt.logstore.LogStore` listener. Call `flush` when the
    event loop is idle (`schedule` arranges that through ``call_soon``), and
    `drain` at exit.

    Args:
        out: Where to write (default: stdout's buffer).
        color: Colour prefixes (default: when ``out`` is a terminal and NO_COLOR is unset).
        flush_bytes: Write out once this much is buffered.
        schedule: Called once per batch with a zero-argument flush to run soon
            (e.g. ``loop.call_soon``); without it each line is written at once,
            synchronously. With it, writing happens on a thread of its own.
        schedule_threadsafe: Runs a callable on the producers' thread, from the
            writer thread (``loop.call_soon_threadsafe``); needed for ``on_congestion``.
        on_congestion: Called with True when more than ``high_water_bytes``
            wait to be written (pause the producers), False once under half of it.
        high_water_bytes: See ``on_congestion``.
        errors: Where a write error is reported (default: stderr).
    """

    def __init__(
        self,
        out: BinaryIO | None = None,
        *,
        color: bool | None = None,
        flush_bytes: int = 64 * 1024,
        schedule: Callable[[Callable[[], None]], object] | None = None,
        schedule_threadsafe: Callable[[Callable[[], None]], object] | None = None,
        on_congestion: Callable[[bool], None] | None = None,
        high_water_bytes: int = 1024 * 1024,
        errors: BinaryIO | None = None,
    ) -> None:
        self._out = out if out is not None else sys.stdout.buffer
        if color is None:
            try:
                tty = os.isatty(self._out.fileno())
            except (AttributeError, OSError, ValueError):
                tty = False
            color = tty and "NO_COLOR" not in os.environ
        self._color = color
        self._flush_bytes = flush_bytes
        self._schedule = schedule
        self._schedule_threadsafe = schedule_threadsafe
        self._on_congestion = on_congestion
        self._high_water = high_water_bytes
        self._errors = errors
        self._buf: list[str] = []
        self._buf_len = 0
        self._scheduled = False
        self._last_seq = 0
        self._prefixes: dict[str, str] = {}
        self.lines_written = 0
        #: The first write error, once one happened (output stops then).
        self.write_error: OSError | None = None
        # The writer thread (only with `schedule`).
        self._cv = threading.Condition()
        self._queue: deque[bytes] = deque()
        self._pending = 0  # bytes queued or being written
        self._congested = False
        self._thread: threading.Thread | None = None

    def _prefix(self, name: str) -> str:
        p = self._prefixes.get(name)
        if p is None:
            p = source_prefix(name)
            if p and self._color:
                p = f"\x1b[{_color_of(name)}m{p[:-2]}\x1b[0m│ "
            self._prefixes[name] = p
        return p

    def on_line(self, line: LogLine) -> None:
        """Accept one line (a log store listener)."""
        if line.seq <= self._last_seq:
            # A "lines dropped" marker of the store re-uses an old number: the
            # stream printed those lines already, so there is nothing to say. A
            # keyed line updated in place (a repeated Kubernetes event's count)
            # cannot be rewritten here: it is printed again at its 1st, 2nd, 4th,
            # 8th, ... update, never once per update.
            if not prints_update(line.rev):
                return
        else:
            self._last_seq = line.seq
        text = self._prefix(line.resource) + terminal_safe(line.text) + "\n"
        self._buf.append(text)
        self._buf_len += len(text)
        self.lines_written += 1
        if self._buf_len >= self._flush_bytes or self._schedule is None:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._schedule(self.flush)

    def write_raw(self, text: str) -> None:
        """Write text that is not a log line (a summary), after what is buffered; wait for it."""
        self._buf.append(text)
        self._buf_len += len(text)
        self.flush()
        self.drain()

    def flush(self) -> None:
        """Hand everything buffered to the writer (write it, without `schedule`)."""
        self._scheduled = False
        if not self._buf:
            return
        data = "".join(self._buf).encode("utf-8", "replace")
        self._buf.clear()
        self._buf_len = 0
        if self._schedule is None:
            self._write(data)
            return
        with self._cv:
            self._queue.append(data)
            self._pending += len(data)
            congested = self._pending > self._high_water and not self._congested
            if congested:
                self._congested = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._writer, name="tilt-stream-writer", daemon=True
                )
                self._thread.start()
            self._cv.notify()
        if congested and self._on_congestion is not None:
            self._on_congestion(True)

    def drain(self, stall_timeout_s: float = 2.0) -> bool:
        """Wait until everything handed over is written (call at exit).

        Gives up when the reader takes nothing for ``stall_timeout_s`` (a pipe
        nobody reads must not keep tilt from exiting).

        Returns:
            Whether everything was written.
        """
        self.flush()
        with self._cv:
            last = self._pending
            deadline = time.monotonic() + stall_timeout_s
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(left)
                if self._pending != last:
                    last = self._pending
                    deadline = time.monotonic() + stall_timeout_s
            stuck = self._pending
        if stuck:
            self._report(f"{stuck} bytes of output not written: stdout is not being read")
        return not stuck

    def _writer(self) -> None:
        while True:
            with self._cv:
                while not self._queue:
                    self._cv.wait()
                data = self._queue.popleft()
            self._write(data)
            with self._cv:
                self._pending -= len(data)
                relieved = self._congested and self._pending <= self._high_water // 2
                if relieved:
                    self._congested = False
                self._cv.notify_all()
            resume = self._on_congestion
            if relieved and resume is not None and self._schedule_threadsafe is not None:
                # RuntimeError: the loop closed while this thread still wrote (exit).
                with contextlib.suppress(RuntimeError):
                    self._schedule_threadsafe(functools.partial(resume, False))

    def _write(self, data: bytes) -> None:
        try:
            self._out.write(data)
            self._out.flush()
        except BrokenPipeError:
            # The reader went away (`tilt up | head`): nothing more can be shown.
            self._to_devnull()
        except (OSError, ValueError) as e:
            # (`> /dev/full`): say so once; the log store still has every line.
            if self.write_error is None:
                self.write_error = e if isinstance(e, OSError) else OSError(str(e))
                self._report(
                    f"cannot write to the output: {e}; "
                    "no more log lines are printed (`tilt logs` has them all)"
                )
            self._to_devnull()

    def _to_devnull(self) -> None:
        self._out = open(os.devnull, "wb")  # noqa: SIM115

    def _report(self, text: str) -> None:
        err = self._errors
        try:
            if err is None:
                sys.stderr.write(f"tilt: {text}\n")
                sys.stderr.flush()
            else:
                err.write(f"tilt: {text}\n".encode())
                err.flush()
        except (OSError, ValueError):
            pass
