"""live_update planning: table-driven, pure (no container)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_tree
from tilt.liveupdate import FileCopy, plan_initial_sync, plan_live_update
from tilt.model import (
    Cmd,
    FallBackOnStep,
    InitialSyncStep,
    LiveUpdateStep,
    RestartContainerStep,
    RunStep,
    SyncStep,
)

R = "/repo"


def sh(script: str) -> Cmd:
    return Cmd(argv=("sh", "-c", script), shell=True)


BUILD = RunStep(command=sh("make"), triggers=(f"{R}/src/Makefile",))
ALWAYS = RunStep(command=sh("echo synced"))
PIP = RunStep(command=sh("pip install"), triggers=(f"{R}/requirements.txt", f"{R}/lib"))
STEPS: tuple[LiveUpdateStep, ...] = (
    FallBackOnStep(paths=(f"{R}/src/config.json", f"{R}/package")),
    SyncStep(local_path=f"{R}/src", remote_path="/app/src"),
    SyncStep(local_path=f"{R}/requirements.txt", remote_path="/etc/reqs.txt"),
    SyncStep(local_path=f"{R}/lib", remote_path="/opt/lib"),
    # Overlaps the first sync: the first one (in declaration order) wins.
    SyncStep(local_path=f"{R}/src/static", remote_path="/static"),
    BUILD,
    ALWAYS,
    PIP,
)
DELETED = {f"{R}/src/old.py", f"{R}/lib/gone"}


def exists(p: str) -> bool:
    return p not in DELETED


@pytest.mark.parametrize(
    ("changed", "copies", "deletions", "runs", "fall_back"),
    [
        pytest.param(
            ["/repo/src/a.py"],
            [("/repo/src/a.py", "/app/src/a.py")],
            [],
            ["echo synced"],
            "",
            id="changed file: copied, untriggered run only",
        ),
        pytest.param(
            ["/repo/src/Makefile", "/repo/src/static/x.css"],
            [
                ("/repo/src/Makefile", "/app/src/Makefile"),
                ("/repo/src/static/x.css", "/app/src/static/x.css"),
            ],
            [],
            ["make", "echo synced"],
            "",
            id="trigger matches; first sync wins on overlap",
        ),
        pytest.param(
            ["/repo/src/old.py"],
            [],
            ["/app/src/old.py"],
            ["echo synced"],
            "",
            id="deleted file: deleted in the container",
        ),
        pytest.param(
            ["/repo/requirements.txt"],
            [("/repo/requirements.txt", "/etc/reqs.txt")],
            [],
            ["echo synced", "pip install"],
            "",
            id="a file sync maps to remote_path itself; file trigger",
        ),
        pytest.param(
            ["/repo/lib/gone"],
            [],
            ["/opt/lib/gone"],
            ["echo synced", "pip install"],
            "",
            id="directory trigger matches a deletion below it",
        ),
        pytest.param(
            ["/repo/src/config.json", "/repo/src/a.py"],
            [],
            [],
            [],
            "Detected change to fall_back_on file '/repo/src/config.json'",
            id="fall_back_on file",
        ),
        pytest.param(
            ["/repo/package/x/y.json"],
            [],
            [],
            [],
            "Detected change to fall_back_on file '/repo/package/x/y.json'",
            id="fall_back_on folder (a child matches); wins over no-sync",
        ),
        pytest.param(
            ["/repo/src/a.py", "/repo/Dockerfile", "/repo/README.md"],
            [],
            [],
            [],
            "Found file(s) not matching any sync (files: /repo/Dockerfile, /repo/README.md)",
            id="outside every sync",
        ),
        pytest.param(
            ["/repo/src/a.py", "/repo/src/../src/a.py"],
            [("/repo/src/a.py", "/app/src/a.py")],
            [],
            ["echo synced"],
            "",
            id="paths normalized and deduplicated",
        ),
    ],
)
def test_plan(
    changed: list[str],
    copies: list[tuple[str, str]],
    deletions: list[str],
    runs: list[str],
    fall_back: str,
) -> None:
    plan = plan_live_update(STEPS, changed, exists=exists)
    if fall_back:
        assert plan.falls_back
        assert plan.fall_back.startswith(fall_back)
        assert plan.fall_back.endswith("falling back to a full rebuild")
        assert plan.log == (plan.fall_back,)
        assert not plan.copies and not plan.deletions and not plan.runs
        return
    assert not plan.falls_back
    assert [(c.local_path, c.container_path) for c in plan.copies] == copies
    assert list(plan.deletions) == deletions
    assert [r.command.display for r in plan.runs] == runs
    assert plan.restart is False


def test_restart_and_log_lines() -> None:
    steps = (SyncStep(local_path=f"{R}/src", remote_path="/app"), BUILD, RestartContainerStep())
    plan = plan_live_update(steps, [f"{R}/src/a.py"], exists=lambda _: True, base_dir=R)
    assert plan.restart
    assert plan.log == (
        "live update: will copy 1 file(s) to the container: src/a.py",
        "live update: skipping run: make (no synced file matches its trigger)",
        "live update: will restart the container (restart_container())",
    )


def test_no_changes_and_echo_off() -> None:
    assert plan_live_update(STEPS, []).is_noop
    hidden = RunStep(command=sh("secret-token"), echo_off=True)
    plan = plan_live_update(
        (SyncStep(local_path=R, remote_path="/app"), hidden), [f"{R}/x"], exists=lambda _: True
    )
    assert plan.runs == (hidden,)
    assert not any("secret-token" in line for line in plan.log)


def test_changed_directory_covers_its_children() -> None:
    steps = (SyncStep(local_path=R, remote_path="/app"),)
    plan = plan_live_update(steps, [f"{R}/d", f"{R}/d/a", f"{R}/d/b/c"], exists=lambda _: True)
    assert plan.copies == (FileCopy(local_path=f"{R}/d", container_path="/app/d"),)


def test_initial_sync_copies_everything_the_syncs_cover(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"src/a.py": "a", "src/sub/b.py": "b", "src/ignored/x": "x", "conf.ini": "c", "other": "o"},
    )
    t = str(tmp_path)

    class Filter:
        def matches(self, path: str) -> bool:
            return "/ignored/" not in path

        def prunes_dir(self, dirpath: str) -> bool:
            return dirpath.endswith("/ignored")

    steps = (
        InitialSyncStep(),
        SyncStep(local_path=f"{t}/src", remote_path="/app"),
        SyncStep(local_path=f"{t}/conf.ini", remote_path="/etc/app.ini"),
        RunStep(command=sh("reload"), triggers=(f"{t}/conf.ini",)),
        RunStep(command=sh("never"), triggers=(f"{t}/src/nope",)),
        RestartContainerStep(),
    )
    plan = plan_initial_sync(steps, path_filter=Filter(), base_dir=t)
    assert sorted((c.local_path[len(t) :], c.container_path) for c in plan.copies) == [
        ("/conf.ini", "/etc/app.ini"),
        ("/src/a.py", "/app/a.py"),
        ("/src/sub/b.py", "/app/sub/b.py"),
    ]
    assert [r.command.display for r in plan.runs] == ["reload"]
    assert plan.restart
    assert (
        plan.log[0]
        == "initial sync: will copy 3 file(s) to the container: conf.ini, src/a.py, src/sub/b.py"
    )


def test_initial_sync_needs_the_step(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a": "a"})
    plan = plan_initial_sync((SyncStep(local_path=str(tmp_path), remote_path="/app"),))
    assert plan.is_noop
    assert plan.log == ("initial sync: not requested (no initial_sync() step)",)
