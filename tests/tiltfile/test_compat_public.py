"""Constructs found in public Tiltfiles that loaded differently here than in Tilt.

Each fixture is a minimal Tiltfile written for the test that reproduces the construct.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_listdir_of_a_missing_folder_or_a_file_is_empty(tiltfile: Any, tmp_path: Path) -> None:
    # A pattern from multi-provider projects: include every file of a git-ignored folder
    # of user overrides, which usually does not exist. Tilt's filepath.Walk skips the
    # root, error included, so the list is empty instead of failing the load.
    data = tiltfile(
        "for f in listdir('tilt.d'):\n    include(f)\n"
        "print(listdir('tilt.d'), listdir('plain.txt', recursive=True))\n",
        files={"plain.txt": "x"},
    )
    assert data["logs"] == ["[] []"]
    assert str(tmp_path / "tilt.d") in data["files_read"]


def _deployment(name: str, namespace: str = "") -> str:
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n{ns}"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: c\n"
        f"        image: img-{name}\n---\n"
    )


def test_workload_to_resource_function_names_workloads(tiltfile: Any) -> None:
    # Projects that prefix every workload (with the user name, a Helm release...) strip
    # the prefix from the resource names; k8s_resource then uses the new names.
    data = tiltfile(
        "k8s_yaml('app.yaml')\n"
        "def resource_name(id):\n"
        "    print(id.name, id.kind, id.namespace, repr(id.group))\n"
        "    return id.name.replace('dev-', '')\n"
        "workload_to_resource_function(resource_name)\n"
        "k8s_resource('web', port_forwards=8000)\n",
        files={"app.yaml": _deployment("dev-web") + _deployment("dev-api", "team")},
    )
    assert data["order"] == ["web", "api"]
    assert data["logs"] == [
        'dev-web Deployment default "apps"',
        'dev-api Deployment team "apps"',
    ]
    web = data["resources"][0]
    assert [o["name"] for o in web["k8s"]["objects"]] == ["dev-web"]
    assert web["k8s"]["port_forwards"][0]["local_port"] == 8000


def test_workload_to_resource_function_from_a_loaded_file(tiltfile: Any) -> None:
    # The function may live in a library file and be registered from there.
    data = tiltfile(
        "load('lib/naming.star', 'use_short_names')\nuse_short_names()\nk8s_yaml('app.yaml')\n",
        files={
            "lib/naming.star": (
                "def _short(id):\n    return id.name.split('-')[-1]\n"
                "def use_short_names():\n    workload_to_resource_function(_short)\n"
            ),
            "app.yaml": _deployment("team-a-web"),
        },
    )
    assert data["order"] == ["web"]


def test_workload_to_resource_function_errors(tiltfile_error: Any) -> None:
    files = {"app.yaml": _deployment("a-x") + _deployment("b-x")}
    conflict = tiltfile_error(
        "k8s_yaml('app.yaml')\ndef f(id):\n    return 'x'\nworkload_to_resource_function(f)\n",
        files=files,
    )
    assert "both 'b-x:deployment:default:apps' and 'a-x:deployment:default:apps'" in conflict
    assert "mapped to resource name 'x'" in conflict
    assert "Tiltfile:4" in conflict
    not_str = tiltfile_error(
        "k8s_yaml('app.yaml')\ndef f(id):\n    return 1\nworkload_to_resource_function(f)\n",
        files=files,
    )
    assert "invalid return value. wanted: string. got: int" in not_str
    arity = tiltfile_error("def f(a, b):\n    return a\nworkload_to_resource_function(f)\n")
    assert "workload_to_resource_function arg must take 1 argument. f takes 2" in arity
    not_fn = tiltfile_error("workload_to_resource_function('f')\n")
    assert "for parameter func: got string, want function" in not_fn
    failing = tiltfile_error(
        "k8s_yaml('app.yaml')\ndef f(id):\n    fail('no name for ' + id.name)\n"
        "workload_to_resource_function(f)\n",
        files=files,
    )
    assert "no name for a-x" in failing


def test_restart_container_fails_the_load_for_kubernetes(tiltfile_error: Any) -> None:
    # Older Tiltfiles (e.g. a service mesh's control plane) still end a custom_build's
    # live_update with restart_container(); Tilt refuses that at load for Kubernetes
    # resources, naming them, instead of failing each live update later.
    files = {"app.yaml": _deployment("api") + _deployment("web"), "api/f": "", "web/f": ""}
    msg = tiltfile_error(
        "k8s_yaml('app.yaml')\n"
        "custom_build('img-api', 'true', ['api'], live_update=[sync('api', '/a'), "
        "restart_container()])\n"
        "docker_build('img-base', 'web', dockerfile_contents='FROM scratch',"
        " live_update=[restart_container()])\n"
        "docker_build('img-web', 'web', dockerfile_contents='FROM img-base')\n",
        files=files,
    )
    assert "restart_container() is in the live_update of resource(s) [api, web]" in msg
    assert "restart_process" in msg


def test_restart_container_stays_for_an_image_no_kubernetes_resource_deploys(
    tiltfile: Any,
) -> None:
    data = tiltfile(
        "docker_build('img-x', '.', dockerfile_contents='FROM scratch',"
        " live_update=[restart_container()])\n"
    )
    assert data["images"][0]["live_update"] == [{"kind": "restart_container"}]


def test_percent_format_with_mapping_keys(tiltfile: Any) -> None:
    # go.starlark.net takes `%(name)s` conversions from a dict; Tiltfiles build image
    # names and commands that way.
    data = tiltfile(
        "d = {'name': 'web', 'port': 8080}\n"
        "print('%(name)s:%(port)d 100%%' % d)\n"
        "print('img %(name)s' % {\n    'name': 'api',\n} + '!', '%s' % 'plain')\n"
        "print('%(q)r' % {'q': 'x'})\n"
    )
    assert data["logs"] == ["web:8080 100%", "img api! plain", '"x"']


def test_percent_format_missing_key_names_the_line(tiltfile_error: Any) -> None:
    msg = tiltfile_error("x = 1\ny = '%(zz)s' % {'a': 1}\n")
    assert "Tiltfile:2" in msg
    assert "key not found: zz" in msg


def test_image_json_path_with_an_escaped_dot_in_a_field(tiltfile: Any) -> None:
    # Operators that record their image in an annotation point k8s_kind at it; the
    # annotation's name has dots, escaped with a backslash as Kubernetes' JSONPath wants.
    data = tiltfile(
        "custom_build('reg.example/op', 'true', deps=['.'])\n"
        "k8s_kind('Deployment', image_json_path="
        "'{.spec.template.metadata.annotations.internal\\\\.example\\\\.tech/image}')\n"
        "k8s_yaml('op.yaml')\n",
        files={
            "op.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: op\n"
            "spec:\n  template:\n    metadata:\n      annotations:\n"
            "        internal.example.tech/image: reg.example/op:dev\n"
            "    spec:\n      containers: []\n"
        },
    )
    (op,) = data["resources"]
    assert op["image_refs"] == ["reg.example/op"]


def test_os_environ_is_live(tiltfile: Any, tmp_path: Path) -> None:
    # Tilt's os.environ reads the process environment when used. Tiltfiles load a .env
    # with an extension that calls os.putenv, then read os.environ; others set a variable
    # by assignment for the commands they run.
    data = tiltfile(
        "load('lib.star', 'load_env')\n"
        "load_env()\n"
        "print(os.environ.get('FROM_LIB'), 'FROM_LIB' in os.environ)\n"
        "os.environ['BY_ASSIGNMENT'] = 'yes'\n"
        "print(os.getenv('BY_ASSIGNMENT'), str(local('echo $BY_ASSIGNMENT', quiet=True)).strip())\n"
        "os.environ.update({'U1': 'a'}, U2='b')\n"
        "print(os.environ.setdefault('U1', 'no'), os.environ.pop('U2'), "
        "os.environ.pop('NOPE', 'dflt'))\n"
        "del os.environ['U1']\n"
        "print('U1' in os.environ, 'U2' in os.environ)\n"
        "os.environ['P'] = os.environ.get('P', '') + ':x'\n"
        "print(os.environ['P'])\n",
        files={"lib.star": "def load_env():\n    os.putenv('FROM_LIB', 'v')\n"},
    )
    assert data["logs"] == [
        "v True",
        "local: echo $BY_ASSIGNMENT",
        "yes yes",
        "a b dflt",
        "False False",
        ":x",
    ]
