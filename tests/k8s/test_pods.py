"""Pod status derivation, attribution through owners, rollouts, readiness modes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.k8s.cluster import make_pod, rollout, running
from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tests.k8s.test_apply import deployment
from tilt.k8s.apply import Applier, prepare_objects
from tilt.k8s.client import KubeClient
from tilt.k8s.pods import (
    OwnerResolver,
    PodAttribution,
    PodPhase,
    Readiness,
    current_pods,
    pod_status,
    resource_readiness,
)
from tilt.model import PodReadiness

Obj = dict[str, Any]


def pod(status: Obj, containers: int = 1, init: int = 0, deleting: bool = False) -> Obj:
    meta: Obj = {"name": "p", "namespace": "default", "uid": "u"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: Obj = {"containers": [{"name": f"c{i}", "image": "x"} for i in range(containers)]}
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": "x"} for i in range(init)]
    return {"metadata": meta, "spec": spec, "status": status}


def waiting(
    reason: str, message: str = "", name: str = "c0", last: Obj | None = None, restarts: int = 0
) -> Obj:
    cs: Obj = {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
    }
    if last:
        cs["lastState"] = {"terminated": last}
    return cs


def terminated(code: int, reason: str = "Error", name: str = "c0") -> Obj:
    return {
        "name": name,
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": code, "reason": reason}},
    }


SCHEDULED = [{"type": "PodScheduled", "status": "True"}]

CASES = [
    ("scheduling", {"phase": "Pending"}, PodPhase.PENDING, "Scheduling"),
    (
        "unschedulable",
        {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient cpu.",
                }
            ],
        },
        PodPhase.ERROR,
        "Unschedulable",
    ),
    (
        "waiting for a volume to bind",
        {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: pod has unbound immediate "
                    "PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 "
                    "Preemption is not helpful for scheduling.",
                }
            ],
        },
        PodPhase.PENDING,
        "Unschedulable",
    ),
    (
        "waiting for the node to start",
        {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 node(s) had untolerated taint "
                    "{node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 "
                    "Preemption is not helpful for scheduling.",
                }
            ],
        },
        PodPhase.PENDING,
        "Unschedulable",
    ),
    (
        "scheduling gated",
        {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
            ],
        },
        PodPhase.PENDING,
        "SchedulingGated",
    ),
    (
        "creating",
        {
            "phase": "Pending",
            "conditions": SCHEDULED,
            "containerStatuses": [waiting("ContainerCreating")],
        },
        PodPhase.PENDING,
        "ContainerCreating",
    ),
    (
        "image pull backoff",
        {
            "phase": "Pending",
            "conditions": SCHEDULED,
            "containerStatuses": [
                waiting("ImagePullBackOff", 'Back-off pulling image "web:tilt-1"')
            ],
        },
        PodPhase.ERROR,
        "ImagePullBackOff",
    ),
    (
        "err image pull",
        {
            "phase": "Pending",
            "conditions": SCHEDULED,
            "containerStatuses": [waiting("ErrImagePull")],
        },
        PodPhase.ERROR,
        "ErrImagePull",
    ),
    (
        "config error",
        {
            "phase": "Pending",
            "conditions": SCHEDULED,
            "containerStatuses": [waiting("CreateContainerConfigError", 'secret "db" not found')],
        },
        PodPhase.ERROR,
        "CreateContainerConfigError",
    ),
    (
        "crash loop after OOM",
        {
            "phase": "Running",
            "conditions": SCHEDULED,
            "containerStatuses": [
                waiting(
                    "CrashLoopBackOff", last={"exitCode": 137, "reason": "OOMKilled"}, restarts=4
                )
            ],
        },
        PodPhase.ERROR,
        "CrashLoopBackOff (OOMKilled)",
    ),
    (
        "crash loop with exit code",
        {
            "phase": "Running",
            "conditions": SCHEDULED,
            "containerStatuses": [
                waiting("CrashLoopBackOff", last={"exitCode": 3, "reason": "Error"}, restarts=2)
            ],
        },
        PodPhase.ERROR,
        "CrashLoopBackOff (exit code 3)",
    ),
    (
        "oom killed, failed",
        {"phase": "Failed", "containerStatuses": [terminated(137, "OOMKilled")]},
        PodPhase.ERROR,
        "OOMKilled",
    ),
    (
        "exit code, failed",
        {"phase": "Failed", "containerStatuses": [terminated(2)]},
        PodPhase.ERROR,
        "exit code 2",
    ),
    (
        "evicted",
        {"phase": "Failed", "reason": "Evicted", "message": "low on memory"},
        PodPhase.ERROR,
        "Evicted",
    ),
    (
        "running not ready",
        {
            "phase": "Running",
            "conditions": [*SCHEDULED, {"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "c0", "ready": False, "restartCount": 0, "state": {"running": {}}}
            ],
        },
        PodPhase.RUNNING,
        "Running (0/1 ready)",
    ),
    (
        "ready",
        {
            "phase": "Running",
            "conditions": [*SCHEDULED, {"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "c0", "ready": True, "restartCount": 1, "state": {"running": {}}}
            ],
        },
        PodPhase.READY,
        "Ready",
    ),
    (
        "completed",
        {"phase": "Succeeded", "containerStatuses": [terminated(0, "Completed")]},
        PodPhase.COMPLETED,
        "Completed",
    ),
]


@pytest.mark.parametrize(("case", "status", "phase", "reason"), CASES, ids=[c[0] for c in CASES])
def test_pod_status(case: str, status: Obj, phase: PodPhase, reason: str) -> None:
    s = pod_status(pod(status))
    assert (s.phase, s.reason) == (phase, reason)


def test_status_details_restarts_init_and_several_containers() -> None:
    s = pod_status(
        pod(
            {
                "phase": "Running",
                "conditions": SCHEDULED,
                "containerStatuses": [
                    waiting(
                        "CrashLoopBackOff",
                        name="c1",
                        last={"exitCode": 1, "reason": "Error"},
                        restarts=5,
                    ),
                    {"name": "c0", "ready": True, "restartCount": 1, "state": {"running": {}}},
                ],
            },
            containers=2,
        )
    )
    assert (s.phase, s.reason, s.restarts, s.ready_display) == (
        PodPhase.ERROR,
        "c1: CrashLoopBackOff (exit code 1)",
        6,
        "1/2",
    )
    s = pod_status(
        pod(
            {
                "phase": "Pending",
                "conditions": SCHEDULED,
                "initContainerStatuses": [
                    {"name": "i0", "ready": False, "restartCount": 0, "state": {"running": {}}}
                ],
            },
            init=1,
        )
    )
    assert (s.phase, s.reason) == (PodPhase.PENDING, "Init:0/1 (running)")
    s = pod_status(
        pod(
            {
                "phase": "Pending",
                "conditions": SCHEDULED,
                "initContainerStatuses": [
                    waiting("CrashLoopBackOff", name="i0", last={"exitCode": 1, "reason": "Error"})
                ],
            },
            init=1,
        )
    )
    assert (s.phase, s.reason) == (PodPhase.ERROR, "init i0: CrashLoopBackOff (exit code 1)")
    assert pod_status(pod({"phase": "Running"}, deleting=True)).phase is PodPhase.TERMINATING
    s = pod_status(pod(CASES[1][1]))
    assert s.message == "0/1 nodes are available: 1 Insufficient cpu."


def test_resource_readiness_modes() -> None:
    by_name = {c[0]: c[1] for c in CASES}
    ready = pod_status(pod(by_name["ready"]))
    done = pod_status(pod(by_name["completed"]))
    crash = pod_status(pod(by_name["crash loop after OOM"]))
    pending = pod_status(pod(by_name["scheduling"]))
    unschedulable = pod_status(pod(by_name["unschedulable"]))
    binding = pod_status(pod(by_name["waiting for a volume to bind"]))
    # No node fits: a failure naming the scheduler's message; a volume binding: waiting.
    assert resource_readiness("wait", [unschedulable]) == (
        Readiness.FAILED,
        "pod p: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.",
    )
    assert resource_readiness("wait", [binding])[0] is Readiness.WAITING
    assert resource_readiness("wait", [ready])[0] is Readiness.READY
    assert resource_readiness("wait", [])[0] is Readiness.WAITING
    assert resource_readiness("wait", [pending]) == (Readiness.WAITING, "pod p: Scheduling")
    assert resource_readiness("wait", [crash]) == (
        Readiness.FAILED,
        "pod p: CrashLoopBackOff (OOMKilled)",
    )
    assert resource_readiness("succeeded", [ready])[0] is Readiness.WAITING
    assert resource_readiness("succeeded", [done])[0] is Readiness.READY
    assert resource_readiness("ignore", [crash])[0] is Readiness.READY
    assert resource_readiness(PodReadiness.SUCCEEDED, [done])[0] is Readiness.READY


def test_attribution_owner_chain_extra_selectors_and_old_rollouts(
    emu: Emulator, kube: KubeClient
) -> None:
    applied = run(Applier(kube).apply(prepare_objects([deployment()], {"web": "web:tilt-1"})))
    dep = applied.objects[0]
    _, (old_pod,) = rollout(emu, dep)
    # a new image: a new rollout with another template hash
    applied2 = run(Applier(kube).apply(prepare_objects([deployment()], {"web": "web:tilt-2"})))
    dep2 = applied2.objects[0]
    assert dep2["metadata"]["uid"] == dep["metadata"]["uid"]
    _, (new_pod,) = rollout(emu, dep2)
    # an unrelated pod, and one matched by extra_pod_selectors
    other = emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "other", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "x", "image": "x"}]},
        }
    )
    extra = emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sidecar", "labels": {"team": "web"}},
            "spec": {"containers": [{"name": "x", "image": "x"}]},
        }
    )
    emu.patch_status("Pod", new_pod["metadata"]["name"], running())
    att = PodAttribution(OwnerResolver(kube), extra_selectors=({"team": "web"},))
    att.set_deployed(applied2.objects)
    pods = emu.list("v1", "Pod")
    assert att.belongs(old_pod) and att.belongs(new_pod) and att.belongs(extra)
    assert not att.belongs(other)
    assert not att.is_current(old_pod) and att.is_current(new_pod)
    names = [s.name for s in current_pods(att, pods)]
    assert sorted(names) == sorted([new_pod["metadata"]["name"], "sidecar"])
    assert att.owner_of(new_pod)["kind"] == "Deployment"


def test_job_pod_and_bare_pod_attribution(emu: Emulator, kube: KubeClient) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "metadata": {"labels": {}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "m"}]},
            }
        },
    }
    bare = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bare"},
        "spec": {"containers": [{"name": "b", "image": "b"}]},
    }
    applied = run(Applier(kube).apply(prepare_objects([job, bare])))
    att = PodAttribution(OwnerResolver(kube))
    att.set_deployed(applied.objects)
    jpod = make_pod(emu, applied.objects[0])
    assert att.owner_of(jpod)["kind"] == "Job"
    assert att.owner_of(emu.get("v1", "Pod", "bare"))["kind"] == "Pod"
