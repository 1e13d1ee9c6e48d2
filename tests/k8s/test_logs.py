"""Log streaming: container prefixes, reconnect without loss or duplicates, previous logs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from tests.k8s.emulator import Emulator
from tilt.k8s.client import KubeClient
from tilt.k8s.logs import LogLine, PodLogs, ResourceLogs

Obj = dict[str, Any]


def eventually(cond: Callable[[], bool], what: str) -> None:
    """Wait (bounded) for ``cond``; a failure names what never happened."""
    for _ in range(400):
        if cond():
            return
        time.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


def make_pod(emu: Emulator, containers: tuple[str, ...] = ("app",), restarts: int = 0) -> Obj:
    statuses = []
    for c in containers:
        cs: Obj = {"name": c, "ready": True, "restartCount": restarts, "state": {"running": {}}}
        if restarts:
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
        statuses.append(cs)
    return emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-1"},
            "spec": {"containers": [{"name": c, "image": "x"} for c in containers]},
            "status": {"phase": "Running", "containerStatuses": statuses},
        }
    )


class Sink:
    def __init__(self) -> None:
        self.lines: list[LogLine] = []
        self.lock = threading.Lock()

    def __call__(self, line: LogLine) -> None:
        with self.lock:
            self.lines.append(line)

    def shown(self) -> list[str]:
        with self.lock:
            return [line.display for line in self.lines]


def test_containers_followed_from_start_with_prefix_when_several(
    emu: Emulator, kube: KubeClient
) -> None:
    emu.log("web-1", "app", "app one", "app two")
    emu.log("web-1", "sidecar", "side one")
    sink = Sink()
    logs = PodLogs(kube, make_pod(emu, ("app", "sidecar")), sink)
    try:
        eventually(lambda: len(sink.shown()) == 3, "the first three lines")
        emu.log("web-1", "app", "app three")
        eventually(lambda: "[app] app three" in sink.shown(), "a followed line")
        shown = sink.shown()
        assert [s for s in shown if s.startswith("[app]")] == [
            "[app] app one",
            "[app] app two",
            "[app] app three",
        ]
        assert [s for s in shown if s.startswith("[sidecar]")] == ["[sidecar] side one"]
    finally:
        logs.stop()


def test_single_container_has_no_prefix(emu: Emulator, kube: KubeClient) -> None:
    emu.log("web-1", "app", "hello")
    sink = Sink()
    logs = PodLogs(kube, make_pod(emu), sink)
    try:
        eventually(lambda: sink.shown() == ["hello"], "hello")
    finally:
        logs.stop()


def test_reconnect_loses_nothing_and_repeats_nothing(emu: Emulator, kube: KubeClient) -> None:
    sink = Sink()
    emu.log("web-1", "app", *[f"line {i}" for i in range(5)])
    logs = PodLogs(kube, make_pod(emu), sink)
    try:
        eventually(lambda: len(sink.shown()) == 5, "5 lines")
        for round_ in range(3):
            emu.drop_streams()  # the connection drops; lines keep coming meanwhile
            emu.log("web-1", "app", *[f"line {round_}-{i}" for i in range(3)])
        emu.stop()  # the API server goes away for a moment
        emu.log("web-1", "app", "while down")
        emu.start(emu.port)
        emu.log("web-1", "app", "after")
        expected = (
            [f"line {i}" for i in range(5)]
            + [f"line {r}-{i}" for r in range(3) for i in range(3)]
            + ["while down", "after"]
        )
        eventually(lambda: sink.shown()[-1:] == ["after"], "the last line")
        assert sink.shown() == expected
    finally:
        logs.stop()


def test_previous_logs_of_a_crashed_container_once_marked(emu: Emulator, kube: KubeClient) -> None:
    # tilt attaches to a pod whose container already crashed once
    emu.log("web-1", "app", "boot", "panic: oh no")
    emu.restart_container("web-1", "app")
    emu.log("web-1", "app", "boot again")
    sink = Sink()
    logs = PodLogs(kube, make_pod(emu, restarts=1), sink)
    try:
        eventually(lambda: "boot again" in sink.shown(), "the current instance")
        assert sink.shown() == ["[previous] boot", "[previous] panic: oh no", "boot again"]
        pod = make_pod(emu, restarts=1)
        logs.update(pod)  # the same restart count again: nothing shown twice
        emu.log("web-1", "app", "more")
        eventually(lambda: "more" in sink.shown(), "more")
        assert sink.shown().count("[previous] boot") == 1
    finally:
        logs.stop()


def test_crash_while_disconnected_shows_the_missed_lines_as_previous(
    emu: Emulator, kube: KubeClient
) -> None:
    sink = Sink()
    emu.log("web-1", "app", "one")
    logs = PodLogs(kube, make_pod(emu), sink)
    try:
        eventually(lambda: sink.shown() == ["one"], "one")
        emu.stop()
        emu.log("web-1", "app", "two", "fatal: crash")
        emu.restart_container("web-1", "app")
        emu.log("web-1", "app", "restarted")
        emu.start(emu.port)
        logs.update(make_pod(emu, restarts=1))
        eventually(lambda: "restarted" in sink.shown(), "the new instance")
        assert sink.shown() == ["one", "[previous] two", "[previous] fatal: crash", "restarted"]
    finally:
        logs.stop()


def test_crash_while_following_shows_new_instance_from_its_start(
    emu: Emulator, kube: KubeClient
) -> None:
    sink = Sink()
    emu.log("web-1", "app", "one")
    logs = PodLogs(kube, make_pod(emu), sink)
    try:
        eventually(lambda: sink.shown() == ["one"], "one")
        emu.log("web-1", "app", "dying")
        eventually(lambda: "dying" in sink.shown(), "dying")
        emu.restart_container("web-1", "app")
        emu.log("web-1", "app", "born again")
        logs.update(make_pod(emu, restarts=1))
        eventually(lambda: "born again" in sink.shown(), "the new instance")
        assert sink.shown() == ["one", "dying", "born again"]
    finally:
        logs.stop()


def test_restart_seen_in_status_after_the_new_instance_streamed(
    emu: Emulator, kube: KubeClient
) -> None:
    # The kubelet updates the pod status a moment after the container restarted: the follower
    # has already reconnected to the new instance when it learns of the restart.
    sink = Sink()
    emu.log("web-1", "app", "one")
    logs = PodLogs(kube, make_pod(emu), sink)
    try:
        eventually(lambda: sink.shown() == ["one"], "one")
        emu.restart_container("web-1", "app")
        emu.log("web-1", "app", "new instance")
        eventually(
            lambda: "new instance" in sink.shown(), "the new instance without a status update"
        )
        logs.update(make_pod(emu, restarts=1))
        emu.log("web-1", "app", "later")
        eventually(lambda: "later" in sink.shown(), "later")
        assert sink.shown() == ["one", "new instance", "later"]
    finally:
        logs.stop()


def test_a_finished_container_is_read_once_not_polled(emu: Emulator, kube: KubeClient) -> None:
    pod = emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "job-1"},
            "spec": {"containers": [{"name": "m", "image": "x"}]},
            "status": {
                "phase": "Succeeded",
                "containerStatuses": [
                    {
                        "name": "m",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                    }
                ],
            },
        }
    )
    emu.log("job-1", "m", "migrated")
    emu.end_logs("job-1", "m")
    sink = Sink()
    logs = PodLogs(kube, pod, sink)
    try:
        eventually(lambda: sink.shown() == ["migrated"], "the job's output")
        threading.Event().wait(0.5)  # a poller would have asked again by now
        assert sum(1 for _, p in emu.requests if "/log" in p) == 1
    finally:
        logs.stop()


def test_resource_logs_follow_the_pods_it_is_given(emu: Emulator, kube: KubeClient) -> None:
    a = make_pod(emu)
    b = emu.put({**a, "metadata": {"name": "web-2"}})
    emu.log("web-1", "app", "from one")
    emu.log("web-2", "app", "from two")
    sink = Sink()
    rl = ResourceLogs(kube, sink)
    try:
        rl.sync([a, b])
        eventually(lambda: sorted(sink.shown()) == ["from one", "from two"], "both pods")
        rl.sync([b])  # web-1 replaced: no longer followed
        emu.log("web-1", "app", "ignored")
        emu.log("web-2", "app", "still")
        eventually(lambda: "still" in sink.shown(), "still")
        assert "ignored" not in sink.shown() and len(rl.pods) == 1
    finally:
        rl.stop()
