"""Shared test fixtures: running the real `tilt` command, and the Docker engine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_DOCKER = os.environ.get("TILT_TEST_REQUIRE_DOCKER") == "1"


def run_tilt(
    *args: str,
    cwd: Path | str | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `tilt` CLI in a subprocess (the installed package, this interpreter)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "tilt", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` below ``root``; returns ``root``."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture
def docker_client() -> Iterator[Any]:
    """A client for the real Docker engine.

    Skips when no engine answers, except under TILT_TEST_REQUIRE_DOCKER=1 (set by
    .ci/run), where it fails: CI must never pass by skipping Docker tests.
    """
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as e:  # any failure to reach the engine
        if REQUIRE_DOCKER:
            pytest.fail(f"Docker engine required (TILT_TEST_REQUIRE_DOCKER=1) but unreachable: {e}")
        pytest.skip(f"no Docker engine: {e}")
    try:
        yield client
    finally:
        client.close()
