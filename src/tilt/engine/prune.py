"""When `tilt up` prunes the images it built (``docker_prune_settings``).

`DockerPruner` decides; `tilt.docker.prune.prune` does one pass. The engine
tells the pruner about each finished image build (`DockerPruner.build_done`),
hands it each loaded Tiltfile's settings and image repositories
(`DockerPruner.configure`), and calls `DockerPruner.poll` after every batch of
events with whether anything is building or about to. As in Tilt:

- nothing happens while pruning is disabled, while the Tiltfile builds no
  docker_build image, or while an update is running;
- the first pass runs as soon as nothing is building after the first build;
- after that, with ``num_builds`` set, a pass runs once that many builds have
  finished since the last one; otherwise once ``interval_hrs`` hours (default
  one) have passed, for which the pruner keeps one timer that wakes the engine.

A pass runs in a worker thread, one at a time; its summary lines (or the
warning it failed with: no Docker engine, say) go to ``log``. `tilt ci` does not
create a pruner.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from tilt.model import DockerPruneSettings

if TYPE_CHECKING:
    from tilt.docker.prune import PruneReport

__all__ = ["DEFAULT_INTERVAL_S", "DockerPruner", "PassFn"]

#: Tilt's interval when ``interval_hrs`` is 0.
DEFAULT_INTERVAL_S = 3600.0

#: One pass: ``(now, max_age_s, keep_recent, repositories, keep) -> report``.
PassFn = Callable[[float, float, int, Collection[str], Collection[str]], "PruneReport"]


def _docker_pass(
    now: float,
    max_age_s: float,
    keep_recent: int,
    repositories: Collection[str],
    keep: Collection[str],
) -> PruneReport:
    from tilt.docker.client import get_client
    from tilt.docker.prune import prune

    return prune(
        get_client().api,
        now=now,
        max_age_s=max_age_s,
        keep_recent=keep_recent,
        repositories=repositories,
        keep=keep,
    )


class DockerPruner:
    """Schedules prune passes for one engine (event loop thread only).

    Args:
        log: Gets each line a pass logs.
        wake: Called (on the loop) when an interval is up, so the engine polls again.
        clock: The current time, Unix seconds (for the interval and image ages).
        run_pass: One pass (default: `tilt.docker.prune.prune` on the engine's client).
    """

    def __init__(
        self,
        *,
        log: Callable[[str], None],
        wake: Callable[[], None],
        clock: Callable[[], float] = time.time,
        run_pass: PassFn | None = None,
    ) -> None:
        self._log = log
        self._wake = wake
        self._clock = clock
        self._run_pass: PassFn = run_pass or _docker_pass
        self.settings = DockerPruneSettings()
        self._repositories: tuple[str, ...] = ()
        self.builds = 0
        self._last_at: float | None = None
        self._last_builds = 0
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: float | None = None
        #: How many passes have finished (for tests and `tilt doctor`-style checks).
        self.passes = 0

    def configure(self, settings: DockerPruneSettings, repositories: Collection[str]) -> None:
        """Take a loaded Tiltfile's prune settings and its docker_build repositories."""
        self.settings = settings
        self._repositories = tuple(sorted(set(repositories)))

    def build_done(self) -> None:
        """One image build finished."""
        self.builds += 1

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def poll(self, *, busy: bool, keep: Collection[str]) -> None:
        """Start a pass if one is due; ``busy``: an update runs or is about to."""
        st = self.settings
        if st.disable or not self._repositories or busy or self.running or self.builds == 0:
            return
        now = self._clock()
        if self._last_at is None:
            self._start(now, keep)
        elif st.num_builds > 0:
            if self.builds - self._last_builds >= st.num_builds:
                self._start(now, keep)
        else:
            interval = st.interval_hrs * 3600.0 if st.interval_hrs > 0 else DEFAULT_INTERVAL_S
            due = self._last_at + interval
            if now >= due:
                self._start(now, keep)
            elif due != self._timer_due:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer_due = due
                self._timer = asyncio.get_running_loop().call_later(due - now, self._wake)

    def _start(self, now: float, keep: Collection[str]) -> None:
        self._last_at = now
        self._last_builds = self.builds
        st = self.settings
        self._task = asyncio.create_task(
            self._pass(now, st.max_age_mins * 60.0, st.keep_recent, tuple(keep)),
            name="docker-prune",
        )

    async def _pass(
        self, now: float, max_age_s: float, keep_recent: int, keep: tuple[str, ...]
    ) -> None:
        repos = self._repositories
        try:
            report = await asyncio.to_thread(
                self._run_pass, now, max_age_s, keep_recent, repos, keep
            )
        except Exception as e:  # no engine, an API error: pruning must never fail tilt
            from tilt.docker.client import as_unavailable

            unavailable = as_unavailable(e)
            reason = str(unavailable) if unavailable is not None else f"{type(e).__name__}: {e}"
            self._log(f"WARNING: [Docker Prune] error running docker prune: {reason}")
        else:
            for line in report.lines():
                self._log(line)
            if report.errors:
                from tilt import debuglog

                for err in report.errors:
                    debuglog.log(f"docker prune: {err}")
        finally:
            self.passes += 1
            self._wake()

    async def close(self) -> None:
        """Stop the timer; wait for a running pass (it ends on its own)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._task)
