"""Pure parts of tilt.k8s.events: parsing, rendering, line keys, registries."""

from __future__ import annotations

from typing import Any

import pytest

from tilt.k8s.events import (
    EventRecord,
    EventsView,
    QuietRules,
    line_key,
    parse_event,
    registry_of,
    status_line,
)
from tilt.k8s.monitor import PodsView
from tilt.k8s.pods import PodPhase, PodStatus, Readiness


@pytest.mark.parametrize(
    ("ref", "registry"),
    [
        ("localhost:5000/web:tilt-1", "localhost:5000"),
        ("localhost/web", "localhost"),
        ("ghcr.io/acme/web@sha256:abc", "ghcr.io"),
        ("acme/web:1", "docker.io"),
        ("busybox", "docker.io"),
        ("127.0.0.1:5001/x", "127.0.0.1:5001"),
    ],
)
def test_registry_of(ref: str, registry: str) -> None:
    assert registry_of(ref) == registry


def test_line_keys_are_short_stable_and_distinct() -> None:
    a = line_key(("uid-1", "", "Warning", "BackOff", "m" * 5000))
    assert a == line_key(("uid-1", "", "Warning", "BackOff", "m" * 5000))
    assert len(a) < 40
    assert a != line_key(("uid-1", "", "Warning", "BackOff", "m" * 4999))
    assert a != line_key(("uid-1", "app", "Warning", "BackOff", "m" * 5000))


def test_an_append_only_sink_gets_a_keyed_line_first_then_at_doublings() -> None:
    from tilt.k8s.session import AppendOnlyEventLog

    out: list[tuple[str, str]] = []
    log = AppendOnlyEventLog(lambda r, line: out.append((r, line)))
    for n in range(1, 101):
        log("web", f"x{n}", "k")
    log("web", "explanation", "")
    log("db", "x1", "k")  # another resource's key is another line
    assert out == [("web", f"x{n}") for n in (1, 2, 3, 5, 9, 17, 33, 65)] + [
        ("web", "explanation"),
        ("db", "x1"),
    ]


def test_parse_core_v1_and_events_k8s_io() -> None:
    core: dict[str, Any] = {
        "metadata": {"uid": "e1", "namespace": "ns"},
        "involvedObject": {"kind": "Pod", "name": "p", "uid": "pu", "namespace": "ns"},
        "type": "Warning",
        "reason": "BackOff",
        "message": " m \n",
        "count": 3,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:09Z",
    }
    ev = parse_event(core)
    assert ev is not None
    assert (ev.object, ev.count, ev.message, ev.last_seen - ev.first_seen) == ("pod p", 3, "m", 9)
    new = {
        "metadata": {"uid": "e2", "namespace": "ns"},
        "regarding": {"kind": "Node", "name": "n1", "uid": "nu"},
        "type": "Normal",
        "reason": "NodeHasDiskPressure",
        "note": "disk",
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "series": {"count": 5, "lastObservedTime": "2026-01-01T00:01:00.000000Z"},
    }
    ev2 = parse_event(new)
    assert ev2 is not None
    assert (ev2.object, ev2.count, ev2.message, ev2.last_seen - ev2.first_seen) == (
        "node n1",
        5,
        "disk",
        60,
    )
    assert parse_event({"metadata": {}}) is None


def test_record_text_and_json() -> None:
    rec = EventRecord(
        resource="web",
        type="Warning",
        reason="Unhealthy",
        object="pod web-1",
        message="Readiness probe failed",
        count=7,
        first_seen=100.0,
        last_seen=200.0,
    )
    assert rec.summary(now=203.0) == "Unhealthy: Readiness probe failed (x7, last 3s ago)"
    assert rec.summary(now=200.0 + 125).endswith("(x7, last 2m ago)")
    view = EventsView(events=(rec,), reason=rec.summary(203.0), reason_event=rec)
    (d,) = view.as_list(now=203.0)
    assert d == {
        "type": "Warning",
        "reason": "Unhealthy",
        "object": "pod web-1",
        "message": "Readiness probe failed",
        "count": 7,
        "first_seen": 100.0,
        "last_seen": 200.0,
        "age_s": 3.0,
        "current": True,
        "quiet": False,
        "explanation": "",
        "container": "",
    }
    pods = PodsView(
        pods=(
            PodStatus(
                name="web-1", namespace="d", uid="u", phase=PodPhase.RUNNING, reason="Running"
            ),
        ),
        readiness=Readiness.WAITING,
        reason="",
        forward_target=None,
    )
    assert status_line(pods, view).startswith("Running — Unhealthy: Readiness probe failed (x7")
    assert status_line(pods, EventsView(events=())) == "Running — Running"
    assert status_line(None, None) == "Pending"


def test_quiet_rules() -> None:
    rules = QuietRules.from_pairs([("", "Pulled"), ("web", "Unhealthy")])
    assert rules.quiet("api", "Pulled") and rules.quiet("web", "Unhealthy")
    assert not rules.quiet("api", "Unhealthy")


def test_taints_of_node_conditions_are_explained() -> None:
    from tilt.k8s.events import taint_explanation

    msg = (
        "0/1 nodes are available: 1 node(s) had untolerated taint "
        "{node.kubernetes.io/disk-pressure: }. preemption: 0/1 nodes are available"
    )
    assert taint_explanation(msg) == "the node is short of disk (DiskPressure)"
    assert taint_explanation("0/1 nodes are available: 1 Insufficient cpu.") == ""


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        (
            "dial tcp 127.0.0.1:5999: connect: connection refused",
            "nothing answers on localhost:5999 there",
        ),
        ("localhost:5999/web:tilt-1: not found", "was it pushed there?"),
        ("pull access denied, repository does not exist", "credentials"),
        ("i/o timeout", ""),
    ],
)
def test_pull_explanations(message: str, hint: str) -> None:
    from tilt.k8s.events import pull_explanation

    out = pull_explanation("localhost:5999/web:tilt-1", message)
    assert out.startswith("image localhost:5999/web:tilt-1 from registry localhost:5999")
    assert hint in out
    if not hint:
        assert out == "image localhost:5999/web:tilt-1 from registry localhost:5999"
