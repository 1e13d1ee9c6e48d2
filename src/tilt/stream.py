"""The streaming printer: `tilt up --stream` and `tilt ci` output.

Every log line goes out once, whole, in the order the log store numbered it,
prefixed with its resource as Tilt does (``name`` right-aligned in 13 columns,
longer names cut with ``…``, then `` │ ``; the Tiltfile's and tilt's own lines
have no prefix). On a terminal each resource gets a colour of its own.

It never drops a line it accepted: lines are buffered and written in large
chunks to a blocking file descriptor, so a slow reader slows the producers
down (the engine loop blocks in ``write``, the pipes of the child processes
fill up) instead of losing output. The buffer is bounded (``flush_bytes``), so
memory stays flat under a flood.
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Callable
from typing import BinaryIO

from tilt.logstore import LogLine

__all__ = ["PREFIX_WIDTH", "StreamPrinter", "source_prefix"]

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


def _color_of(name: str) -> str:
    return _PALETTE[zlib.crc32(name.encode()) % len(_PALETTE)]


class StreamPrinter:
    """Writes log lines to a binary stream, prefixed, in order, never dropping one.

    Use `on_line` as a `tilt.logstore.LogStore` listener. Call `flush` when the
    event loop is idle (`schedule` arranges that through ``call_soon``) and at exit.

    Args:
        out: Where to write (default: stdout's buffer).
        color: Colour prefixes (default: when ``out`` is a terminal and NO_COLOR is unset).
        flush_bytes: Write out once this much is buffered.
        schedule: Called once per batch with a zero-argument flush to run soon
            (e.g. ``loop.call_soon``); without it each line is flushed at once.
    """

    def __init__(
        self,
        out: BinaryIO | None = None,
        *,
        color: bool | None = None,
        flush_bytes: int = 64 * 1024,
        schedule: Callable[[Callable[[], None]], object] | None = None,
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
        self._buf: list[str] = []
        self._buf_len = 0
        self._scheduled = False
        self._last_seq = 0
        self._prefixes: dict[str, str] = {}
        self.lines_written = 0

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
            # stream printed those lines already, so there is nothing to say.
            return
        self._last_seq = line.seq
        text = self._prefix(line.resource) + line.text + "\n"
        self._buf.append(text)
        self._buf_len += len(text)
        self.lines_written += 1
        if self._buf_len >= self._flush_bytes or self._schedule is None:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._schedule(self.flush)

    def write_raw(self, text: str) -> None:
        """Write text that is not a log line (a summary), after what is buffered."""
        self._buf.append(text)
        self._buf_len += len(text)
        self.flush()

    def flush(self) -> None:
        """Write out everything buffered."""
        self._scheduled = False
        if not self._buf:
            return
        data = "".join(self._buf).encode("utf-8", "replace")
        self._buf.clear()
        self._buf_len = 0
        try:
            self._out.write(data)
            self._out.flush()
        except BrokenPipeError:
            # The reader went away (`tilt up | head`): nothing more can be shown.
            self._out = open(os.devnull, "wb")  # noqa: SIM115
