"""The UI's intents on the engine: trigger-mode override (`m`) and trigger-all-dirty (`T`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.helpers import BASE, PrefixMatcher, local, result
from tests.engine.test_engine import interactive, make, res, until
from tilt.engine import Engine
from tilt.engine.engine import EngineError
from tilt.engine.events import (
    FilesChanged,
    TiltfileReloaded,
    TriggerDirtyRequested,
    TriggerModeOverridden,
    UpdateFinished,
    UpdateStarted,
)
from tilt.engine.scheduler import plan
from tilt.engine.state import EngineState
from tilt.model import TriggerMode


def started(st: EngineState, now: float) -> list[str]:
    p = plan(st, now)
    for n in p.start:
        st.apply(UpdateStarted(name=n, update_id=st.new_id(), at=now))
    return list(p.start)


def done(st: EngineState, name: str, at: float) -> None:
    st.apply(UpdateFinished(name=name, update_id=st.resources[name].update_id, at=at, ok=True))


def two_resources() -> EngineState:
    st = EngineState(f"{BASE}/Tiltfile", quiet_period_s=0.0)
    st.apply(
        TiltfileReloaded(
            result=result(
                local("a", watch=("a",)),
                local("b", watch=("b",), trigger=TriggerMode.MANUAL),
                local("c", watch=("c",), trigger=TriggerMode.MANUAL),
            ),
            at=0.0,
        )
    )
    st.matchers = {n: PrefixMatcher(n) for n in "abc"}
    for n in started(st, 0.0):
        done(st, n, 0.5)
    for n in started(st, 1.0):
        done(st, n, 1.5)
    for n in started(st, 2.0):
        done(st, n, 2.5)
    assert all(r.update_count == 1 and not r.queued for r in st.resources.values())
    return st


def touch(st: EngineState, at: float, *paths: str) -> None:
    st.apply(FilesChanged(paths=frozenset(f"{BASE}/{p}" for p in paths), at=at))


def test_override_to_manual_makes_changes_wait() -> None:
    st = two_resources()
    st.apply(TriggerModeOverridden(name="a", mode=TriggerMode.MANUAL, at=3.0))
    touch(st, 4.0, "a/x.py")
    a = st.resources["a"]
    assert a.dirty and not a.queued
    snap = a.snapshot(BASE)
    assert snap["trigger_mode"] == "manual" and snap["trigger_mode_overridden"] is True
    assert snap["pending_files"] == ["a/x.py"]


def test_override_to_auto_updates_pending_changes_and_later_ones() -> None:
    st = two_resources()
    touch(st, 3.0, "b/y.py")
    assert st.resources["b"].dirty and not st.resources["b"].queued
    st.apply(TriggerModeOverridden(name="b", mode=TriggerMode.AUTO, at=4.0))
    assert st.resources["b"].queued
    assert started(st, 4.0) == ["b"]
    assert st.resources["b"].update_reason == "1 File Changed: [b/y.py]"
    done(st, "b", 4.5)
    touch(st, 5.0, "b/z.py")
    assert st.resources["b"].queued


def test_override_survives_reload_and_none_restores_the_tiltfile_mode() -> None:
    st = two_resources()
    st.apply(TriggerModeOverridden(name="b", mode=TriggerMode.AUTO, at=3.0))
    st.apply(
        TiltfileReloaded(
            result=result(
                local("a", watch=("a",)),
                local("b", watch=("b",), trigger=TriggerMode.MANUAL),
                local("c", watch=("c",), trigger=TriggerMode.MANUAL),
            ),
            at=4.0,
        )
    )
    assert st.resources["b"].trigger_mode is TriggerMode.AUTO
    st.apply(TriggerModeOverridden(name="b", mode=None, at=5.0))
    assert st.resources["b"].trigger_mode.value == "manual"  # the Tiltfile's again
    assert st.resources["b"].snapshot(BASE)["trigger_mode_overridden"] is False


def test_trigger_dirty_queues_only_dirty_enabled_resources() -> None:
    st = two_resources()
    touch(st, 3.0, "b/1.py", "c/2.py")
    st.apply(TriggerDirtyRequested(at=4.0))
    assert [r.name for r in st.resources.values() if r.queued] == ["b", "c"]
    assert sorted(started(st, 4.0)) == ["b"]  # local, not parallel: one at a time
    assert st.resources["b"].update_reason == "1 File Changed: [b/1.py]"


def test_engine_rejects_unknown_mode_and_resource(tmp_path: Path) -> None:
    eng = make(tmp_path, "local_resource('a', cmd='true')\n")
    with pytest.raises(EngineError, match="no resource named 'zz'"):
        eng.set_trigger_mode("zz", "manual")


def test_engine_m_and_t_with_real_processes(tmp_path: Path) -> None:
    tf = (
        "local_resource('gen', cmd='echo gen-ran', deps=['src'], trigger_mode=TRIGGER_MODE_AUTO)\n"
        "local_resource('rep', cmd='echo rep-ran', deps=['src'],"
        " trigger_mode=TRIGGER_MODE_MANUAL)\n"
    )
    eng = make(tmp_path, tf, {"src/a.txt": "1"})

    async def body(e: Engine) -> None:
        await until(e, lambda s: res(s, "rep")["update"]["count"] == 1)
        await until(e, lambda s: res(s, "gen")["update"]["status"] == "ok")
        with pytest.raises(EngineError, match="unknown trigger mode 'sometimes'"):
            e.set_trigger_mode("gen", "sometimes")
        e.set_trigger_mode("gen", "manual")
        await until(e, lambda s: res(s, "gen")["trigger_mode"] == "manual")
        e.post(FilesChanged(paths=frozenset({str(tmp_path / "src" / "a.txt")}), at=10.0))
        await until(e, lambda s: res(s, "gen")["dirty"] and res(s, "rep")["dirty"])
        assert res(e.snapshot(), "gen")["update"]["count"] == 1  # manual now: it waits
        assert sorted(e.trigger_dirty()) == ["gen", "rep"]
        await until(
            e,
            lambda s: all(
                res(s, n)["update"]["count"] == 2 and res(s, n)["update"]["status"] == "ok"
                for n in ("gen", "rep")
            ),
        )
        assert not any(res(e.snapshot(), n)["dirty"] for n in ("gen", "rep"))

    assert interactive(eng, body) == 0
