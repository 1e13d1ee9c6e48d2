"""End to end on the emulated API: deploy, the cluster makes pods, the monitor tells the story."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

from tests.k8s.cluster import make_pod, rollout, running
from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tests.k8s.test_apply import deployment
from tests.k8s.test_logs import eventually
from tilt.k8s.apply import Applier, prepare_objects
from tilt.k8s.client import KubeClient
from tilt.k8s.monitor import PodMonitor, PodsView
from tilt.k8s.pods import PodPhase, Readiness
from tilt.model import PodReadiness

Obj = dict[str, Any]


class Views:
    def __init__(self) -> None:
        self.q: queue.Queue[tuple[str, PodsView]] = queue.Queue()
        self.latest: dict[str, PodsView] = {}

    def __call__(self, resource: str, view: PodsView) -> None:
        self.q.put((resource, view))

    def until(self, resource: str, pred: Any, what: str) -> PodsView:
        """The first view of ``resource`` that satisfies ``pred`` (bounded wait)."""
        while True:
            try:
                r, v = self.q.get(timeout=10)
            except queue.Empty:
                raise AssertionError(
                    f"never happened: {what}; last view {self.latest.get(resource)}"
                ) from None
            self.latest[r] = v
            if r == resource and pred(v):
                return v


@pytest.fixture
def monitor(kube: KubeClient) -> Iterator[tuple[PodMonitor, Views]]:
    views = Views()
    m = PodMonitor(kube, views)
    yield m, views
    m.close()


def test_rollout_statuses_readiness_and_forward_target(
    emu: Emulator, kube: KubeClient, monitor: Any
) -> None:
    m, views = monitor
    applied = run(Applier(kube).apply(prepare_objects([deployment()], {"web": "web:tilt-1"})))
    m.track("web", applied.objects)
    v = views.until("web", lambda v: not v.pods, "no pods yet")
    assert (v.readiness, v.reason) == (Readiness.WAITING, "waiting for pods")
    _, (p1,) = rollout(emu, applied.objects[0])
    name1 = p1["metadata"]["name"]
    v = views.until("web", lambda v: v.pods and v.pods[0].reason == "Scheduling", "pending")
    emu.patch_status(
        "Pod",
        name1,
        {
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "waiting": {"reason": "ErrImagePull", "message": "pull access denied"}
                    },
                }
            ],
        },
    )
    v = views.until("web", lambda v: v.readiness is Readiness.FAILED, "the pull error")
    assert v.reason == f"pod {name1}: ErrImagePull" and v.pods[0].message == "pull access denied"
    # fixed: a new image, a new rollout; the old pod is not the resource's any more
    applied2 = run(Applier(kube).apply(prepare_objects([deployment()], {"web": "web:tilt-2"})))
    m.track("web", applied2.objects)
    _, (p2,) = rollout(emu, applied2.objects[0])
    name2 = p2["metadata"]["name"]
    emu.patch_status("Pod", name2, running())
    v = views.until("web", lambda v: v.readiness is Readiness.READY, "ready")
    assert [p.name for p in v.pods] == [name2]
    assert v.pods[0].phase is PodPhase.READY and v.forward_target["metadata"]["name"] == name2
    # a crash loop of the current pod
    emu.patch_status(
        "Pod",
        name2,
        {
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                }
            ],
        },
    )
    v = views.until("web", lambda v: v.readiness is Readiness.FAILED, "crash loop")
    assert v.reason == f"pod {name2}: CrashLoopBackOff (OOMKilled)" and v.pods[0].restarts == 3


@pytest.mark.parametrize(
    ("exit_code", "readiness", "reason"),
    [(0, Readiness.READY, ""), (3, Readiness.FAILED, "exit code 3")],
)
def test_job_success_and_failure_as_tilt_ci_sees_them(  # noqa: PLR0917
    emu: Emulator, kube: KubeClient, monitor: Any, exit_code: int, readiness: Readiness, reason: str
) -> None:
    m, views = monitor
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {
            "template": {
                "metadata": {},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "m"}]},
            }
        },
    }
    applied = run(Applier(kube).apply(prepare_objects([job])))
    m.track("migrate", applied.objects, pod_readiness=PodReadiness.SUCCEEDED)
    pod = make_pod(emu, applied.objects[0])
    emu.patch_status("Pod", pod["metadata"]["name"], running(container="m"))
    v = views.until("migrate", lambda v: v.pods and v.pods[0].phase is PodPhase.READY, "running")
    assert v.readiness is Readiness.WAITING  # running is not done for a Job
    phase = "Succeeded" if exit_code == 0 else "Failed"
    emu.patch_status(
        "Pod",
        pod["metadata"]["name"],
        {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "m",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "reason": "Completed" if exit_code == 0 else "Error",
                        }
                    },
                }
            ],
        },
    )
    v = views.until("migrate", lambda v: v.readiness is not Readiness.WAITING, "the job's end")
    assert v.readiness is readiness and v.reason.endswith(reason)


def test_cluster_unreachable_then_back_keeps_the_status(
    emu: Emulator, kube: KubeClient, monitor: Any
) -> None:
    m, views = monitor
    applied = run(Applier(kube).apply(prepare_objects([deployment()])))
    m.track("web", applied.objects)
    _, (p,) = rollout(emu, applied.objects[0])
    emu.patch_status("Pod", p["metadata"]["name"], running())
    views.until("web", lambda v: v.readiness is Readiness.READY, "ready")
    emu.stop()
    v = views.until("web", lambda v: not v.connected, "the link down")
    assert v.readiness is Readiness.READY and "cannot reach" in v.connection_error  # status kept
    emu.start(emu.port)
    v = views.until("web", lambda v: v.connected, "the link back")
    assert v.readiness is Readiness.READY
    eventually(lambda: m.view("web").connected, "connected")


def test_the_test_controller_rolls_out_and_fails_by_image(
    emu: Emulator, kube: KubeClient, monitor: Any
) -> None:
    from tests.k8s.cluster import Controller

    m, views = monitor
    with Controller(emu, image_outcome={"web:bad": "ImagePullBackOff"}):
        applied = run(Applier(kube).apply(prepare_objects([deployment()], {"web": "web:good"})))
        m.track("web", applied.objects)
        views.until("web", lambda v: v.readiness is Readiness.READY, "ready")
        applied = run(Applier(kube).apply(prepare_objects([deployment()], {"web": "web:bad"})))
        m.track("web", applied.objects)
        v = views.until("web", lambda v: v.readiness is Readiness.FAILED, "the bad image")
        assert "ImagePullBackOff" in v.reason


def test_a_view_computed_earlier_never_arrives_last() -> None:
    """`track` (after an apply) and the pod watch both publish: the view `track` computed
    with the pod still Pending must not be delivered after the watch's Running one."""
    import threading
    from types import SimpleNamespace

    from tilt.k8s.watch import WatchEvent

    feed: queue.Queue[WatchEvent | None] = queue.Queue()

    class FakeInformer:
        def events(self) -> Iterator[WatchEvent]:
            while (ev := feed.get()) is not None:
                yield ev

        def stop(self) -> None:
            feed.put(None)

    def pod(phase: str) -> Obj:
        ready = phase == "Running"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": phase, **(running() if ready else {})},
        }

    delivered: list[str] = []
    got = threading.Condition()
    stall_main = threading.Event()

    def on_change(resource: str, view: PodsView) -> None:
        word = view.pods[0].phase.value if view.pods else "none"
        if stall_main.is_set() and threading.current_thread() is threading.main_thread():
            stall_main.clear()
            # Give the watch every chance to deliver its newer view before this one lands.
            feed.put(WatchEvent(type="MODIFIED", object=pod("Running")))
            with got:
                got.wait_for(lambda: "ready" in delivered, timeout=2)
        with got:
            delivered.append(word)
            got.notify_all()

    m = PodMonitor(
        SimpleNamespace(namespace="default"),  # type: ignore[arg-type]
        on_change,
        informer_factory=lambda ns: FakeInformer(),  # type: ignore[arg-type,return-value]
    )
    try:
        m.track("web", [pod("Pending")])
        feed.put(WatchEvent(type="ADDED", object=pod("Pending")))
        with got:
            assert got.wait_for(lambda: "pending" in delivered, timeout=10), delivered
        stall_main.set()
        m.track("web", [pod("Pending")])  # re-tracked after an apply; computes "pending"
        with got:
            assert got.wait_for(lambda: delivered.count("ready") == 1, timeout=10), delivered
        assert delivered[-1] == "ready", delivered
    finally:
        m.close()


def test_of_two_pods_made_in_the_same_second_the_later_reported_is_newest(
    emu: Emulator, kube: KubeClient, monitor: Any
) -> None:
    """creationTimestamp has whole seconds: a tie goes to the pod the watch reported later
    (a rollout's new pod), not to whichever the cache happened to list first."""
    from tests.k8s.cluster import owner_ref

    m, views = monitor
    applied = run(Applier(kube).apply(prepare_objects([deployment()], {"web": "web:tilt-1"})))
    m.track("web", applied.objects)
    rs, _ = rollout(emu, applied.objects[0], pods=0)
    tmpl = rs["spec"]["template"]

    def pod(name: str) -> None:
        emu.put(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": "default",
                    "labels": dict(tmpl["metadata"]["labels"]),
                    "ownerReferences": [owner_ref(rs)],
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                },
                "spec": tmpl["spec"],
                "status": {"phase": "Pending"},
            }
        )

    pod("web-first")
    views.until("web", lambda v: [p.name for p in v.pods] == ["web-first"], "the first pod")
    pod("web-second")
    v = views.until("web", lambda v: len(v.pods) == 2, "both pods")
    assert [p.name for p in v.pods] == ["web-second", "web-first"]
