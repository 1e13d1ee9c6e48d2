"""Tilt's relative-path rule: a path resolves against the folder of the file whose load runs.

Tilt keeps the file being loaded in a thread-local (`starkit.execingTiltfileKey`, set and
restored around each load in `environment.go`) and every path-taking builtin joins relative
paths to its folder (`starkit.AbsPath`). So a function defined in `lib/Tiltfile` resolves
against `lib/` while `lib/Tiltfile` runs its own top-level code, and against the main
Tiltfile's folder when the main Tiltfile calls it later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tilt.tiltfile import load_tiltfile
from tilt.tiltfile.dump import to_jsonable

HELPER = """\
def helper(tag):
    print(tag, 'read_file', read_file('data.txt').strip())
    print(tag, 'read_json', read_json('data.json')['where'])
    print(tag, 'read_yaml', read_yaml('data.yaml')['where'])
    print(tag, 'read_yaml_stream', read_yaml_stream('data.yaml')[0]['where'])
    print(tag, 'listdir', [os.path.basename(p) for p in listdir('marker')])
    print(tag, 'exists', os.path.exists('marker/only-' + tag))
    print(tag, 'getcwd', os.getcwd())
    print(tag, 'abspath', os.path.abspath('x'))
    print(tag, 'relpath', os.path.relpath(os.path.abspath('a/b')))
    print(tag, 'realpath', os.path.realpath('marker'))
    print(tag, 'local', str(local('cat data.txt', quiet=True)).strip())
    print(tag, 'local_dir', str(local('pwd', quiet=True, dir='marker')).strip())
    watch_file('watched-' + tag)
    k8s_yaml('app.yaml')
    docker_build('img-' + tag, 'ctx', dockerfile='ctx/Dockerfile',
                 live_update=[sync('ctx/src', '/app'), run('true', trigger=['ctx/src/x'])])
    custom_build('custom-' + tag, 'true', deps=['ctx'])
    local_resource('lr-' + tag, 'true', deps=['ctx'], serve_cmd='true', serve_dir='ctx',
                   ignore=['ctx/ignored'])
    k8s_custom_deploy('cd-' + tag, apply_cmd='true', delete_cmd='true', deps=['ctx'])
    docker_compose('compose.yaml', project_name='p-' + tag)
"""


COMPOSE = "services:\n  svc-{where}:\n    image: busybox\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{where}\n"


def _tree(root: Path, main: str) -> None:
    files: dict[str, str] = {"Tiltfile": main, "lib/Tiltfile": HELPER + "helper('lib')\n"}
    for where, prefix in (("main", ""), ("lib", "lib/")):
        files |= {
            f"{prefix}data.txt": where + "\n",
            f"{prefix}data.json": f'{{"where": "{where}"}}',
            f"{prefix}data.yaml": f"where: {where}\n",
            f"{prefix}marker/only-{where}": "",
            f"{prefix}app.yaml": CONFIGMAP.format(where=where),
            f"{prefix}ctx/Dockerfile": "FROM scratch\n",
            f"{prefix}ctx/src/x": "",
            f"{prefix}compose.yaml": COMPOSE.format(where=where),
        }
    write_tree(root, files)


def _load(root: Path) -> tuple[dict[str, Any], dict[str, list[str]]]:
    data: dict[str, Any] = to_jsonable(load_tiltfile(str(root / "Tiltfile")))
    logs: dict[str, list[str]] = {}
    for line in data["logs"]:
        tag, name, *rest = line.split(" ", 2)
        if tag in ("main", "lib"):
            logs.setdefault(tag, []).append(f"{name} {rest[0] if rest else ''}".strip())
    return data, logs


def _expected(tag: str, base: Path) -> list[str]:
    return [
        f"read_file {tag}",
        f"read_json {tag}",
        f"read_yaml {tag}",
        f"read_yaml_stream {tag}",
        f'listdir ["only-{tag}"]',
        "exists True",
        f"getcwd {base}",
        f"abspath {base / 'x'}",
        "relpath a/b",
        f"realpath {(base / 'marker').resolve()}",
        f"local {tag}",
        f"local_dir {base / 'marker'}",
    ]


def _check_declarations(data: dict[str, Any], tag: str, base: Path) -> None:
    images = {i["ref"]: i for i in data["images"]}
    img = images[f"img-{tag}"]
    assert img["context"] == str(base / "ctx")
    assert img["dockerfile"] == str(base / "ctx" / "Dockerfile")
    assert img["live_update"][0]["local_path"] == str(base / "ctx" / "src")
    assert img["live_update"][1]["triggers"] == [str(base / "ctx" / "src" / "x")]
    assert images[f"custom-{tag}"]["deps"] == [str(base / "ctx")]
    res = {r["name"]: r for r in data["resources"]}[f"lr-{tag}"]["local"]
    assert res["deps"] == [str(base / "ctx")]
    assert res["serve_dir"] == str(base / "ctx")
    assert res["dir"] == str(base)
    assert str(base / f"watched-{tag}") in data["files_read"]
    assert str(base / "app.yaml") in data["files_read"]
    assert res_by(data, f"cd-{tag}")["custom_deploy"]["deps"] == [str(base / "ctx")]
    compose = res_by(data, f"svc-{tag}")["compose"]
    assert compose["config_files"] == [str(base / "compose.yaml")]


def res_by(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in data["resources"] if r["name"] == name)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_helper_called_from_main_resolves_against_main(project: Path) -> None:
    _tree(project, "load('lib/Tiltfile', 'helper')\nhelper('main')\n")
    data, logs = _load(project)
    assert logs["main"] == _expected("main", project)
    _check_declarations(data, "main", project)


def test_helper_called_at_the_loaded_files_top_level_resolves_against_its_folder(
    project: Path,
) -> None:
    _tree(project, "load('lib/Tiltfile', 'helper')\nhelper('main')\n")
    data, logs = _load(project)
    assert logs["lib"] == _expected("lib", project / "lib")
    _check_declarations(data, "lib", project / "lib")


def test_include_runs_the_included_file_against_its_own_folder(project: Path) -> None:
    # The helper lives in lib/, is included from main, and include()s a file of its own:
    # relative to the file whose load runs (the main Tiltfile when main calls the helper).
    write_tree(
        project,
        {
            "Tiltfile": "load('lib/Tiltfile', 'inc')\ninc('part.star')\n",
            "lib/Tiltfile": "def inc(p):\n    include(p)\ninc('part.star')\n",
            "part.star": "print('main part', read_file('d.txt').strip())\n",
            "lib/part.star": "print('lib part', read_file('d.txt').strip())\n",
            "d.txt": "main",
            "lib/d.txt": "lib",
        },
    )
    data, _ = _load(project)
    assert data["logs"] == ["lib part lib", "main part main"]


def test_ext_function_called_from_main_resolves_against_main(project: Path) -> None:
    write_tree(
        project,
        {
            "Tiltfile": "load('ext://cm', 'cm_from_file')\ncm_from_file('main-cm', 'conf.txt')\n",
            "tilt_modules/cm/Tiltfile": (
                "def cm_from_file(name, path):\n"
                "    print(name, read_file(path).strip(), __file__)\n"
                "cm_from_file('ext-cm', 'conf.txt')\n"
            ),
            "conf.txt": "from-main",
            "tilt_modules/cm/conf.txt": "from-ext",
        },
    )
    data, _ = _load(project)
    ext_file = str(project / "tilt_modules" / "cm" / "Tiltfile")
    assert data["logs"] == [f"ext-cm from-ext {ext_file}", f"main-cm from-main {ext_file}"]


def test_nested_loads_restore_the_running_file(project: Path) -> None:
    # a/Tiltfile loads b/Tiltfile at its top; after that load returns, a's code resolves
    # against a/ again.
    write_tree(
        project,
        {
            "Tiltfile": "load('a/Tiltfile', 'A')\nprint('main', read_file('n.txt'))\n",
            "a/Tiltfile": "load('../b/Tiltfile', 'B')\nA = 1\nprint('a', read_file('n.txt'))\n",
            "b/Tiltfile": "B = 1\nprint('b', read_file('n.txt'))\n",
            "n.txt": "M",
            "a/n.txt": "A",
            "b/n.txt": "B",
        },
    )
    data, _ = _load(project)
    assert data["logs"] == ["b B", "a A", "main M"]
