"""Kubernetes events through K8sSession on the emulated API: what the user sees.

The test plays scheduler and kubelet: it moves pods and writes Events the way they do (a repeat
is the same Event object with ``count`` raised), then asserts the ``[event]`` log lines, the
events view's records and the status line.
"""

from __future__ import annotations

import datetime
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.cluster import rollout, running
from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator, now_rfc3339
from tests.k8s.test_apply import deployment
from tests.k8s.test_logs import eventually
from tests.k8s.test_session import target
from tilt.k8s.events import EventsView, status_line
from tilt.k8s.monitor import PodsView
from tilt.k8s.session import K8sSession
from tilt.logstore import LogStore
from tilt.model import Settings

Obj = dict[str, Any]
_n = itertools.count(1)


class User:
    """What reaches the screen: log lines, pod views and events views, per resource.

    The log is a real `LogStore`, as in `tilt up`: an event's keyed line is updated in place.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store = LogStore()
        self.seen: list[str] = []  # every text ever logged, each version of a keyed line
        self.pods: dict[str, PodsView] = {}
        self.events: dict[str, EventsView] = {}
        self.changed: queue.Queue[None] = queue.Queue()

    def log(self, resource: str, line: str) -> None:
        with self.lock:
            self.seen.append(line)
            self.store.append(resource, line)

    def event_log(self, resource: str, line: str, key: str) -> None:
        with self.lock:
            self.seen.append(line)
            self.store.append(resource, line, span="event", key=key or None)

    @property
    def lines(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(ln.resource, ln.text) for ln in self.store.lines()]

    def view(self, resource: str, v: PodsView) -> None:
        with self.lock:
            self.pods[resource] = v

    def on_events(self, resource: str, v: EventsView) -> None:
        with self.lock:
            self.events[resource] = v

    def log_of(self, resource: str) -> list[str]:
        with self.lock:
            return [ln.text for ln in self.store.lines(resource)]

    def event_lines(self, resource: str) -> list[str]:
        return [line for line in self.log_of(resource) if line.startswith("[event]")]

    def status(self, resource: str) -> str:
        with self.lock:
            return status_line(self.pods.get(resource), self.events.get(resource))

    def records(self, resource: str) -> EventsView:
        with self.lock:
            return self.events.get(resource) or EventsView(events=())

    def until(self, cond: Callable[[], bool], what: str) -> None:
        try:
            eventually(cond, what)
        except AssertionError:
            raise AssertionError(
                f"{what}; lines: {self.lines}; status: { {r: self.status(r) for r in self.pods} }"
            ) from None


@pytest.fixture
def up(kubeconfig: Path) -> Iterator[Callable[..., tuple[K8sSession, User]]]:
    made: list[K8sSession] = []

    def start(settings: Settings | None = None) -> tuple[K8sSession, User]:
        user = User()
        s = K8sSession.connect(
            settings or Settings(),
            on_view=user.view,
            on_log=user.log,
            on_events=user.on_events,
            on_event_log=user.event_log,
            kubeconfig=str(kubeconfig),
        )
        made.append(s)
        return s, user

    yield start
    for s in made:
        s.close()


def event(
    emu: Emulator,
    obj: Obj,
    reason: str,
    message: str,
    *,
    type: str = "Warning",
    count: int = 1,
    name: str = "",
    when: str = "",
    namespace: str = "default",
) -> str:
    """Write (or, with the same ``name`` and a higher ``count``, repeat) an Event."""
    meta = obj["metadata"]
    name = name or f"{meta['name']}.{next(_n):x}"
    when = when or now_rfc3339()
    emu.put(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion", "v1"),
                "kind": obj["kind"],
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
            },
            "reason": reason,
            "message": message,
            "type": type,
            "count": count,
            "firstTimestamp": when,
            "lastTimestamp": when,
            "source": {"component": "kubelet"},
        }
    )
    return name


def deploy(s: K8sSession, user: User, body: Obj, resource: str = "web") -> Obj:
    result = run(s.deploy(resource, target(body), {"web": "web:tilt-1"}))
    assert s.events.wait_live()
    return result.objects[0]


def pod_named(user: User, resource: str, name: str) -> Callable[[], bool]:
    def cond() -> bool:
        v = user.pods.get(resource)
        return bool(v and v.pods and v.pods[0].name == name)

    return cond


def one_pod(emu: Emulator, user: User, applied: Obj, resource: str = "web") -> Obj:
    _, (pod,) = rollout(emu, applied)
    user.until(pod_named(user, resource, pod["metadata"]["name"]), "the pod is the resource's")
    return pod


# ----------------------------------------------------------------------------- the basics
def test_history_ignored_owner_chain_and_normal_events(emu: Emulator, up: Any) -> None:
    an_hour_ago = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    stale = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-gone", "uid": "u-old"}}
    event(emu, stale, "BackOff", "from yesterday's session", when=an_hour_ago)
    s, user = up()
    applied = deploy(s, user, deployment())
    pod = one_pod(emu, user, applied)
    pname = pod["metadata"]["name"]
    event(emu, applied, "ScalingReplicaSet", "Scaled up replica set web-1 to 1", type="Normal")
    event(emu, pod, "Scheduled", f"Successfully assigned default/{pname} to n1", type="Normal")
    event(emu, pod, "Pulling", 'Pulling image "web:tilt-1"', type="Normal")
    event(emu, pod, "Created", "Created container app", type="Normal")
    user.until(lambda: len(user.records("web").events) == 4, "four events recorded")

    # Scheduled and Pulling are logged (the main pod is not named); ScalingReplicaSet and
    # Created are only in the events view; yesterday's BackOff is nowhere.
    assert user.event_lines("web") == [
        f"[event] Scheduled: Successfully assigned default/{pname} to n1",
        '[event] Pulling: Pulling image "web:tilt-1"',
    ]
    recs = user.records("web").events
    assert [r.reason for r in recs][::-1] == [
        "ScalingReplicaSet",
        "Scheduled",
        "Pulling",
        "Created",
    ]
    assert recs[-1].object == "deployment web"  # attributed through the Deployment itself
    assert {r.object for r in recs[:-1]} == {f"pod {pname}"}  # pod -> ReplicaSet -> Deployment
    assert not any("yesterday" in r.message for r in recs)
    assert user.records("web").reason == ""  # no Warning


def test_an_event_before_the_deploy_is_recorded_is_attributed_later(emu: Emulator, up: Any) -> None:
    s, user = up()
    deploy(s, user, deployment("other"), resource="other")
    # The cluster already runs web's objects (as after a restart of tilt) and its pod warns
    # before this session has recorded the deploy: nobody claims the event yet.
    applied = emu.put({**deployment(), "metadata": {"name": "web", "namespace": "default"}})
    _, (pod,) = rollout(emu, applied)
    event(emu, pod, "FailedMount", 'MountVolume.SetUp failed for volume "cfg"')
    eventually(lambda: len(s.events._pending) == 1, "the event waits for its resource")
    assert user.event_lines("web") == []
    deploy(s, user, deployment())  # the apply answers with the same objects (same uids)
    user.until(lambda: bool(user.event_lines("web")), "attributed after the deploy")
    assert user.event_lines("web")[0].endswith(
        'FailedMount: MountVolume.SetUp failed for volume "cfg"'
    )
    assert user.event_lines("other") == []


# ----------------------------------------------------------------------------- dedup, reason
def test_a_failing_probe_is_one_line_with_a_count_and_the_reason_clears_when_ready(
    emu: Emulator, up: Any
) -> None:
    s, user = up()
    applied = deploy(s, user, deployment())
    pod = one_pod(emu, user, applied)
    emu.patch_status("Pod", pod["metadata"]["name"], running(ready=False))
    msg = "Readiness probe failed: HTTP probe failed with statuscode: 500"
    name = event(emu, pod, "Unhealthy", msg)
    for count in range(2, 10):
        event(emu, pod, "Unhealthy", msg, name=name, count=count)
    user.until(
        lambda: bool(user.records("web").events) and user.records("web").events[0].count == 9,
        "nine probe failures folded into one record",
    )
    (rec,) = user.records("web").events
    # One line, updated in place at each repeat: not nine lines, not one per doubling.
    last = time.strftime("%H:%M:%S", time.localtime(rec.last_seen))
    assert user.event_lines("web") == [f"[event] Unhealthy: {msg} (x9, last {last})"]
    (line,) = [ln for ln in user.store.lines("web") if ln.text.startswith("[event]")]
    assert line.rev == 8 and line.span == "event"  # the first line, updated eight times
    assert rec.summary(now=rec.last_seen + 3) == f"Unhealthy: {msg} (x9, last 3s ago)"
    assert user.status("web").startswith(f"Running — Unhealthy: {msg} (x9, last ")
    view = user.records("web")
    assert view.reason_at(rec.last_seen + 125) == f"Unhealthy: {msg} (x9, last 2m ago)"
    # The monitor's clock is injectable (the churn benchmark simulates an hour with it).
    s.events.clock = lambda: rec.last_seen + 7200
    assert s.events.view("web").reason == f"Unhealthy: {msg} (x9, last 2h ago)"

    emu.patch_status("Pod", pod["metadata"]["name"], running(ready=True))
    user.until(lambda: user.status("web") == "Ready — Ready", "the reason clears when ready")
    assert user.records("web").events[0].count == 9  # still in the events view


def test_unschedulable_names_what_is_short_and_the_node_condition(emu: Emulator, up: Any) -> None:
    s, user = up()
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "4"}}
    applied = deploy(s, user, body)
    pod = one_pod(emu, user, applied)
    pname = pod["metadata"]["name"]
    emu.patch_status(
        "Pod",
        pname,
        {
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient cpu.",
                }
            ]
        },
    )
    user.until(lambda: "Unschedulable" in user.status("web"), "pod unschedulable")
    msg = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available."
    event(emu, pod, "FailedScheduling", msg)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "node-uid"}}
    event(
        emu,
        node,
        "NodeHasDiskPressure",
        "Node n1 status is now: NodeHasDiskPressure",
        type="Normal",
    )
    user.until(lambda: len(user.event_lines("web")) >= 3, "scheduling trouble logged")
    assert user.status("web") == f"Pending — FailedScheduling: {msg}"
    lines = user.event_lines("web")
    assert lines[:2] == [
        f"[event] FailedScheduling: {msg}",
        "[event]   short of cpu: the pod requests app=4",
    ]
    assert (
        "[event] node n1: NodeHasDiskPressure: Node n1 status is now: NodeHasDiskPressure" in lines
    )
    assert any(r.object == "node n1" for r in user.records("web").events)

    # Scheduled settles FailedScheduling; once ready, nothing applies.
    event(emu, pod, "Scheduled", f"Successfully assigned default/{pname} to n1", type="Normal")
    emu.patch_status("Pod", pname, running(ready=True))
    user.until(lambda: user.status("web") == "Ready — Ready", "recovered")
    assert user.records("web").reason == ""


def test_old_rollout_events_are_marked_and_never_the_reason(emu: Emulator, up: Any) -> None:
    s, user = up()
    applied = deploy(s, user, deployment())
    old = one_pod(emu, user, applied)
    oname = old["metadata"]["name"]
    crash = f"Back-off restarting failed container app in pod {oname}_default"
    backoff = event(emu, old, "BackOff", crash)
    user.until(lambda: "BackOff" in user.records("web").reason, "the crash is the reason")
    stuck = "ReplicaSet web-1 has timed out progressing."
    event(emu, applied, "ProgressDeadlineExceeded", stuck)
    user.until(lambda: stuck in user.records("web").reason, "the Deployment's complaint")

    # The fix: a new template (new image) rolls out a new pod; the old one still crashes.
    fixed = run(s.deploy("web", target(deployment()), {"web": "web:tilt-2"})).objects[0]
    new = one_pod(emu, user, fixed)
    event(emu, old, "BackOff", crash, name=backoff, count=2)
    user.until(
        lambda: any(r.count == 2 for r in user.records("web").events), "the old pod crashes again"
    )
    # The crash's line, updated in place: now marked as the old rollout's, with its count.
    lines = user.event_lines("web")
    assert lines[0].startswith(f"[event] pod {oname} (old rollout): BackOff: {crash} (x2, last ")
    assert sum("BackOff" in ln for ln in lines) == 1
    old_rec = next(r for r in user.records("web").events if r.reason == "BackOff")
    assert not old_rec.current
    assert user.records("web").reason == ""
    assert user.status("web") == "Pending — Scheduling"
    assert new["metadata"]["name"] != oname


def test_quieted_reasons_stay_in_the_events_view_only(emu: Emulator, up: Any) -> None:
    s, user = up(Settings(k8s_quiet_events=(("", "Unhealthy"), ("web", "BackOff"))))
    applied = deploy(s, user, deployment())
    pod = one_pod(emu, user, applied)
    emu.patch_status("Pod", pod["metadata"]["name"], running(ready=False))
    event(emu, pod, "Unhealthy", "Liveness probe failed: connection refused")
    event(emu, pod, "BackOff", "Back-off restarting failed container app")
    event(emu, pod, "Pulled", 'Container image "web:tilt-1" already present', type="Normal")
    user.until(lambda: len(user.records("web").events) == 3, "three events recorded")
    assert user.event_lines("web") == [
        '[event] Pulled: Container image "web:tilt-1" already present'
    ]
    assert {r.reason for r in user.records("web").events if r.quiet} == {"Unhealthy", "BackOff"}
    assert user.records("web").reason == ""
    assert user.status("web") == "Running — Running (0/1 ready)"


def test_reconnect_and_relist_show_nothing_twice(emu: Emulator, up: Any) -> None:
    s, user = up()
    applied = deploy(s, user, deployment())
    pod = one_pod(emu, user, applied)
    event(emu, pod, "Failed", "Error: ErrImagePull")
    user.until(lambda: len(user.event_lines("web")) == 1, "first event")
    emu.drop_streams()
    event(emu, pod, "FailedMount", "volume cfg not found")
    user.until(lambda: len(user.event_lines("web")) == 2, "after a dropped watch")
    emu.compact()  # 410 Gone: the informer relists
    event(emu, pod, "FailedSync", "error determining status")
    user.until(lambda: len(user.event_lines("web")) == 3, "after a relist")
    lines = user.event_lines("web")
    assert len(set(lines)) == 3, lines
    assert [r.count for r in user.records("web").events] == [1, 1, 1]


def test_job_events_and_pods_claimed_by_extra_selectors(emu: Emulator, up: Any) -> None:
    from tests.k8s.cluster import make_pod
    from tilt.model import K8sObject, K8sTarget, PodReadiness

    s, user = up()
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "migrate"}},
                "spec": {"containers": [{"name": "app", "image": "migrate"}]},
            }
        },
    }
    tgt = K8sTarget(
        objects=(K8sObject(api_version="batch/v1", kind="Job", name="migrate", body=job),),
        extra_pod_selectors=({"app": "helper"},),
        pod_readiness=PodReadiness.SUCCEEDED,
    )
    applied = run(s.deploy("migrate", tgt, {})).objects[0]
    assert s.events.wait_live()
    pod = make_pod(emu, applied)
    user.until(pod_named(user, "migrate", pod["metadata"]["name"]), "the job's pod")
    emu.patch_status(
        "Pod",
        pod["metadata"]["name"],
        {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"reason": "Error", "exitCode": 1}},
                }
            ],
        },
    )
    event(emu, applied, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    # A pod no owner chain reaches, claimed by extra_pod_selectors. It is older than the
    # Job's pod, so the Job's pod stays the main (newest) pod whatever the timing:
    # creationTimestamp has whole seconds, and two pods made in the same second tie.
    helper = emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "helper-1",
                "namespace": "default",
                "labels": {"app": "helper"},
                "creationTimestamp": "2020-01-01T00:00:00Z",
            },
            "spec": {"containers": [{"name": "h", "image": "helper"}]},
            "status": {"phase": "Pending"},
        }
    )
    event(emu, helper, "FailedMount", 'secret "tls" not found')
    user.until(lambda: len(user.event_lines("migrate")) == 2, "both events attributed")
    assert user.event_lines("migrate")[0] == (
        "[event] job migrate: BackoffLimitExceeded: Job has reached the specified backoff limit"
    )
    assert user.event_lines("migrate")[1] == (
        '[event] pod helper-1: FailedMount: secret "tls" not found'
    )
    assert user.records("web").events == ()


def test_quiet_rules_replaced_after_a_reload_and_secrets_scrubbed(emu: Emulator, up: Any) -> None:
    from tests.k8s.test_session import SECRET
    from tilt.k8s.events import QuietRules

    s, user = up(Settings(k8s_quiet_events=(("", "Unhealthy"),)))
    applied = run(s.deploy("web", target(SECRET, deployment()), {"web": "web:tilt-1"}))
    assert s.events.wait_live()
    dep = next(o for o in applied.objects if o["kind"] == "Deployment")
    pod = one_pod(emu, user, dep)
    emu.patch_status("Pod", pod["metadata"]["name"], running(ready=False))
    event(emu, pod, "Unhealthy", "Readiness probe failed: body was s3cr3t-value")
    user.until(lambda: bool(user.records("web").events), "recorded, quiet")
    assert user.records("web").reason == ""
    s.events.set_quiet(QuietRules())
    user.until(lambda: bool(user.records("web").reason), "no longer quiet: the reason")
    assert user.records("web").reason == (
        "Unhealthy: Readiness probe failed: body was [redacted secret db:password]"
    )
    assert not any("s3cr3t" in line for line in user.seen)


def test_api_server_away_and_back_loses_nothing_and_repeats_nothing(emu: Emulator, up: Any) -> None:
    s, user = up()
    pod = one_pod(emu, user, deploy(s, user, deployment()))
    msg = 'MountVolume.SetUp failed for volume "cfg": configmap "cfg" not found'
    name = event(emu, pod, "FailedMount", msg)
    user.until(lambda: len(user.event_lines("web")) == 1, "the first occurrence")
    emu.stop()  # the API server goes away; the cluster goes on
    event(emu, pod, "FailedMount", msg, name=name, count=2)
    event(emu, pod, "FailedSync", "error determining status: rpc error")
    emu.start(emu.port)
    user.until(lambda: len(user.event_lines("web")) == 2, "what happened while away")
    event(emu, pod, "Pulled", "sentinel", type="Normal")
    user.until(lambda: user.event_lines("web")[-1].endswith("sentinel"), "the watch is live")
    lines = user.event_lines("web")
    assert lines[0].startswith(f"[event] FailedMount: {msg} (x2, last ")  # updated in place
    assert lines[1:] == [
        "[event] FailedSync: error determining status: rpc error",
        "[event] Pulled: sentinel",
    ]


def test_events_of_a_pod_with_several_containers_name_the_container(emu: Emulator, up: Any) -> None:
    s, user = up()
    body = deployment()
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "proxy"})
    pod = one_pod(emu, user, deploy(s, user, body))
    emu.patch_status("Pod", pod["metadata"]["name"], running(ready=False))
    msg = "Readiness probe failed: connection refused"
    for container in ("app", "sidecar"):
        emu.put(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"probe-{container}", "namespace": "default"},
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod["metadata"]["name"],
                    "namespace": "default",
                    "uid": pod["metadata"]["uid"],
                    "fieldPath": f"spec.containers{{{container}}}",
                },
                "reason": "Unhealthy",
                "message": msg,
                "type": "Warning",
                "count": 1,
                "lastTimestamp": now_rfc3339(),
            }
        )
    user.until(lambda: len(user.event_lines("web")) == 2, "one line per container")
    assert user.event_lines("web") == [
        f"[event] [app] Unhealthy: {msg}",
        f"[event] [sidecar] Unhealthy: {msg}",
    ]
    objects = sorted(r.object for r in user.records("web").events)
    assert objects == [f"pod {pod['metadata']['name']} [{c}]" for c in ("app", "sidecar")]


def test_a_node_condition_that_ends_is_logged_and_attached_no_more(emu: Emulator, up: Any) -> None:
    s, user = up()
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "n1"}}
    # Running on n1: the node's trouble is the resource's.
    web = one_pod(emu, user, deploy(s, user, deployment()))
    emu.patch_status("Pod", web["metadata"]["name"], running(ready=False))
    emu.put({**web, "spec": {**web["spec"], "nodeName": "n1"}})
    user.until(lambda: "n1" in s.events._resources["web"].nodes, "web's pod runs on n1")
    event(emu, node, "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage")
    user.until(lambda: "EvictionThresholdMet" in user.records("web").reason, "the node's trouble")
    event(
        emu,
        node,
        "NodeHasDiskPressure",
        "Node n1 status is now: NodeHasDiskPressure",
        type="Normal",
    )
    event(
        emu,
        node,
        "NodeHasNoDiskPressure",
        "Node n1 status is now: NodeHasNoDiskPressure",
        type="Normal",
    )
    user.until(
        lambda: user.event_lines("web")[-1].endswith("NodeHasNoDiskPressure"), "the recovery"
    )
    assert user.event_lines("web")[-2:] == [
        "[event] node n1: NodeHasDiskPressure: Node n1 status is now: NodeHasDiskPressure",
        "[event] node n1: NodeHasNoDiskPressure: Node n1 status is now: NodeHasNoDiskPressure",
    ]
    # A resource that becomes unschedulable later gets the eviction warning (no recovery
    # for it) but not the ended disk pressure.
    api = one_pod(emu, user, deploy(s, user, deployment("api"), resource="api"), resource="api")
    emu.patch_status(
        "Pod",
        api["metadata"]["name"],
        {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]},
    )
    user.until(lambda: bool(user.records("api").events), "node events attached to api")
    assert [r.reason for r in user.records("api").events] == ["EvictionThresholdMet"]


def test_an_event_that_breaks_handling_is_skipped_and_said(emu: Emulator, up: Any) -> None:
    s, user = up()
    pod = one_pod(emu, user, deploy(s, user, deployment()))
    # count is not a number (a real API server refuses that; it stands for any failure in
    # handling one event): parse_event raises, the watch goes on.
    emu.put(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "odd", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "x", "uid": "x"},
            "reason": "Odd",
            "count": "many",
        }
    )
    event(emu, pod, "Failed", "Error: ErrImagePull")
    user.until(lambda: len(user.event_lines("web")) == 1, "the next event still arrives")
    assert any("event default/odd skipped" in line for line in user.log_of(""))
