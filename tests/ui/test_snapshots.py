"""Screens at 120x40 compared with stored SVGs (any visual change fails).

After an intended change, look at the new screens and store them with
``TILT_UPDATE_SNAPSHOTS=1 uv run pytest tests/ui/test_snapshots.py``; a failing
run leaves the new screen beside the old as ``<name>.actual.svg``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ui import scenes
from tests.ui.conftest import aio, wait_for
from tilt.ui.app import create_app
from tilt.ui.logpane import LogPane
from tilt.ui.scripted import ScriptedController
from tilt.ui.widgets import EventsScreen, ResourceTable

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("TILT_UPDATE_SNAPSHOTS") == "1"

# name -> (scene, resource to select, keys to press after selecting, expected log lines)
CASES: dict[str, tuple[Callable[[], ScriptedController], str, tuple[str, ...], int]] = {
    "idle": (scenes.idle, "(Tiltfile)", (), 16),
    "parallel_builds": (scenes.parallel_builds, "frontend", (), 25),
    "dirty_manual": (scenes.dirty_manual, "report", (), 16),
    "failing_events": (scenes.failing, "indexer", ("e",), 3),
    # n: the log pane jumps to the first failing test's own lines (in its shard's span).
    "failing_tests": (scenes.failing_tests, "unit", ("n",), 41),
    "kubernetes": (scenes.kubernetes, "web", (), 4),
}


async def screenshot(name: str) -> str:
    scene, selected, keys, lines = CASES[name]
    app = create_app(scene(), clock=lambda: scenes.NOW, tick_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(ResourceTable)
        await wait_for(pilot, lambda: selected in table.rows_by_name)
        await wait_for(pilot, lambda: app.query_one(LogPane).line_count == lines)
        while table.selected != selected:
            await pilot.press("j")
        await pilot.press(*keys)
        if "e" in keys:
            await wait_for(pilot, lambda: isinstance(app.screen, EventsScreen))
        await pilot.pause(0.1)
        await pilot.wait_for_scheduled_animations()
        return app.export_screenshot(title="tilt")


@pytest.mark.parametrize("name", sorted(CASES))
@aio
async def test_screen(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Colours are part of the screen: the environment must not turn them off.
    for var in ("NO_COLOR", "TEXTUAL_COLOR_SYSTEM", "TEXTUAL_THEME"):
        monkeypatch.delenv(var, raising=False)
    svg = await screenshot(name)
    stored = SNAPSHOTS / f"{name}.svg"
    actual = SNAPSHOTS / f"{name}.actual.svg"
    if UPDATE or not stored.exists():
        if not UPDATE:
            actual.write_text(svg)
            pytest.fail(f"no stored screen {stored.name}; review {actual.name} and store it")
        stored.write_text(svg)
        actual.unlink(missing_ok=True)
        return
    if svg != stored.read_text():
        actual.write_text(svg)
        pytest.fail(
            f"screen {name} changed: compare {actual} with {stored} "
            "(TILT_UPDATE_SNAPSHOTS=1 stores the new one)"
        )
    actual.unlink(missing_ok=True)
