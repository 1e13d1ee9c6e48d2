"""The log pane: a bounded window of log lines, rendered only where visible.

The pane keeps at most ``window`` lines (the log store keeps the rest, within
its own cap), and renders with Textual's line API: a frame costs the visible
lines, not the lines that arrived, so a flood of output stays cheap.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tilt.logstore import LogLine, LogStore
from tilt.stream import PREFIX_WIDTH, source_prefix

__all__ = ["SPAN_VIEWS", "LogPane", "prefix_color"]

#: The log views (Tilt's 1/2/3 plus all) and the spans each one shows.
SPAN_VIEWS: dict[str, tuple[str, ...] | None] = {
    "all": None,
    "build": ("build", "tiltfile", "system"),
    "runtime": ("runtime", "system"),
    "events": ("event", "system"),
}

# The stream printer's palette, in the same order, so a resource keeps its colour.
_PALETTE = (
    "green",
    "blue",
    "magenta",
    "cyan",
    "yellow",
    "bright_green",
    "bright_blue",
    "bright_magenta",
    "bright_cyan",
    "bright_yellow",
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MATCH = Style(color="black", bgcolor="yellow", bold=True)
_SYSTEM = Style(dim=True, italic=True)
# The line `jump_to` went to.
_MARK = Style(bold=True, underline=True)


def prefix_color(name: str) -> str:
    """The colour of a resource's name prefix (the stream printer's choice)."""
    return _PALETTE[zlib.crc32(name.encode()) % len(_PALETTE)]


class LogPane(ScrollView, can_focus=True):
    """Shows log lines of one resource or all of them, one span view, a search.

    Args:
        window: The most lines the pane holds.
        name: Textual's widget name; id/classes as for any widget.
    """

    def __init__(
        self,
        *,
        window: int = 5000,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._window = window
        self._lines: deque[LogLine] = deque(maxlen=window)
        self._max_width = 0
        self.scope: str | None = None
        self.view = "all"
        self.search = ""
        self.follow = True
        self._marked_seq = 0
        self._ansi_cache: dict[int, list[Segment]] = {}
        self._prefix_cache: dict[str, tuple[str, Style]] = {}

    # ---- what is shown ---------------------------------------------------------------------

    def matches(self, line: LogLine) -> bool:
        """Whether the current scope, view and search let ``line`` through."""
        if self.scope is not None and line.resource != self.scope:
            return False
        spans = SPAN_VIEWS[self.view]
        # A shard's span (build:shard-2) belongs to its family's view.
        if spans is not None and line.span.partition(":")[0] not in spans:
            return False
        return not self.search or self.search.lower() in line.text.lower()

    @property
    def line_count(self) -> int:
        """How many lines the pane holds now."""
        return len(self._lines)

    def texts(self) -> list[str]:
        """The held lines' texts, oldest first (for tests and search results)."""
        return [ln.text for ln in self._lines]

    def reload(self, store: LogStore) -> None:
        """Re-read the lines to show from the store (after a scope, view or search change)."""
        if self.scope is None and SPAN_VIEWS[self.view] is None and not self.search:
            picked = store.tail(None, self._window)
        else:
            picked = [ln for ln in store.lines(self.scope) if self.matches(ln)]
            picked = picked[-self._window :]
        self._lines.clear()
        self._ansi_cache.clear()
        self._max_width = 0
        self._add(picked)
        self._after_change(dropped=0, reset=True)

    def add_lines(self, lines: Iterable[LogLine]) -> None:
        """Append new lines that pass the filters (a `LogBatch` from the bridge)."""
        before = len(self._lines)
        added = self._add(ln for ln in lines if self.matches(ln))
        if not added:
            return
        dropped = max(0, before + added - self._window)
        self._after_change(dropped=dropped, reset=False)

    def update_lines(self, lines: Iterable[LogLine]) -> None:
        """Redraw keyed lines the store updated in place, where the pane holds them.

        An update keeps its line's sequence number, so it replaces the held line with
        that number (the pane's lines are in sequence order); a line the pane does not
        hold (filtered out, or gone from the window) stays out.
        """
        held = self._lines
        changed = False
        for ln in lines:
            i = bisect.bisect_left(held, ln.seq, key=lambda h: h.seq)
            if i < len(held) and held[i].seq == ln.seq and held[i].rev < ln.rev:
                held[i] = ln
                self._ansi_cache.pop(ln.seq, None)
                extra = 0 if self.scope is not None else PREFIX_WIDTH + 3
                self._max_width = max(self._max_width, len(ln.text) + extra)
                changed = True
        if changed:
            self.virtual_size = Size(self._max_width, len(self._lines))
            self.refresh()

    def _add(self, lines: Iterable[LogLine]) -> int:
        n = 0
        width = self._max_width
        extra = 0 if self.scope is not None else PREFIX_WIDTH + 3
        for ln in lines:
            self._lines.append(ln)
            n += 1
            w = len(ln.text) + extra
            width = max(width, w)
        self._max_width = width
        if len(self._ansi_cache) > 4096:
            self._ansi_cache.clear()
        return n

    def _after_change(self, *, dropped: int, reset: bool) -> None:
        self.virtual_size = Size(self._max_width, len(self._lines))
        if self.follow:
            bottom = max(0, len(self._lines) - self.scrollable_content_region.height)
            self.scroll_to(y=bottom, animate=False, immediate=True, force=True)
        elif reset:
            self.scroll_to(y=0, animate=False, immediate=True, force=True)
        elif dropped:
            # Lines left the window at the top: keep what the reader looks at in place.
            self.scroll_to(
                y=max(0, self.scroll_offset.y - dropped), animate=False, immediate=True, force=True
            )
        self.refresh()

    def on_resize(self) -> None:
        """Keep the newest line in view when the pane gets its (new) size."""
        if self.follow:
            self._after_change(dropped=0, reset=False)

    def jump_to(self, wanted: Callable[[LogLine], bool]) -> int | None:
        """Stop following and scroll so the first held line ``wanted`` is on top.

        Returns:
            The line's index in the pane, or None when no held line is wanted.
        """
        for i, ln in enumerate(self._lines):
            if wanted(ln):
                self.follow = False
                self._marked_seq = ln.seq
                self.scroll_to(y=i, animate=False, immediate=True, force=True)
                self.refresh()
                return i
        return None

    def set_follow(self, follow: bool) -> None:
        """Turn following the newest line on or off."""
        self.follow = follow
        if follow:
            self._after_change(dropped=0, reset=False)

    # ---- rendering -------------------------------------------------------------------------

    def _prefix(self, name: str) -> tuple[str, Style]:
        p = self._prefix_cache.get(name)
        if p is None:
            p = (source_prefix(name), Style(color=prefix_color(name), bold=True))
            self._prefix_cache[name] = p
        return p

    def _text_segments(self, line: LogLine, base: Style) -> list[Segment]:
        text = line.text
        if "\x1b" in text:
            cached = self._ansi_cache.get(line.seq)
            if cached is None:
                rich_text = Text.from_ansi(text.replace("\t", "    "))
                cached = [
                    Segment(_CONTROL.sub("", s.text), base + s.style if s.style else base)
                    for s in rich_text.render(self.app.console)
                    if s.text != "\n"
                ]
                self._ansi_cache[line.seq] = cached
            segs = cached
        else:
            clean = _CONTROL.sub("", text.replace("\t", "    "))
            segs = [Segment(clean, base)]
        if self.search:
            segs = _highlight(segs, self.search)
        return segs

    def render_line(self, y: int) -> Strip:
        """Render row ``y`` of the visible region (Textual's line API)."""
        scroll_x, scroll_y = self.scroll_offset
        idx = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if idx >= len(self._lines):
            return Strip.blank(width, base)
        line = self._lines[idx]
        segs: list[Segment] = []
        if self.scope is None:
            prefix, pstyle = self._prefix(line.resource)
            if prefix:
                segs.append(Segment(prefix[:-2], base + pstyle))
                segs.append(Segment("│ ", base + Style(dim=True)))
            else:
                segs.append(Segment(" " * (PREFIX_WIDTH + 3), base))
        style = base + _SYSTEM if line.span == "system" else base
        if line.seq == self._marked_seq:
            style += _MARK
        segs.extend(self._text_segments(line, style))
        strip = Strip(segs).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base)


def _highlight(segs: list[Segment], term: str) -> list[Segment]:
    """Split segments so every case-insensitive occurrence of ``term`` stands out."""
    out: list[Segment] = []
    needle = term.lower()
    for seg in segs:
        text, style = seg.text, seg.style
        low = text.lower()
        start = 0
        while True:
            i = low.find(needle, start)
            if i < 0:
                break
            if i > start:
                out.append(Segment(text[start:i], style))
            out.append(Segment(text[i : i + len(term)], (style or Style()) + _MATCH))
            start = i + len(term)
        if start < len(text):
            out.append(Segment(text[start:], style))
    return out
