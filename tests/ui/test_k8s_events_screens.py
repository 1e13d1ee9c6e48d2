"""Kubernetes events on screen: a failing resource's row and its events view (120x40 SVGs).

The engine's Kubernetes runner is not merged yet, so the scene is scripted the way the runner
is meant to fill the snapshot (docs/kubernetes.md, "the seam"): the runtime message is
``tilt.k8s.events.status_line(pods, events)``, the events are ``EventsView.as_list()`` of real
``EventRecord``s, and the log lines are what ``EventMonitor`` writes. Store new screens with
``TILT_UPDATE_SNAPSHOTS=1 uv run pytest tests/ui/test_k8s_events_screens.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.ui.conftest import aio, wait_for
from tests.ui.scenes import NOW
from tilt.k8s.events import EventRecord, EventsView, status_line
from tilt.k8s.monitor import PodsView
from tilt.k8s.pods import PodPhase, PodStatus, Readiness
from tilt.ui.app import create_app
from tilt.ui.logpane import LogPane
from tilt.ui.scripted import ScriptedController, resource
from tilt.ui.widgets import EventsScreen, ResourceTable

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("TILT_UPDATE_SNAPSHOTS") == "1"


def rec(reason: str, message: str, ago_s: float, **kw: object) -> EventRecord:
    args: dict[str, object] = {
        "resource": "web",
        "type": "Warning",
        "object": "pod web-7d9f6-x2k4q",
        "count": 1,
        "first_seen": NOW - ago_s,
        "last_seen": NOW - ago_s,
        "object_kind": "Pod",
        "object_uid": "new",
    }
    args.update(kw)
    return EventRecord(reason=reason, message=message, **args)  # type: ignore[arg-type]


def web_events() -> EventsView:
    ref = "localhost:5999/web:tilt-3f2a"
    events = (
        rec("BackOff", f'Back-off pulling image "{ref}"', 4, count=7, first_seen=NOW - 95),
        rec("Failed", "Error: ErrImagePull", 40, count=3, first_seen=NOW - 100),
        rec(
            "Failed",
            f'Failed to pull image "{ref}": dial tcp 127.0.0.1:5999: connect: connection refused',
            40,
            count=3,
            first_seen=NOW - 100,
            explanation=f"image {ref} from registry localhost:5999",
        ),
        rec("Pulling", f'Pulling image "{ref}"', 40, type="Normal", count=3),
        rec(
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 500",
            60,
            count=12,
            quiet=True,
        ),
        rec(
            "BackOff",
            "Back-off restarting failed container app in pod web-5c1e8-abcde",
            70,
            count=9,
            object="pod web-5c1e8-abcde",
            object_uid="old",
            current=False,
        ),
        rec("Scheduled", "Successfully assigned default/web-7d9f6-x2k4q to n1", 100, type="Normal"),
        rec(
            "ScalingReplicaSet",
            "Scaled up replica set web-7d9f6 to 1",
            101,
            type="Normal",
            object="deployment web",
            object_kind="Deployment",
        ),
    )
    top = events[0]
    return EventsView(events=events, reason=top.summary(NOW), reason_event=top)


def pods(name: str, phase: PodPhase, reason: str) -> PodsView:
    pod = PodStatus(name=name, namespace="default", uid="new", phase=phase, reason=reason)
    return PodsView(pods=(pod,), readiness=Readiness.WAITING, reason="", forward_target=None)


def scene() -> ScriptedController:
    web = web_events()
    db_reason = rec(
        "FailedScheduling",
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available.",
        8,
        resource="db",
        object="pod db-0",
        count=4,
    )
    db = EventsView(events=(db_reason,), reason=db_reason.summary(NOW), reason_event=db_reason)
    c = ScriptedController(
        [
            resource(
                "api",
                kind="k8s",
                update_status="ok",
                update_count=1,
                started_at=NOW - 130,
                finished_at=NOW - 126,
                runtime_status="ok",
                links=[("http://127.0.0.1:8080/", "api")],
            ),
            resource(
                "web",
                kind="k8s",
                update_status="ok",
                update_count=2,
                started_at=NOW - 104,
                finished_at=NOW - 101,
                runtime_status="error",
                runtime_message=status_line(
                    pods("web-7d9f6-x2k4q", PodPhase.ERROR, "ImagePullBackOff"), web
                ),
                events=web.as_list(NOW),
            ),
            resource(
                "db",
                kind="k8s",
                update_status="ok",
                update_count=1,
                started_at=NOW - 130,
                finished_at=NOW - 128,
                runtime_status="pending",
                runtime_message=status_line(pods("db-0", PodPhase.PENDING, "Unschedulable"), db),
                events=db.as_list(NOW),
            ),
        ],
        tiltfile="/project/Tiltfile",
    )
    ref = "localhost:5999/web:tilt-3f2a"
    for line in (
        "[event] Scheduled: Successfully assigned default/web-7d9f6-x2k4q to n1",
        f'[event] Pulling: Pulling image "{ref}"',
        f'[event] Failed: Failed to pull image "{ref}": dial tcp 127.0.0.1:5999: connect: '
        "connection refused",
        f"[event]   image {ref} from registry localhost:5999",
        "[event] Failed: Error: ErrImagePull",
        # Repeats: one line each, its count updated in place (the log store's keyed lines).
        f'[event] BackOff: Back-off pulling image "{ref}" (x4, last 11:59:52)',
        "[event] pod web-5c1e8-abcde (old rollout): BackOff: Back-off restarting failed "
        "container app in pod web-5c1e8-abcde (x8, last 11:58:40)",
    ):
        c.log("web", line, "event")
    return c


CASES = {"k8s_failing_row": (), "k8s_events": ("e",)}


async def screenshot(keys: tuple[str, ...]) -> str:
    app = create_app(scene(), clock=lambda: NOW, tick_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(ResourceTable)
        await wait_for(pilot, lambda: "web" in table.rows_by_name)
        await wait_for(pilot, lambda: app.query_one(LogPane).line_count == 7)
        while table.selected != "web":
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
    for var in ("NO_COLOR", "TEXTUAL_COLOR_SYSTEM", "TEXTUAL_THEME"):
        monkeypatch.delenv(var, raising=False)
    svg = await screenshot(CASES[name])
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
        pytest.fail(f"screen {name} changed: compare {actual} with {stored}")
    actual.unlink(missing_ok=True)


def test_the_row_says_why() -> None:
    """What the row's details show for these resources (the same text as the screens)."""
    from tilt.ui.format import resource_row

    c = scene()
    web = resource_row(c.resources["web"], NOW)
    assert web.details == (
        'Error — BackOff: Back-off pulling image "localhost:5999/web:tilt-3f2a" (x7, last 4s ago)'
    )
    db = resource_row(c.resources["db"], NOW)
    assert db.details.startswith(
        "Pending — FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu."
    )


def test_old_rollout_and_quiet_warnings_are_not_counted() -> None:
    from tilt.ui.format import resource_row

    c = scene()
    # BackOff x7 + Failed x3 + Failed x3; the quiet Unhealthy x12 and the old pod's x9 are not.
    assert resource_row(c.resources["web"], NOW).warnings == 13


@aio
async def test_o_hides_and_shows_older_rollouts() -> None:
    app = create_app(scene(), clock=lambda: NOW, tick_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(ResourceTable)
        await wait_for(pilot, lambda: "web" in table.rows_by_name)
        while table.selected != "web":
            await pilot.press("j")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EventsScreen))
        events = app.screen.query_one("#events-table")
        assert events.row_count == 8  # type: ignore[attr-defined]
        await pilot.press("o")
        await wait_for(pilot, lambda: events.row_count == 7)  # type: ignore[attr-defined]
        await pilot.press("o")
        await wait_for(pilot, lambda: events.row_count == 8)  # type: ignore[attr-defined]
