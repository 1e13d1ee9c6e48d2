"""The test's controller and kubelet: ReplicaSets and pods for what was applied, status moves."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from tests.k8s.emulator import Emulator

Obj = dict[str, Any]
_n = itertools.count(1)


def owner_ref(obj: Obj) -> Obj:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
    }


def rollout(emu: Emulator, owner: Obj, *, pods: int = 1) -> tuple[Obj, list[Obj]]:
    """What the Deployment controller does: a ReplicaSet from the template, then its pods."""
    tmpl = owner["spec"]["template"]
    ns = owner["metadata"].get("namespace", "default")
    rs = emu.put(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{owner['metadata']['name']}-{next(_n):x}",
                "namespace": ns,
                "labels": dict(tmpl["metadata"].get("labels") or {}),
                "ownerReferences": [owner_ref(owner)],
            },
            "spec": {"template": copy.deepcopy(tmpl)},
        }
    )
    made = [make_pod(emu, rs, tmpl) for _ in range(pods)]
    return rs, made


def make_pod(emu: Emulator, owner: Obj, tmpl: Obj | None = None, name: str = "") -> Obj:
    tmpl = tmpl or owner["spec"]["template"]
    ns = owner["metadata"].get("namespace", "default")
    return emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name or f"{owner['metadata']['name']}-{next(_n):05x}",
                "namespace": ns,
                "labels": dict(tmpl["metadata"].get("labels") or {}),
                "ownerReferences": [owner_ref(owner)],
            },
            "spec": copy.deepcopy(tmpl["spec"]),
            "status": {"phase": "Pending"},
        }
    )


def running(container: str = "app", ready: bool = True, restarts: int = 0) -> Obj:
    return {
        "phase": "Running",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False"},
        ],
        "containerStatuses": [
            {
                "name": container,
                "ready": ready,
                "restartCount": restarts,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
        ],
    }
