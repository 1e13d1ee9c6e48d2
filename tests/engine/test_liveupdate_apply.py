"""Tilt's live_update rules, runtime-neutral: `decide` and `apply_plan`'s step order.

The updater here records calls in memory: it stands in for the container
boundary (the Docker updater is tested against a real engine in
tests/compose/test_live_update.py); the code under test is the rules.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tilt.engine.liveupdate import ContainerGoneError, apply_plan, decide
from tilt.liveupdate import plan_live_update
from tilt.model import (
    Cmd,
    FallBackOnStep,
    ImageBuildKind,
    ImageTarget,
    RestartContainerStep,
    RunStep,
    SourceLocation,
    SyncStep,
)


class Recorder:
    """A container that records what is done to it."""

    short_id = "abc123"

    def __init__(self, *, problem: str = "", exit_codes: Sequence[int] = (), gone_on: str = ""):
        self.calls: list[str] = []
        self.problem = problem
        self.exit_codes = list(exit_codes)
        self.gone_on = gone_on

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if what.split(" ", maxsplit=1)[0] == self.gone_on:
            raise ContainerGoneError("container abc123 no longer exists")

    def check(self) -> str:
        self.calls.append("check")
        return self.problem

    def delete(self, paths: Sequence[str]) -> None:
        self._call("delete " + " ".join(paths))

    def copy_tar(self, data: bytes) -> None:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            self._call("copy " + " ".join(sorted(tar.getnames())))

    def exec(self, argv: Sequence[str], on_line: Callable[[str], None] | None) -> int:
        self._call("exec " + argv[-1])
        if on_line is not None:
            on_line("out")
        return self.exit_codes.pop(0) if self.exit_codes else 0

    def restart(self) -> int | None:
        self._call("restart")
        return 0

    def restart_count(self) -> int | None:
        return 2


def image(tmp: Path, *steps: object) -> ImageTarget:
    return ImageTarget(
        ref="app",
        kind=ImageBuildKind.DOCKER,
        context=str(tmp),
        location=SourceLocation(file=str(tmp / "Tiltfile"), line=1),
        live_update=tuple(steps),  # type: ignore[arg-type]
    )


def sh(text: str) -> Cmd:
    return Cmd(argv=("sh", "-c", text), shell=True)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    return tmp_path


def test_steps_run_in_tilts_order(src: Path) -> None:
    img = image(
        src, SyncStep(local_path=str(src / "src"), remote_path="/app"), RunStep(command=sh("make"))
    )
    steps = (*img.live_update, RestartContainerStep())
    gone = str(src / "src" / "gone.txt")
    plan = plan_live_update(steps, [str(src / "src" / "a.txt"), gone])
    rec = Recorder()
    lines: list[str] = []
    res = apply_plan(plan, rec, on_log=lines.append)
    # After a restart the baseline is what the restart left (0), not a later read (2):
    # a process that crashes at once after the restart must count as a crash.
    assert res.ok and res.restarted and res.restarts == 0
    assert rec.calls == ["check", "delete /app/gone.txt", "copy app/a.txt", "exec make", "restart"]
    assert (res.copied, res.deleted, res.ran) == (1, 1, ("make",))
    assert "  out" in lines and lines[-1] == "container abc123 updated"


@pytest.mark.parametrize(
    ("recorder", "calls", "reason"),
    [
        (Recorder(problem="container abc123 is crash-looping"), ["check"], "crash-looping"),
        (Recorder(exit_codes=[7]), ["check", "copy app/a.txt", "exec make"], "exit code 7"),
        (Recorder(exit_codes=[127]), ["check", "copy app/a.txt", "exec make"], "could not start"),
        (Recorder(gone_on="copy"), ["check", "copy app/a.txt"], "no longer exists"),
    ],
    ids=["crashed", "run-fails", "run-not-found", "gone"],
)
def test_failures_fall_back_and_stop(
    src: Path, recorder: Recorder, calls: list[str], reason: str
) -> None:
    steps = (
        SyncStep(local_path=str(src / "src"), remote_path="/app"),
        RunStep(command=sh("make")),
        RestartContainerStep(),
    )
    res = apply_plan(plan_live_update(steps, [str(src / "src" / "a.txt")]), recorder)
    assert not res.ok and reason in res.fall_back
    assert recorder.calls == calls  # nothing after the failing step, no restart
    assert res.log[-1].startswith("live update failed, falling back to a full rebuild: ")


def test_a_plan_that_falls_back_touches_nothing(src: Path) -> None:
    steps = (FallBackOnStep(paths=(str(src / "src"),)),)
    rec = Recorder()
    res = apply_plan(plan_live_update(steps, [str(src / "src" / "a.txt")]), rec)
    assert not res.ok and res.fall_back.startswith("Detected change to fall_back_on file")
    assert rec.calls == []


class All:
    def matches(self, path: str) -> bool:
        return True


def test_decide(src: Path) -> None:
    img = image(src, SyncStep(local_path=str(src / "src"), remote_path="/app"))
    base = image(src)
    files = [str(src / "src" / "a.txt")]
    kw = {"files": files, "matcher": All(), "base_dir": str(src)}
    # No live_update steps: silently a full update.
    assert decide(base, affected=[base], **kw).plan is None  # type: ignore[arg-type]
    # A base image changed: its files are not in this container.
    d = decide(img, affected=[img, replace_ref(base, "base")], **kw)  # type: ignore[arg-type]
    assert d.plan is None and d.fall_back == "files of image(s) it is built FROM changed (base)"
    # Nothing of this image changed.
    assert decide(img, affected=[], **kw).nothing_to_do  # type: ignore[arg-type]
    # A sync covers it.
    d = decide(img, affected=[img], **kw)  # type: ignore[arg-type]
    assert d.plan is not None and [c.container_path for c in d.plan.copies] == ["/app/a.txt"]
    # Outside every sync.
    d = decide(img, affected=[img], **{**kw, "files": [str(src / "x")]})  # type: ignore[arg-type]
    assert d.plan is None and d.fall_back.startswith("Found file(s) not matching any sync")


def replace_ref(img: ImageTarget, ref: str) -> ImageTarget:
    from dataclasses import replace

    return replace(img, ref=ref)
