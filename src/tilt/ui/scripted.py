"""A scripted engine: a real `Controller` that replays snapshots and log lines.

Tests, the screenshot and the benchmarks drive the TUI with it instead of a
running engine: each scripted change mutates the snapshot and notifies the
observers exactly as the engine does after a batch of events, and log lines go
through a real `LogStore`. Intents (trigger, cancel, trigger mode, shutdown)
are recorded in `ScriptedController.intents` and applied to the snapshot the
way the engine's state would apply them, so a test sees the screen react.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from tilt.buttons import ButtonAction
from tilt.logstore import LogStore

if TYPE_CHECKING:
    from tilt.engine.snapshot import EngineSnapshot

__all__ = ["Frame", "ScriptedController", "resource"]


def resource(
    name: str,
    *,
    kind: str = "local",
    labels: Sequence[str] = (),
    resource_deps: Sequence[str] = (),
    trigger_mode: str = "auto",
    auto_init: bool = True,
    enabled: bool = True,
    update_status: str = "none",
    update_count: int = 0,
    started_at: float | None = None,
    finished_at: float | None = None,
    reason: str = "",
    error: str = "",
    exit_code: int | None = None,
    runtime_status: str = "not_applicable",
    pid: int | None = None,
    runtime_message: str = "",
    runtime_started_at: float | None = None,
    runtime_exit_code: int | None = None,
    pending_files: Sequence[str] = (),
    pending_reasons: Sequence[str] = (),
    queued: bool = False,
    waiting_on: str = "",
    links: Sequence[tuple[str, str]] = (),
    port_forwards: Sequence[tuple[int, int]] = (),
    runtime_state: str = "",
    cmd: str = "",
    serve_cmd: str = "",
    events: Sequence[dict[str, Any]] = (),
    test: dict[str, Any] | None = None,
    pod: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One resource as the engine's snapshot shows it (`ResourceState.snapshot`).

    Args:
        name: The resource name; every other argument is the snapshot field of
            the same name (``update``/``runtime`` fields flattened, ``links`` as
            ``(url, name)`` pairs, ``port_forwards`` as ``(local, container)`` pairs,
            ``runtime_state`` the pod line of a Kubernetes resource, ``events`` as the
            runtime events' dicts, ``test`` as a test resource's ``test`` part, ``pod`` a
            Kubernetes resource's pod fields: `tilt.engine.snapshot.PodSnapshot`).

    Returns:
        The snapshot dict, with the same keys as the engine's.
    """
    status = (
        "disabled"
        if not enabled
        else "updating"
        if update_status == "in_progress"
        else "error"
        if update_status in ("error", "cancelled") or runtime_status == "error"
        else "pending"
        if queued
        else "ready"
        if (
            runtime_status == "ok" or (runtime_status == "not_applicable" and update_status == "ok")
        )
        else "idle"
    )
    return {
        "name": name,
        "kind": kind,
        "labels": list(labels),
        "resource_deps": list(resource_deps),
        "trigger_mode": trigger_mode,
        "trigger_mode_overridden": False,
        "auto_init": auto_init,
        "enabled": enabled,
        "status": status,
        "ready": status == "ready",
        "ready_once": status == "ready",
        "links": [{"url": u, "name": n} for u, n in links],
        "port_forwards": [
            {"local_port": lp, "container_port": cp, "name": ""} for lp, cp in port_forwards
        ],
        "cmd": cmd,
        "serve_cmd": serve_cmd,
        "update": {
            "status": update_status,
            "count": update_count,
            "started_at": started_at,
            "finished_at": finished_at,
            "reason": reason,
            "files": [],
            "file_count": 0,
            "error": error,
            "exit_code": exit_code,
        },
        "runtime": {
            "status": runtime_status,
            "pid": pid,
            "message": runtime_message,
            "started_at": runtime_started_at,
            "exit_code": runtime_exit_code,
            "container_id": "",
            "state": runtime_state,
            "reason": "",
            "live_updated": False,
            "pod": dict(pod) if pod is not None else None,
        },
        "dirty": bool(pending_files or pending_reasons),
        "pending_files": list(pending_files),
        "pending_file_count": len(pending_files),
        "pending_reasons": list(pending_reasons),
        "queued": queued,
        "queue_reason": "triggered" if queued else "",
        "waiting_on": waiting_on,
        "events": [dict(e) for e in events],
        "test": test,
    }


@dataclass(frozen=True, kw_only=True)
class Frame:
    """One step of a replay: wait ``delay_s``, apply ``updates``, append ``lines``.

    Attributes:
        delay_s: Seconds to wait before this frame (scaled by the replay's speed).
        updates: ``{resource name: {field: value}}``; ``update``/``runtime`` merge.
        lines: ``(resource, text, span)`` log lines to append.
    """

    delay_s: float = 0.0
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: tuple[tuple[str, str, str], ...] = ()


class ScriptedController:
    """A `tilt.ui.controller.Controller` whose state is a script's.

    Args:
        resources: The initial resources (see `resource`).
        logs: The log store (a new one when not given).
        tiltfile: The Tiltfile path shown in the status line.
    """

    def __init__(
        self,
        resources: Iterable[dict[str, Any]] = (),
        *,
        logs: LogStore | None = None,
        tiltfile: str = "/project/Tiltfile",
        buttons: Iterable[ButtonAction] = (),
    ) -> None:
        self.logs = logs if logs is not None else LogStore()
        self.button_actions = tuple(buttons)
        self.resources: dict[str, dict[str, Any]] = {r["name"]: r for r in resources}
        self.tiltfile = {
            "path": tiltfile,
            "status": "ok",
            "error": "",
            "load_count": 1,
            "duration_s": 0.0,
        }
        self.shutting_down = False
        self.intents: list[tuple[str, str]] = []
        self._observers: list[Callable[[], None]] = []

    # ---- Controller ----------------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        """A copy of the scripted state, shaped as `Engine.snapshot`."""
        snap: dict[str, Any] = {
            "tiltfile": dict(self.tiltfile),
            "settings": {"max_parallel_updates": 3},
            "resources": copy.deepcopy(list(self.resources.values())),
            "shutting_down": self.shutting_down,
            "log_seq": self.logs.last_seq,
        }
        return cast("EngineSnapshot", snap)

    def add_observer(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn`` after each scripted change; returns an unsubscribe."""
        self._observers.append(fn)
        return lambda: self._observers.remove(fn) if fn in self._observers else None

    def _get(self, name: str) -> dict[str, Any]:
        r = self.resources.get(name)
        if r is None:
            raise ValueError(f"no resource named {name!r}")
        return r

    def trigger(self, name: str) -> None:
        """Record the intent; the resource turns queued and clean."""
        r = self._get(name)
        if not r["enabled"]:
            raise ValueError(f"resource {name!r} is disabled")
        self.intents.append(("trigger", name))
        self.update(name, queued=True, queue_reason="triggered", status="pending")
        self._clean(r)
        self.notify()

    def trigger_dirty(self) -> list[str]:
        """Record the intent for every dirty enabled resource; returns their names."""
        names = [n for n, r in self.resources.items() if r["dirty"] and r["enabled"]]
        self.intents.append(("trigger_dirty", ",".join(names)))
        for n in names:
            self.update(n, queued=True, queue_reason="triggered", status="pending")
            self._clean(self.resources[n])
        self.notify()
        return names

    @staticmethod
    def _clean(r: dict[str, Any]) -> None:
        r["dirty"] = False
        r["pending_files"] = []
        r["pending_file_count"] = 0
        r["pending_reasons"] = []

    def cancel(self, name: str) -> str:
        """Record the intent; a running update turns cancelled, a queued one unqueued."""
        r = self._get(name)
        if r["update"]["status"] == "in_progress":
            self.intents.append(("cancel", name))
            self.update(name, update={"status": "cancelled", "error": "cancelled"})
            return "cancelling the running update"
        if r["queued"]:
            self.intents.append(("cancel", name))
            self.update(name, queued=False, queue_reason="")
            return "removed the queued update"
        raise ValueError(f"resource {name!r} has no update running or queued")

    def set_trigger_mode(self, name: str, mode: str | None) -> None:
        """Record the override and show it in the snapshot."""
        self._get(name)
        self.intents.append(("set_trigger_mode", f"{name}={mode}"))
        if mode is None:
            self.update(name, trigger_mode_overridden=False)
        else:
            self.update(name, trigger_mode=mode, trigger_mode_overridden=True)

    def buttons(self, name: str) -> tuple[ButtonAction, ...]:
        """The scripted buttons on ``name``."""
        return tuple(a for a in self.button_actions if a.resource == name)

    def run_button(self, name: str, button: str, values: dict[str, str]) -> str:
        """Record the intent with the environment the command would get."""
        from tilt.buttons import environment

        self._get(name)
        action = next((a for a in self.buttons(name) if a.name == button), None)
        if action is None:
            raise ValueError(f"resource {name!r} has no button {button!r}")
        env = environment(action, values)
        self.intents.append(
            ("button", f"{name}/{button} " + " ".join(f"{k}={v}" for k, v in env.items()))
        )
        return f"{name}: running button {action.text or action.name}"

    def shutdown(self, reason: str = "shutting down", exit_code: int = 0) -> None:
        """Record the intent and show the state as shutting down."""
        self.intents.append(("shutdown", reason))
        self.shutting_down = True
        self.notify()

    # ---- the script ----------------------------------------------------------------------

    def notify(self) -> None:
        """Tell the observers the state changed (the engine does this after a batch)."""
        for fn in list(self._observers):
            fn()

    def update(self, name: str, **fields: Any) -> None:
        """Change fields of one resource (``update``/``runtime`` dicts merge) and notify."""
        r = self.resources[name]
        for k, v in fields.items():
            if isinstance(v, dict) and isinstance(r.get(k), dict):
                r[k].update(v)
            else:
                r[k] = v
        if "pending_files" in fields or "pending_reasons" in fields:
            r["pending_file_count"] = len(r["pending_files"])
            r["dirty"] = bool(r["pending_files"] or r["pending_reasons"])
        self.notify()

    def log(self, resource_name: str, text: str, span: str = "runtime") -> None:
        """Append one log line (listeners, like the TUI's bridge, see it at once)."""
        self.logs.append(resource_name, text, span=span)

    async def replay(self, frames: Iterable[Frame], *, speed: float = 1.0) -> None:
        """Play frames in order, sleeping ``delay_s / speed`` before each."""
        for fr in frames:
            if fr.delay_s > 0:
                await asyncio.sleep(fr.delay_s / speed)
            for name, fields in fr.updates.items():
                self.update(name, **fields)
            for res, text, span in fr.lines:
                self.logs.append(res, text, span=span)
