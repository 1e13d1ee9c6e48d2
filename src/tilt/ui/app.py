"""The full-screen TUI: resources above, logs below, keys in the footer.

`create_app` is the one factory the CLI (`tilt up` on a terminal) and the tests
use. The app only observes: a `tilt.ui.bridge.Bridge` worker turns the
controller's callbacks and log lines into batched messages; keys become intents
sent back to the controller (trigger, cancel, trigger-mode override, shutdown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Input

from tilt.logstore import LogLine
from tilt.ui.bridge import Bridge, LogBatch, StateChanged
from tilt.ui.buttons import ButtonsBar, ButtonsScreen, Run
from tilt.ui.controller import Controller
from tilt.ui.format import ResourceRow, resource_row
from tilt.ui.logpane import LogPane
from tilt.ui.widgets import (
    TILTFILE_ROW,
    ConfirmQuitScreen,
    DetailsBar,
    EventsScreen,
    HelpScreen,
    ResourceTable,
    StatusBar,
    tiltfile_row,
)

if TYPE_CHECKING:
    from tilt.engine.snapshot import EngineSnapshot, ResourceSnapshot

__all__ = ["BINDINGS", "TiltApp", "create_app"]

#: Every key of the main screen, as data: shown in the footer (``show=True``) and on `?`.
BINDINGS: list[Binding] = [
    Binding("down,j", "select_next", "Select next", id="select.next", show=False),
    Binding("up,k", "select_prev", "Select previous", id="select.prev", show=False),
    Binding("enter,t", "trigger", "Trigger", id="resource.trigger"),
    Binding("T", "trigger_dirty", "Trigger dirty", id="resource.trigger_dirty"),
    Binding("c", "cancel", "Cancel", id="resource.cancel"),
    Binding("m", "toggle_trigger_mode", "Auto/manual", id="resource.trigger_mode"),
    Binding("e", "events", "Events", id="resource.events"),
    Binding("n", "next_failure", "Next failing test's log", id="tests.next_failure", show=False),
    Binding("b", "buttons", "Buttons (v1alpha1.ui_button)", id="resource.buttons", show=False),
    Binding("l", "toggle_scope", "Log scope", id="logs.scope"),
    Binding("0", "log_view('all')", "Logs: all spans", id="logs.view.all", show=False),
    Binding("1", "log_view('build')", "Logs: build only", id="logs.view.build", show=False),
    Binding("2", "log_view('runtime')", "Logs: runtime only", id="logs.view.runtime", show=False),
    Binding("3", "log_view('events')", "Logs: events only", id="logs.view.events", show=False),
    Binding("slash", "search", "Search", id="logs.search"),
    Binding("f", "toggle_follow", "Follow", id="logs.follow"),
    Binding("question_mark", "help", "Help", id="app.help"),
    Binding("q", "request_quit", "Quit", id="app.quit"),
    Binding("ctrl+c", "stop", "Stop all and quit", id="app.stop", show=False, priority=True),
]


class TiltApp(App[int]):
    """The TUI. Build it with `create_app`.

    Args:
        controller: The engine (or a scripted one).
        clock: The wall clock for durations and ages (tests pin it).
        frame_s: The shortest time between two screen updates from the engine.
        log_window: The most log lines the log pane holds.
        exit_on_shutdown: Exit as soon as the quit is confirmed (no engine to wait for).
    """

    CSS_PATH = "app.tcss"
    TITLE = "tilt"
    # Every key is ours (the footer has no room for the palette's entry).
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [*BINDINGS]

    def __init__(
        self,
        controller: Controller,
        *,
        clock: Callable[[], float] = time.time,
        frame_s: float = 1 / 20,
        log_window: int = 5000,
        exit_on_shutdown: bool = False,
        tick_s: float | None = 1.0,
    ) -> None:
        super().__init__()
        self.controller = controller
        self.clock = clock
        self.bridge = Bridge(controller, self, frame_s=frame_s, max_lines=log_window)
        self.snapshot: EngineSnapshot = cast(
            "EngineSnapshot",
            {"tiltfile": {}, "settings": {}, "resources": [], "shutting_down": False},
        )
        self.message = ""
        self._log_window = log_window
        self._exit_on_shutdown = exit_on_shutdown
        self._tick_s = tick_s
        self._by_name: dict[str, ResourceSnapshot] = {}
        self._rows: list[ResourceRow] = []
        self._failure_at: dict[str, int] = {}
        self.frames = 0

    # ---- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield ResourceTable(id="resources")
        yield DetailsBar(id="details")
        yield ButtonsBar(id="buttons")
        yield LogPane(id="logs", window=self._log_window)
        yield Input(placeholder="search the logs (Enter keeps, Esc clears)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one(ResourceTable).focus()
        self._log_pane.reload(self.controller.logs)
        self._update_log_title()
        self.run_worker(self.bridge.run(), name="bridge", exclusive=True)
        if self._tick_s:
            # Durations and ages move with the clock even when no event arrives.
            self.set_interval(self._tick_s, self._render_state)

    @property
    def _table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    @property
    def _log_pane(self) -> LogPane:
        return self.query_one(LogPane)

    # ---- from the bridge -------------------------------------------------------------------

    def on_state_changed(self, msg: StateChanged) -> None:
        """A new snapshot: redraw the table, status and details."""
        self.snapshot = msg.snapshot
        self._by_name = {r["name"]: r for r in msg.snapshot.get("resources") or ()}
        self._render_state()

    def on_log_batch(self, msg: LogBatch) -> None:
        """New log lines: append those the pane shows (or re-read after an overflow); redraw
        updated keyed lines in place."""
        pane = self._log_pane
        if msg.reread or (
            msg.overflowed and (pane.scope is not None or pane.view != "all" or pane.search)
        ):
            pane.reload(self.controller.logs)
        else:
            pane.add_lines(msg.lines)
            pane.update_lines(msg.updated)
        self.frames += 1

    def _render_state(self) -> None:
        now = self.clock()
        rows = [tiltfile_row(self.snapshot, now)]
        rows += [resource_row(r, now) for r in self.snapshot.get("resources") or ()]
        self._rows = rows
        table = self._table
        table.show(rows)
        self.query_one(StatusBar).show(self.snapshot, self.message)
        self._render_details()
        top = self.screen
        if isinstance(top, EventsScreen):
            top.show(self._by_name.get(top.resource_name), now)
        self.frames += 1

    def _render_details(self) -> None:
        name = self._table.selected
        row = self._table.rows_by_name.get(name) if name else None
        self.query_one(DetailsBar).show(self._by_name.get(name or ""), row)
        buttons = self.controller.buttons(name) if name and name in self._by_name else ()
        self.query_one(ButtonsBar).show(buttons)

    def on_data_table_row_highlighted(self, msg: DataTable.RowHighlighted) -> None:
        """The cursor moved: describe the new resource; a scoped log follows it."""
        if msg.data_table is not self._table:
            return
        self._render_details()
        pane = self._log_pane
        sel = self._table.selected
        if pane.scope is not None and sel is not None and pane.scope != sel:
            pane.scope = sel
            pane.reload(self.controller.logs)
            self._update_log_title()

    def on_data_table_row_selected(self, msg: DataTable.RowSelected) -> None:
        """Enter on a row triggers it (the table's own Enter binding)."""
        if msg.data_table is self._table:
            self.action_trigger()

    # ---- intents ---------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.message = text
        self.query_one(StatusBar).show(self.snapshot, text)

    def _selected_resource(self, verb: str) -> str | None:
        name = self._table.selected
        if name is None or name == TILTFILE_ROW:
            self._say(f"select a resource to {verb}")
            return None
        return name

    def _intent(self, fn: Callable[[], Any], done: str) -> None:
        try:
            out = fn()
        except Exception as e:  # the engine refused: say why, keep running
            self._say(f"✖ {e}")
            return
        self._say(out if isinstance(out, str) and out else done)

    def action_select_next(self) -> None:
        """Move the cursor down."""
        self._table.action_cursor_down()

    def action_select_prev(self) -> None:
        """Move the cursor up."""
        self._table.action_cursor_up()

    def action_trigger(self) -> None:
        """Queue an update of the selected resource."""
        name = self._selected_resource("trigger")
        if name is not None:
            self._intent(lambda: self.controller.trigger(name), f"triggered {name}")

    def action_trigger_dirty(self) -> None:
        """Queue an update of every resource with pending changes."""
        try:
            names = self.controller.trigger_dirty()
        except Exception as e:
            self._say(f"✖ {e}")
            return
        self._say(f"triggered {', '.join(names)}" if names else "no dirty resources")

    def action_cancel(self) -> None:
        """Cancel the selected resource's running (or queued) update."""
        name = self._selected_resource("cancel")
        if name is not None:
            self._intent(lambda: f"{name}: {self.controller.cancel(name)}", "")

    def action_toggle_trigger_mode(self) -> None:
        """Switch the selected resource between auto and manual until tilt exits."""
        name = self._selected_resource("switch")
        if name is None:
            return
        res = self._by_name.get(name)
        current = res["trigger_mode"] if res is not None else "auto"
        new = "auto" if current == "manual" else "manual"
        self._intent(
            lambda: self.controller.set_trigger_mode(name, new),
            f"{name}: trigger mode {new} (until tilt exits)",
        )

    def action_events(self) -> None:
        """Open the selected resource's runtime events."""
        name = self._selected_resource("show events of")
        if name is not None:
            self.push_screen(EventsScreen(name, self._by_name.get(name), self.clock()))

    def action_next_failure(self) -> None:
        """Show the selected test resource's log at its next failing test."""
        name = self._selected_resource("jump to a failing test of")
        if name is None:
            return
        res = self._by_name.get(name)
        test = (res["test"] if res is not None else None) or {}
        failures = list(test.get("failures") or ())
        if not failures:
            self._say(f"{name}: no failing tests")
            return
        k = (self._failure_at.get(name, -1) + 1) % len(failures)
        self._failure_at[name] = k
        f = failures[k]
        pane = self._log_pane
        pane.scope, pane.view, pane.search = name, "all", ""
        pane.reload(self.controller.logs)
        found = pane.jump_to(failure_matcher(f))
        self._update_log_title()
        where = f" ({f['location']})" if f.get("location") else ""
        note = "" if found is not None else " · not in the log window"
        self._say(f"failure {k + 1}/{len(failures)}: {f.get('name', '')}{where}{note}")

    def action_buttons(self) -> None:
        """Open the selected resource's buttons; the one chosen runs with its inputs."""
        name = self._selected_resource("run a button of")
        if name is None:
            return
        actions = self.controller.buttons(name)
        if not actions:
            self._say(f"{name} has no buttons (v1alpha1.ui_button)")
            return

        def chosen(run: Run | None) -> None:
            if run is not None:
                self._intent(lambda: self.controller.run_button(name, run.name, run.values), "")

        self.push_screen(ButtonsScreen(name, actions), chosen)

    def action_toggle_scope(self) -> None:
        """Switch the logs between every resource and the selected one."""
        pane = self._log_pane
        pane.scope = None if pane.scope is not None else self._table.selected
        pane.reload(self.controller.logs)
        self._update_log_title()

    def action_log_view(self, view: str) -> None:
        """Show all spans, or only build, runtime or event lines."""
        pane = self._log_pane
        pane.view = view
        pane.reload(self.controller.logs)
        self._update_log_title()

    def action_search(self) -> None:
        """Open the search line."""
        box = self.query_one("#search", Input)
        box.display = True
        box.value = self._log_pane.search
        box.focus()

    def on_input_changed(self, msg: Input.Changed) -> None:
        """Filter the logs as the search term is typed."""
        if msg.input.id == "search":
            self._log_pane.search = msg.value
            self._log_pane.reload(self.controller.logs)
            self._update_log_title()

    def on_input_submitted(self, msg: Input.Submitted) -> None:
        """Enter keeps the search and goes back to the table."""
        if msg.input.id == "search":
            msg.input.display = False
            self._table.focus()

    def on_key(self, event: Any) -> None:
        """Esc in the search line clears the search."""
        box = self.query_one("#search", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self._table.focus()
            event.stop()

    def action_toggle_follow(self) -> None:
        """Follow the newest log line, or stop following."""
        pane = self._log_pane
        pane.set_follow(not pane.follow)
        self._update_log_title()

    def action_help(self) -> None:
        """Show every key binding."""
        self.push_screen(HelpScreen(BINDINGS))

    def action_request_quit(self) -> None:
        """Ask, then stop everything and quit."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.action_stop()

        self.push_screen(ConfirmQuitScreen(), answered)

    def action_stop(self) -> None:
        """Stop everything that runs and quit (Ctrl-C: no question asked)."""
        self._say("stopping every resource…")
        self.controller.shutdown("quit from the UI")
        if self._exit_on_shutdown:
            self.exit(0)

    def _update_log_title(self) -> None:
        pane = self._log_pane
        scope = pane.scope or "all resources"
        view = "all spans" if pane.view == "all" else f"{pane.view} only"
        parts = [f"Logs: {scope}", view, "follow" if pane.follow else "paused"]
        if pane.search:
            parts.append(f"search: {pane.search!r}")
        pane.border_title = " · ".join(parts)


def failure_matcher(failure: dict[str, Any]) -> Callable[[LogLine], bool]:
    """Finds where a failing test's own output starts in its resource's log.

    The runner's failure header comes first: pytest's ``____ TestX.test_y ____``, Go's
    ``--- FAIL: TestY``, in the failure's shard when sharded; tilt's own summary lines
    (``✖ FAILED ...``) come last and are not taken.
    """
    name = str(failure.get("name", ""))
    short = name.rsplit("/", 1)[-1] if "/" in name and "[" not in name else name
    shard = failure.get("shard")
    span = f"build:shard-{shard + 1}" if isinstance(shard, int) else None

    def wanted(ln: LogLine) -> bool:
        if span is not None and ln.span != span:
            return False
        text = ln.text
        if "✖ FAILED" in text or "✖ ERRORED" in text:
            return False
        return (name in text or short in text) and ("___" in text or "--- FAIL" in text)

    return wanted


def create_app(
    controller: Controller,
    *,
    clock: Callable[[], float] = time.time,
    frame_s: float = 1 / 20,
    log_window: int = 5000,
    exit_on_shutdown: bool = False,
    tick_s: float | None = 1.0,
) -> TiltApp:
    """Build the TUI for ``controller`` (the CLI, the tests and the benchmarks use this).

    Args:
        controller: The engine, or a `tilt.ui.scripted.ScriptedController`.
        clock: Wall clock for durations and ages (tests pin it for stable screens).
        frame_s: The shortest time between two screen updates.
        log_window: The most log lines the log pane holds (memory stays bounded).
        exit_on_shutdown: Exit right after a confirmed quit instead of waiting
            for the runner to end the app.
        tick_s: How often ages and durations are redrawn (None: only on changes).

    Returns:
        The app; run it with ``run()`` / ``run_async()`` / ``run_test()``.
    """
    return TiltApp(
        controller,
        clock=clock,
        frame_s=frame_s,
        log_window=log_window,
        exit_on_shutdown=exit_on_shutdown,
        tick_s=tick_s,
    )
