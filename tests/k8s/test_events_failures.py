"""Typical failures explained: what the user sees in the log and the status line for each.

The events and statuses are the ones a real kubelet/scheduler writes (messages from
Kubernetes 1.3x with containerd); the emulated API carries them to the official client.
"""

from __future__ import annotations

from typing import Any

from tests.k8s import test_events
from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tests.k8s.test_apply import deployment
from tests.k8s.test_events import deploy, event, one_pod
from tests.k8s.test_session import target

Obj = dict[str, Any]
up = test_events.up  # the same fixture: a session whose user sees lines, pods and events


def waiting(reason: str, message: str = "", **extra: Any) -> Obj:
    cs: Obj = {
        "name": "app",
        "ready": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}},
    }
    cs.update(extra)
    return {
        "phase": "Pending" if not extra else "Running",
        "conditions": [{"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [cs],
    }


def test_missing_secret_names_it(emu: Emulator, up: Any) -> None:
    s, user = up()
    pod = one_pod(emu, user, deploy(s, user, deployment()))
    emu.patch_status(
        "Pod",
        pod["metadata"]["name"],
        waiting("CreateContainerConfigError", 'secret "db-creds" not found'),
    )
    event(emu, pod, "Failed", 'Error: secret "db-creds" not found')
    user.until(lambda: bool(user.records("web").reason), "the reason")
    assert user.event_lines("web") == ['[event] Failed: Error: secret "db-creds" not found']
    assert user.status("web") == 'Error — Failed: Error: secret "db-creds" not found'


def test_image_that_cannot_be_pulled_names_ref_registry_and_error(emu: Emulator, up: Any) -> None:
    s, user = up()
    applied = run(s.deploy("web", target(deployment()), {"web": "localhost:5999/web:tilt-1"}))
    assert s.events.wait_live()
    pod = one_pod(emu, user, applied.objects[0])
    ref = "localhost:5999/web:tilt-1"
    err = (
        f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": failed to '
        f'resolve reference "{ref}": failed to do request: Head "http://localhost:5999/v2/web/'
        'manifests/tilt-1": dial tcp 127.0.0.1:5999: connect: connection refused'
    )
    event(emu, pod, "Pulling", f'Pulling image "{ref}"', type="Normal")
    event(emu, pod, "Failed", f'Failed to pull image "{ref}": {err}')
    event(emu, pod, "Failed", "Error: ErrImagePull")
    emu.patch_status(
        "Pod",
        pod["metadata"]["name"],
        waiting("ImagePullBackOff", f'Back-off pulling image "{ref}"'),
    )
    event(emu, pod, "BackOff", f'Back-off pulling image "{ref}"')
    user.until(lambda: len(user.event_lines("web")) == 5, "the pull story")
    assert user.event_lines("web") == [
        f'[event] Pulling: Pulling image "{ref}"',
        f'[event] Failed: Failed to pull image "{ref}": {err}',
        f"[event]   image {ref} from registry localhost:5999 (the cluster's nodes pull it: "
        "nothing answers on localhost:5999 there)",
        "[event] Failed: Error: ErrImagePull",
        f'[event] BackOff: Back-off pulling image "{ref}"',
    ]
    assert user.status("web") == f'Error — BackOff: Back-off pulling image "{ref}"'
    pulled = next(r for r in user.records("web").events if "Failed to pull" in r.message)
    assert pulled.explanation.startswith(f"image {ref} from registry localhost:5999")


def test_oomkilled_names_the_limit(emu: Emulator, up: Any) -> None:
    s, user = up()
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "64Mi"}}
    pod = one_pod(emu, user, deploy(s, user, body))
    last = {
        "terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-01-01T00:00:00Z"}
    }
    emu.patch_status(
        "Pod",
        pod["metadata"]["name"],
        waiting("CrashLoopBackOff", "back-off 10s", restartCount=1, lastState=last),
    )
    user.until(lambda: bool(user.event_lines("web")), "the OOM kill")
    assert user.event_lines("web") == [
        "[event] OOMKilled: container app was killed for exceeding its memory limit 64Mi",
        "[event]   exit code 137",
    ]
    assert user.pods["web"].pods[0].reason == "CrashLoopBackOff (OOMKilled)"
    assert user.status("web") == (
        "Error — OOMKilled: container app was killed for exceeding its memory limit 64Mi"
    )
    # The same instance seen again (another status update) is not a second OOM kill.
    emu.patch_status(
        "Pod",
        pod["metadata"]["name"],
        waiting("CrashLoopBackOff", "back-off 40s", restartCount=1, lastState=last),
    )
    user.until(lambda: user.pods["web"].pods[0].message == "back-off 40s", "seen again")
    assert len([r for r in user.records("web").events if r.reason == "OOMKilled"]) == 1


def test_crash_loop_shows_exit_code_and_the_previous_containers_last_lines(
    emu: Emulator, up: Any
) -> None:
    s, user = up()
    pod = one_pod(emu, user, deploy(s, user, deployment()))
    pname = pod["metadata"]["name"]
    emu.log(pname, "app", "starting", "connecting to db:5432", "panic: db unreachable")
    emu.restart_container(pname, "app")
    last = {"terminated": {"reason": "Error", "exitCode": 2}}
    emu.patch_status(
        "Pod", pname, waiting("CrashLoopBackOff", "back-off 20s", restartCount=1, lastState=last)
    )
    msg = f"Back-off restarting failed container app in pod {pname}_default(uid)"
    event(emu, pod, "BackOff", msg)
    user.until(lambda: bool(user.records("web").reason), "the crash loop")
    lines = user.event_lines("web")
    assert lines == [
        f"[event] BackOff: {msg}",
        "[event]   the last app container ended: Error, exit code 2",
        "[event]   last lines of the previous app container:",
        "[event]   | starting",
        "[event]   | connecting to db:5432",
        "[event]   | panic: db unreachable",
    ]
    assert user.status("web") == f"Error — BackOff: {msg}"
    assert user.pods["web"].pods[0].reason == "CrashLoopBackOff (exit code 2)"
