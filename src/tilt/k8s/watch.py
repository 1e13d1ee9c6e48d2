"""A watch that survives: list, then watch from the list's resourceVersion, with bookmarks.

A dropped connection reconnects from the last resourceVersion seen (events or bookmarks);
``410 Gone`` (the history was compacted) relists and reconciles against what was already
reported, so a consumer sees each change once: ADDED for objects it has not seen, MODIFIED only
for a newer resourceVersion, DELETED for objects that vanished while we were away. This is the
informer pattern of client-go, which Tilt's watches use. Pods (this issue) and Events (issue 12)
share it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tilt.k8s.client import ApiError, KubeClient, iterate_in_thread

__all__ = ["Informer", "WatchEvent", "watch_events"]

Obj = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class WatchEvent:
    """One change: ``type`` is ADDED, MODIFIED or DELETED; or CONNECTION for link state.

    For CONNECTION events ``connected`` says whether the watch is live and ``error`` why not.
    """

    type: str
    object: Obj
    connected: bool = True
    error: str = ""


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name", "")


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class Informer:
    """Blocking list+watch of one kind (optionally one namespace and a label selector).

    Run :meth:`events` on a thread; :meth:`stop` from any thread ends it.
    """

    def __init__(
        self,
        kube: KubeClient,
        api_version: str,
        kind: str,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        watch_timeout_s: int = 300,
        backoff_max_s: float = 5.0,
        cache_metadata_only: bool = False,
    ) -> None:
        self.kube = kube
        self.api_version, self.kind = api_version, kind
        self.namespace = namespace
        self.label_selector, self.field_selector = label_selector, field_selector
        self.watch_timeout_s = watch_timeout_s
        self.backoff_max_s = backoff_max_s
        #: What the informer knows of each object: whole, or (``cache_metadata_only``, for a
        #: consumer that keeps what it needs itself, such as the event monitor) only its kind
        #: and identity (name, namespace, uid, resourceVersion): a tenth of an Event's memory.
        #: A DELETED found by a relist then carries only that.
        self.cache: dict[tuple[str, str], Obj] = {}
        self._slim = cache_metadata_only
        self.resource_version = ""
        self.relists = 0
        self.reconnects = 0
        self._stopped = threading.Event()
        self._stream: Any = None
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    def _query(self) -> dict[str, Any]:
        return {"labelSelector": self.label_selector, "fieldSelector": self.field_selector}

    def _relist(self) -> Iterator[WatchEvent]:
        info = self.kube.resource(self.api_version, self.kind)
        data = self.kube.request("GET", info.path(self.namespace), query=self._query())
        self.relists += 1
        items = data.get("items") or []
        # A list's items have no kind/apiVersion; give them back.
        for item in items:
            item.setdefault("kind", self.kind)
            item.setdefault("apiVersion", self.api_version)
        fresh = {_key(o): o for o in items}
        for k, gone in list(self.cache.items()):
            if k not in fresh:
                del self.cache[k]
                yield WatchEvent(type="DELETED", object=gone)
        for k, obj in fresh.items():
            old = self.cache.get(k)
            if old is None:
                self.cache[k] = self._kept(obj)
                yield WatchEvent(type="ADDED", object=obj)
            elif old.get("metadata", {}).get("uid") != obj.get("metadata", {}).get("uid"):
                self.cache[k] = self._kept(obj)  # deleted and re-created while we were away
                yield WatchEvent(type="DELETED", object=old)
                yield WatchEvent(type="ADDED", object=obj)
            elif _rv(obj) > _rv(old):
                self.cache[k] = self._kept(obj)
                yield WatchEvent(type="MODIFIED", object=obj)
        self.resource_version = str(data.get("metadata", {}).get("resourceVersion") or "")

    def _kept(self, obj: Obj) -> Obj:
        """What the cache holds of ``obj``."""
        if not self._slim:
            return obj
        meta = obj.get("metadata") or {}
        return {
            "apiVersion": obj.get("apiVersion", self.api_version),
            "kind": obj.get("kind", self.kind),
            "metadata": {
                k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta
            },
        }

    def _apply(self, etype: str, obj: Obj) -> WatchEvent | None:
        k = _key(obj)
        old = self.cache.get(k)
        if etype == "DELETED":
            if old is None:
                return None
            del self.cache[k]
            return WatchEvent(type="DELETED", object=obj)
        if old is not None and old.get("metadata", {}).get("uid") == obj.get("metadata", {}).get(
            "uid"
        ):
            if _rv(obj) <= _rv(old):
                return None  # already reported (a replay after reconnect)
            self.cache[k] = self._kept(obj)
            return WatchEvent(type="MODIFIED", object=obj)
        self.cache[k] = self._kept(obj)
        return WatchEvent(type="ADDED" if old is None else "MODIFIED", object=obj)

    def events(self) -> Iterator[WatchEvent]:
        """Changes, forever (until :meth:`stop`), with CONNECTION events when the link changes."""
        backoff = 0.1
        connected: bool | None = None
        info = None
        while not self._stopped.is_set():
            try:
                if info is None:
                    info = self.kube.resource(self.api_version, self.kind)
                if not self.resource_version:
                    yield from self._relist()
                query = {
                    **self._query(),
                    "watch": "true",
                    "resourceVersion": self.resource_version,
                    "allowWatchBookmarks": "true",
                    "timeoutSeconds": str(self.watch_timeout_s),
                }
                stream = self.kube.open_stream(
                    info.path(self.namespace), query=query, timeout_s=self.watch_timeout_s + 30
                )
                with self._lock:
                    self._stream = stream
                if self._stopped.is_set():
                    stream.close()
                    return
                if connected is not True:
                    connected = True
                    yield WatchEvent(type="CONNECTION", object={}, connected=True)
                backoff = 0.1
                for line in stream.lines():
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    etype, obj = ev.get("type"), ev.get("object") or {}
                    if etype == "ERROR":
                        if _needs_relist(obj):
                            self.resource_version = ""
                            break
                        # Anything else the server could not serve (etcd timing out ...):
                        # said as a lost connection, and retried with backoff.
                        raise ApiError(
                            int(obj.get("code") or 500),
                            str(obj.get("reason") or ""),
                            str(obj.get("message") or "watch ended with an error"),
                        )
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        self.resource_version = rv
                    if etype == "BOOKMARK":
                        continue
                    out = self._apply(str(etype), obj)
                    if out is not None:
                        yield out
                if not self._stopped.is_set():
                    self.reconnects += 1
            except ApiError as e:
                if self._stopped.is_set():
                    return
                if e.gone:
                    self.resource_version = ""
                    continue
                if connected is not False:
                    connected = False
                    yield WatchEvent(type="CONNECTION", object={}, connected=False, error=str(e))
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
            except Exception as e:  # a connection cut mid-stream (urllib3 ProtocolError ...)
                if self._stopped.is_set():
                    return
                self.reconnects += 1
                if connected is not False and not _is_benign_cut(e):
                    connected = False
                    yield WatchEvent(type="CONNECTION", object={}, connected=False, error=str(e))
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
            finally:
                with self._lock:
                    self._stream = None


def _needs_relist(status: Obj) -> bool:
    """A watch ERROR that only a fresh list cures (client-go's reflector relists on both).

    410 ``Expired``/``Gone``: the resourceVersion was compacted away. 504 with cause
    ``ResourceVersionTooLarge``: the server's watch cache is behind the version we hold (an
    API server restarted, an etcd restored).
    """
    if status.get("code") == 410:
        return True
    causes = (status.get("details") or {}).get("causes") or []
    return any(isinstance(c, dict) and c.get("reason") == "ResourceVersionTooLarge" for c in causes)


def _is_benign_cut(e: Exception) -> bool:
    # The server ended a chunked stream abruptly: reconnecting is enough.
    name = type(e).__name__
    return name in ("ProtocolError", "IncompleteRead", "InvalidChunkLength")


async def watch_events(
    informer: Informer, *, on_stop: Callable[[], None] | None = None
) -> AsyncIterator[WatchEvent]:
    """The informer's events in the asyncio loop (its blocking loop runs on a thread)."""

    def open_iter() -> tuple[Iterator[WatchEvent], Callable[[], None]]:
        return informer.events(), informer.stop

    try:
        async for ev in iterate_in_thread(open_iter):
            yield ev
    finally:
        informer.stop()
        if on_stop is not None:
            with contextlib.suppress(Exception):
                on_stop()


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll ``predicate`` (for deletions the API has no event for yet); True when it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()
