"""Differences from Tilt found by loading Tilt's extensions' tests; each fixture is our own
minimal Tiltfile exercising the construct."""

from __future__ import annotations

from typing import Any

POD_OF_APP = """apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: app
"""


def _messages(data: dict[str, Any]) -> list[str]:
    return [w["message"] for w in data["warnings"]]


def test_an_image_only_built_from_is_not_unused(tiltfile: Any) -> None:
    # Tilt marks an image consumed when another image's Dockerfile (a file or
    # dockerfile_contents) builds FROM it; no "Image not used" warning for a base image.
    data = tiltfile(
        "docker_build('base', '.')\n"
        "docker_build('app', '.', dockerfile_contents='FROM base\\nRUN true\\n')\n"
        "k8s_yaml('pod.yaml')\n",
        files={"Dockerfile": "FROM alpine\n", "pod.yaml": POD_OF_APP},
    )
    assert _messages(data) == []
    (res,) = data["resources"]
    assert res["image_refs"] == ["base", "app"]


def test_an_image_named_in_custom_build_image_deps_is_not_unused(tiltfile: Any) -> None:
    data = tiltfile(
        "docker_build('base', '.')\n"
        "custom_build('app', 'true', ['.'], image_deps=['base'])\n"
        "k8s_yaml('pod.yaml')\n",
        files={"Dockerfile": "FROM alpine\n", "pod.yaml": POD_OF_APP},
    )
    assert _messages(data) == []


def test_a_base_image_of_an_unused_image_is_consumed_but_the_unused_one_warns(
    tiltfile: Any,
) -> None:
    # Tilt walks every image's FROM lines, deployed or not: only the top image warns.
    data = tiltfile(
        "docker_build('base', '.')\n"
        "docker_build('other', '.', dockerfile_contents='FROM base\\n')\n",
        files={"Dockerfile": "FROM alpine\n"},
    )
    assert _messages(data) == ["Image not used in any deploy config: ✕ other"]
