"""Decide which updates may start now, and why the others wait.

A pure function of the `EngineState` (Tilt's ``NextTargetToBuild``, extended to
start several at once):

- nothing starts while the Tiltfile is being (re)loaded;
- a resource's FIRST update waits until each of its resource_deps has been ready
  at least once (cmd succeeded; serve_cmd passing its probe, or started when it
  has none); later updates do not wait;
- at most ``settings.max_parallel_updates`` updates run at once;
- a local resource without ``allow_parallel=True`` runs alone: it waits until
  nothing else updates, and nothing else starts while it runs (as in Tilt, since
  local commands may race on the file system);
- first updates go before triggered ones, which go before changed files
  (earliest first); a follow-up waits for its quiet period (``ready_at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tilt.engine.state import EngineState, ResourceState

__all__ = ["Plan", "plan"]


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What to start now, why the rest waits, and when to look again."""

    start: tuple[str, ...] = ()
    holds: dict[str, str] = field(default_factory=dict)
    wake_at: float | None = None


def _priority(r: ResourceState, index: int) -> tuple[int, float, int]:
    if r.update_count == 0:
        return (0, 0.0, index)
    if r.triggered:
        return (1, r.queued_at, index)
    return (2, r.queued_at, index)


def _dep_hold(state: EngineState, r: ResourceState) -> str:
    if r.update_count > 0:
        return ""
    waiting: list[str] = []
    for dep in r.spec.resource_deps:
        d = state.resources.get(dep)
        if d is None or d.ready_once:
            continue
        waiting.append(f"{dep} ({d.why_not_ready()})")
    if not waiting:
        return ""
    return "waiting on dependencies: " + ", ".join(waiting)


def plan(state: EngineState, now: float) -> Plan:
    """The updates that may start at ``now``, in order; holds for the queued rest."""
    holds: dict[str, str] = {}
    queued = [
        (i, r)
        for i, r in enumerate(state.resources.values())
        if r.queued and r.enabled and not r.in_progress
    ]
    if not queued or state.shutting_down:
        return Plan()
    if state.tiltfile.status == "loading":
        return Plan(holds={r.name: "waiting for the Tiltfile to load" for _, r in queued})
    queued.sort(key=lambda ir: _priority(ir[1], ir[0]))
    running = state.in_progress()
    exclusive = next((r for r in running if r.runs_alone), None)
    slots = state.settings.max_parallel_updates - len(running)
    busy = bool(running)
    start: list[str] = []
    wake_at: float | None = None
    for _, r in queued:
        if r.ready_at > now:
            holds[r.name] = "waiting for file changes to settle"
            wake_at = r.ready_at if wake_at is None else min(wake_at, r.ready_at)
            continue
        dep = _dep_hold(state, r)
        if dep:
            holds[r.name] = dep
            continue
        if exclusive is not None:
            holds[r.name] = f"waiting for {exclusive.name} (local, not parallelizable)"
            continue
        if r.runs_alone and busy:
            holds[r.name] = "waiting for other updates to finish (local, not parallelizable)"
            continue
        if slots <= 0:
            holds[r.name] = (
                f"waiting for a free slot (max_parallel_updates="
                f"{state.settings.max_parallel_updates})"
            )
            continue
        start.append(r.name)
        slots -= 1
        busy = True
        if r.runs_alone:
            exclusive = r
    return Plan(start=tuple(start), holds=holds, wake_at=wake_at)
