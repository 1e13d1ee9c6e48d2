"""The one worker that turns engine callbacks and log lines into Textual messages.

The engine calls observers after every batch of events and the log store calls
listeners for every line, both synchronously on the event loop. Doing UI work
there would slow the engine down under a flood of logs, so the callbacks only
record that something changed and wake the worker; the worker then posts at
most one `StateChanged` and one `LogBatch` per frame (``frame_s``). However
many lines arrive, the UI handles a bounded amount of work per frame.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message
from textual.message_pump import MessagePump

from tilt.logstore import LogLine
from tilt.ui.controller import Controller

if TYPE_CHECKING:
    from tilt.engine.snapshot import EngineSnapshot

__all__ = ["Bridge", "LogBatch", "StateChanged"]


class StateChanged(Message):
    """A new engine snapshot.

    Args:
        snapshot: `Controller.snapshot()` at the time of posting.
    """

    def __init__(self, snapshot: EngineSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class LogBatch(Message):
    """New log lines since the last batch, oldest first.

    Args:
        lines: The newest lines (at most the bridge's ``max_lines``).
        overflowed: More lines arrived than the batch holds: the view should
            re-read what it shows from the log store.
        updated: Keyed lines the store updated in place since the last batch (the
            newest version of each, in sequence order): to redraw where they are,
            after ``lines`` are added.
        reread: More updates arrived than the batch holds: the view re-reads what
            it shows from the log store, whatever it shows.
    """

    def __init__(
        self,
        lines: list[LogLine],
        *,
        overflowed: bool,
        updated: list[LogLine] | None = None,
        reread: bool = False,
    ) -> None:
        super().__init__()
        self.lines = lines
        self.overflowed = overflowed
        self.updated = updated or []
        self.reread = reread


class Bridge:
    """Observes a controller and posts batched messages to ``target``.

    Args:
        controller: What to observe.
        target: Receives `StateChanged` and `LogBatch` (the app).
        frame_s: The shortest time between two batches.
        max_lines: At most this many lines per batch (a view never shows more).
    """

    def __init__(
        self,
        controller: Controller,
        target: MessagePump,
        *,
        frame_s: float = 1 / 20,
        max_lines: int = 5000,
    ) -> None:
        self._controller = controller
        self._target = target
        self._frame_s = frame_s
        self._lines: deque[LogLine] = deque(maxlen=max_lines)
        self._updated: dict[int, LogLine] = {}  # seq -> newest version (keyed lines)
        self._reread = False
        self._overflowed = False
        self._state_dirty = True  # the first frame always carries a snapshot
        self._wake = asyncio.Event()
        self._wake.set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._last_seq = controller.logs.last_seq
        self.batches = 0

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest line seen at start or since."""
        return self._last_seq

    def start(self) -> None:
        """Subscribe to the controller's observers and its log store."""
        self._unsubscribe = [
            self._controller.add_observer(self._on_state),
            self._controller.logs.add_listener(self._on_line),
        ]

    def stop(self) -> None:
        """Unsubscribe (safe to call twice)."""
        for fn in self._unsubscribe:
            fn()
        self._unsubscribe = []

    def _on_state(self) -> None:
        self._state_dirty = True
        self._wake.set()

    def _on_line(self, line: LogLine) -> None:
        if line.seq <= self._last_seq:
            if line.rev:  # a keyed line updated in place: redrawn where it is
                if (
                    len(self._updated) >= (self._lines.maxlen or 0)
                    and line.seq not in self._updated
                ):
                    self._reread = True  # too many to redraw one by one: re-read
                else:
                    self._updated[line.seq] = line
                self._wake.set()
            return  # else a "lines dropped" marker: re-read when the view reloads
        self._last_seq = line.seq
        if len(self._lines) == self._lines.maxlen:
            self._overflowed = True
        self._lines.append(line)
        self._wake.set()

    def flush(self) -> None:
        """Post what has accumulated now (the worker does this once per frame)."""
        if self._state_dirty:
            self._state_dirty = False
            self._target.post_message(StateChanged(self._controller.snapshot()))
        if self._lines or self._updated or self._reread:
            batch = list(self._lines)
            self._lines.clear()
            updated = sorted(self._updated.values(), key=lambda ln: ln.seq)
            self._updated.clear()
            self._target.post_message(
                LogBatch(batch, overflowed=self._overflowed, updated=updated, reread=self._reread)
            )
            self._overflowed = self._reread = False
        self.batches += 1

    async def run(self) -> None:
        """Post batches until cancelled: wait for a change, post, rest one frame."""
        self.start()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                self.flush()
                await asyncio.sleep(self._frame_s)
        finally:
            self.stop()
