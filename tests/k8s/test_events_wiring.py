"""Kubernetes events in the engine's state, through the real engine and its Kubernetes runner.

`tilt up` (not ci) against the emulated API: the resource's reason in the snapshot is the
session's status line while a Warning applies and clears on recovery; the snapshot's events
(and so `tilt get -o json` over the real API) list the Kubernetes events newest first; the
``[event]`` lines are in the log's ``event`` span; ``k8s_quiet_events`` reaches the session on
a reload and quiet events stay listed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tests.engine.test_engine import res, until
from tests.k8s.cluster import Controller, running
from tests.k8s.emulator import Emulator, now_rfc3339
from tests.k8s.test_engine_k8s import APP
from tilt.engine import Engine
from tilt.engine.runner import standard_runners
from tilt.logstore import LogStore
from tilt.ui.format import resource_row

Obj = dict[str, Any]
IMAGE = "registry.local/web:big"
UNSCHEDULABLE = "0/1 nodes are available: 1 Insufficient cpu."
TILTFILE = "k8s_yaml('app.yaml')\nk8s_resource('web')\n"


def k8s_event(emu: Emulator, pod: Obj, reason: str, typ: str, msg: str, *, count: int = 1) -> None:
    """Write an Event (again, with a higher ``count``: a repeat, as the kubelet does)."""
    emu.put(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{pod['metadata']['name']}.{reason}", "namespace": "default"},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "namespace": "default",
                "uid": pod["metadata"]["uid"],
            },
            "reason": reason,
            "type": typ,
            "message": msg,
            "count": count,
            "lastTimestamp": now_rfc3339(),
        }
    )


class Scheduler(Controller):
    """Leaves each pod unschedulable (with the scheduler's FailedScheduling event) until
    `schedule` runs it."""

    def __init__(self, emu: Emulator) -> None:
        super().__init__(emu)
        self.pods: list[Obj] = []

    def _kubelet(self, pod: Obj, image: str) -> None:
        self.pods.append(pod)
        self.emu.patch_status(
            "Pod",
            pod["metadata"]["name"],
            {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": UNSCHEDULABLE,
                    }
                ],
            },
        )
        k8s_event(self.emu, pod, "FailedScheduling", "Warning", UNSCHEDULABLE)

    def schedule(self) -> None:
        pod = self.pods[-1]
        name = pod["metadata"]["name"]
        k8s_event(self.emu, pod, "Scheduled", "Normal", f"Successfully assigned default/{name}")
        self.emu.patch_status("Pod", name, running(container="web"))


def up(
    tmp_path: Path,
    emu: Emulator,
    body: Callable[[Engine, Scheduler], Awaitable[None]],
    *,
    watch: bool = False,
) -> LogStore:
    write_tree(tmp_path, {"Tiltfile": TILTFILE, "app.yaml": APP.replace("IMAGE", IMAGE)})
    logs = LogStore()
    eng = Engine(
        str(tmp_path / "Tiltfile"), logs=logs, watch=watch, ci=False, runners=standard_runners
    )

    async def main() -> None:
        task = asyncio.create_task(eng.run())
        try:
            await body(eng, ctl)
        finally:
            eng.shutdown()
            await asyncio.wait_for(task, 20)

    with Scheduler(emu) as ctl:
        asyncio.run(main())
    return logs


def web(snap: dict[str, Any]) -> dict[str, Any]:
    return res(snap, "web")


def has_reason(snap: dict[str, Any]) -> bool:
    found = [r for r in snap["resources"] if r["name"] == "web"]
    return bool(found) and "FailedScheduling" in found[0]["runtime"]["message"]


def test_reason_events_list_and_clearing(
    emu: Emulator,
    kubeconfig: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tilt.api.server import ApiServer
    from tilt.api.token import new_token, write_token
    from tilt.commands.remote import get

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("TILT_DEV_DIR", str(tmp_path / "dev"))
    seen: dict[str, Any] = {}

    async def body(eng: Engine, ctl: Scheduler) -> None:
        # The Event and the pod's own watch are separate streams: wait for both.
        await until(
            eng,
            lambda s: has_reason(s) and web(s)["runtime"]["state"].startswith("pod "),
            timeout=30,
        )
        seen["failing"] = web(eng.snapshot())
        # `tilt get -o json web` over the real API.
        token = new_token()
        server = ApiServer(eng, token=token, port=0)
        port = await server.start()
        write_token(port, token)
        try:
            capsys.readouterr()
            code = await asyncio.to_thread(get, port, ["web"], "json")
            seen["get"] = (code, capsys.readouterr().out)
        finally:
            await server.close()
        ctl.schedule()
        await until(eng, lambda s: web(s)["runtime"]["status"] == "ok", timeout=30)
        seen["recovered"] = web(eng.snapshot())

    logs = up(tmp_path, emu, body)

    failing = seen["failing"]
    # Unschedulable is an error (no node fits), the pod still in Kubernetes' Pending phase.
    assert failing["runtime"]["message"].startswith(f"Pending — FailedScheduling: {UNSCHEDULABLE}")
    assert failing["runtime"]["reason"].startswith(f"FailedScheduling: {UNSCHEDULABLE}")
    assert failing["runtime"]["status"] == "error"
    pod = failing["runtime"]["pod"]
    assert (pod["phase"], pod["status"], pod["reason"]) == ("Pending", "error", "Unschedulable")
    assert (pod["ready_containers"], pod["total_containers"], pod["restarts"]) == (0, 1, 0)
    # The TUI's row: the status line as its detail, the Warning in its badge.
    row = resource_row(failing, now=failing["events"][0]["last_seen"])
    assert row.details.startswith("Pending — FailedScheduling: 0/1 nodes are available")
    assert row.warnings == 1

    code, out = seen["get"]
    assert code == 0
    (got,) = json.loads(out)["resources"]
    events = got["events"]
    assert [e["reason"] for e in events] == ["FailedScheduling"]
    (ev,) = events
    pod = got["runtime"]["state"].split(":")[0].removeprefix("pod ")
    assert got["runtime"]["pod"]["name"] == pod  # `tilt get -o json` has the pod's fields
    assert ev["type"] == "Warning"
    assert ev["object"] == f"pod {pod}"
    assert ev["count"] == 1
    assert ev["message"] == UNSCHEDULABLE
    assert ev["age_s"] >= 0 and ev["last_seen"] >= ev["first_seen"]
    assert ev["current"] is True and ev["quiet"] is False

    # Scheduled later (the autoscaler added a node): the watch went on, the error cleared.
    recovered = seen["recovered"]
    assert recovered["runtime"]["status"] == "ok"
    assert recovered["runtime"]["pod"]["phase"] == "Running"
    assert recovered["runtime"]["pod"]["status"] == "ready"
    assert "FailedScheduling" not in recovered["runtime"]["message"]
    assert recovered["runtime"]["reason"] == ""
    # Newest first; the old Warning stays listed.
    assert [e["reason"] for e in recovered["events"]][:2] == ["Scheduled", "FailedScheduling"]

    # The [event] lines are the log's event span (the events-only log view shows them).
    spans = {ln.span for ln in logs.lines("web") if ln.text.startswith("[event]")}
    assert spans == {"event"}
    assert any(ln.text.startswith("[event] FailedScheduling") for ln in logs.lines("web")), (
        "the Warning is logged"
    )


def test_a_repeated_event_is_one_line_in_the_engines_log_with_the_latest_count(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    store: list[LogStore] = []

    def scheduling_lines() -> list[str]:
        return [ln.text for ln in store[0].lines("web") if "FailedScheduling" in ln.text]

    async def body(eng: Engine, ctl: Scheduler) -> None:
        store.append(eng.logs)
        await until(eng, has_reason, timeout=30)
        for count in range(2, 8):  # the scheduler retries: the same Event, count raised
            k8s_event(emu, ctl.pods[-1], "FailedScheduling", "Warning", UNSCHEDULABLE, count=count)
        await until(
            eng,
            lambda s: (
                web(s)["events"][0]["count"] == 7 and any("(x7, " in t for t in scheduling_lines())
            ),
            timeout=30,
        )

    logs = up(tmp_path, emu, body)
    lines = [ln for ln in logs.lines("web") if "FailedScheduling" in ln.text]
    assert len(lines) == 1, [ln.text for ln in lines]  # not seven, not one per doubling
    (line,) = lines
    assert line.text.startswith(f"[event] FailedScheduling: {UNSCHEDULABLE} (x7, last ")
    assert line.span == "event" and line.rev >= 1


def test_quiet_events_on_reload_stay_listed(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    seen: dict[str, Any] = {}

    async def body(eng: Engine, ctl: Scheduler) -> None:
        await until(eng, has_reason, timeout=30)
        loads = eng.snapshot()["tiltfile"]["load_count"]
        (tmp_path / "Tiltfile").write_text(TILTFILE + "k8s_quiet_events('FailedScheduling')\n")
        await until(eng, lambda s: s["tiltfile"]["load_count"] > loads, timeout=30)
        await until(eng, lambda s: not has_reason(s), timeout=30)
        seen["quiet"] = web(eng.snapshot())

    up(tmp_path, emu, body, watch=True)

    quiet = seen["quiet"]
    assert quiet["runtime"]["reason"] == ""
    assert quiet["runtime"]["status"] == "error"  # the pod is Unschedulable, event quiet or not
    assert quiet["runtime"]["message"].endswith(f": Unschedulable: {UNSCHEDULABLE}")
    (ev,) = quiet["events"]
    assert (ev["reason"], ev["type"], ev["quiet"]) == ("FailedScheduling", "Warning", True)


def test_ci_fails_on_an_unschedulable_pod_naming_the_reason(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    write_tree(tmp_path, {"Tiltfile": TILTFILE, "app.yaml": APP.replace("IMAGE", IMAGE)})
    eng = Engine(
        str(tmp_path / "Tiltfile"),
        logs=LogStore(),
        watch=False,
        ci=True,
        ci_timeout_s=30,
        runners=standard_runners,
    )
    with Scheduler(emu):
        code = asyncio.run(asyncio.wait_for(eng.run(), 60))
    assert code != 0
    outcome = eng.ci_outcome
    assert outcome is not None and outcome.resource == "web", outcome
    assert "Unschedulable" in outcome.message or "FailedScheduling" in outcome.message, outcome
    assert UNSCHEDULABLE in outcome.message, outcome
