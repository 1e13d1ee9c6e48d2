"""After the Tiltfile ran: turn what the builtins recorded into a validated graph.

Each family of builtins has a ``finalize(state, asm)`` hook. They run in a fixed
order: settings and config first (trigger mode default, enabled resources),
then images (so deploys can match refs), then Kubernetes, Docker Compose and
local resources. Then the checks that span families: duplicate names,
resource_deps (unknown names warn with a suggestion, cycles fail), unused
images, and the topological order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tilt.graph import CycleError, closest, topological_order
from tilt.model import (
    ConfigState,
    ImageTarget,
    Resource,
    Settings,
    TiltfileResult,
)
from tilt.tiltfile._context import LoadState, TiltfileError
from tilt.tiltfile._loader import display_path

__all__ = ["Assembly", "assemble"]


@dataclass
class Assembly:
    """What finalize hooks build up, in order."""

    settings: Settings = field(default_factory=Settings)
    config: ConfigState = field(default_factory=ConfigState)
    images: list[ImageTarget] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    # Image refs (as declared by docker_build/custom_build) some resource deploys.
    used_images: set[str] = field(default_factory=set)
    # Resources listed after every family's (Tilt puts `uncategorized` YAML last).
    tail_resources: list[Resource] = field(default_factory=list)
    # Checks a family leaves until every family has run (they need used_images ...).
    late_checks: list[Callable[[Assembly], None]] = field(default_factory=list)


def _hooks() -> list[Callable[[LoadState, Assembly], None]]:
    from tilt.tiltfile import _compose, _config, _delivery, _images, _k8s, _local, _settings

    return [
        _settings.finalize,
        _delivery.finalize,
        _config.finalize,
        _images.finalize,
        _k8s.finalize,
        _compose.finalize,
        _local.finalize,
    ]


def assemble(state: LoadState) -> TiltfileResult:
    asm = Assembly()
    for hook in _hooks():
        hook(state, asm)
    for check in asm.late_checks:
        check(asm)
    asm.resources += asm.tail_resources

    seen: dict[str, Resource] = {}
    for r in asm.resources:
        if r.name in seen:
            first = seen[r.name]
            raise TiltfileError(
                f"resource name {r.name!r} is used twice: {first.kind.value} at "
                f"{first.location} and {r.kind.value} here",
                r.location,
            )
        seen[r.name] = r

    names = [r.name for r in asm.resources]
    # Tilt warns of a dependency on a resource that does not exist and drops it.
    for i, r in enumerate(asm.resources):
        unknown = [dep for dep in r.resource_deps if dep not in seen]
        for dep in unknown:
            hint = closest(dep, names)
            suggestion = f' (did you mean "{hint}"?)' if hint else ""
            state.warn(
                f'resource "{r.name}": resource_deps names unknown resource "{dep}"'
                f"{suggestion}; the dependency is ignored",
                r.location,
            )
        if unknown:
            kept = tuple(d for d in r.resource_deps if d in seen)
            asm.resources[i] = replace(r, resource_deps=kept)
    try:
        order = topological_order(names, {r.name: r.resource_deps for r in asm.resources})
    except CycleError as e:
        first = seen[e.cycle[0]]
        raise TiltfileError(
            "resource_deps form a cycle: " + " -> ".join(e.cycle), first.location
        ) from None

    # Enabled resources: check the requested names, add their dependencies (Tilt's rule).
    from tilt.tiltfile._config import resolve_enabled_resources

    asm.config = resolve_enabled_resources(state, asm.config, asm.resources)

    # An image is used when a resource deploys it or another image builds on it (a
    # Dockerfile's FROM, custom_build's image_deps): Tilt marks both as consumed.
    consumed = set(asm.used_images)
    for img in asm.images:
        consumed.update(img.image_deps)
    for img in asm.images:
        suppressed = asm.settings.suppress_unused_image_warnings
        if img.ref not in consumed and img.ref not in suppressed:
            state.warn(f"Image not used in any deploy config: ✕ {img.ref}", img.location)
    # Expand each resource's images to include the images they are built FROM.
    from tilt.image_graph import image_closures

    closure_of = image_closures(asm.images)
    resources = [
        replace(r, image_refs=closure_of(r.image_refs)) if r.image_refs else r
        for r in asm.resources
    ]

    return TiltfileResult(
        tiltfile=display_path(state.main_path),
        resources=tuple(resources),
        images=tuple(asm.images),
        order=tuple(order),
        settings=asm.settings,
        config=asm.config,
        files_read=tuple(state.files_read),
        warnings=tuple(state.warnings),
        logs=tuple(state.logs),
    )
