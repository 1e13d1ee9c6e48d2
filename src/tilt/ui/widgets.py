"""The TUI's widgets: resource table, status and details lines, and the screens.

Widgets get data set from above (`ResourceTable.show`, `DetailsBar.show`) and
post messages up; they never reach into the engine or each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tilt.ui.format import ResourceRow, age, failure_line

if TYPE_CHECKING:
    from tilt.engine.snapshot import EngineSnapshot, ResourceSnapshot

__all__ = [
    "TILTFILE_ROW",
    "ConfirmQuitScreen",
    "DetailsBar",
    "EventsScreen",
    "HelpScreen",
    "ResourceTable",
    "StatusBar",
    "tiltfile_row",
]

#: The table's first row: the Tiltfile itself, as in Tilt's UI.
TILTFILE_ROW = "(Tiltfile)"

_TONES = {
    "ok": "green",
    "error": "bold red",
    "busy": "bold cyan",
    "pending": "yellow",
    "none": "dim",
}

# (key, label, width); the last column ("details") takes what is left.
_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", "RESOURCE", 14),
    ("kind", "KIND", 8),
    ("update", "UPDATE", 15),
    ("runtime", "RUNTIME", 12),
    ("dirty", "DIRTY", 5),
    ("warn", "⚠", 3),
    ("trigger", "TRIGGER", 7),
    ("age", "AGE", 4),
    ("links", "LINKS", 9),
)
_DETAILS_MIN = 16


def tiltfile_row(snapshot: EngineSnapshot, now: float) -> ResourceRow:
    """The Tiltfile's own row from a snapshot's ``tiltfile`` part."""
    tf = snapshot.get("tiltfile") or {}
    status = str(tf.get("status", "loading"))
    word, tone = {
        "ok": ("✔ ok", "ok"),
        "error": ("✖ error", "error"),
        "loading": ("⟳ loading", "busy"),
    }.get(status, (status, "none"))
    if status == "ok" and tf.get("duration_s"):
        word += f" {float(tf['duration_s']):.1f}s"
    err = str(tf.get("error") or "")
    details = next((ln.strip() for ln in err.splitlines() if ln.strip()), "")
    return ResourceRow(
        name=TILTFILE_ROW,
        kind="tiltfile",
        update=word,
        update_tone=tone,
        runtime="-",
        runtime_tone="none",
        dirty="",
        trigger="auto",
        age="-",
        links="",
        details=details,
        warnings=0,
        dirty_manual=False,
    )


class ResourceTable(DataTable[Text]):
    """One row per resource (after the Tiltfile's), cursor on a row.

    Rows keep their keys (resource names) across updates so the cursor stays on
    the selected resource when others come and go.
    """

    DEFAULT_CSS = ""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=1)
        self._names: list[str] = []
        self._details_width = 0
        self.rows_by_name: dict[str, ResourceRow] = {}

    def _build_columns(self) -> None:
        self.clear(columns=True)
        self._names = []
        used = sum(w + 2 * self.cell_padding for _, _, w in _COLUMNS) + 2 * self.cell_padding
        width = self.size.width or 120
        self._details_width = max(_DETAILS_MIN, width - used - 2)
        for key, label, w in _COLUMNS:
            self.add_column(Text(label, style="bold"), width=w, key=key)
        self.add_column(Text("DETAILS", style="bold"), width=self._details_width, key="details")

    @property
    def selected(self) -> str | None:
        """The name of the resource under the cursor (None when the table is empty)."""
        if not self._names or self.cursor_row < 0 or self.cursor_row >= len(self._names):
            return None
        return self._names[self.cursor_row]

    def select(self, name: str) -> None:
        """Put the cursor on ``name`` if it is shown."""
        if name in self._names:
            self.move_cursor(row=self._names.index(name))

    def _cells(self, row: ResourceRow) -> list[Text]:
        loud = "bold black on yellow" if row.dirty_manual else ""
        warn = Text(f"⚠{row.warnings}", style="bold yellow") if row.warnings else Text("")
        cells = [
            Text(row.name, style="bold"),
            Text(row.kind, style="dim"),
            Text(row.update, style=_TONES.get(row.update_tone, "")),
            Text(row.runtime, style=_TONES.get(row.runtime_tone, "")),
            Text(row.dirty, style="bold yellow"),
            warn,
            Text(row.trigger, style="bold" if row.trigger.startswith("manual") else "dim"),
            Text(row.age, style="dim"),
            Text(row.links, style="underline blue" if row.links else ""),
            Text(
                row.details,
                style="red" if row.update_tone == "error" or row.runtime_tone == "error" else "",
                no_wrap=True,
                overflow="ellipsis",
            ),
        ]
        if loud:
            for c in cells:
                c.stylize(loud)
        return cells

    def show(self, rows: Sequence[ResourceRow]) -> None:
        """Show these rows, updating in place when the names did not change."""
        if not self.columns:
            self._build_columns()
        names = [r.name for r in rows]
        keep = self.selected
        self.rows_by_name = {r.name: r for r in rows}
        if names != self._names:
            self.clear()
            for r in rows:
                self.add_row(*self._cells(r), key=r.name)
            self._names = names
            if keep is not None and keep in names:
                self.move_cursor(row=names.index(keep))
            return
        col_keys = [k for k, _, _ in _COLUMNS] + ["details"]
        for r in rows:
            for key, cell in zip(col_keys, self._cells(r), strict=True):
                self.update_cell(r.name, key, cell)

    def on_resize(self) -> None:
        """Give the details column the width that is left."""
        rows = [self.rows_by_name[n] for n in self._names]
        keep = self.selected
        self._build_columns()
        self.show(rows)
        if keep is not None:
            self.select(keep)


class StatusBar(Static):
    """The top line: the Tiltfile, resource counts, and the last message."""

    def show(self, snapshot: EngineSnapshot, message: str) -> None:
        """Render the counts of ``snapshot`` and ``message``."""
        res = snapshot.get("resources") or []
        counts: dict[str, int] = {}
        for r in res:
            counts[r.get("status", "")] = counts.get(r.get("status", ""), 0) + 1
        dirty = sum(1 for r in res if r.get("dirty"))
        t = Text()
        t.append(" tilt ", style="bold black on green")
        path = str((snapshot.get("tiltfile") or {}).get("path", ""))
        t.append(f" {path.rsplit('/', 1)[-1] or 'Tiltfile'} ", style="bold")
        t.append(f"· {len(res)} resources: ")
        parts = [
            (counts.get("ready", 0), "ready", "green"),
            (counts.get("updating", 0), "updating", "cyan"),
            (counts.get("pending", 0) + counts.get("waiting", 0), "pending", "yellow"),
            (counts.get("error", 0), "error", "bold red"),
        ]
        first = True
        for n, word, style in parts:
            if not n:
                continue
            if not first:
                t.append(", ")
            t.append(f"{n} {word}", style=style)
            first = False
        if first:
            t.append("none active", style="dim")
        if dirty:
            t.append(" · ")
            t.append(f"● {dirty} dirty", style="bold yellow")
        if snapshot.get("shutting_down"):
            t.append(" · ")
            t.append("stopping…", style="bold red")
        if message:
            t.append(" · ")
            t.append(message, style="italic")
        self.update(t)


class DetailsBar(Static):
    """Two lines about the selected resource: what it is and why it is so."""

    def show(self, res: ResourceSnapshot | None, row: ResourceRow | None) -> None:
        """Describe ``res`` (its snapshot) and ``row`` (its formatted cells)."""
        self.set_class(bool(row and row.dirty_manual), "dirty")
        self.set_class(bool(row and "error" in (row.update_tone, row.runtime_tone)), "failed")
        if row is None:
            self.update("")
            return
        t = Text()
        t.append(row.name, style="bold")
        if res is None:  # the Tiltfile's row
            t.append(f"  {row.update}\n{row.details or 'edit the Tiltfile to reload it'}")
            self.update(t)
            return
        t.append(f"  {row.kind} · {row.trigger}")
        if res is not None:
            upd = res.get("update") or {}
            if upd.get("reason"):
                t.append(f" · last update: {upd['reason']}")
            cmd = res.get("cmd") or res.get("serve_cmd")
            if cmd:
                t.append(f" · {cmd}", style="dim")
        t.append("\n")
        if res is not None and res.get("dirty"):
            files = list(res.get("pending_files") or ())
            count = int(res.get("pending_file_count") or 0)
            what = ", ".join(files) if files else "; ".join(res.get("pending_reasons") or ())
            more = f" (+{count - len(files)} more)" if count > len(files) else ""
            verb = "press t to update" if row.trigger.startswith("manual") else "update queued"
            t.append(f"● CHANGED ({count or 1}): {what}{more} — {verb}", style="bold")
        elif row.details:
            t.append(row.details)
        if res is not None:
            _append_failures(t, res.get("test"))
            links = [str(link.get("url", "")) for link in res.get("links") or ()]
            if links:
                t.append("\n" + "  ".join(links), style="underline")
        self.update(t)


#: How many failing tests the details bar lists (``n`` walks through all of them).
DETAILS_FAILURES = 3


def _append_failures(t: Text, test: dict[str, Any] | None) -> None:
    """A test resource's first failing tests, and how to reach their log lines."""
    failures = list((test or {}).get("failures") or ())
    if not failures:
        return
    for f in failures[:DETAILS_FAILURES]:
        t.append("\n✖ ", style="bold red")
        t.append(failure_line(f))
    total = int((test or {}).get("failure_count") or len(failures))
    more = f"+{total - DETAILS_FAILURES} more · " if total > DETAILS_FAILURES else ""
    t.append(f"\n{more}n: jump to a failure's log lines", style="dim")


class HelpScreen(ModalScreen[None]):
    """Every key binding with its id and description."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close help", id="help.close"),
    ]

    def __init__(self, bindings: Sequence[BindingType]) -> None:
        super().__init__()
        self._keys = bindings

    def compose(self) -> ComposeResult:
        t = Text()
        t.append("Keys\n\n", style="bold underline")
        for b in self._keys:
            if not isinstance(b, Binding):
                continue
            keys = ", ".join(_key_label(k) for k in b.key.split(","))
            t.append(f"{keys:>14}  ", style="bold cyan")
            t.append(f"{b.description:<44}")
            t.append(f"{b.id or b.action}\n", style="dim")
        t.append("\nEsc closes this screen.", style="dim")
        with Vertical(id="help-box"):
            yield Static(t, id="help-text")


def _key_label(key: str) -> str:
    return {
        "question_mark": "?",
        "slash": "/",
        "enter": "Enter",
        "escape": "Esc",
        "up": "↑",
        "down": "↓",
        "ctrl+c": "Ctrl-C",
    }.get(key, key)


class ConfirmQuitScreen(ModalScreen[bool]):
    """Asks before quitting: quitting stops every resource."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Quit and stop everything", id="quit.yes"),
        Binding("n,escape,q", "answer(False)", "Keep running", id="quit.no"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box"):
            yield Static(
                Text.assemble(
                    ("Quit tilt?\n\n", "bold"),
                    "This stops every resource tilt runs.\n\n",
                    ("y", "bold cyan"),
                    " / Enter: quit    ",
                    ("n", "bold cyan"),
                    " / Esc: keep running",
                )
            )

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)


class EventsScreen(ModalScreen[None]):
    """The runtime events of one resource: count, age, type, reason, object, message."""

    BINDINGS = [
        Binding("escape,e,q", "dismiss", "Close events", id="events.close"),
        Binding("o", "toggle_old", "Hide/show older rollouts", id="events.old"),
    ]

    def __init__(self, name: str, res: ResourceSnapshot | None, now: float) -> None:
        super().__init__()
        self.resource_name = name
        self._res = res
        self._now = now
        self.hide_old = False  # Kubernetes events of pods no longer the resource's current

    def action_toggle_old(self) -> None:
        """Hide or show the events of older rollouts (Kubernetes pods no longer current)."""
        self.hide_old = not self.hide_old
        self.show(self._res, self._now)

    def compose(self) -> ComposeResult:
        with Vertical(id="events-box"):
            yield Static(Text(f"Events of {self.resource_name}", style="bold"), id="events-title")
            table: DataTable[Text] = DataTable(id="events-table", cursor_type="row")
            yield table
            yield Static(Text("Esc closes", style="dim"), id="events-hint")

    def on_mount(self) -> None:
        table = self.query_one("#events-table", DataTable)
        for key, label in (
            ("count", "COUNT"),
            ("age", "AGE"),
            ("type", "TYPE"),
            ("reason", "REASON"),
            ("object", "OBJECT"),
            ("message", "MESSAGE"),
        ):
            table.add_column(Text(label, style="bold"), key=key)
        self.show(self._res, self._now)

    def show(self, res: ResourceSnapshot | None, now: float) -> None:
        """Show ``res``'s events, newest first."""
        self._res, self._now = res, now
        table = self.query_one("#events-table", DataTable)
        table.clear()
        events = list(res["events"]) if res is not None else []
        events.sort(key=lambda e: float(e.get("last_seen") or 0), reverse=True)
        old = sum(1 for e in events if e.get("current") is False)
        if old:
            what = "show" if self.hide_old else "hide"
            hint = f"Esc closes · o: {what} {old} event(s) of older rollouts"
            self.query_one("#events-hint", Static).update(Text(hint, style="dim"))
        if self.hide_old:
            events = [e for e in events if e.get("current") is not False]
        if not events:
            table.add_row(Text(""), Text(""), Text(""), Text("no events", style="dim"))
            return
        for ev in events:
            warn = str(ev.get("type", "")).lower() == "warning"
            last = ev.get("last_seen")
            # Kubernetes events (tilt.k8s.events) say whether they are of an older rollout
            # and whether k8s_quiet_events silenced them.
            obj = str(ev.get("object", "")) + (
                " (old rollout)" if ev.get("current") is False else ""
            )
            reason = str(ev.get("reason", "")) + (" (quiet)" if ev.get("quiet") else "")
            dim = ev.get("current") is False or bool(ev.get("quiet"))
            table.add_row(
                Text(str(ev.get("count", 1))),
                Text(age(now - float(last)) if last is not None else "-"),
                Text(
                    str(ev.get("type", "")), style="dim" if dim else "bold yellow" if warn else ""
                ),
                Text(reason, style="dim" if dim else "bold" if warn else ""),
                Text(obj, style="dim" if dim else ""),
                Text(str(ev.get("message", "")), style="dim" if dim else ""),
            )
