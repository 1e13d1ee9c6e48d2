"""The informer: list+watch, bookmarks, reconnect on drop, relist on 410, server restart."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.k8s.conftest import run
from tests.k8s.emulator import ApiError, Emulator
from tests.k8s.test_logs import eventually
from tilt.k8s.client import KubeClient
from tilt.k8s.watch import Informer, WatchEvent, watch_events

Obj = dict[str, Any]


def cm(name: str, v: str = "1") -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": v}}


class Collector:
    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.q: queue.Queue[WatchEvent] = queue.Queue()
        self.buffer: list[WatchEvent] = []
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        for ev in self.informer.events():
            self.q.put(ev)

    def _next(self, want_connection: bool) -> WatchEvent:
        for i, ev in enumerate(self.buffer):
            if (ev.type == "CONNECTION") == want_connection:
                return self.buffer.pop(i)
        while True:
            ev = self.q.get(timeout=10)
            if (ev.type == "CONNECTION") == want_connection:
                return ev
            self.buffer.append(ev)

    def take(self, n: int) -> list[tuple[str, str, str]]:
        out = []
        for _ in range(n):
            ev = self._next(False)
            name = ev.object.get("metadata", {}).get("name", "")
            out.append((ev.type, name, (ev.object.get("data") or {}).get("v", "")))
        return out

    def take_connection(self) -> WatchEvent:
        return self._next(True)

    def nothing_more(self) -> bool:
        """No further (non-connection) event arrives within a bookmark or two."""
        if any(ev.type != "CONNECTION" for ev in self.buffer):
            return False
        try:
            while True:
                ev = self.q.get(timeout=0.6)
                if ev.type != "CONNECTION":
                    return False
        except queue.Empty:
            return True

    def stop(self) -> None:
        self.informer.stop()
        self.t.join(10)


@pytest.fixture
def collector(kube: KubeClient) -> Iterator[Any]:
    made: list[Collector] = []

    def make(**kw: Any) -> Collector:
        c = Collector(Informer(kube, "v1", "ConfigMap", namespace="default", **kw))
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


def test_list_then_watch_in_order(emu: Emulator, collector: Any) -> None:
    emu.put(cm("a"))
    c = collector()
    assert c.take(1) == [("ADDED", "a", "1")]
    emu.put(cm("a", "2"))
    emu.put(cm("b"))
    emu.remove("v1", "ConfigMap", "a")
    assert c.take(3) == [("MODIFIED", "a", "2"), ("ADDED", "b", "1"), ("DELETED", "a", "2")]


def test_label_selector(emu: Emulator, collector: Any) -> None:
    c = collector(label_selector="app=web")
    emu.put({**cm("x"), "metadata": {"name": "x", "labels": {"app": "db"}}})
    emu.put({**cm("y"), "metadata": {"name": "y", "labels": {"app": "web"}}})
    assert c.take(1) == [("ADDED", "y", "1")]


def test_dropped_watch_reconnects_from_its_resource_version_without_duplicates(
    emu: Emulator, collector: Any
) -> None:
    emu.put(cm("a"))
    c = collector()
    assert c.take(1) == [("ADDED", "a", "1")]
    assert c.take_connection().connected  # the watch is open: now cut it
    emu.drop_streams()
    emu.put(cm("a", "2"))  # may land while we reconnect: must still be seen exactly once
    emu.drop_streams()
    emu.put(cm("b"))
    assert c.take(2) == [("MODIFIED", "a", "2"), ("ADDED", "b", "1")]
    assert c.nothing_more()
    assert c.informer.reconnects >= 1 and c.informer.relists == 1


def test_bookmarks_advance_the_resource_version(
    emu: Emulator, collector: Any, kube: KubeClient
) -> None:
    emu.put(cm("a"))
    c = collector()
    c.take(1)
    # other kinds move the global resourceVersion; a bookmark carries it to us
    for i in range(5):
        emu.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}"}})
    target = str(emu.rv)
    ok = threading.Event()

    def wait() -> None:
        import time

        for _ in range(200):
            if c.informer.resource_version == target:
                ok.set()
                return
            time.sleep(0.05)

    w = threading.Thread(target=wait)
    w.start()
    w.join()
    assert ok.is_set()


def test_410_gone_relists_and_reports_what_changed_while_away(
    emu: Emulator, collector: Any
) -> None:
    emu.put(cm("a"))
    emu.put(cm("b"))
    c = collector()
    assert sorted(c.take(2)) == [("ADDED", "a", "1"), ("ADDED", "b", "1")]
    # while the watch is cut, things change and the history is compacted
    emu.stop()
    emu.put(cm("a", "2"))
    emu.remove("v1", "ConfigMap", "b")
    emu.put(cm("c"))
    emu.compact()
    emu.start(emu.port)
    got = c.take(3)
    assert sorted(got) == [("ADDED", "c", "1"), ("DELETED", "b", "1"), ("MODIFIED", "a", "2")]
    assert c.nothing_more()
    assert c.informer.relists == 2


def test_a_metadata_only_cache_keeps_identities_and_still_reports_everything(
    emu: Emulator, collector: Any
) -> None:
    emu.put(cm("a"))
    emu.put(cm("b"))
    c = collector(cache_metadata_only=True)
    assert sorted(c.take(2)) == [("ADDED", "a", "1"), ("ADDED", "b", "1")]  # whole objects
    emu.put(cm("a", "2"))
    assert c.take(1) == [("MODIFIED", "a", "2")]
    cached = c.informer.cache[("default", "a")]
    assert set(cached) == {"apiVersion", "kind", "metadata"}  # no data: identity only
    assert set(cached["metadata"]) == {"name", "namespace", "uid", "resourceVersion"}
    # A replay is still recognised, and a relist still finds what went while away.
    emu.stop()
    emu.remove("v1", "ConfigMap", "b")
    emu.put(cm("c"))
    emu.compact()
    emu.start(emu.port)
    assert sorted(c.take(2)) == [("ADDED", "c", "1"), ("DELETED", "b", "")]
    assert c.nothing_more()


def test_a_watch_error_event_is_a_lost_connection_then_a_rewatch(
    emu: Emulator, collector: Any
) -> None:
    # A real server ends a watch it cannot serve with an ERROR event in an HTTP 200 stream.
    emu.put(cm("a"))
    emu.watch_errors.append(ApiError(500, "InternalError", "etcdserver: request timed out"))
    c = collector()
    assert c.take(1) == [("ADDED", "a", "1")]
    assert c.take_connection().connected
    down = c.take_connection()
    assert not down.connected and "etcdserver: request timed out" in down.error
    assert c.take_connection().connected
    emu.put(cm("b"))
    assert c.take(1) == [("ADDED", "b", "1")]
    assert c.nothing_more()
    assert c.informer.relists == 1  # the watch resumed from where it was


def test_too_large_resource_version_relists(emu: Emulator, collector: Any) -> None:
    # The server's watch cache is behind the version we hold (it restarted): 504 with cause
    # ResourceVersionTooLarge. Waiting does not help for sure; a fresh list does (client-go).
    emu.put(cm("a"))
    c = collector()
    assert c.take(1) == [("ADDED", "a", "1")]
    emu.watch_errors.append(
        ApiError(
            504,
            "Timeout",
            "Too large resource version: 99, current: 3",
            causes=[{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        )
    )
    emu.drop_streams()
    eventually(lambda: c.informer.relists == 2, "a relist after ResourceVersionTooLarge")
    emu.put(cm("a", "2"))
    assert c.take(1) == [("MODIFIED", "a", "2")]
    assert c.nothing_more()


def test_api_server_unreachable_then_back(emu: Emulator, collector: Any) -> None:
    emu.put(cm("a"))
    c = collector()
    assert c.take_connection().connected
    c.take(1)
    emu.stop()
    down = c.take_connection()
    assert not down.connected and "cannot reach" in down.error
    emu.put(cm("a", "2"))
    emu.start(emu.port)
    assert c.take_connection().connected
    assert c.take(1) == [("MODIFIED", "a", "2")]
    assert c.nothing_more()


def test_async_watch_events(emu: Emulator, kube: KubeClient) -> None:
    emu.put(cm("a"))

    async def main() -> list[str]:
        seen = []
        async for ev in watch_events(Informer(kube, "v1", "ConfigMap")):
            if ev.type == "CONNECTION":
                continue
            seen.append(f"{ev.type} {ev.object['metadata']['name']}")
            if len(seen) == 1:
                emu.put(cm("b"))
            if len(seen) == 2:
                break
        return seen

    assert run(main()) == ["ADDED a", "ADDED b"]
