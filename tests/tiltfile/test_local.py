"""The local family: local_resource, test, probe and its actions, link, TRIGGER_MODE_*."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_tilt, write_tree
from tests.tiltfile.conftest import FIXTURES, dump_of, resources_by_name
from tilt.model import ResourceKind, Settings, TriggerMode
from tilt.tiltfile import _local
from tilt.tiltfile._assemble import Assembly
from tilt.tiltfile._context import LoadState
from tilt.tiltfile._loader import evaluate

FIXTURE = FIXTURES / "local"


def only(data: dict[str, Any]) -> dict[str, Any]:
    """The one resource a small Tiltfile declares."""
    assert len(data["resources"]) == 1, data["resources"]
    res: dict[str, Any] = data["resources"][0]
    return res


def pick(res: dict[str, Any], path: str) -> Any:
    """``res["a"]["b"][0]`` for path ``"a.b.0"``."""
    value: Any = res
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def shell(text: str) -> dict[str, Any]:
    return {"argv": ["sh", "-c", text], "shell": True}


# --- defaults ---------------------------------------------------------------------------


def test_defaults(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = only(tiltfile("local_resource('a', 'echo hi')\n"))
    assert res == {
        "name": "a",
        "kind": "local",
        "location": {"file": "Tiltfile", "line": 1},
        "labels": [],
        "resource_deps": [],
        "trigger_mode": "auto",
        "auto_init": True,
        "links": [],
        "image_refs": [],
        "local": {
            "cmd": shell("echo hi"),
            "dir": str(tmp_path),
            "env": {},
            "serve_cmd": None,
            "serve_dir": str(tmp_path),
            "serve_env": {},
            "stdin_mode": "",
            "serve_stdin_mode": "",
            "readiness_probe": None,
            "allow_parallel": False,
            "deps": [],
            "watch": {"paths": [], "ignores": [], "only": []},
        },
        "k8s": None,
        "compose": None,
        "custom_deploy": None,
        "update_on_dep_change": False,
        "test": None,
    }


# --- each argument ----------------------------------------------------------------------

ARGUMENTS = [
    pytest.param("cmd='make'", "local.cmd", shell("make"), id="cmd-string-sh-c"),
    pytest.param(
        "cmd=['make', 'all']",
        "local.cmd",
        {"argv": ["make", "all"], "shell": False},
        id="cmd-list-argv",
    ),
    pytest.param("cmd='echo x', serve_cmd='srv'", "local.serve_cmd", shell("srv"), id="serve_cmd"),
    pytest.param("serve_cmd=['srv', '-p', '1']", "local.cmd", None, id="serve-only-no-cmd"),
    pytest.param(
        "serve_cmd=['srv', '-p', '1']",
        "local.serve_cmd",
        {"argv": ["srv", "-p", "1"], "shell": False},
        id="serve_cmd-list",
    ),
    pytest.param(
        "cmd='make', cmd_bat='make.bat'",
        "local.cmd",
        shell("make"),
        id="cmd_bat-ignored-on-unix",
    ),
    pytest.param(
        "serve_cmd='srv', serve_cmd_bat=['srv.exe']",
        "local.serve_cmd",
        shell("srv"),
        id="serve_cmd_bat-ignored-on-unix",
    ),
    pytest.param("cmd='x', deps='src'", "local.deps", ["{root}/src"], id="deps-string"),
    pytest.param(
        "cmd='x', deps=['src', 'a/../b.txt', '/abs/p']",
        "local.deps",
        ["{root}/src", "{root}/b.txt", "/abs/p"],
        id="deps-list-normalized",
    ),
    pytest.param(
        "cmd='x', deps=['src']",
        "local.watch.paths",
        ["{root}/src"],
        id="deps-are-watched",
    ),
    pytest.param("cmd='x', deps=[]", "local.deps", [], id="deps-empty"),
    pytest.param(
        "cmd='x', trigger_mode=TRIGGER_MODE_MANUAL",
        "trigger_mode",
        "manual",
        id="trigger-manual",
    ),
    pytest.param(
        "cmd='x', trigger_mode=TRIGGER_MODE_AUTO", "trigger_mode", "auto", id="trigger-auto"
    ),
    pytest.param(
        "cmd='x', deps='.', ignore='*.log'",
        "local.watch.ignores",
        [
            {
                "pattern": "*.log",
                "base_dir": "{root}",
                "origin": "Tiltfile:1 local_resource(ignore=)",
            }
        ],
        id="ignore-string",
    ),
    pytest.param(
        "cmd='x', ignore=['a/**', '!a/keep']",
        "local.watch.ignores.1.pattern",
        "!a/keep",
        id="ignore-list",
    ),
    pytest.param("cmd='x', auto_init=False", "auto_init", False, id="auto_init"),
    pytest.param("cmd='x', allow_parallel=True", "local.allow_parallel", True, id="allow_parallel"),
    pytest.param(
        "cmd='x', links='localhost:8000'",
        "links",
        [{"url": "http://localhost:8000", "name": ""}],
        id="links-string-gets-http",
    ),
    pytest.param(
        "cmd='x', links=['https://a.dev/x', link('b.dev', name='B')]",
        "links",
        [{"url": "https://a.dev/x", "name": ""}, {"url": "http://b.dev", "name": "B"}],
        id="links-mixed",
    ),
    pytest.param(
        "cmd='x', links=link('http://a:1')",
        "links",
        [{"url": "http://a:1", "name": ""}],
        id="links-single-link",
    ),
    pytest.param("cmd='x', tags=['fast']", "name", "a", id="tags-accepted"),
    pytest.param(
        "cmd='x', env={'A': 'b', 'N': 3, 'T': True}",
        "local.env",
        {"A": "b", "N": "3", "T": "true"},
        id="env",
    ),
    pytest.param("cmd='x', env={'A': 'b'}", "local.serve_env", {}, id="env-not-serve_env"),
    pytest.param(
        "serve_cmd='x', serve_env={'PORT': '80'}",
        "local.serve_env",
        {"PORT": "80"},
        id="serve_env",
    ),
    pytest.param("cmd='x', dir='sub'", "local.dir", "{root}/sub", id="dir-relative"),
    pytest.param("cmd='x', dir='/opt'", "local.dir", "/opt", id="dir-absolute"),
    pytest.param("cmd='x', dir='sub'", "local.serve_dir", "{root}", id="dir-not-serve_dir"),
    pytest.param(
        "serve_cmd='x', serve_dir='../up'",
        "local.serve_dir",
        "{parent}/up",
        id="serve_dir",
    ),
    pytest.param("cmd='x', labels='be'", "labels", ["be"], id="labels-string"),
    pytest.param(
        "cmd='x', labels=['a.b', 'A_1-z', 'a.b']",
        "labels",
        ["a.b", "A_1-z"],
        id="labels-list",
    ),
    pytest.param("cmd='x', labels=['x' * 63]", "labels", ["x" * 63], id="labels-63-chars"),
    pytest.param(
        "cmd='x', update_on_dep_change=True",
        "update_on_dep_change",
        True,
        id="update_on_dep_change",
    ),
    pytest.param("'echo', [], None, [], []", "local.cmd", shell("echo"), id="positional-args"),
]


def test_resource_deps_kept_once(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "local_resource('b', 'x')\nlocal_resource('c', 'x')\n"
        "local_resource('a', cmd='x', resource_deps=['b', 'c', 'b'])\n"
    )
    assert resources_by_name(data)["a"]["resource_deps"] == ["b", "c"]


@pytest.mark.parametrize(("args", "path", "expected"), ARGUMENTS)
def test_argument(tiltfile, tmp_path: Path, args: str, path: str, expected: Any) -> None:  # type: ignore[no-untyped-def]
    res = only(tiltfile(f"local_resource('a', {args})\n"))

    def fill(v: Any) -> Any:
        if isinstance(v, str):
            return v.format(root=tmp_path, parent=tmp_path.parent)
        if isinstance(v, list):
            return [fill(x) for x in v]
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        return v

    assert pick(res, path) == fill(expected)


def test_ignore_origin_names_the_line(tiltfile) -> None:  # type: ignore[no-untyped-def]
    res = only(tiltfile("x = 1\n\nlocal_resource('a', 'x', deps='.',\n  ignore=['b'])\n"))
    assert res["location"] == {"file": "Tiltfile", "line": 3}
    assert res["local"]["watch"]["ignores"][0]["origin"] == "Tiltfile:3 local_resource(ignore=)"


# --- trigger_mode x auto_init -----------------------------------------------------------

TRIGGER_COMBOS = [
    ("TRIGGER_MODE_AUTO", True, "auto", True),
    ("TRIGGER_MODE_AUTO", False, "auto", False),
    ("TRIGGER_MODE_MANUAL", True, "manual", True),
    ("TRIGGER_MODE_MANUAL", False, "manual", False),
]


@pytest.mark.parametrize(("mode", "auto_init", "want_mode", "starts"), TRIGGER_COMBOS)
def test_trigger_mode_and_auto_init(  # type: ignore[no-untyped-def]
    tiltfile, mode: str, auto_init: bool, want_mode: str, starts: bool
) -> None:
    res = only(tiltfile(f"local_resource('a', 'x', trigger_mode={mode}, auto_init={auto_init})\n"))
    assert (res["trigger_mode"], res["auto_init"]) == (want_mode, starts)


def _finalize_with(tmp_path: Path, text: str, settings: Settings) -> Assembly:
    """Evaluate a Tiltfile and run only this family's finalize with the given settings."""
    write_tree(tmp_path, {"Tiltfile": text})
    state = LoadState(main_path=str(tmp_path / "Tiltfile"))
    evaluate(state)
    asm = Assembly(settings=settings)
    _local.finalize(state, asm)
    return asm


def test_unset_trigger_mode_follows_the_global_default(tmp_path: Path) -> None:
    asm = _finalize_with(
        tmp_path,
        "local_resource('a', 'x')\n"
        "local_resource('b', 'x', trigger_mode=TRIGGER_MODE_AUTO)\n"
        "local_resource('c', 'x', trigger_mode=TRIGGER_MODE_MANUAL)\n",
        Settings(default_trigger_mode=TriggerMode.MANUAL),
    )
    modes = {r.name: r.trigger_mode for r in asm.resources}
    assert modes == {"a": TriggerMode.MANUAL, "b": TriggerMode.AUTO, "c": TriggerMode.MANUAL}
    assert all(r.kind is ResourceKind.LOCAL for r in asm.resources)
    assert not asm.resources[0].updates_on_change


def test_global_trigger_mode_set_later_applies(tiltfile) -> None:  # type: ignore[no-untyped-def]
    # As in Tilt, trigger_mode() is read when the graph is assembled, not at the call.
    data = tiltfile(
        "local_resource('a', 'x')\n"
        "local_resource('b', 'x', trigger_mode=TRIGGER_MODE_AUTO)\n"
        "trigger_mode(TRIGGER_MODE_MANUAL)\n"
    )
    assert [(r["name"], r["trigger_mode"]) for r in data["resources"]] == [
        ("a", "manual"),
        ("b", "auto"),
    ]


def test_constants_are_the_model_trigger_modes(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "modes = {'auto': TRIGGER_MODE_AUTO, 'manual': TRIGGER_MODE_MANUAL}\n"
        "local_resource('a', 'x', trigger_mode=modes['manual'])\n"
    )
    assert only(data)["trigger_mode"] == "manual"


# --- probes -----------------------------------------------------------------------------

PROBES = [
    pytest.param(
        "probe(http_get=http_get_action(8080))",
        {"http_get": {"port": 8080, "host": "localhost", "scheme": "http", "path": ""}},
        id="http_get-defaults",
    ),
    pytest.param(
        "probe(http_get=http_get_action(443, host='api.local', scheme='HTTPS', path='/ready'))",
        {"http_get": {"port": 443, "host": "api.local", "scheme": "https", "path": "/ready"}},
        id="http_get-all",
    ),
    pytest.param(
        "probe(tcp_socket=tcp_socket_action(5432))",
        {"tcp_socket": {"port": 5432, "host": "localhost"}},
        id="tcp_socket-defaults",
    ),
    pytest.param(
        "probe(tcp_socket=tcp_socket_action(host='10.0.0.1', port=65535))",
        {"tcp_socket": {"port": 65535, "host": "10.0.0.1"}},
        id="tcp_socket-host",
    ),
    pytest.param(
        "probe(exec=exec_action(['pg_isready', '-q']))",
        {"exec": {"command": ["pg_isready", "-q"]}},
        id="exec",
    ),
    pytest.param(
        "probe(initial_delay_secs=5, timeout_secs=3, period_secs=7, success_threshold=2, "
        "failure_threshold=9, exec=exec_action(['true']))",
        {
            "initial_delay_secs": 5,
            "timeout_secs": 3,
            "period_secs": 7,
            "success_threshold": 2,
            "failure_threshold": 9,
            "exec": {"command": ["true"]},
        },
        id="timings",
    ),
    pytest.param(
        "probe(1, 2, 3, 4, 5, None, None, tcp_socket_action(1))",
        {
            "initial_delay_secs": 1,
            "timeout_secs": 2,
            "period_secs": 3,
            "success_threshold": 4,
            "failure_threshold": 5,
            "tcp_socket": {"port": 1, "host": "localhost"},
        },
        id="positional",
    ),
]

PROBE_DEFAULTS = {
    "initial_delay_secs": 0,
    "timeout_secs": 1,
    "period_secs": 10,
    "success_threshold": 1,
    "failure_threshold": 3,
    "http_get": None,
    "tcp_socket": None,
    "exec": None,
}


@pytest.mark.parametrize(("expr", "fields"), PROBES)
def test_probe(tiltfile, expr: str, fields: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    res = only(tiltfile(f"p = {expr}\nlocal_resource('a', serve_cmd='srv', readiness_probe=p)\n"))
    assert res["local"]["readiness_probe"] == {**PROBE_DEFAULTS, **fields}


def test_probe_without_serve_cmd_is_dropped_with_a_warning(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "local_resource('a', 'make',\n  readiness_probe=probe(tcp_socket=tcp_socket_action(1)))\n"
    )
    assert only(data)["local"]["readiness_probe"] is None
    assert data["warnings"] == [
        {
            "message": 'Ignoring readiness probe for local resource "a" (no serve_cmd was defined)',
            "location": {"file": "Tiltfile", "line": 1},
        }
    ]


# --- test() -----------------------------------------------------------------------------


def test_test_is_local_resource_with_allow_parallel(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "test('unit', 'pytest', deps=['tests'], tags=['fast'], timeout='5m', labels=['t'])\n"
        "test('serial', 'pytest', allow_parallel=False, timeout=30)\n"
    )
    res = resources_by_name(data)
    assert res["unit"]["kind"] == "local"
    assert res["unit"]["local"]["allow_parallel"] is True
    assert res["unit"]["local"]["cmd"] == shell("pytest")
    assert res["unit"]["local"]["deps"] == [str(tmp_path / "tests")]
    assert res["unit"]["labels"] == ["t"]
    assert res["serial"]["local"]["allow_parallel"] is False
    assert [w["message"] for w in data["warnings"]] == [_local.TEST_DEPRECATION] * 2
    assert [w["location"]["line"] for w in data["warnings"]] == [1, 2]


def test_test_keeps_its_settings(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = resources_by_name(
        tiltfile(
            "test('unit', 'pytest', timeout='1m30s', shards=4, rerun_failed_first=True)\n"
            "test('go', 'go test -json ./...', timeout=20, results_format='gotest')\n"
            "test('java', './gradlew test', results='build/test-results/**/*.xml',\n"
            "     test_files=['tests/**/check_*.py'])\n"
            "test('plain', 'make check')\n"
        )
    )
    assert res["unit"]["test"] == {
        "timeout_s": 90.0,
        "results_format": "auto",
        "results": [],
        "shards": 4,
        "test_files": [],
        "rerun_failed_first": True,
    }
    assert res["go"]["test"]["timeout_s"] == 20.0
    assert res["go"]["test"]["results_format"] == "gotest"
    assert res["java"]["test"]["results"] == [str(tmp_path / "build/test-results/**/*.xml")]
    assert res["java"]["test"]["test_files"] == ["tests/**/check_*.py"]
    assert res["plain"]["test"]["timeout_s"] is None
    assert res["plain"]["test"]["shards"] == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            "test('t', 'x', shards=0)",
            "test: for parameter 'shards': must be between 1 and 64, got 0",
            id="shards",
        ),
        pytest.param(
            "test('t', 'x', results_format='tap')",
            "test: for parameter 'results_format': unknown format 'tap' "
            "(one of auto, pytest, gotest, junit, none)",
            id="format",
        ),
    ],
)
def test_test_bad_settings(tiltfile_error, call: str, message: str) -> None:  # type: ignore[no-untyped-def]
    err = tiltfile_error(call + "\n")
    assert message in err
    assert "Tiltfile:1" in err


def test_test_ignore_origin_names_test(tiltfile) -> None:  # type: ignore[no-untyped-def]
    res = only(tiltfile("test('u', 'x', ignore='*.pyc')\n"))
    assert res["local"]["watch"]["ignores"][0]["origin"] == "Tiltfile:1 test(ignore=)"


# --- paths relative to a load()ed file ----------------------------------------------------


def test_paths_resolve_against_the_loaded_file(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "load('svc/api/lib.star', 'X')\nlocal_resource('main', 'x', deps='src')\n",
        files={
            "svc/api/lib.star": (
                "X = 1\n"
                "local_resource('api', cmd='make', serve_cmd='./api', deps=['.', 'go.mod'],\n"
                "  ignore='*.tmp', dir='build', serve_dir='..')\n"
            ),
        },
    )
    res = resources_by_name(data)
    api = tmp_path / "svc" / "api"
    assert res["api"]["location"] == {"file": os.path.join("svc", "api", "lib.star"), "line": 2}
    assert res["api"]["local"]["dir"] == str(api / "build")
    assert res["api"]["local"]["serve_dir"] == str(tmp_path / "svc")
    assert res["api"]["local"]["deps"] == [str(api), str(api / "go.mod")]
    assert res["api"]["local"]["watch"]["ignores"] == [
        {
            "pattern": "*.tmp",
            "base_dir": str(api),
            "origin": "svc/api/lib.star:2 local_resource(ignore=)",
        }
    ]
    assert res["main"]["local"]["deps"] == [str(tmp_path / "src")]
    assert res["main"]["local"]["dir"] == str(tmp_path)


def test_default_dirs_are_the_loaded_files_folder(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "load('sub/lib.star', 'X')\n",
        files={"sub/lib.star": "X = 1\nlocal_resource('s', 'x', serve_cmd='y')\n"},
    )
    res = only(data)
    assert res["local"]["dir"] == str(tmp_path / "sub")
    assert res["local"]["serve_dir"] == str(tmp_path / "sub")


def test_function_of_a_loaded_file_resolves_against_the_running_load(  # type: ignore[no-untyped-def]
    tiltfile, tmp_path: Path
) -> None:
    # Tilt resolves against the file whose load is running (starkit.execingTiltfileKey):
    # the main Tiltfile when it calls a function a loaded file defines.
    data = tiltfile(
        "load('ext/lib.star', 'svc')\nsvc('a', 'src')\n",
        files={"ext/lib.star": "def svc(name, dep):\n  local_resource(name, 'x', deps=dep)\n"},
    )
    res = only(data)
    assert res["local"]["deps"] == [str(tmp_path / "src")]
    assert res["local"]["dir"] == str(tmp_path)
    assert res["location"] == {"file": os.path.join("ext", "lib.star"), "line": 2}


def test_declaration_order_is_kept(tiltfile) -> None:  # type: ignore[no-untyped-def]
    names = [f"r{i}" for i in (3, 1, 2, 10)]
    text = "".join(f"local_resource('{n}', 'x')\n" for n in names)
    data = tiltfile(text)
    assert [r["name"] for r in data["resources"]] == names
    assert data["order"] == names


# --- errors -----------------------------------------------------------------------------

ERRORS = [
    pytest.param(
        "local_resource('a')",
        "1",
        "local_resource: must have a cmd and/or a serve_cmd, but both were empty",
        id="no-cmd",
    ),
    pytest.param(
        "local_resource('a', cmd='', serve_cmd=[])",
        "1",
        "local_resource: must have a cmd and/or a serve_cmd, but both were empty",
        id="empty-cmds",
    ),
    pytest.param(
        "local_resource('a', cmd_bat='x.bat')",
        "1",
        "local_resource: must have a cmd and/or a serve_cmd, but both were empty",
        id="only-cmd_bat-on-unix",
    ),
    pytest.param(
        "test('t')",
        "1",
        "test: must have a cmd and/or a serve_cmd, but both were empty",
        id="test-no-cmd",
    ),
    pytest.param(
        "x = 1\nlocal_resource('a', 'x')\nlocal_resource('a', 'y')",
        "3",
        'local_resource: resource name "a" is already used by the local resource defined at '
        "Tiltfile:2",
        id="duplicate-name",
    ),
    pytest.param(
        "local_resource('a', 'x')\ntest('a', 'y')",
        "2",
        'test: resource name "a" is already used by the local resource defined at Tiltfile:1',
        id="duplicate-name-test",
    ),
    pytest.param(
        "local_resource('a/b', 'x')",
        "1",
        "local_resource: for parameter 'name': invalid value \"a/b\": may not contain '/'",
        id="name-slash",
    ),
    pytest.param(
        "local_resource('50%', 'x')",
        "1",
        "local_resource: for parameter 'name': invalid value \"50%\": may not contain '%'",
        id="name-percent",
    ),
    pytest.param(
        "local_resource('..', 'x')",
        "1",
        "local_resource: for parameter 'name': invalid value \"..\": may not be '..'",
        id="name-dotdot",
    ),
    pytest.param(
        "local_resource('', 'x')",
        "1",
        "local_resource: for parameter 'name': invalid value \"\": must not be empty",
        id="name-empty",
    ),
    pytest.param(
        "local_resource(1, 'x')",
        "1",
        "local_resource: for parameter 'name': got int, want string",
        id="name-type",
    ),
    pytest.param(
        "local_resource(cmd='x')",
        "1",
        "local_resource: missing a required argument: 'name'",
        id="name-missing",
    ),
    pytest.param(
        "local_resource('a', 'x', bogus=1)",
        "1",
        "local_resource: got an unexpected keyword argument 'bogus'",
        id="unknown-kwarg",
    ),
    pytest.param(
        "local_resource('a', 3)",
        "1",
        "local_resource: for parameter 'cmd': got int, want string or list of strings",
        id="cmd-type",
    ),
    pytest.param(
        "local_resource('a', ['make', 1])",
        "1",
        "local_resource: for parameter 'cmd': item 1: got int, want string",
        id="cmd-list-item-type",
    ),
    pytest.param(
        "local_resource('a', serve_cmd={'x': 1})",
        "1",
        "local_resource: for parameter 'serve_cmd': got dict, want string or list of strings",
        id="serve_cmd-type",
    ),
    pytest.param(
        "local_resource('a', 'x', cmd_bat=1)",
        "1",
        "local_resource: for parameter 'cmd_bat': got int, want string or list of strings",
        id="cmd_bat-type",
    ),
    pytest.param(
        "local_resource('a', 'x', deps=[1])",
        "1",
        "local_resource: for parameter 'deps': item 0: got int, want string",
        id="deps-type",
    ),
    pytest.param(
        "local_resource('a', 'x', ignore=5)",
        "1",
        "local_resource: for parameter 'ignore': got int, want string or list of strings",
        id="ignore-type",
    ),
    pytest.param(
        "local_resource('a', 'x', resource_deps='b')",
        "1",
        "local_resource: for parameter 'resource_deps': got string, want list of strings",
        id="resource_deps-string",
    ),
    pytest.param(
        "local_resource('a', 'x', trigger_mode='manual')",
        "1",
        "local_resource: for parameter 'trigger_mode': got string, "
        "want TRIGGER_MODE_AUTO or TRIGGER_MODE_MANUAL",
        id="trigger_mode-type",
    ),
    pytest.param(
        "local_resource('a', 'x', auto_init='yes')",
        "1",
        "local_resource: for parameter 'auto_init': got string, want bool",
        id="auto_init-type",
    ),
    pytest.param(
        "local_resource('a', 'x', allow_parallel=1)",
        "1",
        "local_resource: for parameter 'allow_parallel': got int, want bool",
        id="allow_parallel-type",
    ),
    pytest.param(
        "local_resource('a', 'x', readiness_probe='http://x')",
        "1",
        "local_resource: for parameter 'readiness_probe': got string, want Probe (made by probe())",
        id="readiness_probe-type",
    ),
    pytest.param(
        "local_resource('a', 'x', readiness_probe=http_get_action(80))",
        "1",
        "local_resource: for parameter 'readiness_probe': got HTTPGetAction, want Probe "
        "(made by probe())",
        id="readiness_probe-action-not-probe",
    ),
    pytest.param(
        "local_resource('a', 'x', links=[1])",
        "1",
        "local_resource: for parameter 'links': item 0: got int, want a string, a link, "
        "or a list of these",
        id="links-item-type",
    ),
    pytest.param(
        "local_resource('a', 'x', links=probe(exec=exec_action(['x'])))",
        "1",
        "local_resource: for parameter 'links': got Probe, want a string, a link, "
        "or a list of these",
        id="links-type",
    ),
    pytest.param(
        "local_resource('a', 'x', links=[''])",
        "1",
        'local_resource: validating URL "": url empty',
        id="links-empty-url",
    ),
    pytest.param(
        "local_resource('a', 'x', env=['A=1'])",
        "1",
        "local_resource: for parameter 'env': got list, want dict",
        id="env-type",
    ),
    pytest.param(
        "local_resource('a', 'x', serve_env={1: 'a'})",
        "1",
        "local_resource: for parameter 'serve_env': key 1 is not a string",
        id="serve_env-key-type",
    ),
    pytest.param(
        "local_resource('a', 'x', dir=['a'])",
        "1",
        "local_resource: for parameter 'dir': got list, want string",
        id="dir-type",
    ),
    pytest.param(
        "local_resource('a', 'x', serve_dir=1)",
        "1",
        "local_resource: for parameter 'serve_dir': got int, want string",
        id="serve_dir-type",
    ),
    pytest.param(
        "local_resource('a', 'x', labels=['-frontend'])",
        "1",
        'local_resource: Invalid label "-frontend": name part must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName', or 'my.name', or '123-abc')",
        id="label-bad-start",
    ),
    pytest.param(
        "local_resource('a', 'x', labels='has space')",
        "1",
        'local_resource: Invalid label "has space": name part must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName', or 'my.name', or '123-abc')",
        id="label-space",
    ),
    pytest.param(
        "local_resource('a', 'x', labels=['team/web'])",
        "1",
        'local_resource: Invalid label "team/web": cannot contain /',
        id="label-slash",
    ),
    pytest.param(
        "local_resource('a', 'x', labels=[''])",
        "1",
        'local_resource: Invalid label "": name part must be non-empty',
        id="label-empty",
    ),
    pytest.param(
        "local_resource('a', 'x', labels=['x' * 64])",
        "1",
        'local_resource: Invalid label "'
        + "x" * 64
        + '": name part must be no more than 63 characters',
        id="label-too-long",
    ),
    pytest.param(
        "local_resource('a', 'x', labels=[1])",
        "1",
        "local_resource: for parameter 'labels': got int, want string (a label)",
        id="label-type",
    ),
    pytest.param(
        "local_resource('a', 'x', labels={'a': 'b'})",
        "1",
        "local_resource: for parameter 'labels': got dict, want a label or a list of labels",
        id="labels-type",
    ),
    pytest.param(
        "local_resource('a', 'x', tags='fast')",
        "1",
        "local_resource: for parameter 'tags': got string, want list of strings",
        id="tags-type",
    ),
    pytest.param(
        "local_resource('a', 'x', update_on_dep_change='y')",
        "1",
        "local_resource: for parameter 'update_on_dep_change': got string, want bool",
        id="update_on_dep_change-type",
    ),
    pytest.param(
        "test('t', 'x', timeout=[1])",
        "1",
        "test: for parameter 'timeout': got list, want string or number",
        id="test-timeout-type",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_error(tiltfile_error, text: str, line: str, message: str) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error(text + "\n")
    head = msg.splitlines()[0]
    offending = text.splitlines()[int(line) - 1]
    assert re.fullmatch(rf"Error: Tiltfile:{line}:\d+: {re.escape(message)}", head), head
    assert f"{line} | {offending}" in msg


PROBE_ERRORS = [
    pytest.param(
        "probe()",
        "probe: exactly one of exec, http_get, or tcp_socket must be specified",
        id="no-action",
    ),
    pytest.param(
        "probe(exec=exec_action(['a']), tcp_socket=tcp_socket_action(1))",
        "probe: exactly one of exec, http_get, or tcp_socket must be specified",
        id="two-actions",
    ),
    pytest.param(
        "probe(http_get=tcp_socket_action(1))",
        "probe: for parameter 'http_get': got TCPSocketAction, want HTTPGetAction",
        id="wrong-action-kind",
    ),
    pytest.param(
        "probe(exec=['ls'])",
        "probe: for parameter 'exec': got list, want ExecAction",
        id="exec-not-action",
    ),
    pytest.param(
        "probe(success_threshold='1', exec=exec_action(['a']))",
        "probe: for parameter 'success_threshold': got string, want int",
        id="threshold-type",
    ),
    pytest.param(
        "http_get_action('80')",
        "http_get_action: for parameter 'port': got string, want int",
        id="http-port-type",
    ),
    pytest.param(
        "http_get_action()",
        "http_get_action: missing a required argument: 'port'",
        id="http-port-missing",
    ),
    pytest.param(
        "tcp_socket_action(80, host=1)",
        "tcp_socket_action: for parameter 'host': got int, want string",
        id="tcp-host-type",
    ),
    pytest.param(
        "exec_action('pg_isready -q')",
        "exec_action: for parameter 'command': got string, want list of strings",
        id="exec-string",
    ),
    pytest.param(
        "exec_action(['a', 2])",
        "exec_action: for parameter 'command': item 1: got int, want string",
        id="exec-item",
    ),
    pytest.param("link('')", 'link: validating URL "": url empty', id="link-empty"),
    pytest.param(
        "link('http://a', name=3)",
        "link: for parameter 'name': got int, want string",
        id="link-name-type",
    ),
]


@pytest.mark.parametrize(("expr", "message"), PROBE_ERRORS)
def test_probe_and_link_errors(tiltfile_error, expr: str, message: str) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error(f"x = 1\np = {expr}\n")
    # These builtins validate at the call: the interpreter points at the call's column.
    assert msg.splitlines()[0] == f"Error: Tiltfile:2:5: {message}"
    assert f"2 | p = {expr}" in msg


def test_error_in_loaded_file_names_that_file(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error(
        "load('lib/x.star', 'X')\n",
        files={"lib/x.star": "X = 1\n\nlocal_resource('bad', '', serve_cmd='')\n"},
    )
    assert msg.splitlines()[0] == (
        f"Error: {os.path.join('lib', 'x.star')}:3:1: "
        "local_resource: must have a cmd and/or a serve_cmd, but both were empty"
    )


def test_cli_error_exit_1(tmp_path: Path) -> None:
    (tmp_path / "Tiltfile").write_text("local_resource('a', 'x', labels=['a b'])\n")
    proc = run_tilt("dump", "tiltfile", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith('Error: Tiltfile:1:1: local_resource: Invalid label "a b"')


# --- the fixture, resource by resource -------------------------------------------------


@pytest.fixture(scope="module")
def fixture_data() -> dict[str, Any]:
    cwd = os.getcwd()
    os.chdir(FIXTURE)  # display paths are relative to the folder `tilt` runs in
    try:
        return dump_of(FIXTURE / "Tiltfile")
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def fx(fixture_data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_by_name(fixture_data)


def test_fixture_order_and_warnings(fixture_data: dict[str, Any]) -> None:
    assert fixture_data["order"] == [
        "docs",
        "install",
        "web",
        "db",
        "worker",
        "seed",
        "lint",
        "migrate",
        "fmt",
        "unit",
    ]
    assert fixture_data["warnings"] == [
        {"message": _local.TEST_DEPRECATION, "location": {"file": "Tiltfile", "line": 61}},
    ]
    assert str(FIXTURE / "lib" / "helpers.star") in fixture_data["files_read"]


def test_fixture_docs_from_loaded_file(fx: dict[str, dict[str, Any]]) -> None:
    r = fx["docs"]
    lib = FIXTURE / "lib"
    assert r["location"] == {"file": os.path.join("lib", "helpers.star"), "line": 4}
    assert r["local"]["cmd"] is None
    assert r["local"]["serve_cmd"] == shell("mkdocs serve -a localhost:9000")
    assert r["local"]["serve_dir"] == str(FIXTURE / "docs")
    assert r["local"]["dir"] == str(lib)
    assert r["local"]["deps"] == [str(FIXTURE / "docs"), str(lib / "mkdocs.yml")]
    assert r["local"]["watch"]["ignores"] == [
        {
            "pattern": "site",
            "base_dir": str(lib),
            "origin": "lib/helpers.star:4 local_resource(ignore=)",
        },
    ]
    assert r["links"] == [{"url": "http://localhost:9000", "name": ""}]


def test_fixture_install(fx: dict[str, dict[str, Any]]) -> None:
    r = fx["install"]
    assert r["location"] == {"file": "Tiltfile", "line": 5}
    assert r["local"]["cmd"] == shell("yarn install")
    assert r["local"]["dir"] == str(FIXTURE / "web")
    assert r["local"]["serve_dir"] == str(FIXTURE)
    assert r["local"]["deps"] == [str(FIXTURE / "web" / "package.json")]
    assert r["labels"] == ["frontend"]
    assert (r["trigger_mode"], r["auto_init"], r["resource_deps"]) == ("auto", True, [])


def test_fixture_web(fx: dict[str, dict[str, Any]]) -> None:
    r = fx["web"]
    local = r["local"]
    assert local["cmd"] is None
    assert local["serve_cmd"] == {"argv": ["yarn", "start"], "shell": False}
    assert local["serve_dir"] == str(FIXTURE / "web")
    assert local["serve_env"] == {"PORT": "3000", "BROWSER": "none"}
    assert local["env"] == {}
    assert local["watch"]["paths"] == [str(FIXTURE / "web" / "src")]
    assert [i["pattern"] for i in local["watch"]["ignores"]] == ["web/src/**/*.snap", "*.log"]
    assert {i["base_dir"] for i in local["watch"]["ignores"]} == {str(FIXTURE)}
    assert {i["origin"] for i in local["watch"]["ignores"]} == {
        "Tiltfile:13 local_resource(ignore=)"
    }
    assert r["resource_deps"] == ["install"]
    assert local["readiness_probe"] == {
        **PROBE_DEFAULTS,
        "period_secs": 2,
        "http_get": {"port": 3000, "host": "localhost", "scheme": "http", "path": "/health"},
    }
    assert r["links"] == [
        {"url": "http://localhost:3000", "name": ""},
        {"url": "http://localhost:3000/admin", "name": "Admin"},
    ]
    assert r["labels"] == ["frontend", "ui"]


def test_fixture_db(fx: dict[str, dict[str, Any]]) -> None:
    r = fx["db"]
    assert r["local"]["serve_cmd"] == shell("postgres -D data")
    assert r["local"]["allow_parallel"] is True
    assert r["local"]["readiness_probe"] == {
        **PROBE_DEFAULTS,
        "initial_delay_secs": 1,
        "timeout_secs": 2,
        "tcp_socket": {"port": 5432, "host": "127.0.0.1"},
    }


def test_fixture_worker(fx: dict[str, dict[str, Any]]) -> None:
    r = fx["worker"]
    assert r["local"]["cmd"] == shell("go build -o worker ./cmd/worker")
    assert r["local"]["serve_cmd"] == shell("./worker")
    assert r["local"]["env"] == {"GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    assert r["local"]["readiness_probe"] == {
        **PROBE_DEFAULTS,
        "success_threshold": 2,
        "failure_threshold": 5,
        "exec": {"command": ["./worker", "--ping"]},
    }
    assert r["resource_deps"] == ["db"]
    assert r["update_on_dep_change"] is True


@pytest.mark.parametrize(
    ("name", "mode", "auto_init"),
    [
        ("seed", "manual", False),
        ("lint", "manual", True),
        ("migrate", "auto", False),
        ("fmt", "auto", True),
    ],
)
def test_fixture_trigger_combinations(  # type: ignore[no-untyped-def]
    fx, name: str, mode: str, auto_init: bool
) -> None:
    assert (fx[name]["trigger_mode"], fx[name]["auto_init"]) == (mode, auto_init)


def test_fixture_unit_test(fx: dict[str, dict[str, Any]]) -> None:
    r = fx["unit"]
    assert r["kind"] == "local"
    assert r["local"]["cmd"] == shell("pytest -q")
    assert r["local"]["allow_parallel"] is True
    assert r["local"]["deps"] == [str(FIXTURE / "api")]
    assert r["labels"] == ["tests"]


def test_fixture_through_the_cli() -> None:
    proc = run_tilt("dump", "tiltfile", cwd=FIXTURE)
    assert proc.returncode == 0, proc.stderr
    assert '"name": "worker"' in proc.stdout
    assert "test() is deprecated" in proc.stderr
