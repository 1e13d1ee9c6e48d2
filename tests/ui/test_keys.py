"""Every key binding of the TUI, driven with the pilot against a scripted engine."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.ui import scenes
from tests.ui.conftest import aio, wait_for
from tilt.ui.app import BINDINGS, TiltApp, create_app
from tilt.ui.logpane import LogPane
from tilt.ui.scripted import ScriptedController
from tilt.ui.widgets import (
    ConfirmQuitScreen,
    DetailsBar,
    EventsScreen,
    HelpScreen,
    ResourceTable,
    StatusBar,
)

SIZE = (120, 40)


def make(c: ScriptedController, **kw: object) -> TiltApp:
    return create_app(c, clock=lambda: scenes.NOW, tick_s=None, **kw)  # type: ignore[arg-type]


def table(app: TiltApp) -> ResourceTable:
    return app.query_one(ResourceTable)


def pane(app: TiltApp) -> LogPane:
    return app.query_one(LogPane)


def status_text(app: TiltApp) -> str:
    return str(app.query_one(StatusBar).render())


async def select(pilot, app: TiltApp, name: str) -> None:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: name in table(app).rows_by_name)
    while table(app).selected != name:
        await pilot.press("j")


def test_bindings_are_data_with_ids_and_descriptions() -> None:
    ids = [b.id for b in BINDINGS]
    assert len(ids) == len(set(ids))
    assert all(b.description for b in BINDINGS)
    keys = ",".join(b.key for b in BINDINGS)
    for k in ("j", "k", "up", "down", "enter", "t", "T", "c", "m", "e", "l", "slash", "f", "q"):
        assert k in keys.split(","), k


@pytest.mark.parametrize(("down", "up", "expected"), [("j", "k", "tests"), ("down", "up", "tests")])
@aio
async def test_select_moves_and_details_follow(down: str, up: str, expected: str) -> None:
    app = make(scenes.idle())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "report" in table(app).rows_by_name)
        assert table(app).selected == "(Tiltfile)"
        await pilot.press(down, down)
        assert table(app).selected == "api"
        assert "python3 -u api.py" in str(app.query_one(DetailsBar).render())
        await pilot.press(up)
        assert table(app).selected == expected


@pytest.mark.parametrize("key", ["t", "enter"])
@aio
async def test_trigger_selected(key: str) -> None:
    c = scenes.idle()
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "report")
        await pilot.press(key)
        assert c.intents == [("trigger", "report")]
        await wait_for(pilot, lambda: "queued" in table(app).rows_by_name["report"].update)
        assert "triggered report" in status_text(app)


@aio
async def test_trigger_on_tiltfile_row_explains() -> None:
    c = scenes.idle()
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).selected == "(Tiltfile)")
        await pilot.press("t")
        assert c.intents == []
        assert "select a resource to trigger" in status_text(app)


@aio
async def test_trigger_all_dirty() -> None:
    c = scenes.dirty_manual()
    c.update("tests", pending_files=["examples/local/greeting.py"], trigger_mode="manual")
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).rows_by_name.get("report") is not None)
        assert table(app).rows_by_name["report"].dirty == "● 4"
        await pilot.press("T")
        assert c.intents == [("trigger_dirty", "tests,report")]
        await wait_for(pilot, lambda: table(app).rows_by_name["report"].dirty == "")
        assert "triggered tests, report" in status_text(app)


@aio
async def test_cancel_running_and_refusal_is_shown() -> None:
    c = scenes.parallel_builds()
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "backend")
        await pilot.press("c")
        assert c.intents == [("cancel", "backend")]
        await wait_for(pilot, lambda: "cancelled" in table(app).rows_by_name["backend"].update)
        await select(pilot, app, "db")
        await pilot.press("c")
        assert "no update running or queued" in status_text(app)


@aio
async def test_m_switches_trigger_mode_both_ways() -> None:
    c = scenes.idle()
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "api")
        await pilot.press("m")
        await wait_for(pilot, lambda: table(app).rows_by_name["api"].trigger == "manual*")
        await pilot.press("m")
        await wait_for(pilot, lambda: table(app).rows_by_name["api"].trigger == "auto*")
        assert c.intents == [("set_trigger_mode", "api=manual"), ("set_trigger_mode", "api=auto")]


@aio
async def test_e_opens_events_and_they_update_live() -> None:
    c = scenes.failing()
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "indexer")
        assert table(app).rows_by_name["indexer"].warnings == 8
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EventsScreen))
        events = app.screen.query_one("#events-table")
        assert events.row_count == 4  # type: ignore[attr-defined]
        ev = dict(c.resources["indexer"]["events"][0], reason="Restarting", last_seen=scenes.NOW)
        c.update("indexer", events=[*c.resources["indexer"]["events"], ev])
        await wait_for(pilot, lambda: events.row_count == 5)  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert not isinstance(app.screen, EventsScreen)


@aio
async def test_l_switches_log_scope_and_follows_selection() -> None:
    app = make(scenes.idle())
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "tests")
        assert pane(app).line_count == 16
        await pilot.press("l")
        assert pane(app).scope == "tests"
        assert pane(app).texts() == [
            "Running cmd: python3 -m unittest -q test_greeting",
            "Ran 3 tests in 0.001s",
            "OK",
        ]
        await pilot.press("j")  # the scoped log follows the cursor
        assert pane(app).scope == "api"
        assert pane(app).texts()[0] == "serving on 127.0.0.1:8765"
        await pilot.press("l")
        assert pane(app).scope is None
        assert pane(app).line_count == 16


@pytest.mark.parametrize(
    ("key", "view", "count"), [("1", "build", 5), ("2", "runtime", 11), ("3", "events", 0)]
)
@aio
async def test_span_views(key: str, view: str, count: int) -> None:
    app = make(scenes.idle())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        assert pane(app).view == view
        assert pane(app).line_count == count
        assert f"{view} only" in str(pane(app).border_title)
        await pilot.press("0")
        assert pane(app).line_count == 16


@aio
async def test_search_filters_live_and_escape_clears() -> None:
    c = scenes.idle()
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        box = app.query_one("#search", Input)
        assert box.display and box.has_focus
        await pilot.press(*"job 3")
        assert pane(app).texts() == [
            "submitted job 3: greeting 'hello, Tiltfile.example'",
            '127.0.0.1 "POST /jobs HTTP/1.1" 201 (job 3)',
        ]
        await pilot.press("enter")
        assert not box.display and table(app).has_focus
        c.log("api", "late (job 3) line")
        c.log("api", "unrelated line")
        await wait_for(pilot, lambda: pane(app).line_count == 3)
        await pilot.press("slash", "escape")
        assert pane(app).search == "" and pane(app).line_count == 18


@aio
async def test_f_toggles_follow() -> None:
    c = scenes.idle()
    for i in range(200):
        c.log("api", f"request {i}")
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pane(app).line_count == 216)
        await pilot.pause(0.1)
        assert pane(app).scroll_offset.y == pane(app).max_scroll_y > 0
        await pilot.press("f")
        assert not pane(app).follow and "paused" in str(pane(app).border_title)
        paused_at = pane(app).scroll_offset.y
        c.log("api", "one more")
        await wait_for(pilot, lambda: pane(app).line_count == 217)
        await pilot.pause(0.1)
        assert pane(app).scroll_offset.y == paused_at  # paused: the view stays
        assert pane(app).max_scroll_y == paused_at + 1
        await pilot.press("f")
        await wait_for(pilot, lambda: pane(app).scroll_offset.y == paused_at + 1)
        assert "follow" in str(pane(app).border_title)


@aio
async def test_help_lists_every_binding() -> None:
    app = make(scenes.idle())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        for b in BINDINGS:
            assert b.description in text and (b.id or "") in text and b.id
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@aio
async def test_q_asks_first_then_stops() -> None:
    c = scenes.idle()
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmQuitScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmQuitScreen)
        assert c.intents == []
        await pilot.press("q", "y")
        assert c.intents == [("shutdown", "quit from the UI")]
        await wait_for(pilot, lambda: "stopping" in status_text(app))


@aio
async def test_q_confirmed_exits_when_nothing_to_wait_for() -> None:
    c = scenes.idle()
    app = make(c, exit_on_shutdown=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q", "enter")
    assert app.return_value == 0
    assert c.intents == [("shutdown", "quit from the UI")]


@aio
async def test_ctrl_c_stops_without_asking() -> None:
    c = scenes.idle()
    app = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+c")
        assert not isinstance(app.screen, ConfirmQuitScreen)
        assert c.intents == [("shutdown", "quit from the UI")]


@aio
async def test_n_walks_the_failing_tests_and_their_log_lines() -> None:
    app = make(scenes.failing_tests())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pane(app).line_count == 41)
        await select(pilot, app, "unit")
        details = str(app.query_one(DetailsBar).render())
        assert "✖ tests/test_math.py:23  test_sub_wrong: AssertionError: subtraction is off" in (
            details
        )
        assert "n: jump to a failure's log lines" in details

        def top() -> str:
            p = pane(app)
            return p.texts()[p.scroll_offset.y]

        def visible() -> list[str]:
            p = pane(app)
            y = p.scroll_offset.y
            return p.texts()[y : y + p.scrollable_content_region.height]

        await pilot.press("n")
        await pilot.pause()
        assert "failure 1/2: test_sub_wrong (tests/test_math.py:23)" in status_text(app)
        assert pane(app).scope == "unit" and not pane(app).follow
        assert top() == "[shard 2/2] ____________ TestSub.test_sub_wrong ____________"
        await pilot.press("n")
        await pilot.pause()
        assert "failure 2/2: test_uses_database (tests/test_errors.py:6)" in status_text(app)
        # Near the end: as far down as the pane scrolls, the header in view.
        assert "[shard 1/2] ____ ERROR at setup of test_uses_database ____" in visible()
        assert visible()[-1] == "ERROR: 2 of 10 test(s) failed"
        await pilot.press("n")  # round again
        await pilot.pause()
        assert "failure 1/2" in status_text(app)
        await select(pilot, app, "go-unit")
        await pilot.press("n")
        await pilot.pause()
        assert "go-unit: no failing tests" in status_text(app)


@aio
async def test_shard_spans_belong_to_the_build_view() -> None:
    app = make(scenes.failing_tests())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pane(app).line_count == 41)
        await pilot.press("1")
        await pilot.pause()
        assert pane(app).line_count == 40  # every unit line; not api's runtime line
        await pilot.press("2")
        await pilot.pause()
        assert pane(app).line_count == 1
