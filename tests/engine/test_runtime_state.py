"""The runtime state the engine owns: disabling, drift after a sync, crashes.

The pure tests drive `EngineState` with events; the Docker ones run the real
engine, Compose CLI and Docker engine.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from tests.engine.helpers import BASE, local, result
from tests.engine.test_compose_engine import (
    Proj,
    drive,
    log_text,
    new_proj,
    proj,  # noqa: F401 (fixture)
    res,
    until,
)
from tilt.engine import Engine
from tilt.engine.events import (
    ContainerUpdated,
    DisableRequested,
    RuntimeChanged,
    RuntimeEventReceived,
    TiltfileReloaded,
    UpdateFinished,
    UpdateStarted,
)
from tilt.engine.runtime import ContainerRuntime, LocalRuntime, RuntimeStatus
from tilt.engine.state import EngineState, StopRuntime
from tilt.logstore import LogStore
from tilt.model import ComposeTarget, ConfigState, Resource, ResourceKind, SourceLocation
from tilt.runtime_events import WARNING, RuntimeEvent

__all__ = ["new_proj"]


def compose(name: str) -> Resource:
    return Resource(
        name=name,
        kind=ResourceKind.DOCKER_COMPOSE,
        location=SourceLocation(file=f"{BASE}/Tiltfile", line=1),
        compose=ComposeTarget(project_name="p", config_files=("c.yaml",), service=name),
    )


def deployed(st: EngineState, name: str, cid: str, at: float = 1.0) -> None:
    """Run ``name``'s first update to a running container ``cid``."""
    uid = st.new_id()
    st.apply(UpdateStarted(name=name, update_id=uid, at=at))
    st.apply(ContainerUpdated(name=name, update_id=uid, container_id=cid, live_update=False, at=at))
    st.apply(RuntimeChanged(name=name, status=RuntimeStatus.OK, message="running", at=at))
    st.apply(UpdateFinished(name=name, update_id=uid, at=at, ok=True))


def test_runtime_family_follows_the_kind() -> None:
    st = EngineState(f"{BASE}/Tiltfile")
    st.apply(TiltfileReloaded(result=result(local("l", serve="x"), compose("c")), at=0.0))
    assert isinstance(st.resources["l"].runtime, LocalRuntime)
    assert isinstance(st.resources["c"].runtime, ContainerRuntime)
    assert st.resources["c"].runtime.status is RuntimeStatus.NONE


def test_disabling_through_a_reload_does_what_the_api_does() -> None:
    def fresh() -> EngineState:
        st = EngineState(f"{BASE}/Tiltfile")
        st.apply(TiltfileReloaded(result=result(compose("web"), local("other")), at=0.0))
        deployed(st, "web", "c1")
        return st

    by_api = fresh()
    api_effects = by_api.apply(DisableRequested(name="web", disabled=True, at=2.0))
    by_reload = fresh()
    res_ = result(compose("web"), local("other"))
    res_ = replace(res_, config=ConfigState(enabled_resources=("other",)))
    reload_effects = by_reload.apply(TiltfileReloaded(result=res_, at=2.0))
    assert StopRuntime(name="web", remove=True) in api_effects
    assert StopRuntime(name="web", remove=True) in reload_effects
    for st in (by_api, by_reload):
        r = st.resources["web"]
        assert r.status == "disabled"
        assert isinstance(r.runtime, ContainerRuntime)
        assert (r.runtime.status, r.runtime.reason, r.runtime.container_id) == (
            RuntimeStatus.NONE,
            "disabled",
            "",
        )
        assert r.runtime.retired == ("c1",)


def crash(name: str, cid: str, at: float) -> RuntimeEventReceived:
    return RuntimeEventReceived(
        name=name,
        event=RuntimeEvent(
            type=WARNING,
            reason="Died",
            object="container x",
            message="exited with code 4",
            time=at,
            instance_id=cid,
            crash=True,
        ),
        at=at,
    )


def test_a_crash_after_an_initial_sync_rebuilds_once() -> None:
    st = EngineState(f"{BASE}/Tiltfile")
    st.apply(TiltfileReloaded(result=result(compose("web")), at=0.0))
    deployed(st, "web", "c1")
    # initial_sync(): the runner reports the synced container like a live update.
    uid = st.resources["web"].update_id
    st.apply(
        ContainerUpdated(name="web", update_id=uid, container_id="c1", live_update=True, at=1.1)
    )
    r = st.resources["web"]
    assert isinstance(r.runtime, ContainerRuntime) and r.runtime.live_updated
    effects = st.apply(crash("web", "c1", 2.0))
    assert r.queued and r.force_update
    assert "container crashed after a live update: full rebuild" in r.pending_reasons
    assert any("Detected container crashed" in getattr(e, "text", "") for e in effects)
    # The rebuild deploys c2, synced again; it crashes too: no second rebuild (no loop).
    deployed(st, "web", "c2", at=3.0)
    uid = st.resources["web"].update_id
    st.apply(
        ContainerUpdated(name="web", update_id=uid, container_id="c2", live_update=True, at=3.1)
    )
    effects = st.apply(crash("web", "c2", 4.0))
    assert not r.queued
    assert any("crashed again after a full rebuild" in getattr(e, "text", "") for e in effects)
    # A late event of the replaced container is no news.
    assert st.apply(crash("web", "c1", 4.5)) == []


# ---- real Docker -------------------------------------------------------------------------


def _containers(p: Proj, service: str) -> list[Any]:
    return list(
        p.client.api.containers(
            all=True,
            filters={
                "label": [
                    f"com.docker.compose.project={p.name}",
                    f"com.docker.compose.service={service}",
                ]
            },
        )
    )


def test_disable_through_reload_removes_the_container_like_the_api(proj: Proj) -> None:  # noqa: F811
    proj.busybox("app")
    proj.write(
        {
            "Tiltfile": f"""
docker_build('{proj.image}', 'app')
docker_compose('compose.yaml', project_name='{proj.name}')
config.set_enabled_resources(str(read_file('enabled.txt')).split())
""",
            "enabled.txt": "one two\n",
            "app/Dockerfile": (
                "FROM scratch\nCOPY busybox /bin/busybox\n"
                'ENTRYPOINT ["/bin/busybox", "sh", "-c", '
                '"while true; do echo tick-$$HOSTNAME; /bin/busybox sleep 0.2; done"]\n'
            ),
            "compose.yaml": f"services:\n  one:\n    image: {proj.image}\n"
            "    stop_signal: SIGKILL\n"
            f"  two:\n    image: {proj.image}\n    stop_signal: SIGKILL\n",
        }
    )
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=True, quiet_period_s=0.05)

    async def body(eng: Engine) -> None:
        for svc in ("one", "two"):
            await until(lambda s=svc: res(eng, s)["runtime"]["status"] == "ok", f"{svc} up", 60)
            await until(lambda s=svc: "tick-" in log_text(eng, s, "runtime"), f"{svc} logs")
        # "two" through a reload, then "one" through the API: the same effects.
        (proj.root / "enabled.txt").write_text("one\n")
        await until(lambda: not _containers(proj, "two"), "two removed")
        eng.set_disabled("one", True)
        for svc in ("one", "two"):
            await until(lambda s=svc: not _containers(proj, s), f"{svc} removed")
            await until(lambda s=svc: res(eng, s)["status"] == "disabled", f"{svc} disabled")
            snap = res(eng, svc)
            assert snap["runtime"]["status"] == "none"
            assert snap["runtime"]["message"] == "disabled"
            text = log_text(eng, svc, "build")
            assert f"Resource disabled: removing the container of service {svc}" in text
        # Their log followers stopped with them: nothing more arrives.
        counts = [len(log_text(eng, s, "runtime")) for s in ("one", "two")]
        await asyncio.sleep(0.8)
        assert [len(log_text(eng, s, "runtime")) for s in ("one", "two")] == counts

    drive(eng, body)


def test_crash_after_initial_sync_rebuilds(proj: Proj) -> None:  # noqa: F811
    proj.busybox("app")
    proj.write(
        {
            "Tiltfile": f"""
docker_build('{proj.image}', 'app', live_update=[initial_sync(), sync('app/src', '/src')])
docker_compose('compose.yaml', project_name='{proj.name}')
""",
            "app/Dockerfile": (
                "FROM scratch\nCOPY busybox /bin/busybox\n"
                'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
                'COPY src /src\nENTRYPOINT ["sh", "/src/start.sh"]\n'
            ),
            # Runs until its config says "crash".
            "app/src/start.sh": (
                "while true; do grep -q crash /src/config && exit 4; sleep 0.1; done\n"
            ),
            "app/src/config": "ok\n",
            "compose.yaml": f"services:\n  app:\n    image: {proj.image}\n"
            "    stop_signal: SIGKILL\n",
        }
    )
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=False)

    async def body(eng: Engine) -> None:
        await until(lambda: res(eng, "app")["runtime"]["live_updated"] is True, "synced", 60)
        await until(lambda: res(eng, "app")["update"]["status"] == "ok", "deployed")
        cid = res(eng, "app")["runtime"]["container_id"]
        # The process crashes (no file change, no live update): the synced container
        # differs from its image, so Tilt's rule rebuilds it.
        full = next(c["Id"] for c in _containers(proj, "app"))
        exec_id = proj.client.api.exec_create(full, ["sh", "-c", "echo crash > /src/config"])
        proj.client.api.exec_start(exec_id)
        await until(lambda: res(eng, "app")["update"]["count"] == 2, "rebuilt after crash", 60)
        await until(lambda: res(eng, "app")["update"]["status"] == "ok", "rebuild done", 60)
        assert "Detected container crashed after a live update: full rebuild" in log_text(
            eng, "app"
        )
        await until(lambda: res(eng, "app")["runtime"]["status"] == "ok", "running again")
        assert res(eng, "app")["runtime"]["container_id"] not in ("", cid)

    drive(eng, body)


def test_matchers_and_holds_change_only_through_events() -> None:
    from tests.engine.helpers import PrefixMatcher
    from tilt.engine.events import FilesChanged, HoldsChanged, MatchersChanged

    st = EngineState(f"{BASE}/Tiltfile")
    st.apply(TiltfileReloaded(result=result(local("r", watch=("src",))), at=0.0))
    st.apply(MatchersChanged(matchers={"r": PrefixMatcher("src")}, at=0.0))
    st.resources["r"].queued = False
    st.apply(FilesChanged(paths=frozenset({f"{BASE}/src/a.py"}), at=1.0))
    assert st.resources["r"].queued and list(st.resources["r"].pending_files) == [
        f"{BASE}/src/a.py"
    ]
    st.apply(HoldsChanged(holds={"r": "waiting for a free slot"}, at=1.0))
    assert st.resources["r"].hold == "waiting for a free slot"
