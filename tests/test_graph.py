"""tilt.graph and tilt.image_graph: closures, levels, what a change touches."""

from __future__ import annotations

import pytest

from tilt.graph import CycleError, closure, dependents_closure, levels
from tilt.image_graph import image_closure, with_dependents
from tilt.model import ImageBuildKind, ImageTarget, SourceLocation

DEPS = {"app": ["mid", "tools"], "mid": ["base"], "tools": ["base"], "other": []}


def test_closure_lists_dependencies_first_once() -> None:
    assert closure(["app"], DEPS) == ["base", "mid", "tools", "app"]
    assert closure(["other", "mid"], DEPS) == ["other", "base", "mid"]


def test_dependents_closure() -> None:
    assert dependents_closure(["base"], DEPS) == {"base", "mid", "tools", "app"}
    assert dependents_closure(["tools"], DEPS) == {"tools", "app"}
    assert dependents_closure([], DEPS) == set()


def test_levels_group_independent_nodes() -> None:
    nodes = ["app", "mid", "tools", "base", "other"]
    assert levels(nodes, DEPS) == [["base", "other"], ["mid", "tools"], ["app"]]
    with pytest.raises(CycleError) as info:
        levels(["a", "b"], {"a": ["b"], "b": ["a"]})
    assert info.value.cycle == ("a", "b", "a")


def _img(ref: str, *deps: str) -> ImageTarget:
    return ImageTarget(
        ref=ref,
        kind=ImageBuildKind.DOCKER,
        context="/x",
        location=SourceLocation(file="Tiltfile", line=1),
        image_deps=deps,
    )


def test_image_closure_and_dependents() -> None:
    images = [_img("app", "base"), _img("base"), _img("side")]
    assert image_closure(images, ["app"]) == ("base", "app")
    assert with_dependents(images, ["base"]) == {"base", "app"}
