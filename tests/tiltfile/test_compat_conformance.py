"""Differences from Tilt found by loading Tilt's extensions' tests; each fixture is our own
minimal Tiltfile exercising the construct."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tilt.tiltfile import load_tiltfile

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


def test_live_update_steps_have_tilts_type_names(tiltfile: Any) -> None:
    # Extensions branch on type(step) (e.g. to reject restart_container()).
    data = tiltfile(
        "steps = [fall_back_on('a.txt'), initial_sync(), sync('.', '/app'), run('make'),"
        " restart_container()]\n"
        "print([type(s) for s in steps])\n"
        "docker_build('img', '.', live_update=steps)\n",
        files={"Dockerfile": "FROM alpine\n", "a.txt": ""},
    )
    assert data["logs"][0] == (
        '["live_update_fall_back_on_step", "live_update_initial_sync_step", '
        '"live_update_sync_step", "live_update_run_step", "live_update_restart_container_step"]'
    )


def test_str_of_a_live_update_step_is_tilts_text(tiltfile: Any, tmp_path: Any) -> None:
    # An extension takes a sync step's paths apart with str(step).split("'").
    data = tiltfile(
        "s = sync('src', '/app')\n"
        "r = run('make', trigger=['src/x'])\n"
        "print(str(s))\n"
        'print(str(s).split("\'")[3])\n'
        "print(r)\n"
        "print(str([s]))\n"
        "docker_build('img', '.', live_update=[s, r])\n",
        files={"Dockerfile": "FROM alpine\n", "src/x": ""},
    )
    src = tmp_path / "src"
    assert data["logs"][:4] == [
        f"sync step: '{src}'->'/app'",
        "/app",
        f'run step: "make" (triggers: {src}/x)',
        f"[sync step: '{src}'->'/app']",
    ]


def test_type_of_a_blob_is_blob(tmp_path: Path) -> None:
    # Extensions tell YAML text from a path by `type(x) == 'blob'` (Tilt's Blob type).
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (tmp_path / "Tiltfile").write_text(
        "b = read_file('cm.yaml')\n"
        "def inject(x):\n"
        "    return x if type(x) == 'blob' else read_file(x)\n"
        "print(inject(b) == inject('cm.yaml'), type('cm.yaml'))\n"
        "print(type(local('echo hi', quiet=True)), type(blob('k: v')), type(encode_yaml({})))\n"
        "m, r = filter_yaml(b, kind='ConfigMap')\n"
        "print(type(m), type(r), type(encode_json({'a': 1})), type(''))\n"
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    assert [ln for ln in result.logs if not ln.startswith("local:")] == [
        "True string",
        "blob blob blob",
        # An empty Blob cannot be told from "" (see docs/tiltfile-api.md).
        "blob string string string",
    ]
