"""Fixtures: an emulated API server over real HTTP, a kubeconfig pointing at it, a client."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.k8s.emulator import Emulator
from tilt.k8s.client import KubeClient, load_context

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout_s: float = 30) -> T:
    """Run one coroutine to completion (no pytest-asyncio here)."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


@pytest.fixture
def emu() -> Iterator[Emulator]:
    e = Emulator(bookmark_interval_s=0.2).start()
    yield e
    e.stop()


@pytest.fixture
def kubeconfig(emu: Emulator, tmp_path: Path) -> Path:
    p = tmp_path / "kubeconfig"
    p.write_text(yaml.safe_dump(emu.kubeconfig()))
    return p


@pytest.fixture
def kube(kubeconfig: Path) -> Iterator[KubeClient]:
    ctx, cfg = load_context(kubeconfig=str(kubeconfig))
    k = KubeClient(cfg, namespace=ctx.namespace)
    yield k
    k.close()
