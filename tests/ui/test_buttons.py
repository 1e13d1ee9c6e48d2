"""Buttons in the TUI: listed in the details, `b` opens them, a form asks for their inputs."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, Input, OptionList, Select

from tests.ui import scenes
from tests.ui.conftest import aio, wait_for
from tilt.buttons import actions
from tilt.tiltfile import load_tiltfile
from tilt.ui.app import TiltApp, create_app
from tilt.ui.buttons import ButtonFormScreen, ButtonsBar, ButtonsScreen
from tilt.ui.scripted import ScriptedController, resource
from tilt.ui.widgets import ResourceTable, StatusBar

FIXTURE = Path(__file__).parents[1] / "tiltfile" / "fixtures" / "v1alpha1" / "Tiltfile"
SIZE = (120, 40)


def _app() -> tuple[TiltApp, ScriptedController]:
    buttons = actions(load_tiltfile(str(FIXTURE)))  # db-seed (inputs, confirmation), hello
    c = ScriptedController([resource("db"), resource("web")], buttons=buttons)
    return create_app(c, clock=lambda: scenes.NOW, tick_s=None), c


async def _select(pilot, app: TiltApp, name: str) -> None:  # type: ignore[no-untyped-def]
    table = app.query_one(ResourceTable)
    await wait_for(pilot, lambda: name in table.rows_by_name)
    while table.selected != name:
        await pilot.press("j")


@aio
async def test_details_list_the_buttons_of_the_selected_resource() -> None:
    app, _ = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, app, "db")
        bar = app.query_one(ButtonsBar)
        assert bar.display
        assert str(bar.render()) == "Buttons (b): Seed the database · Hello"
        await _select(pilot, app, "web")
        assert not app.query_one(ButtonsBar).display
        await pilot.press("b")
        assert "web has no buttons" in str(app.query_one(StatusBar).render())


@aio
async def test_button_without_inputs_runs_at_enter() -> None:
    app, c = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, app, "db")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ButtonsScreen))
        await pilot.press("down", "enter")  # the second button: hello
        await wait_for(pilot, lambda: ("button", "db/hello ") in c.intents)
        assert not isinstance(app.screen, ButtonsScreen)
        assert "db: running button Hello" in str(app.query_one(StatusBar).render())


@aio
async def test_form_asks_for_inputs_with_their_defaults_and_runs() -> None:
    app, c = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, app, "db")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ButtonsScreen))
        assert app.screen.query_one(OptionList).option_count == 2
        await pilot.press("enter")  # db-seed: inputs and confirmation, so a form
        await wait_for(pilot, lambda: isinstance(app.screen, ButtonFormScreen))
        form = app.screen
        assert isinstance(form, ButtonFormScreen)
        assert form.values() == {"ROWS": "100", "RESET": "false", "TABLE": "users"}
        form.query_one("#input-ROWS", Input).value = "42"
        form.query_one("#input-RESET", Checkbox).value = True
        form.query_one("#input-TABLE", Select).value = "orders"
        await pilot.click("#button-run")
        await wait_for(pilot, lambda: any(k == "button" for k, _ in c.intents))
        assert c.intents[-1] == (
            "button",
            "db/db-seed ROWS=42 RESET=yes TABLE=orders TOKEN=s3cret",
        )
        assert not isinstance(app.screen, ButtonFormScreen | ButtonsScreen)


@aio
async def test_escape_closes_without_running() -> None:
    app, c = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, app, "db")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ButtonsScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ButtonFormScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ButtonsScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ButtonsScreen))
        assert not [i for i in c.intents if i[0] == "button"]


@aio
async def test_form_focuses_the_first_field_and_enter_runs() -> None:
    app, c = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, app, "db")
        await pilot.press("b", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ButtonFormScreen))
        await pilot.pause(0.05)
        assert app.screen.focused is not None and app.screen.focused.id == "input-ROWS"
        await pilot.press("end", "backspace", "backspace", "backspace", "7", "enter")
        await wait_for(pilot, lambda: any(k == "button" for k, _ in c.intents))
        assert c.intents[-1] == ("button", "db/db-seed ROWS=7 RESET=no TABLE=users TOKEN=s3cret")
