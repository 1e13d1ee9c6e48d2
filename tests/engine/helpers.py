"""Building graphs for engine tests straight from the model (no Tiltfile needed)."""

from __future__ import annotations

import os

from tilt.model import (
    Cmd,
    ConfigState,
    LocalTarget,
    Resource,
    ResourceKind,
    Settings,
    SourceLocation,
    TiltfileResult,
    TriggerMode,
    WatchSpec,
)

BASE = "/proj"


def sh(script: str) -> Cmd:
    return Cmd(argv=("sh", "-c", script), shell=True)


def local(
    name: str,
    *,
    cmd: str | None = "true",
    serve: str | None = None,
    deps: tuple[str, ...] = (),
    watch: tuple[str, ...] = (),
    trigger: TriggerMode = TriggerMode.AUTO,
    auto_init: bool = True,
    allow_parallel: bool = False,
    update_on_dep_change: bool = False,
) -> Resource:
    return Resource(
        name=name,
        kind=ResourceKind.LOCAL,
        location=SourceLocation(file=f"{BASE}/Tiltfile", line=1),
        resource_deps=deps,
        trigger_mode=trigger,
        auto_init=auto_init,
        update_on_dep_change=update_on_dep_change,
        local=LocalTarget(
            cmd=sh(cmd) if cmd is not None else None,
            serve_cmd=sh(serve) if serve is not None else None,
            allow_parallel=allow_parallel,
            watch=WatchSpec(paths=tuple(os.path.join(BASE, w) for w in watch)),
        ),
    )


def result(*resources: Resource, max_parallel: int = 3) -> TiltfileResult:
    return TiltfileResult(
        tiltfile=f"{BASE}/Tiltfile",
        resources=tuple(resources),
        images=(),
        order=tuple(r.name for r in resources),
        settings=Settings(max_parallel_updates=max_parallel),
        config=ConfigState(),
        files_read=(f"{BASE}/Tiltfile",),
    )


class PrefixMatcher:
    """A stand-in matcher for pure state tests: a path under one of the prefixes."""

    def __init__(self, *prefixes: str) -> None:
        self.prefixes = tuple(os.path.join(BASE, p) for p in prefixes)

    def matches(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)
