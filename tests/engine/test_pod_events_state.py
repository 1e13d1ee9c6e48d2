"""The reducer keeps a Kubernetes resource's events as the runner hands them."""

from __future__ import annotations

from tests.engine.helpers import BASE, local, result
from tilt.engine.events import PodEventsChanged, RuntimeChanged, TiltfileReloaded
from tilt.engine.runtime import PodEvent, RuntimeStatus
from tilt.engine.snapshot import ResourceSnapshot
from tilt.engine.state import EngineState
from tilt.model import K8sTarget, Resource, ResourceKind, SourceLocation

WEB = Resource(
    name="web",
    kind=ResourceKind.K8S,
    location=SourceLocation(file=f"{BASE}/Tiltfile", line=1),
    k8s=K8sTarget(),
)


def ev(reason: str, typ: str, at: float, *, quiet: bool = False, count: int = 1) -> PodEvent:
    return PodEvent(
        type=typ,
        reason=reason,
        object="pod web-1",
        message=f"{reason} happened",
        count=count,
        first_seen=at,
        last_seen=at,
        quiet=quiet,
    )


def state() -> EngineState:
    st = EngineState(f"{BASE}/Tiltfile")
    st.apply(TiltfileReloaded(result=result(WEB, local("a")), at=0.0))
    return st


def web(st: EngineState) -> ResourceSnapshot:
    return next(r for r in st.snapshot()["resources"] if r["name"] == "web")


def test_records_replace_the_list_and_the_problem_is_the_runtime_reason() -> None:
    st = state()
    first = (ev("FailedScheduling", "Warning", 10.0),)
    st.apply(PodEventsChanged(name="web", events=first, problem="FailedScheduling: x", at=10.0))
    # The same event again with the API's count: replaced, not added up.
    again = (ev("FailedScheduling", "Warning", 12.0, count=3),)
    st.apply(PodEventsChanged(name="web", events=again, problem="FailedScheduling: x", at=12.0))
    st.apply(
        RuntimeChanged(
            name="web",
            status=RuntimeStatus.PENDING,
            message="Pending — FailedScheduling: x",
            at=12.0,
        )
    )
    snap = web(st)
    (e,) = snap["events"]
    assert (e["reason"], e["count"], e["quiet"], e["current"]) == (
        "FailedScheduling",
        3,
        False,
        True,
    )
    assert snap["runtime"]["reason"] == "FailedScheduling: x"
    assert snap["runtime"]["message"] == "Pending — FailedScheduling: x"

    # Recovered: the runner's view has no problem any more; the events stay listed.
    both = (ev("Scheduled", "Normal", 13.0), *again)
    st.apply(PodEventsChanged(name="web", events=both, problem="", at=13.0))
    snap = web(st)
    assert snap["runtime"]["reason"] == ""
    assert [x["reason"] for x in snap["events"]] == ["Scheduled", "FailedScheduling"]


def test_other_runtimes_ignore_pod_events() -> None:
    st = state()
    st.apply(PodEventsChanged(name="a", events=(ev("X", "Warning", 1.0),), problem="X: y", at=1.0))
    a = next(r for r in st.snapshot()["resources"] if r["name"] == "a")
    assert a["events"] == [] and a["runtime"]["reason"] == ""
