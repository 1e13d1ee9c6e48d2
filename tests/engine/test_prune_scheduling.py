"""When `DockerPruner` runs a pass: first build, num_builds, interval, disable, errors.

The pass itself is replaced by a recorder (the real one is tested against Docker in
tests/docker/test_prune.py, and end to end in tests/engine/test_prune_engine.py); the
clock is a variable, so intervals need no waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import pytest

from tilt.docker.prune import PruneReport
from tilt.engine.prune import DEFAULT_INTERVAL_S, DockerPruner
from tilt.model import DockerPruneSettings


class Fixture:
    def __init__(self, *, fail: Exception | None = None) -> None:
        self.now = 1_000_000.0
        self.calls: list[tuple[float, float, int, tuple[str, ...], tuple[str, ...]]] = []
        self.lines: list[str] = []
        self.wakes = 0
        self.fail = fail
        self.pruner = DockerPruner(
            log=self.lines.append, wake=self._wake, clock=lambda: self.now, run_pass=self._pass
        )

    def _wake(self) -> None:
        self.wakes += 1

    def _pass(
        self,
        now: float,
        max_age_s: float,
        keep_recent: int,
        repos: Collection[str],
        keep: Collection[str],
    ) -> PruneReport:
        self.calls.append((now, max_age_s, keep_recent, tuple(repos), tuple(sorted(keep))))
        if self.fail is not None:
            raise self.fail
        return PruneReport(images=["sha256:x"], image_bytes=2_000_000, caches=1, cache_bytes=10)

    async def poll(self, *, busy: bool = False, keep: Collection[str] = ()) -> None:
        """Poll, then wait for a pass it started to finish."""
        self.pruner.poll(busy=busy, keep=keep)
        for _ in range(2000):
            if not self.pruner.running:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the pass did not finish")


def go(body: Any) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


def test_first_pass_after_the_first_build_when_idle_then_hourly() -> None:
    async def body() -> None:
        f = Fixture()
        f.pruner.configure(DockerPruneSettings(), ["app", "app", "api"])
        await f.poll()
        assert f.calls == []  # nothing built yet
        f.pruner.build_done()
        await f.poll(busy=True)
        assert f.calls == []  # an update is running
        await f.poll(keep={"app:tilt-1"})
        assert f.calls == [(f.now, 360 * 60.0, 2, ("api", "app"), ("app:tilt-1",))]
        assert f.lines == [
            "[Docker Prune] removed 1 images, reclaimed 2MB",
            "[Docker Prune] removed 1 caches, reclaimed 10B",
        ]
        # Builds alone do not prune again: the default interval is one hour.
        for _ in range(5):
            f.pruner.build_done()
        f.now += DEFAULT_INTERVAL_S - 1
        await f.poll()
        assert len(f.calls) == 1
        f.now += 1
        await f.poll()
        assert len(f.calls) == 2
        await f.pruner.close()

    go(body)


def test_interval_hrs_and_its_timer() -> None:
    async def body() -> None:
        f = Fixture()
        f.pruner.configure(DockerPruneSettings(interval_hrs=3), ["app"])
        f.pruner.build_done()
        await f.poll()
        assert len(f.calls) == 1
        wakes = f.wakes
        f.now += 2 * 3600
        await f.poll()
        assert len(f.calls) == 1
        # Not due: a timer is armed to wake the engine when it is (an hour from "now").
        assert f.pruner._timer is not None
        assert f.pruner._timer_due == f.now + 3600
        assert f.wakes == wakes
        f.now += 3600
        await f.poll()
        assert len(f.calls) == 2
        await f.pruner.close()

    go(body)


def test_num_builds_mode_prunes_after_every_n_builds() -> None:
    async def body() -> None:
        f = Fixture()
        f.pruner.configure(DockerPruneSettings(num_builds=3, max_age_mins=5, keep_recent=1), ["a"])
        f.pruner.build_done()
        await f.poll()
        assert [c[1:3] for c in f.calls] == [(300.0, 1)]
        for n in range(1, 7):
            f.pruner.build_done()
            f.now += 10 * DEFAULT_INTERVAL_S  # time does not matter in this mode
            await f.poll()
            assert len(f.calls) == 1 + n // 3, n
        await f.pruner.close()

    go(body)


@pytest.mark.parametrize(
    ("settings", "repos"),
    [
        pytest.param(DockerPruneSettings(disable=True), ["app"], id="disabled"),
        pytest.param(DockerPruneSettings(), [], id="no_docker_build_images"),
    ],
)
def test_no_pass(settings: DockerPruneSettings, repos: list[str]) -> None:
    async def body() -> None:
        f = Fixture()
        f.pruner.configure(settings, repos)
        for _ in range(3):
            f.pruner.build_done()
            f.now += 10 * DEFAULT_INTERVAL_S
            await f.poll()
        assert f.calls == []
        await f.pruner.close()

    go(body)


def test_a_failing_pass_is_a_warning_and_the_next_one_still_runs() -> None:
    async def body() -> None:
        f = Fixture(fail=RuntimeError("engine said no"))
        f.pruner.configure(DockerPruneSettings(), ["app"])
        f.pruner.build_done()
        await f.poll()
        assert f.lines == [
            "WARNING: [Docker Prune] error running docker prune: RuntimeError: engine said no"
        ]
        f.now += DEFAULT_INTERVAL_S
        await f.poll()
        assert len(f.calls) == 2
        await f.pruner.close()

    go(body)


def test_no_docker_engine_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from tilt.docker.client import reset_client

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    reset_client()
    lines: list[str] = []

    async def body() -> None:
        pruner = DockerPruner(log=lines.append, wake=lambda: None)
        pruner.configure(DockerPruneSettings(), ["app"])
        pruner.build_done()
        pruner.poll(busy=False, keep=())
        assert pruner.running
        await pruner.close()

    try:
        go(body)
    finally:
        reset_client()
    (line,) = lines
    assert line.startswith("WARNING: [Docker Prune] error running docker prune: ")
    assert "/nonexistent/docker.sock" in line
