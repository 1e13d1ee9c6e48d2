"""FileWatcher with real files and directories."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from tilt.model import IgnoreRule, WatchSpec
from tilt.watch.matcher import TargetMatcher
from tilt.watch.watcher import FileWatcher

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")


def no_node_modules(d: str) -> bool:
    return "/node_modules" in d + "/"


class Collector:
    """Runs `FileWatcher.changes` in a task and keeps the batches."""

    def __init__(self, watcher: FileWatcher) -> None:
        self.watcher = watcher
        self.batches: list[tuple[float, frozenset[str]]] = []
        self._new = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self.watcher.changes():
            self.batches.append((time.perf_counter(), batch))
            self._new.set()

    @property
    def paths(self) -> set[str]:
        return {p for _, b in self.batches for p in b}

    async def wait_for(self, *paths: str | Path, timeout: float = 3.0) -> float:
        """Wait until every path was reported; returns when the last one was."""
        want = {str(p) for p in paths}
        deadline = time.monotonic() + timeout
        while True:
            seen: set[str] = set()
            for t, batch in self.batches:
                seen |= batch
                if want <= seen:
                    return t
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not reported: {sorted(want - self.paths)}")
            self._new.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), left)

    def clear(self) -> None:
        self.batches.clear()


@asynccontextmanager
async def watching(
    roots: list[Path], prune: Callable[[str], bool] = no_node_modules, step_ms: int = 10
) -> AsyncIterator[Collector]:
    w = FileWatcher([str(r) for r in roots], prune_dir=prune, step_ms=step_ms)
    c = Collector(w)
    await asyncio.sleep(0)  # let the iterator register its reader
    try:
        yield c
    finally:
        await w.close()
        await asyncio.wait_for(c.task, 2)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def test_modify_create_delete_are_reported_quickly(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    existing = src / "pkg" / "a.py"
    existing.write_text("1")

    async def main() -> None:
        async with watching([src]) as c:
            lat = []
            for i in range(10):
                t0 = time.perf_counter()
                existing.write_text(str(i))
                lat.append(await c.wait_for(existing) - t0)
                c.clear()
                await asyncio.sleep(0.02)
            # 10 ms step: well under the 40 ms save-to-cmd budget.
            assert statistics.median(lat) < 0.035, lat
            new = src / "pkg" / "b.py"
            new.write_text("x")
            await c.wait_for(new)
            new.unlink()
            c.clear()
            await c.wait_for(new)
            os.utime(existing)  # touch: a metadata change counts
            c.clear()
            await c.wait_for(existing)

    run(main())


def test_atomic_save_by_rename(tmp_path: Path) -> None:
    target = tmp_path / "main.py"
    target.write_text("old")

    async def main() -> None:
        async with watching([tmp_path]) as c:
            tmp = tmp_path / ".main.py.tmp123"
            tmp.write_text("new")
            tmp.rename(target)
            await c.wait_for(target)

    run(main())


def test_pruned_tree_is_not_watched_and_reports_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    nm = tmp_path / "node_modules"
    for i in range(20):
        (nm / f"pkg{i}" / "lib").mkdir(parents=True)
        (src / f"m{i}").mkdir(parents=True)

    async def main() -> None:
        async with watching([tmp_path]) as c:
            watched = c.watcher.watched_dirs
            assert str(tmp_path) in watched and str(src / "m3") in watched
            assert not any("node_modules" in d for d in watched)
            for i in range(2000):
                (nm / f"pkg{i % 20}" / "lib" / f"f{i % 50}.js").write_text(str(i))
            (nm / "pkg0" / "newdir").mkdir()
            await asyncio.sleep(0.2)
            assert c.batches == []
            # ...and the rest of the tree is still seen, promptly.
            t0 = time.perf_counter()
            (src / "m1" / "x.py").write_text("x")
            assert await c.wait_for(src / "m1" / "x.py") - t0 < 0.1

    run(main())


def test_pruning_with_a_target_matcher(tmp_path: Path) -> None:
    (tmp_path / ".tiltignore").write_text("build/\n")
    (tmp_path / "build" / "deep").mkdir(parents=True)
    (tmp_path / "app").mkdir()
    rules = (IgnoreRule(pattern="build/", base_dir=str(tmp_path), origin=".tiltignore:1"),)
    m = TargetMatcher.from_spec(WatchSpec(paths=(str(tmp_path),)), rules)

    async def main() -> None:
        async with watching([tmp_path], prune=m.prunes_dir) as c:
            assert str(tmp_path / "build") not in c.watcher.watched_dirs
            assert str(tmp_path / ".git") not in c.watcher.watched_dirs
            (tmp_path / "build" / "deep" / "out.o").write_text("x")
            (tmp_path / "app" / "a.py").write_text("x")
            await c.wait_for(tmp_path / "app" / "a.py")
            assert str(tmp_path / "build" / "deep" / "out.o") not in c.paths

    (tmp_path / ".git").mkdir()
    run(main())


def test_new_directory_contents_are_reported(tmp_path: Path) -> None:
    async def main() -> None:
        async with watching([tmp_path]) as c:
            # Created faster than a watch can be added on "a": the scan finds them.
            deep = tmp_path / "a" / "b" / "c"
            deep.mkdir(parents=True)
            (deep / "f.txt").write_text("x")
            await c.wait_for(tmp_path / "a", deep / "f.txt")
            c.clear()
            (deep / "g.txt").write_text("y")  # and the new directories are watched
            await c.wait_for(deep / "g.txt")
            # a directory moved in from outside, with its contents
            outside = tmp_path.parent / f"{tmp_path.name}-outside"
            (outside / "sub").mkdir(parents=True)
            (outside / "sub" / "h.txt").write_text("h")
            c.clear()
            outside.rename(tmp_path / "moved")
            await c.wait_for(tmp_path / "moved", tmp_path / "moved" / "sub" / "h.txt")
            c.clear()
            (tmp_path / "moved" / "sub" / "i.txt").write_text("i")
            await c.wait_for(tmp_path / "moved" / "sub" / "i.txt")

    run(main())


def test_directory_moved_within_the_tree(tmp_path: Path) -> None:
    (tmp_path / "old" / "sub").mkdir(parents=True)

    async def main() -> None:
        async with watching([tmp_path]) as c:
            (tmp_path / "old").rename(tmp_path / "new")
            await c.wait_for(tmp_path / "old", tmp_path / "new")
            c.clear()
            (tmp_path / "new" / "sub" / "f").write_text("x")
            await c.wait_for(tmp_path / "new" / "sub" / "f")
            assert not any("/old/" in p for p in c.paths)
            assert all(not d.startswith(str(tmp_path / "old")) for d in c.watcher.watched_dirs)

    run(main())


def test_file_root_reports_only_that_file(tmp_path: Path) -> None:
    tiltfile = tmp_path / "Tiltfile"
    tiltfile.write_text("x")

    async def main() -> None:
        async with watching([tiltfile]) as c:
            (tmp_path / "other.txt").write_text("no")
            tiltfile.write_text("y")
            await c.wait_for(tiltfile)
            await asyncio.sleep(0.05)
            assert c.paths == {str(tiltfile)}
            c.clear()
            tiltfile.unlink()
            await c.wait_for(tiltfile)
            c.clear()
            tiltfile.write_text("back")
            await c.wait_for(tiltfile)

    run(main())


def test_root_that_does_not_exist_yet(tmp_path: Path) -> None:
    root = tmp_path / "later" / "src"
    sibling = tmp_path / "unrelated"

    async def main() -> None:
        async with watching([root, tmp_path / "missing.txt"]) as c:
            sibling.mkdir()
            (sibling / "x").write_text("x")
            root.mkdir(parents=True)
            (root / "a.py").write_text("a")
            await c.wait_for(root, root / "a.py")
            c.clear()
            (root / "b.py").write_text("b")
            await c.wait_for(root / "b.py")
            (tmp_path / "missing.txt").write_text("now here")
            await c.wait_for(tmp_path / "missing.txt")
            assert not any(p.startswith(str(sibling)) for p in c.paths)

    run(main())


def test_root_deleted_and_recreated(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (root / "a.py").write_text("a")

    async def main() -> None:
        async with watching([root]) as c:
            shutil.rmtree(root)
            await c.wait_for(root)
            c.clear()
            root.mkdir()
            (root / "c.py").write_text("c")
            await c.wait_for(root / "c.py")
            c.clear()
            (root / "d.py").write_text("d")
            await c.wait_for(root / "d.py")

    run(main())


def test_update_roots(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()

    async def main() -> None:
        async with watching([a]) as c:
            (b / "x").write_text("x")
            (a / "x").write_text("x")
            await c.wait_for(a / "x")
            c.watcher.update_roots([str(b)])
            assert c.watcher.roots == (str(b),)
            assert str(a) not in c.watcher.watched_dirs
            c.clear()
            (a / "y").write_text("y")
            (b / "y").write_text("y")
            await c.wait_for(b / "y")
            await asyncio.sleep(0.05)
            assert str(a / "y") not in c.paths

    run(main())


def test_a_burst_is_batched(tmp_path: Path) -> None:
    async def main() -> None:
        async with watching([tmp_path], step_ms=50) as c:
            for i in range(500):
                (tmp_path / f"f{i}").write_text("x")
            await c.wait_for(*(tmp_path / f"f{i}" for i in range(500)))
            assert len(c.batches) <= 3

    run(main())


def test_close_ends_the_iteration(tmp_path: Path) -> None:
    async def main() -> None:
        w = FileWatcher([str(tmp_path)], prune_dir=lambda d: False)
        c = Collector(w)
        await asyncio.sleep(0.05)
        await w.close()
        await asyncio.wait_for(c.task, 1)
        assert c.batches == []

    run(main())


def test_queue_overflow_reports_every_root_and_its_contents(tmp_path: Path) -> None:
    """Events lost in the kernel (IN_Q_OVERFLOW): everything is reported again."""
    from tilt.watch import watcher as wmod

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("a")

    async def main() -> None:
        async with watching([tmp_path / "src"]) as c:
            # What the kernel sends when its queue overflowed (wd -1).
            c.watcher._parse(wmod._EVENT.pack(-1, wmod._IN_Q_OVERFLOW, 0, 0))
            await c.wait_for(tmp_path / "src", tmp_path / "src" / "a.py")
            c.clear()
            (tmp_path / "src" / "b.py").write_text("b")  # still watching
            await c.wait_for(tmp_path / "src" / "b.py")

    run(main())
