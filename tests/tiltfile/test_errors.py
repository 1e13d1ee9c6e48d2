"""Broken Tiltfiles: each gives one clear message with its location, and exit 1.

Every case runs the real `tilt dump tiltfile` process: the message must name the file and
line, must not be a Python traceback, and the exit code must be 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_tilt, write_tree

# (id, Tiltfile, other files, expected location prefix, expected message fragment)
CASES: list[tuple[str, str, dict[str, str], str, str]] = [
    ("syntax", "x = 1\ny = [1,\n  2 3]\n", {}, "Tiltfile:3:5", "Parse error"),
    (
        "unknown-builtin",
        "x = 1\nnot_a_builtin('a')\n",
        {},
        "Tiltfile:2:1",
        "Variable `not_a_builtin` not found",
    ),
    (
        "unknown-argument",
        "local_resource('a', 'echo hi', bogus=1)\n",
        {},
        "Tiltfile:1",
        "local_resource: got an unexpected keyword argument 'bogus'",
    ),
    ("wrong-argument-type", "local_resource('a', cmd=123)\n", {}, "Tiltfile:1", "local_resource"),
    (
        "missing-argument",
        "\ndocker_build()\n",
        {},
        "Tiltfile:2",
        "docker_build: missing a required argument: 'ref'",
    ),
    (
        "cycle",
        "local_resource('a', 'true', resource_deps=['b'])\n"
        "local_resource('b', 'true', resource_deps=['c'])\n"
        "local_resource('c', 'true', resource_deps=['a'])\n",
        {},
        "Tiltfile:1",
        "a -> b -> c -> a",
    ),
    (
        "duplicate-name",
        "local_resource('a', 'true')\nlocal_resource('a', 'false')\n",
        {},
        "Tiltfile:2",
        "'a'",
    ),
    (
        "k8s-resource-missing-workload",
        "k8s_yaml('app.yaml')\nk8s_resource('wbe', port_forwards=8000)\n",
        {
            "app.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "spec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n"
        },
        "Tiltfile:2",
        "wbe",
    ),
    (
        "invalid-yaml",
        "k8s_yaml('bad.yaml')\n",
        {"bad.yaml": "kind: Deployment\n  name: : x\n- y\n"},
        "Tiltfile:1",
        "bad.yaml",
    ),
    ("missing-file", "x = read_file('nope.txt')\n", {}, "Tiltfile:1", "nope.txt"),
    ("missing-yaml-file", "\nk8s_yaml('nope.yaml')\n", {}, "Tiltfile:2", "nope.yaml"),
    (
        "malformed-port-forward",
        "k8s_yaml('app.yaml')\nk8s_resource('web', port_forwards='80:abc')\n",
        {
            "app.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "spec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n"
        },
        "Tiltfile:2",
        "80:abc",
    ),
    ("missing-docker-context", "docker_build('img', 'nope')\n", {}, "Tiltfile:1", "nope"),
    (
        "missing-dockerfile",
        "docker_build('img', '.')\n",
        {"app.py": ""},
        "Tiltfile:1",
        "Dockerfile",
    ),
    ("missing-load", "load('./nope.star', 'x')\n", {}, "Tiltfile:1", "nope.star"),
    (
        "error-in-loaded-file",
        "load('lib/helpers.star', 'f')\nf()\n",
        {"lib/helpers.star": "def f():\n    local_resource('x')\n"},
        "lib/helpers.star:2",
        "local_resource",
    ),
    (
        "fail",
        "\n\nfail('the db password is not set')\n",
        {},
        "Tiltfile:3",
        "the db password is not set",
    ),
    (
        "missing-extension",
        "load('ext://restart_process', 'docker_build_with_restart')\n",
        {},
        "Tiltfile:1",
        "tilt_modules/restart_process/Tiltfile",
    ),
    (
        "probe-two-actions",
        "p = probe(tcp_socket=tcp_socket_action(80), exec=exec_action(['true']))\n",
        {},
        "Tiltfile:1",
        "probe",
    ),
    ("local-command-fails", "x = local('echo oops >&2; exit 3')\n", {}, "Tiltfile:1", "oops"),
    (
        "compose-missing-file",
        "docker_compose('docker-compose.yml')\n",
        {},
        "Tiltfile:1",
        "docker-compose.yml",
    ),
    (
        "sync-outside-context",
        # Deployed (Tilt checks live_update paths only for images a resource deploys).
        "docker_build('img', 'app', live_update=[sync('other', '/app')])\nk8s_yaml('web.yaml')\n",
        {
            "app/Dockerfile": "FROM scratch\n",
            "other/x": "",
            "web.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
            "spec: {containers: [{name: c, image: img}]}\n",
        },
        "Tiltfile:1",
        "other",
    ),
    (
        "unknown-dc-service",
        "docker_compose('dc.yml')\ndc_resource('wbe', labels=['x'])\n",
        {"dc.yml": "services:\n  web:\n    image: nginx\n"},
        "Tiltfile:2",
        "wbe",
    ),
    (
        "bad-trigger-mode",
        "local_resource('a', 'true', trigger_mode='manual')\n",
        {},
        "Tiltfile:1",
        "trigger_mode",
    ),
    (
        "invalid-json",
        "x = read_json('c.json')\n",
        {"c.json": '{"a": 1,,}\n'},
        "Tiltfile:1",
        "c.json",
    ),
    (
        "load-cycle",
        "load('a.star', 'x')\n",
        {"a.star": "load('Tiltfile', 'y')\nx = 1\n"},
        "a.star:1",
        "load cycle",
    ),
    ("cmd-and-serve-empty", "local_resource('a')\n", {}, "Tiltfile:1", "local_resource"),
]


@pytest.mark.parametrize(
    ("files_tf", "files", "where", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_tiltfile(
    tmp_path: Path, files_tf: str, files: dict[str, str], where: str, fragment: str
) -> None:
    write_tree(tmp_path, {"Tiltfile": files_tf, **files})
    proc = run_tilt("dump", "tiltfile", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout[-500:]
    assert proc.stdout == ""
    assert "Traceback (most recent call last)" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"Error: {where}"), proc.stderr
    assert fragment in proc.stderr, proc.stderr


def test_unknown_resource_dep_warns_with_suggestion(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "Tiltfile": "local_resource('database', 'true')\n"
            "local_resource('api', 'true', resource_deps=['databse'])\n"
        },
    )
    proc = run_tilt("dump", "tiltfile", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (
        'WARNING: Tiltfile:2: resource "api": resource_deps names unknown resource '
        '"databse" (did you mean "database"?)' in proc.stderr
    )
