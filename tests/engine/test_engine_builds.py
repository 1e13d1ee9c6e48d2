"""The engine builds a resource's images; its runner only deploys them (issue 9).

A recording runner stands in for a runtime (the contract of `tilt.engine.runner`):
the images come with the request, a live update that falls back is handed back
to the engine, which builds and starts the same update again. The images are
``custom_build(skips_local_docker=True)``: no Docker needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from tests.conftest import write_tree
from tilt.engine import Engine
from tilt.engine.events import CancelRequested, FilesChanged, LiveUpdateFellBack, RuntimeChanged
from tilt.engine.runner import Runner, RunnerBase, RunnerContext, UpdateRequest
from tilt.engine.runtime import RuntimeStatus
from tilt.logstore import LogStore
from tilt.model import Resource, ResourceKind

# Each build makes a new ref: app-image:v1, v2... (its count in a file outside the deps).
BUILD = "n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count\n" + (
    "echo building v$n\necho app-image:v$n > ref.txt\n"
)

TILTFILE = """
custom_build('app-image', 'sh build.sh', deps=['src'], skips_local_docker=True,
             outputs_image_ref_to='ref.txt', live_update=[sync('src', '/app')])
k8s_custom_deploy('web', apply_cmd='true', delete_cmd='true', deps=[],
                  image_deps=['app-image'])
"""


class RecordingRunner(RunnerBase):
    """Deploys nothing: records each request; a live update always falls back."""

    def __init__(self, ctx: RunnerContext, *, hold_live: bool = False) -> None:
        super().__init__(
            supervisor=ctx.supervisor, logs=ctx.logs, post=ctx.post, base_dir=ctx.base_dir
        )
        self.requests: list[UpdateRequest] = []
        self.hold_live = hold_live  # a live update never ends by itself (the test ends it)

    def start_update(self, req: UpdateRequest) -> None:
        self.requests.append(req)
        log = self._log(req.name, "build")
        if req.live_update and self.hold_live:
            return
        if req.live_update:
            log("Live update failed (test): falling back to a full build + deploy")
            self._fell_back(req.name, req.update_id, "test")
            return
        built = req.images.get("app-image")
        log(f"deploying {built.local_ref if built else 'nothing'}")
        self._post(
            RuntimeChanged(
                name=req.name,
                status=RuntimeStatus.OK,
                message="deployed",
                at=time.time(),
                container_id="pod-1",
            )
        )
        self._finish(req.name, req.update_id, ok=True)

    def start_runtime(self, spec: Resource, run_id: int) -> None:
        pass

    def stop(self, name: str, spec: Resource | None, *, remove: bool) -> None:
        pass

    async def close(self) -> None:
        pass


def _engine(tmp_path: Path, *, hold_live: bool = False) -> tuple[Engine, list[RecordingRunner]]:
    write_tree(tmp_path, {"Tiltfile": TILTFILE, "build.sh": BUILD, "src/a.txt": "a\n"})
    made: list[RecordingRunner] = []

    def runners(ctx: RunnerContext) -> dict[ResourceKind, Runner]:
        made.append(RecordingRunner(ctx, hold_live=hold_live))
        return {ResourceKind.K8S_CUSTOM_DEPLOY: made[0]}

    eng = Engine(str(tmp_path / "Tiltfile"), logs=LogStore(), watch=False, runners=runners)
    return eng, made


async def _until(pred: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        await asyncio.sleep(0.02)


def _web(eng: Engine) -> dict[str, object]:
    found = [r for r in eng.snapshot()["resources"] if r["name"] == "web"]
    return dict(found[0]) if found else {}


def _update(eng: Engine) -> dict[str, object]:
    u = _web(eng).get("update") or {}
    assert isinstance(u, dict)
    return u


def _run(eng: Engine, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run the engine with ``body`` (the engine shuts down however the body ends)."""

    async def scenario() -> None:
        task = asyncio.create_task(eng.run())
        try:
            await body()
        finally:
            eng.shutdown()
            await task

    asyncio.run(asyncio.wait_for(scenario(), 150))


def test_the_runner_gets_the_images_just_built(tmp_path: Path) -> None:
    eng, made = _engine(tmp_path)

    async def body() -> None:
        await _until(lambda: _update(eng).get("status") == "ok", "first update ok")

    _run(eng, body)
    (req,) = made[0].requests
    built = req.images["app-image"]
    # The build of this very update (not the state's memory of an earlier one).
    assert (built.local_ref, built.deploy_ref, built.resource) == (
        "app-image:v1",
        "app-image:v1",
        "web",
    )
    assert req.live_update == {}
    lines = [ln.text for ln in eng.logs.lines("web") if ln.span == "build"]
    # The reason first, the build, then what the runner deploys.
    assert lines.index("Initial Build") < lines.index("building v1")
    assert lines.index("building v1") < lines.index("deploying app-image:v1")


def test_a_live_update_that_falls_back_is_built_by_the_engine_and_redeployed(
    tmp_path: Path,
) -> None:
    eng, made = _engine(tmp_path)
    changed = str(tmp_path / "src" / "a.txt")

    async def body() -> None:
        await _until(lambda: _update(eng).get("status") == "ok", "first update ok")
        await _until(lambda: bool(_web(eng).get("ready")), "deployed")
        Path(changed).write_text("b\n")
        eng.post(FilesChanged(paths=frozenset({changed}), at=time.time()))
        await _until(
            lambda: _update(eng).get("count") == 2 and _update(eng).get("status") == "ok",
            "second update ok",
        )

    _run(eng, body)
    first, live, redeploy = made[0].requests
    # The live update try: no build, the decision with a plan, the running image's build.
    assert live.update_id == redeploy.update_id != first.update_id
    assert not live.full and live.files == (changed,)
    assert live.live_update["app-image"].plan is not None
    assert live.images["app-image"].local_ref == "app-image:v1"
    # Handed back: the engine built, and the same update deploys in full.
    assert redeploy.full and redeploy.live_update == {}
    assert redeploy.images["app-image"].local_ref == "app-image:v2"
    lines = [ln.text for ln in eng.logs.lines("web") if ln.span == "build"]
    second = lines[lines.index("1 File Changed: [src/a.txt]") :]
    assert second.index("Live update failed (test): falling back to a full build + deploy") < (
        second.index("building v2")
    )
    assert second.index("building v2") < second.index("deploying app-image:v2")
    assert second.count("1 File Changed: [src/a.txt]") == 1  # one update, one header


def test_a_fallback_after_a_cancel_ends_the_update_cancelled_without_a_build(
    tmp_path: Path,
) -> None:
    """The runner hands the update back just as the user cancels it: nothing is built."""
    eng, made = _engine(tmp_path, hold_live=True)
    changed = str(tmp_path / "src" / "a.txt")

    async def body() -> None:
        await _until(lambda: _update(eng).get("status") == "ok", "first update ok")
        await _until(lambda: bool(_web(eng).get("ready")), "deployed")
        eng.post(FilesChanged(paths=frozenset({changed}), at=time.time()))
        await _until(lambda: len(made[0].requests) == 2, "the live update is handed over")
        live = made[0].requests[1]
        # In this order on the queue: the cancel, then the runner's hand-back.
        eng.post(CancelRequested(name="web", at=time.time()))
        eng.post(
            LiveUpdateFellBack(name="web", update_id=live.update_id, reason="test", at=time.time())
        )
        await _until(lambda: _update(eng).get("status") == "cancelled", "cancelled")

    _run(eng, body)
    assert len(made[0].requests) == 2  # not started again
    lines = [ln.text for ln in eng.logs.lines("web") if ln.span == "build"]
    assert "building v2" not in lines
    assert lines[-1] == "Update cancelled"
