"""The state reducer and the scheduler, as pure functions (no processes)."""

from __future__ import annotations

import pytest

from tests.engine.helpers import BASE, PrefixMatcher, local, result
from tilt.engine.events import (
    CancelRequested,
    FilesChanged,
    ProbeChanged,
    ServeExited,
    ServeStarted,
    ShutdownRequested,
    TiltfileFailed,
    TiltfileReloaded,
    TriggerRequested,
    UpdateFinished,
    UpdateStarted,
)
from tilt.engine.scheduler import plan
from tilt.engine.state import (
    CancelUpdate,
    EngineState,
    StartRuntime,
    StopRuntime,
    UpdateStatus,
)
from tilt.model import Resource, TriggerMode


def loaded(*res: Resource, max_parallel: int = 3, quiet: float = 0.2) -> EngineState:
    st = EngineState(f"{BASE}/Tiltfile", quiet_period_s=quiet)
    st.apply(TiltfileReloaded(result=result(*res, max_parallel=max_parallel), at=0.0))
    return st


def step(st: EngineState, now: float) -> list[str]:
    """What the engine does after events: start what the scheduler allows."""
    p = plan(st, now)
    for n in p.start:
        st.apply(UpdateStarted(name=n, update_id=st.new_id(), at=now))
    st.set_holds(p.holds)
    return list(p.start)


def finish(st: EngineState, name: str, *, ok: bool = True, at: float = 1.0) -> list[object]:
    uid = st.resources[name].update_id
    return list(st.apply(UpdateFinished(name=name, update_id=uid, at=at, ok=ok, error="boom")))


def change(st: EngineState, at: float, *paths: str) -> None:
    st.apply(FilesChanged(paths=frozenset(f"{BASE}/{p}" for p in paths), at=at))


# ---- the four trigger_mode x auto_init combinations ------------------------------------


@pytest.mark.parametrize(
    ("trigger", "auto_init", "starts_at_up", "change_starts"),
    [
        (TriggerMode.AUTO, True, True, True),
        (TriggerMode.AUTO, False, False, True),
        (TriggerMode.MANUAL, True, True, False),
        (TriggerMode.MANUAL, False, False, False),
    ],
)
def test_trigger_mode_and_auto_init(
    trigger: TriggerMode, auto_init: bool, starts_at_up: bool, change_starts: bool
) -> None:
    st = loaded(local("r", trigger=trigger, auto_init=auto_init, watch=("src",)))
    st.matchers = {"r": PrefixMatcher("src")}
    assert step(st, 0.0) == (["r"] if starts_at_up else [])
    if starts_at_up:
        finish(st, "r", at=0.5)
    change(st, 10.0, "src/a.py")
    r = st.resources["r"]
    assert r.dirty and list(r.pending_files) == [f"{BASE}/src/a.py"]
    assert step(st, 10.0) == (["r"] if change_starts else [])
    if not change_starts:
        # Manual: dirty until triggered; a trigger starts it and clears the flag.
        assert r.status in ("ready", "idle")
        st.apply(TriggerRequested(name="r", at=11.0))
        st.apply(TriggerRequested(name="r", at=11.0))  # deduplicated
        assert step(st, 11.0) == ["r"]
    assert not r.dirty
    assert r.update_files == (f"{BASE}/src/a.py",)
    finish(st, "r", at=12.0)
    assert step(st, 12.0) == []  # the duplicate trigger did not queue a second update


def test_dirty_files_accumulate_and_show_in_snapshot() -> None:
    st = loaded(local("r", trigger=TriggerMode.MANUAL, watch=("src",)))
    st.matchers = {"r": PrefixMatcher("src")}
    step(st, 0.0)
    finish(st, "r")
    change(st, 5.0, "src/a.py", "other/x")
    change(st, 6.0, "src/b.py", "src/a.py")
    snap = st.snapshot()["resources"][0]
    assert snap["dirty"] is True
    assert snap["pending_files"] == ["src/a.py", "src/b.py"]
    assert snap["pending_file_count"] == 2
    st.apply(TriggerRequested(name="r", at=7.0))
    step(st, 7.0)
    snap = st.snapshot()["resources"][0]
    assert snap["dirty"] is False
    assert snap["update"]["reason"] == "2 Files Changed: [src/a.py, src/b.py]"


def test_burst_is_coalesced_into_one_follow_up() -> None:
    st = loaded(local("r", watch=("src",)), quiet=0.2)
    st.matchers = {"r": PrefixMatcher("src")}
    step(st, 0.0)
    finish(st, "r", at=1.0)
    starts = 0
    written: set[str] = set()
    # 2,000 writes within one second, delivered in 10 ms batches; the first
    # update ends in the middle of the burst.
    for i in range(100):
        t = 10.0 + i * 0.01
        batch = [f"src/f{i}-{j}" for j in range(20)]
        written.update(f"{BASE}/{p}" for p in batch)
        change(st, t, *batch)
        starts += len(step(st, t))
        if i == 5:
            finish(st, "r", at=t)
    # The first change started at once; the rest waits for quiet.
    assert starts == 1
    assert step(st, 11.0) == []
    assert st.resources["r"].hold == "waiting for file changes to settle"
    assert plan(st, 11.0).wake_at == pytest.approx(10.99 + 0.2)
    assert step(st, 11.2) == ["r"]
    first_files = 20  # the first batch went with the first update
    assert len(st.resources["r"].update_files) == 2000 - first_files
    assert set(st.resources["r"].update_files) < written
    finish(st, "r", at=12.0)
    assert step(st, 20.0) == []


def test_first_change_of_a_quiet_period_starts_at_once() -> None:
    st = loaded(local("r", watch=("src",)))
    st.matchers = {"r": PrefixMatcher("src")}
    step(st, 0.0)
    finish(st, "r", at=0.1)
    change(st, 5.0, "src/a")
    assert step(st, 5.0) == ["r"]


def test_change_during_update_queues_one_follow_up_with_its_files() -> None:
    st = loaded(local("r", watch=("src",)))
    st.matchers = {"r": PrefixMatcher("src")}
    step(st, 0.0)
    change(st, 0.05, "src/a")
    change(st, 0.06, "src/b")
    finish(st, "r", at=1.0)
    assert step(st, 1.0) == ["r"]
    assert st.resources["r"].update_files == (f"{BASE}/src/a", f"{BASE}/src/b")


# ---- dependencies and readiness -------------------------------------------------------


def test_first_update_waits_for_deps_ready() -> None:
    st = loaded(local("db", cmd=None, serve="x"), local("api", deps=("db",)))
    # No probe: a serve_cmd is ready once started.
    assert step(st, 0.0) == ["db"]
    assert st.resources["api"].hold.startswith("waiting on dependencies: db")
    effects = finish(st, "db")
    assert effects == [StartRuntime(name="db", run_id=st.resources["db"].serve_id)]
    assert step(st, 1.0) == []
    st.apply(ServeStarted(name="db", serve_id=st.resources["db"].serve_id, pid=123, at=1.1))
    assert st.resources["db"].ready
    assert step(st, 1.2) == ["api"]


def test_probe_gates_readiness() -> None:
    from tilt.model import Probe, TcpSocketAction

    base = local("db", cmd=None, serve="x")
    assert base.local is not None
    lt = base.local.__class__(
        serve_cmd=base.local.serve_cmd,
        readiness_probe=Probe(tcp_socket=TcpSocketAction(port=1)),
    )
    db = base.__class__(**{**base.__dict__, "local": lt})
    st = loaded(db, local("api", deps=("db",)))
    step(st, 0.0)
    finish(st, "db")
    sid = st.resources["db"].serve_id
    st.apply(ServeStarted(name="db", serve_id=sid, pid=123, at=1.1))
    assert not st.resources["db"].ready
    assert step(st, 1.2) == []
    assert "not ready" in st.resources["api"].hold
    st.apply(ProbeChanged(name="db", serve_id=sid, ready=True, message="ok", at=1.3))
    assert step(st, 1.4) == ["api"]


def test_failed_dependency_is_the_reason_a_dependent_waits() -> None:
    st = loaded(local("a"), local("b", deps=("a",)))
    step(st, 0.0)
    finish(st, "a", ok=False)
    assert step(st, 1.0) == []
    assert st.resources["b"].hold == "waiting on dependencies: a (update failed: boom)"
    # Later updates of b never wait again once it started.
    st.apply(TriggerRequested(name="a", at=2.0))
    step(st, 2.0)
    finish(st, "a", at=2.5)
    assert step(st, 2.5) == ["b"]


def test_serve_exit_is_shown_with_its_code() -> None:
    st = loaded(local("s", cmd=None, serve="x"))
    step(st, 0.0)
    finish(st, "s")
    sid = st.resources["s"].serve_id
    st.apply(ServeStarted(name="s", serve_id=sid, pid=5, at=1.0))
    st.apply(ServeExited(name="s", serve_id=sid, returncode=3, at=2.0))
    r = st.resources["s"]
    assert r.status == "error"
    assert r.runtime_message == "serve_cmd exited with code 3"
    assert st.ci_outcome() == ("error", "s", "serve_cmd exited with code 3")
    # A stale exit (of an older run) changes nothing.
    st.apply(TriggerRequested(name="s", at=3.0))
    step(st, 3.0)
    finish(st, "s", at=3.1)
    st.apply(ServeExited(name="s", serve_id=sid, returncode=9, at=3.2))
    assert st.resources["s"].runtime_message == "starting"


def test_shutdown_stops_a_serve_whose_start_is_not_reported_yet() -> None:
    # The serve's process is being started (StartRuntime done, no ServeStarted yet):
    # shutting down must stop it all the same, or it outlives tilt (and tilt waits).
    st = loaded(local("s", cmd=None, serve="x"), local("idle", cmd="true"))
    step(st, 0.0)
    finish(st, "s")
    assert st.resources["s"].pid is None
    effects = st.apply(ShutdownRequested(reason="received SIGINT", at=1.0))
    assert StopRuntime(name="s") in effects
    assert StopRuntime(name="idle") not in effects


# ---- parallelism -----------------------------------------------------------------------


def test_parallel_slots() -> None:
    st = loaded(*(local(f"r{i}", allow_parallel=True) for i in range(5)), max_parallel=2)
    assert step(st, 0.0) == ["r0", "r1"]
    assert st.resources["r2"].hold == "waiting for a free slot (max_parallel_updates=2)"
    finish(st, "r0")
    assert step(st, 1.0) == ["r2"]


def test_local_without_allow_parallel_runs_alone() -> None:
    st = loaded(local("p", allow_parallel=True), local("x"), local("y"))
    assert step(st, 0.0) == ["p"]
    assert "not parallelizable" in st.resources["x"].hold
    finish(st, "p")
    assert step(st, 1.0) == ["x"]
    assert st.resources["y"].hold == "waiting for x (local, not parallelizable)"
    finish(st, "x")
    assert step(st, 2.0) == ["y"]


# ---- update_on_dep_change (beyond Tilt) -----------------------------------------------


@pytest.mark.parametrize("trigger", [TriggerMode.AUTO, TriggerMode.MANUAL])
def test_update_on_dep_change(trigger: TriggerMode) -> None:
    st = loaded(
        local("a"),
        local("b", deps=("a",), update_on_dep_change=True, trigger=trigger),
        local("c", deps=("a",)),
    )
    for name in ("a", "b", "c"):
        assert step(st, 0.0) == [name]
        finish(st, name)
    st.apply(TriggerRequested(name="a", at=5.0))
    assert step(st, 5.0) == ["a"]
    finish(st, "a", at=6.0)
    started = step(st, 6.0)
    if trigger is TriggerMode.AUTO:
        assert started == ["b"]
        assert st.resources["b"].update_reason == "dependency a updated"
    else:
        assert started == []
        assert st.resources["b"].dirty
        assert st.resources["b"].pending_reasons == ["dependency a updated"]
    assert not st.resources["c"].queued


# ---- cancel, reload, ci -----------------------------------------------------------------


def test_cancel_running_update() -> None:
    st = loaded(local("r"))
    step(st, 0.0)
    assert st.apply(CancelRequested(name="r", at=1.0)) == [CancelUpdate(name="r")]
    uid = st.resources["r"].update_id
    st.apply(UpdateFinished(name="r", update_id=uid, at=2.0, ok=False, cancelled=True))
    assert st.resources["r"].update_status is UpdateStatus.CANCELLED


def test_reload_keeps_unchanged_updates_changed_and_stops_removed() -> None:
    st = loaded(local("same"), local("changed"), local("gone", cmd=None, serve="x"))
    for _ in range(3):
        for n in step(st, 0.0):
            finish(st, n)
    gone = st.resources["gone"]
    st.apply(ServeStarted(name="gone", serve_id=gone.serve_id, pid=77, at=1.0))
    same_before = st.resources["same"]
    effects = st.apply(
        TiltfileReloaded(result=result(local("same"), local("changed", cmd="echo 2")), at=5.0)
    )
    assert StopRuntime(name="gone") in effects
    assert list(st.resources) == ["same", "changed"]
    assert st.resources["same"] is same_before and not same_before.queued
    assert st.resources["changed"].queued
    assert step(st, 5.0) == ["changed"]
    assert st.resources["changed"].update_reason == "Tiltfile changed"


def test_broken_reload_keeps_the_last_good_graph() -> None:
    st = loaded(local("a"))
    st.apply(TiltfileFailed(error="Error: Tiltfile:3:1: boom", at=5.0))
    assert list(st.resources) == ["a"]
    snap = st.snapshot()
    assert snap["tiltfile"]["status"] == "error"
    assert "boom" in snap["tiltfile"]["error"]
    assert st.ci_outcome() == ("error", "(Tiltfile)", "Error: Tiltfile:3:1: boom")


def test_ci_outcome_skips_never_started_auto_init_false() -> None:
    st = loaded(local("a"), local("lazy", auto_init=False))
    assert st.ci_outcome() is None
    step(st, 0.0)
    finish(st, "a")
    assert st.ci_outcome() == ("ok", "", "1 resource(s) ready")
