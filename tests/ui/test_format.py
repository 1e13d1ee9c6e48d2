"""Formatting of snapshot values (pure, table-driven) and the scripted engine's shape."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.helpers import BASE, local
from tilt.engine.state import ResourceState
from tilt.ui.format import age, duration, resource_row
from tilt.ui.scripted import resource

NOW = 1000.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-1, "0.0s"), (0.42, "0.4s"), (9.96, "10.0s"), (12.7, "12s"), (185, "3m05s"), (7620, "2h07m")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59.9, "59s"), (61, "1m"), (7200, "2h"), (200000, "2d")]
)
def test_age(seconds: float, text: str) -> None:
    assert age(seconds) == text


@pytest.mark.parametrize(
    ("fields", "cells"),
    [
        ({}, {"update": "-", "runtime": "-", "dirty": "", "age": "-", "details": ""}),
        (
            {"update_status": "in_progress", "started_at": NOW - 3.25},
            {"update": "⟳ updating 3.2s", "update_tone": "busy"},
        ),
        (
            {"update_status": "ok", "started_at": NOW - 70, "finished_at": NOW - 68.5},
            {"update": "✔ ok 1.5s", "age": "1m", "update_tone": "ok"},
        ),
        (
            {"update_status": "error", "error": "\nexit status 2\nmore", "finished_at": NOW},
            {"update": "✖ error", "details": "exit status 2", "update_tone": "error"},
        ),
        (
            {"runtime_status": "error", "runtime_exit_code": 137, "runtime_message": "OOMKilled"},
            {"runtime": "✖ exited 137", "details": "OOMKilled", "runtime_tone": "error"},
        ),
        ({"queued": True, "waiting_on": "waiting on dependencies: api"}, {"update": "… queued"}),
        (
            {"pending_files": ["a/b/x.py", "y.py", "z.py", "w.py"], "trigger_mode": "manual"},
            {
                "dirty": "● 4",
                "details": "changed: x.py, y.py, z.py (+1 more)",
                "dirty_manual": True,
            },
        ),
        (
            {"pending_reasons": ["Tiltfile changed"]},
            {"dirty": "●", "details": "changed: Tiltfile changed", "dirty_manual": False},
        ),
        ({"enabled": False}, {"update": "disabled"}),
        ({"kind": "docker_compose"}, {"kind": "compose"}),
        ({"links": [("http://x:1/", "app"), ("http://y/", "")]}, {"links": "app, y"}),
        (
            {"links": [("http://localhost:8081/", ""), ("https://h:2/p", "")]},
            {"links": "localhost:8081, h:2/p"},
        ),
    ],
)
def test_resource_row(fields: dict[str, Any], cells: dict[str, Any]) -> None:
    row = resource_row(resource("r", **fields), NOW)
    assert {k: getattr(row, k) for k in cells} == cells


def test_warning_badge_counts_repeats() -> None:
    events: list[dict[str, Any]] = [
        {"type": "Warning", "reason": "OOMKilled", "count": 3},
        {"type": "Normal", "reason": "Started", "count": 5},
        {"type": "Warning", "reason": "Unhealthy"},
    ]
    assert resource_row(resource("r", events=events), NOW).warnings == 4


def test_scripted_resource_has_the_engines_snapshot_shape() -> None:
    real = ResourceState(spec=local("r", watch=("src",))).snapshot(BASE)
    fake = resource("r")
    assert set(fake) == set(real)
    for part in ("update", "runtime"):
        assert set(fake[part]) == set(real[part])


POD = {
    "name": "web-7d9f-abc12",
    "phase": "Running",
    "status": "ready",
    "reason": "Ready",
    "restarts": 2,
    "ready_containers": 1,
    "total_containers": 1,
}


def test_k8s_row_shows_the_pod_and_port_forwards() -> None:
    res = resource(
        "web",
        kind="k8s",
        update_status="ok",
        runtime_status="ok",
        runtime_state="pod web-7d9f-abc12: Running, 1/1 ready, 2 restarts",
        port_forwards=[(8080, 80), (9000, 9000)],
        pod=POD,
    )
    row = resource_row(res, NOW)
    assert row.runtime == "✔ 1/1 ↻2"  # ready containers and restarts in the runtime cell
    assert row.details == "pod web-7d9f-abc12: Running, 1/1 ready, 2 restarts"
    assert row.links == ":8080→80, :9000"
    # No restarts: none shown; a failing pod keeps its mark and the reason in the details.
    failing = resource(
        "web",
        kind="k8s",
        runtime_status="error",
        runtime_message="pod web-7d9f-abc12: ImagePullBackOff",
        pod={**POD, "status": "error", "restarts": 0, "ready_containers": 0},
    )
    row = resource_row(failing, NOW)
    assert (row.runtime, row.runtime_tone) == ("✖ 0/1", "error")
    assert row.details == "pod web-7d9f-abc12: ImagePullBackOff"
    # A resource without a pod (yet): the status word as before.
    assert resource_row(resource("web", kind="k8s", runtime_status="pending"), NOW).runtime == (
        "… pending"
    )


def test_engine_snapshot_lists_declared_port_forwards() -> None:
    from tilt.model import K8sTarget, PortForward, Resource, ResourceKind, SourceLocation

    spec = Resource(
        name="web",
        kind=ResourceKind.K8S,
        location=SourceLocation(file=f"{BASE}/Tiltfile", line=1),
        k8s=K8sTarget(port_forwards=(PortForward(local_port=8080, container_port=80, name="ui"),)),
    )
    snap = ResourceState(spec).snapshot(BASE)
    assert snap["port_forwards"] == [{"local_port": 8080, "container_port": 80, "name": "ui"}]


def test_tilt_get_table_shows_the_pod_and_port_forwards() -> None:
    from typing import cast

    from tilt.commands.remote import _table
    from tilt.engine.snapshot import EngineSnapshot

    res = resource(
        "web",
        kind="k8s",
        update_status="ok",
        runtime_status="ok",
        runtime_state="pod web-7d9f-abc12: Running, 1/1 ready, 2 restarts",
        port_forwards=[(8080, 80)],
        pod=POD,
    )
    snap = cast(EngineSnapshot, {"resources": [res], "tiltfile": {"status": "ok"}})
    (head, line) = _table(snap, []).splitlines()
    assert line.endswith(
        "pod web-7d9f-abc12: Running, 1/1 ready, 2 restarts [localhost:8080→80]"
    ), line
    # The pod's name, ready containers and restarts in their own columns (as kubectl's).
    assert head.split()[:7] == ["NAME", "STATUS", "UPDATE", "RUNTIME", "POD", "READY", "RESTARTS"]
    assert line.split()[4:7] == ["web-7d9f-abc12", "1/1", "2"], line
    # Another resource without a pod: dashes there; no pod anywhere: no such columns.
    local = resource("lint", update_status="ok")
    snap = cast(EngineSnapshot, {"resources": [res, local], "tiltfile": {"status": "ok"}})
    (_, _, other) = _table(snap, []).splitlines()
    assert other.split()[4:7] == ["-", "-", "-"], other
    snap = cast(EngineSnapshot, {"resources": [local], "tiltfile": {"status": "ok"}})
    assert "POD" not in _table(snap, []).splitlines()[0]
