"""A keyed log line the store updates in place (a repeated Kubernetes event's count) is
redrawn where it is in the log pane: no new line."""

from __future__ import annotations

from tests.ui import scenes
from tests.ui.conftest import aio, wait_for
from tilt.logstore import LogStore
from tilt.ui.app import create_app
from tilt.ui.logpane import LogPane
from tilt.ui.scripted import ScriptedController, resource

MSG = "[event] Unhealthy: Readiness probe failed"


def row_text(pane: LogPane, y: int) -> str:
    return "".join(seg.text for seg in pane.render_line(y))


@aio
async def test_an_updated_event_line_shows_its_new_count_in_place() -> None:
    logs = LogStore()
    c = ScriptedController([resource("web")], logs=logs)
    app = create_app(c, clock=lambda: scenes.NOW, tick_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        logs.append("web", "starting", span="runtime")
        logs.append("web", MSG, span="event", key="probe")
        logs.append("web", "listening on :8000", span="runtime")
        await wait_for(pilot, lambda: pane.line_count == 3, timeout_s=30)
        for n in range(2, 8):
            logs.append("web", f"{MSG} (x{n}, last 14:03:0{n})", span="event", key="probe")
        want = f"{MSG} (x7, last 14:03:07)"
        await wait_for(pilot, lambda: pane.texts()[1] == want, timeout_s=30)
        assert pane.texts() == ["starting", want, "listening on :8000"]
        assert want in row_text(pane, 1)  # what is drawn, not only what is held
        assert "listening on :8000" in row_text(pane, 2)

        # Scoped to the resource's events view: the same, and a later update too.
        await pilot.press("j", "l", "3")
        await wait_for(pilot, lambda: pane.texts() == [want], timeout_s=30)
        logs.append("web", f"{MSG} (x8, last 14:03:08)", span="event", key="probe")
        await wait_for(pilot, lambda: pane.texts() == [f"{MSG} (x8, last 14:03:08)"], timeout_s=30)
        assert "(x8, last 14:03:08)" in row_text(pane, 0)


@aio
async def test_more_updates_than_a_batch_holds_re_read_the_store() -> None:
    logs = LogStore()
    c = ScriptedController([resource("web")], logs=logs)
    app = create_app(c, clock=lambda: scenes.NOW, tick_s=None, log_window=10)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        for i in range(15):
            logs.append("web", f"event {i} (x1)", span="event", key=f"e{i}")
        await wait_for(pilot, lambda: pane.texts()[-1:] == ["event 14 (x1)"], timeout_s=30)
        # Fifteen lines updated in one go: more than the batch's ten; re-read from the store.
        for i in range(15):
            logs.append("web", f"event {i} (x2)", span="event", key=f"e{i}")
        want = [f"event {i} (x2)" for i in range(5, 15)]
        await wait_for(pilot, lambda: pane.texts() == want, timeout_s=30)
        assert app.bridge._reread is False  # the re-read happened and was reset
