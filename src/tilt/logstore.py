"""A bounded, per-resource log store.

Every line the engine sees (build output, serve output, events, Tiltfile
output, system messages) is appended here once, numbered with a global,
increasing sequence number, and handed synchronously to every listener (the
stream printer, the API's log followers, the TUI worker).

The cap (``max_bytes``, 16 MiB by default) counts each line as
``len(text) + LINE_OVERHEAD_BYTES`` (a keyed line also ``len(key) +
KEY_OVERHEAD_BYTES``), an approximation of what the line costs in memory.
When the store goes over the cap it drops the *oldest* lines of the *noisiest*
resource (the one holding the most bytes) first, so one chatty
service cannot push a quiet one's logs out. The resource's log then starts with
a marker line ``... N lines dropped ...`` (span ``"system"``) whose count goes
up as more lines go: one marker per resource, never one per dropped line.

A *keyed* line (``append(..., key=k)``) can be updated in place: a later append
with the same resource and key replaces its text and time, keeps its sequence
number (its place in the log) and raises its ``rev``; listeners get the new
version. A reader that follows by sequence number recognises an update by
``line.seq`` being one it has seen and ``line.rev > 0``: the TUI redraws the
line where it is, the API sends it again, and an append-only output (the
stream printer) reprints it only when `prints_update` says so (the 1st, 2nd,
4th, 8th, ... update), never once per update. The key index costs one entry
per keyed line still stored: a line that is dropped under the cap takes its key
with it (a later append with that key starts a new line), so keys stay within
the byte cap like everything else.

Every line is scrubbed of Secret values before it is stored (``LogStore.secrets``, a
`tilt.secrets.SecretScrubber`): whoever learns a Secret (the Tiltfile load, a Kubernetes
deploy) adds it there, and no producer needs to scrub its own lines. While no Secret is known
the check costs one attribute read per line.

The store is not thread-safe: it belongs to the engine's event loop.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tilt.secrets import SecretScrubber

__all__ = [
    "KEY_OVERHEAD_BYTES",
    "LINE_OVERHEAD_BYTES",
    "SPANS",
    "LogLine",
    "LogStore",
    "prints_update",
]

#: What one stored line costs beyond its text, for the cap: the line object, its
#: number, time and string headers, and its deque slot (measured on CPython 3.11).
LINE_OVERHEAD_BYTES = 160

#: What a keyed line costs beyond that and its key's text: the key's string header and its
#: entry in the resource's key index.
KEY_OVERHEAD_BYTES = 120

#: The spans a line can belong to.
SPANS = ("build", "runtime", "event", "tiltfile", "system")

#: After going over the cap, drop down to this fraction of it, so that the
#: eviction scan (which looks at every resource) runs once per many appends.
_LOW_WATER = 0.95


@dataclass(frozen=True, kw_only=True, slots=True)
class LogLine:
    """One line of log output.

    Attributes:
        seq: Global sequence number, increasing in append order (starts at 1).
            A drop marker carries the sequence number of the last line it
            stands for, so it sorts where the dropped lines were.
        ts: Wall-clock time of the append (``time.time()``).
        resource: The resource the line belongs to (``""`` for tilt itself).
        text: The line, without a trailing newline.
        span: ``"build"``, ``"runtime"``, ``"event"``, ``"tiltfile"`` or ``"system"``.
        key: For a keyed line, its key within the resource (``""`` otherwise).
        rev: How many times a keyed line was updated in place (0: as first appended);
            ``ts`` is then the time of the latest update.
    """

    seq: int
    ts: float
    resource: str
    text: str
    span: str = "runtime"
    key: str = ""
    rev: int = 0


def prints_update(rev: int) -> bool:
    """Whether an append-only output reprints a keyed line at this revision.

    The 1st, 2nd, 4th, 8th, ... update: a line updated n times is printed at most
    ``1 + log2(n) + 1`` times, however often it changes.
    """
    return rev > 0 and rev & (rev - 1) == 0


# A fast constructor for the hot path: a frozen dataclass's __init__ goes through
# object.__setattr__ per field, which made 1,000,000 appends take twice as long.
_new = object.__new__
_set_seq = vars(LogLine)["seq"].__set__
_set_ts = vars(LogLine)["ts"].__set__
_set_resource = vars(LogLine)["resource"].__set__
_set_text = vars(LogLine)["text"].__set__
_set_span = vars(LogLine)["span"].__set__
_set_key = vars(LogLine)["key"].__set__
_set_rev = vars(LogLine)["rev"].__set__


def _make_line(  # noqa: PLR0917 (the hot path: positional is the cheap call)
    seq: int, ts: float, resource: str, text: str, span: str, key: str = "", rev: int = 0
) -> LogLine:
    line: LogLine = _new(LogLine)
    _set_seq(line, seq)
    _set_ts(line, ts)
    _set_resource(line, resource)
    _set_text(line, text)
    _set_span(line, span)
    _set_key(line, key)
    _set_rev(line, rev)
    return line


class _ResourceLog:
    """One resource's lines, oldest first, and what has been dropped."""

    __slots__ = ("bytes", "dropped", "keyed", "lines", "marker")

    def __init__(self) -> None:
        self.lines: deque[LogLine] = deque()
        self.bytes = 0
        self.dropped = 0
        self.marker: LogLine | None = None
        self.keyed: dict[str, int] = {}  # key -> seq of the stored keyed line


class LogStore:
    """Bounded log storage, per resource, with listeners.

    Args:
        max_bytes: The cap on stored log text (see the module docstring for how
            a line is counted). At least one line per resource is always kept.
    """

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self._max_bytes = max_bytes
        self._low_water = int(max_bytes * _LOW_WATER)
        self._logs: dict[str, _ResourceLog] = {}
        self._total = 0
        self._seq = 0
        self._listeners: list[Callable[[LogLine], None]] = []
        self._failed: list[Callable[[LogLine], None]] = []
        #: The Secret values no stored line may contain (see the module docstring).
        self.secrets = SecretScrubber()

    @property
    def max_bytes(self) -> int:
        """The cap given at construction."""
        return self._max_bytes

    @property
    def total_bytes(self) -> int:
        """Bytes currently counted against the cap."""
        return self._total

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest line (0 when empty)."""
        return self._seq

    def resources(self) -> list[str]:
        """Names of the resources that have logged, in first-log order."""
        return list(self._logs)

    def append(
        self, resource: str, text: str, *, span: str = "runtime", key: str | None = None
    ) -> LogLine:
        """Store one line (or update a keyed one) and hand it to every listener.

        Args:
            resource: The resource the line belongs to.
            text: One line, without its trailing newline.
            span: What produced the line (see `LogLine.span`).
            key: Makes the line keyed: when the resource still holds a line with
                this key, that line is updated in place (same ``seq`` and span, new
                text and time, ``rev`` + 1) instead of a line being added. The
                same text again is no update (nothing is passed to listeners).

        Returns:
            The stored line: new, or the updated version of the keyed one.
        """
        secrets = self.secrets
        if secrets.active:
            text = secrets.scrub(text)
        log = self._logs.get(resource)
        if key and log is not None:
            seq = log.keyed.get(key)
            if seq is not None:
                updated = self._update(log, seq, text)
                if updated is not None:
                    return updated
                del log.keyed[key]  # not found: cannot happen, but never lose the line
        self._seq += 1
        line = _make_line(self._seq, time.time(), resource, text, span, key or "")
        if log is None:
            log = self._logs[resource] = _ResourceLog()
        log.lines.append(line)
        if key:
            log.keyed[key] = self._seq
        cost = len(text) + LINE_OVERHEAD_BYTES
        if key:
            cost += len(key) + KEY_OVERHEAD_BYTES
        # As `_stored`, inline: this is the hot path (a method call more per line shows).
        log.bytes += cost
        self._total += cost
        for fn in self._listeners:
            try:
                fn(line)
            except Exception as e:  # an observer's failure never reaches the producer
                self._listener_failed(fn, e)
        if self._total > self._max_bytes:
            self._evict()
        return line

    def _update(self, log: _ResourceLog, seq: int, text: str) -> LogLine | None:
        """Replace the keyed line ``seq`` of ``log`` with ``text``; None if it is not there."""
        lines = log.lines
        i = bisect.bisect_left(lines, seq, key=lambda ln: ln.seq)
        if i >= len(lines) or lines[i].seq != seq:
            return None
        old = lines[i]
        if old.text == text:
            return old
        line = _make_line(seq, time.time(), old.resource, text, old.span, old.key, old.rev + 1)
        lines[i] = line
        self._stored(log, line, len(text) - len(old.text))
        return line

    def _stored(self, log: _ResourceLog, line: LogLine, cost: int) -> None:
        """Count ``cost`` more bytes, tell the listeners about ``line``, keep the cap."""
        log.bytes += cost
        self._total += cost
        for fn in self._listeners:
            try:
                fn(line)
            except Exception as e:  # an observer's failure never reaches the producer
                self._listener_failed(fn, e)
        if self._total > self._max_bytes:
            self._evict()

    def _listener_failed(self, fn: Callable[[LogLine], None], err: Exception) -> None:
        """Report a failing listener once; the line is stored whatever it does."""
        if fn in self._failed:
            return
        self._failed.append(fn)
        import sys

        with contextlib.suppress(Exception):
            sys.stderr.write(f"tilt: a log observer failed: {type(err).__name__}: {err}\n")

    def _evict(self) -> None:
        """Drop the oldest lines of the noisiest resources down to the low-water mark."""
        touched: dict[str, tuple[_ResourceLog, int, int]] = {}  # name -> (log, n, last seq)
        while self._total > self._low_water:
            ranked = sorted(
                (kv for kv in self._logs.items() if len(kv[1].lines) > 1),
                key=lambda kv: kv[1].bytes,
                reverse=True,
            )
            if not ranked:
                break  # every resource is down to its newest line
            name, log = ranked[0]
            # Drop from the noisiest until it is no longer the noisiest (or we are
            # under the mark), then re-rank: one scan per run, not per line.
            runner_up = ranked[1][1].bytes if len(ranked) > 1 else 0
            _, n, last_seq = touched.get(name, (log, 0, 0))
            while self._total > self._low_water and len(log.lines) > 1:
                old = log.lines.popleft()
                if old.key and log.keyed.get(old.key) == old.seq:
                    del log.keyed[old.key]
                cost = len(old.text) + LINE_OVERHEAD_BYTES
                if old.key:
                    cost += len(old.key) + KEY_OVERHEAD_BYTES
                log.bytes -= cost
                self._total -= cost
                n += 1
                last_seq = old.seq
                if log.bytes < runner_up:
                    break
            touched[name] = (log, n, last_seq)
        # One marker update per resource per eviction pass, however the drops
        # alternated between resources.
        for name, (log, n, last_seq) in touched.items():
            log.dropped += n
            marker = LogLine(
                seq=last_seq,
                ts=time.time(),
                resource=name,
                text=f"... {log.dropped} lines dropped ...",
                span="system",
            )
            log.marker = marker
            for fn in self._listeners:
                try:
                    fn(marker)
                except Exception as e:
                    self._listener_failed(fn, e)

    def _with_marker(self, log: _ResourceLog) -> list[LogLine]:
        out = list(log.lines)
        if log.marker is not None:
            out.insert(0, log.marker)
        return out

    def lines(
        self, resource: str | None = None, *, since_seq: int = 0, span: str | None = None
    ) -> list[LogLine]:
        """Stored lines in sequence order, including drop markers.

        Args:
            resource: Only this resource's lines; ``None`` for every resource.
            since_seq: Only lines with ``seq`` greater than this.
            span: Only lines of this span; ``None`` for every span.

        Returns:
            The matching lines, oldest first.
        """
        if resource is not None:
            log = self._logs.get(resource)
            if log is None:
                return []
            merged = self._tail_since(log, since_seq)
        else:
            merged = list(
                heapq.merge(
                    *(self._tail_since(log, since_seq) for log in self._logs.values()),
                    key=lambda ln: ln.seq,
                )
            )
        if span is not None:
            merged = [ln for ln in merged if ln.span == span]
        return merged

    def _tail_since(self, log: _ResourceLog, since_seq: int) -> list[LogLine]:
        if since_seq <= 0:
            return self._with_marker(log)
        # Followers ask for the few newest lines: walk back from the end.
        out: list[LogLine] = []
        for ln in reversed(log.lines):
            if ln.seq <= since_seq:
                break
            out.append(ln)
        else:
            if log.marker is not None and log.marker.seq > since_seq:
                out.append(log.marker)
        out.reverse()
        return out

    def tail(self, resource: str | None, n: int) -> list[LogLine]:
        """The newest ``n`` lines (of one resource, or of all), oldest first.

        Args:
            resource: A resource name, or ``None`` for every resource.
            n: How many lines at most.

        Returns:
            Up to ``n`` lines in sequence order.
        """
        if n <= 0:
            return []
        logs = (
            [self._logs[resource]]
            if resource is not None and resource in self._logs
            else ([] if resource is not None else list(self._logs.values()))
        )
        candidates: list[LogLine] = []
        for log in logs:
            k = len(log.lines)
            candidates.extend(log.lines[i] for i in range(max(0, k - n), k))
            if k < n and log.marker is not None:
                candidates.append(log.marker)
        candidates.sort(key=lambda ln: ln.seq)
        return candidates[-n:]

    def dropped(self, resource: str) -> int:
        """How many of a resource's lines were dropped to stay under the cap."""
        log = self._logs.get(resource)
        return log.dropped if log is not None else 0

    def add_listener(self, fn: Callable[[LogLine], None]) -> Callable[[], None]:
        """Call ``fn`` synchronously for every line appended from now on.

        Drop markers are passed too, when they are created or their count goes
        up, and so are keyed lines updated in place (``rev`` > 0, a ``seq`` passed
        before). Listeners run in registration order, in append order.

        Args:
            fn: Called with each line; it must not raise.

        Returns:
            A function that removes the listener (safe to call twice).
        """
        self._listeners.append(fn)

        def unsubscribe() -> None:
            if fn in self._listeners:
                # Rebuild rather than mutate, so a listener removing itself
                # during dispatch does not skip the next listener.
                self._listeners = [f for f in self._listeners if f is not fn]

        return unsubscribe
