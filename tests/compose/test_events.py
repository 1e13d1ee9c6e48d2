"""Docker container events -> typed events, without Docker: raw events as the engine sends them."""

from __future__ import annotations

from typing import Any

import pytest

from tilt.docker.events import EventKeeper, EventTranslator


def raw(action: str, t: float, **attrs: str) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "Actor": {
            "ID": "c0ffee",
            "Attributes": {
                "name": "proj-hog-1",
                "com.docker.compose.service": "hog",
                "com.docker.compose.project": "proj",
                **attrs,
            },
        },
        "timeNano": int(t * 1e9),
    }


@pytest.mark.parametrize(
    "order",
    [
        ["oom", "die"],  # the usual order
        ["die", "oom"],  # the kernel's notification reached Docker after the exit
    ],
)
def test_oom_kill_is_the_newest_problem_in_either_order(order: list[str]) -> None:
    tr = EventTranslator()
    keeper = EventKeeper()
    for i, action in enumerate(order):
        ev = tr.translate(raw(action, 100.0 + i * 0.01, exitCode="137"))
        if ev is not None:
            keeper.add(ev)
    assert keeper.newest_problem().startswith("OOMKilled: ")
    assert all(e.type == "Warning" for e in keeper.events)


def test_die_after_our_kill_is_a_stop_not_a_crash() -> None:
    tr = EventTranslator()
    assert tr.translate(raw("kill", 100.0, signal="15")) is None
    ev = tr.translate(raw("die", 100.5, exitCode="143"))
    assert ev is not None
    assert (ev.type, ev.reason) == ("Normal", "Stopped")


def test_crash_then_start_is_a_restart_with_the_exit_code() -> None:
    tr = EventTranslator()
    died = tr.translate(raw("die", 100.0, exitCode="1"))
    started = tr.translate(raw("start", 101.0))
    assert died is not None and started is not None
    assert (died.reason, died.message) == ("Died", "exited with code 1")
    assert started.reason == "Restarted"
    assert "after exiting with code 1" in started.message
