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


def test_encode_yaml_writes_a_multiline_string_as_a_literal_block(tiltfile: Any) -> None:
    # Go's yaml.v2 (Tilt's encoder) writes a string with a line break as a `|` block.
    data = tiltfile(
        "print(encode_yaml({'k': 'one\\ntwo\\n', 'n': 'a\\nb'}))\n"
        "print(encode_yaml_stream([{'k': 'x\\ny\\n'}, 'plain']))\n"
    )
    assert data["logs"] == [
        "k: |\n  one\n  two\nn: |-\n  a\n  b\n",
        "k: |\n  x\n  y\n---\nplain\n",
    ]


def test_encoded_yaml_survives_an_echo_through_the_shell(tiltfile: Any) -> None:
    # Extensions pipe encode_yaml output through `echo "$VAR"` in local(); some shells'
    # echo expands backslash escapes, so quoted "\n" escapes would come back as spaces.
    data = tiltfile(
        "s = 'line one\\nline two\\n'\n"
        "out = local('echo \"$Y\"', env={'Y': str(encode_yaml({'k': s}))}, quiet=True)\n"
        "print(decode_yaml(out)['k'] == s)\n"
    )
    assert data["logs"][-1] == "True"


def test_filter_yaml_keeps_a_multiline_value_as_a_literal_block(tiltfile: Any) -> None:
    data = tiltfile(
        "m, rest = filter_yaml('cm.yaml', kind='ConfigMap')\nprint(str(m))\n",
        files={
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
            'data:\n  f.ini: "[a]\\nb=c\\n"\n'
        },
    )
    assert "  f.ini: |\n    [a]\n    b=c\n" in data["logs"][-1]
