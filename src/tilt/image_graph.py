"""The graph of image targets: which images an image is built FROM, and what follows.

Every walk over images built ``FROM`` other images (``ImageTarget.image_deps``)
is here, on top of `tilt.graph`:

- `image_closure`: the images a resource deploys plus their base images,
  bases first (the loader stores it in ``Resource.image_refs``);
- `build_levels`: images grouped so each group depends only on earlier ones
  (independent images build in parallel);
- `touched_by`: the images a set of changed files rebuilds (matcher hits,
  then every image built FROM one of them), in build order;
- `with_dependents`: a set of images plus every image built FROM one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from tilt.graph import closure, dependents_closure, levels

if TYPE_CHECKING:
    from tilt.model import ImageTarget
    from tilt.watch.matcher import TargetMatcher

__all__ = ["build_levels", "image_closure", "image_closures", "touched_by", "with_dependents"]


def image_closure(images: Sequence[ImageTarget], refs: Iterable[str]) -> tuple[str, ...]:
    """``refs`` plus every image they are built FROM (transitively), dependencies first."""
    return image_closures(images)(refs)


def image_closures(images: Sequence[ImageTarget]) -> Callable[[Iterable[str]], tuple[str, ...]]:
    """`image_closure` over ``images`` for many ``refs`` (the graph is built once)."""
    deps = {i.ref: i.image_deps for i in images}
    return lambda refs: tuple(closure(refs, deps))


def build_levels(images: Sequence[ImageTarget]) -> list[list[ImageTarget]]:
    """Group images into levels: each level depends only on earlier ones.

    Images in one level are independent and may build in parallel. Deps that
    are not among ``images`` are ignored (already built, or not needed).

    Raises:
        tilt.graph.CycleError: images depend on each other in a cycle (the
            loader rejects this earlier; kept for callers with other sources).
    """
    by_ref = {i.ref: i for i in images}
    grouped = levels(list(by_ref), {i.ref: i.image_deps for i in images})
    return [[by_ref[r] for r in level] for level in grouped]


def with_dependents(images: Sequence[ImageTarget], refs: Iterable[str]) -> set[str]:
    """``refs`` plus the ref of every image (among ``images``) built FROM one of them."""
    return dependents_closure(refs, {i.ref: i.image_deps for i in images})


def touched_by(
    images: Sequence[ImageTarget],
    paths: Iterable[str],
    matcher_for: Callable[[ImageTarget], TargetMatcher],
) -> list[ImageTarget]:
    """The images a set of changed files rebuilds, in build order.

    Exactly the images whose matcher accepts one of ``paths``, then every
    image built from one of those (transitively). A change outside every
    image's matcher rebuilds nothing.

    Args:
        images: All image targets.
        paths: Absolute paths that changed.
        matcher_for: The (cached) watch matcher of an image.
    """
    changed = list(paths)
    hit = {i.ref for i in images if any(matcher_for(i).matches(p) for p in changed)}
    chosen = with_dependents(images, hit)
    return [i for level in build_levels([i for i in images if i.ref in chosen]) for i in level]
