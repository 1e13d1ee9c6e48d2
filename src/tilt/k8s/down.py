"""`tilt down` for Kubernetes: what to delete, in which order, and waiting until it is gone.

Dependents go before their dependencies: resources in reverse dependency order, and within a
resource objects in reverse kind order (custom resources before their CRD, workloads before the
ConfigMaps and Secrets they mount, namespaces last). Namespaces are deleted only when asked
(``--delete-namespaces``; deleting one deletes everything in it, also what Tilt did not deploy).
Objects annotated ``tilt.dev/down-policy: keep`` stay, as in Tilt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tilt.k8s.apply import display_name, kind_rank
from tilt.k8s.client import ApiError, KubeClient

__all__ = ["DOWN_POLICY_ANNOTATION", "DownPlan", "DownResult", "delete_plan", "plan_down"]

Obj = dict[str, Any]
Log = Callable[[str], None]

DOWN_POLICY_ANNOTATION = "tilt.dev/down-policy"


@dataclass(frozen=True, kw_only=True)
class DownPlan:
    #: batches to delete one after the other; the objects of a batch go in parallel
    batches: tuple[tuple[Obj, ...], ...]
    #: (object, why it stays)
    kept: tuple[tuple[Obj, str], ...] = ()


@dataclass
class DownResult:
    deleted: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    #: still there when the wait ended (finalizers, a stuck controller)
    not_gone: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def plan_down(resources: Sequence[Sequence[Obj]], *, delete_namespaces: bool = False) -> DownPlan:
    """Order deletions; ``resources`` are each resource's objects, dependencies first."""
    batches: list[tuple[Obj, ...]] = []
    kept: list[tuple[Obj, str]] = []
    seen: set[tuple[str, str, str, str]] = set()
    for objects in reversed(resources):
        by_rank: dict[int, list[Obj]] = {}
        for obj in objects:
            meta = obj.get("metadata") or {}
            key = (
                obj.get("apiVersion", ""),
                obj.get("kind", ""),
                meta.get("namespace", ""),
                meta.get("name", ""),
            )
            if key in seen:
                continue
            seen.add(key)
            policy = (meta.get("annotations") or {}).get(DOWN_POLICY_ANNOTATION, "")
            if policy == "keep":
                kept.append((obj, f"annotated {DOWN_POLICY_ANNOTATION}: keep"))
                continue
            if obj.get("kind") == "Namespace" and not delete_namespaces:
                kept.append((obj, "a namespace (tilt down --delete-namespaces deletes it)"))
                continue
            by_rank.setdefault(kind_rank(obj.get("kind", "")), []).append(obj)
        for rank in sorted(by_rank, reverse=True):
            batches.append(tuple(by_rank[rank]))
    return DownPlan(batches=tuple(batches), kept=tuple(kept))


async def delete_plan(
    kube: KubeClient,
    plan: DownPlan,
    *,
    wait_s: float = 30.0,
    propagation: str = "Background",
    log: Log = lambda _line: None,
) -> DownResult:
    """Delete batch by batch (each in parallel), then wait (bounded) until all are gone."""
    result = DownResult(kept=[display_name(o) for o, _ in plan.kept])
    for obj, why in plan.kept:
        log(f"keeping {display_name(obj)}: {why}")
    issued: list[tuple[str, Any]] = []

    def delete_one(obj: Obj) -> tuple[str, Any, str]:
        meta = obj.get("metadata") or {}
        name = display_name(obj)
        try:
            info = kube.resource(obj["apiVersion"], obj["kind"])
            ns = (meta.get("namespace") or kube.namespace) if info.namespaced else ""
            name = f"{obj['kind']}/{meta['name']}" + (f" (namespace {ns})" if ns else "")
            found = kube.delete(
                obj["apiVersion"], obj["kind"], meta["name"], ns, propagation=propagation
            )
        except ApiError as e:
            if e.not_found:  # the kind itself is gone (its CRD was deleted)
                return name, None, "gone"
            return name, None, e.message or e.reason
        return name, (info, ns, meta["name"]), "deleted" if found else "gone"

    for batch in plan.batches:
        outcomes = await asyncio.gather(*(asyncio.to_thread(delete_one, o) for o in batch))
        for name, where, status in outcomes:
            if status == "deleted":
                result.deleted.append(name)
                issued.append((name, where))
                log(f"deleted {name}")
            elif status == "gone":
                result.already_gone.append(name)
            else:
                result.errors[name] = status
                log(f"could not delete {name}: {status}")

    def still_there() -> list[str]:
        left = []
        for name, (info, ns, obj_name) in issued:
            try:
                kube.request("GET", info.path(ns, obj_name))
            except ApiError as e:
                if e.not_found:
                    continue
            left.append(name)
        return left

    deadline = time.monotonic() + wait_s
    left = await asyncio.to_thread(still_there)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left = await asyncio.to_thread(still_there)
    result.not_gone = left
    for name in left:
        log(f"{name} is still there after {wait_s:g}s (finalizers?)")
    return result
