"""A flood of log lines: batched into few frames, a bounded window, nothing of a quiet
resource lost when a noisy one overflows a batch."""

from __future__ import annotations

from tests.ui import scenes
from tests.ui.conftest import aio, wait_for
from tilt.logstore import LogStore
from tilt.ui.app import create_app
from tilt.ui.logpane import LogPane
from tilt.ui.scripted import ScriptedController, resource


@aio
async def test_ten_thousand_lines_arrive_in_a_few_batches_and_the_window_is_bounded() -> None:
    c = scenes.idle()
    app = create_app(c, clock=lambda: scenes.NOW, tick_s=None, log_window=1000)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        await wait_for(pilot, lambda: pane.line_count == 16)
        batches_before = app.bridge.batches
        for i in range(10_000):
            c.log("api", f"flood line {i}")
        await wait_for(pilot, lambda: pane.texts()[-1] == "flood line 9999")
        assert pane.line_count == 1000
        assert pane.texts()[0] == "flood line 9000"
        # Appended synchronously in one go: the worker posts them in one or two frames.
        batches = app.bridge.batches - batches_before
        assert batches <= 2, f"{batches} batches for one burst"
        # Following: the newest line is in view once the layout settled.
        await wait_for(pilot, lambda: pane.scroll_offset.y == pane.max_scroll_y > 900)


@aio
async def test_quiet_resource_keeps_its_lines_when_a_noisy_one_overflows_a_batch() -> None:
    c = ScriptedController([resource("quiet"), resource("noisy")], logs=LogStore())
    app = create_app(c, clock=lambda: scenes.NOW, tick_s=None, log_window=100)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        await pilot.press("j", "l")
        assert pane.scope == "quiet"
        c.log("quiet", "before the flood")
        for i in range(500):
            c.log("noisy", f"noise {i}")
        c.log("quiet", "after the flood")
        await wait_for(pilot, lambda: "after the flood" in pane.texts())
        assert pane.texts() == ["before the flood", "after the flood"]


@aio
async def test_ansi_colours_and_control_characters_are_rendered_safely() -> None:
    c = ScriptedController([resource("r")])
    c.log("r", "\x1b[31mred\x1b[0m plain\tTAB\x07bell")
    app = create_app(c, clock=lambda: scenes.NOW, tick_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        await wait_for(pilot, lambda: pane.line_count == 1)
        strip = pane.render_line(0)
        text = "".join(seg.text for seg in strip)
        assert "red plain    TABbell" in text
        assert "\x1b" not in text and "\x07" not in text
        red = next(seg for seg in strip if seg.text == "red")
        assert red.style is not None and red.style.color is not None
        assert red.style.color.number == 1  # ANSI red
