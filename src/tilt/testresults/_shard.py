"""Sharding: which test files each of N runs gets, balanced by the last run's durations.

Every shard runs the same command with ``TILT_SHARD_INDEX`` (0-based) and
``TILT_SHARD_COUNT`` set. For pytest, tilt also picks the files: it finds them
(``test_*.py`` / ``*_test.py`` by default), splits them so each shard's expected
time is about equal (longest first, each to the least loaded shard), using the
seconds each file took last time, kept under the tilt dev folder
(``$TILT_DEV_DIR/test-durations/``, ``~/.tilt-dev`` by default). The shard's
files are in ``TILT_SHARD_FILES`` (space-separated) and passed to pytest.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "DEFAULT_TEST_FILES",
    "ENV_SHARD_COUNT",
    "ENV_SHARD_FILES",
    "ENV_SHARD_INDEX",
    "RunMemory",
    "balance",
    "discover_test_files",
    "shard_env",
]

ENV_SHARD_INDEX = "TILT_SHARD_INDEX"
ENV_SHARD_COUNT = "TILT_SHARD_COUNT"
ENV_SHARD_FILES = "TILT_SHARD_FILES"
#: pytest's default test file patterns.
DEFAULT_TEST_FILES = ("test_*.py", "*_test.py")
_SKIP_DIRS = {
    ".git",
    ".hg",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}


def shard_env(index: int, count: int, files: Sequence[str] = ()) -> dict[str, str]:
    """The variables telling one run which shard it is."""
    env = {ENV_SHARD_INDEX: str(index), ENV_SHARD_COUNT: str(count)}
    if files:
        env[ENV_SHARD_FILES] = " ".join(files)
    return env


def discover_test_files(
    root: str, patterns: Sequence[str] = DEFAULT_TEST_FILES, *, paths: Sequence[str] = ()
) -> list[str]:
    """Test files under ``paths`` (default: ``root``), relative to ``root``, sorted.

    A pattern without ``/`` matches file names (``test_*.py``); one with ``/``
    matches the path relative to ``root`` (``tests/**/check_*.py``). Hidden folders,
    virtualenvs, caches and ``node_modules`` are not entered.
    """
    found: set[str] = set()
    name_pats = [p for p in patterns if "/" not in p]
    path_pats = [p for p in patterns if "/" in p]
    starts = [p if os.path.isabs(p) else os.path.join(root, p) for p in paths] or [root]
    for start in starts:
        if os.path.isfile(start):
            found.add(os.path.relpath(start, root))
            continue
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(
                d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")
            )
            for f in filenames:
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                if any(fnmatch.fnmatchcase(f, p) for p in name_pats) or any(
                    fnmatch.fnmatchcase(rel, p) for p in path_pats
                ):
                    found.add(rel)
    return sorted(found)


def _lookup(durations: Mapping[str, float], file: str) -> float | None:
    d = durations.get(file)
    if d is not None:
        return d
    # pytest names files relative to its rootdir, which may be above the command's folder.
    for k, v in durations.items():
        if k.endswith("/" + file) or file.endswith("/" + k):
            return v
    return None


def balance(files: Sequence[str], durations: Mapping[str, float], count: int) -> list[list[str]]:
    """Split ``files`` into ``count`` lists of about equal expected time.

    A file never timed counts as the median known file (1 s when none is known).
    Longest first, each to the least loaded shard (ties: the lower index); each
    shard's files keep their sorted order. Deterministic.
    """
    count = max(1, count)
    known = [d for f in files if (d := _lookup(durations, f)) is not None]
    default = statistics.median(known) if known else 1.0
    weighted = sorted(
        ((w if (w := _lookup(durations, f)) is not None else default, f) for f in files),
        key=lambda x: (-x[0], x[1]),
    )
    loads = [0.0] * count
    out: list[list[str]] = [[] for _ in range(count)]
    for w, f in weighted:
        i = min(range(count), key=lambda k: (loads[k], k))
        loads[i] += max(w, 1e-6)
        out[i].append(f)
    return [sorted(s) for s in out]


class RunMemory:
    """What a test resource remembers between runs (and tilt restarts).

    A JSON file per Tiltfile and resource under ``dev_dir/test-durations/``:
    seconds per test file, and the node ids that failed last.
    """

    def __init__(self, dev_dir: str, tiltfile: str, resource: str) -> None:
        key = hashlib.sha1(os.path.abspath(tiltfile).encode()).hexdigest()[:12]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in resource)
        self.path = os.path.join(dev_dir, "test-durations", f"{key}-{safe}.json")

    def _load(self) -> dict[str, object]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def durations(self) -> dict[str, float]:
        raw = self._load().get("durations")
        if not isinstance(raw, dict):
            return {}
        return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}

    def failed(self) -> list[str]:
        raw = self._load().get("failed")
        return [str(x) for x in raw] if isinstance(raw, list) else []

    def save(self, *, durations: Mapping[str, float] | None, failed: Iterable[str]) -> None:
        """Record this run (durations merge into the old ones; None keeps them)."""
        data = self._load()
        if durations:
            old = data.get("durations")
            merged = dict(old) if isinstance(old, dict) else {}
            merged.update({k: round(v, 4) for k, v in durations.items()})
            data["durations"] = merged
        data["failed"] = list(failed)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with contextlib.suppress(OSError):
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
