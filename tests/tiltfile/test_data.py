"""Data/files builtins: local, read_file, listdir, JSON/YAML, os/sys/shlex, warn, exit, include."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.tiltfile.conftest import FIXTURES, dump_of, resources_by_name

# (Tiltfile text, extra files, expected Tiltfile log lines). Starlark's print() shows
# values in Starlark's repr (double-quoted strings, True/False/None).
LOG_CASES: list[tuple[str, str, dict[str, str], list[str]]] = [
    (
        "local_string_runs_through_sh",
        "x = local('echo one; echo two >&2')\nprint(repr(x))",
        {},
        ["local: echo one; echo two >&2", " → one", " → two", '"one\\n"'],
    ),
    (
        "local_list_is_argv",
        "print(repr(local(['printf', '%s|', 'a b', '$HOME'])))",
        {},
        ["local: printf '%s|' 'a b' '$HOME'", " → a b|$HOME|", '"a b|$HOME|"'],
    ),
    (
        "local_quiet_hides_output",
        "x = local('echo secret', quiet=True)\nprint(x.strip())",
        {},
        ["local: echo secret", "secret"],
    ),
    (
        "local_echo_off_hides_command",
        "x = local('echo shown', echo_off=True)",
        {},
        [" → shown"],
    ),
    (
        "local_no_output_marker",
        "local('true')",
        {},
        ["local: true", " → [no output]"],
    ),
    (
        "local_env_and_dir",
        "print(local('echo $GREETING; pwd', env={'GREETING': 'hi'}, dir='sub', quiet=True)"
        ".replace(os.getcwd(), '<here>'))",
        {"sub/keep": ""},
        ["local: echo $GREETING; pwd", "hi\n<here>/sub\n"],
    ),
    (
        "local_stdin",
        "print(local('tr a-z A-Z', stdin='shout', quiet=True, echo_off=True))",
        {},
        ["SHOUT"],
    ),
    (
        "local_sees_putenv",
        "os.putenv('TILT_T_VAR', 'v1')\nprint(os.getenv('TILT_T_VAR'))\n"
        "print(local('echo $TILT_T_VAR', quiet=True, echo_off=True).strip())\n"
        "os.unsetenv('TILT_T_VAR')\nprint(os.getenv('TILT_T_VAR', 'gone'))",
        {},
        ["v1", "v1", "gone"],
    ),
    (
        "local_runs_in_the_folder_of_the_running_load",
        "load('lib/helpers.star', 'where')\nprint(where().replace(os.getcwd(), '<here>'))",
        {"lib/helpers.star": "def where():\n    return local('pwd', quiet=True).strip()\n"},
        ["local: pwd", "<here>"],
    ),
    (
        "read_file_and_default",
        "print(read_file('a.txt'))\nprint(read_file('missing.txt', 'dflt'))\n"
        "print(repr(read_file('missing.txt', '')))",
        {"a.txt": "contents"},
        ["contents", "dflt", '""'],
    ),
    (
        "blob_is_a_string_that_type_calls_blob",
        "b = blob('text')\nprint(type(b), b, len(b), b.upper())",
        {},
        ["blob text 4 TEXT"],
    ),
    (
        "decode_json",
        'print(decode_json(\'["foo", {"baz": ["bar", "", 1, 2.5, true, null]}]\'))',
        {},
        ['["foo", {"baz": ["bar", "", 1, 2.5, True, None]}]'],
    ),
    (
        "read_json_and_default",
        "print(read_json('o.json'))\nprint(read_json('dne.json', {'d': 1}))\n"
        "print(read_json('dne.json', None))",
        {"o.json": '{"key1": "foo", "key2": {"key4": true}, "key5": 3}'},
        ['{"key1": "foo", "key2": {"key4": True}, "key5": 3}', '{"d": 1}', "None"],
    ),
    (
        "encode_json_like_go",
        "print(encode_json({'b': [1, 2.0, 'x<y'], 'a': struct(c=None)}))",
        {},
        [
            '{\n  "a": {\n    "c": null\n  },\n  "b": [\n    1,\n    2,\n    "x\\u003cy"\n  ]\n}\n',
        ],
    ),
    (
        "read_yaml",
        "print(read_yaml('o.yaml'))\nprint(read_yaml('dne.yaml', 'hello'))",
        {"o.yaml": "key1: foo\nkey2:\n  key3: 'bar'\n  key4: true\nkey5: 3\nday: 2001-12-14\n"},
        [
            '{"key1": "foo", "key2": {"key3": "bar", "key4": True}, "key5": 3, '
            '"day": "2001-12-14"}',
            "hello",
        ],
    ),
    (
        "read_yaml_stream_and_default",
        "print(read_yaml_stream('s.yaml'))\nprint(read_yaml_stream('dne.yaml', ['a', 'b']))",
        {"s.yaml": "- foo\n- baz: [1, 2]\n---\nquu: [qux]\n---\n"},
        ['[["foo", {"baz": [1, 2]}], {"quu": ["qux"]}]', '["a", "b"]'],
    ),
    (
        "decode_yaml",
        "print(decode_yaml('a: 1\\nb: [x, y]'))\nprint(decode_yaml(''))\n"
        "print(decode_yaml_stream('a: 1\\n---\\nb: 2\\n'))",
        {},
        ['{"a": 1, "b": ["x", "y"]}', "None", '[{"a": 1}, {"b": 2}]'],
    ),
    (
        "encode_yaml_like_go",
        "print(encode_yaml({'key2': {'key4': True, 'key3': 'bar'}, 'key1': 'foo', "
        "'key6': ['foo', 7, '']}))",
        {},
        ['key1: foo\nkey2:\n  key3: bar\n  key4: true\nkey6:\n- foo\n- 7\n- ""\n'],
    ),
    (
        "encode_yaml_stream",
        "print(encode_yaml_stream([['foo'], {'quu': ['qux']}, 'bare']))",
        {},
        ["- foo\n---\nquu:\n- qux\n---\nbare\n"],
    ),
    (
        "yaml_round_trip",
        "d = {'a': [1, {'b': 'c: d'}], 'e': 'yes'}\nprint(decode_yaml(encode_yaml(d)) == d)",
        {},
        ["True"],
    ),
    (
        "os_path",
        "print(os.path.basename('/a/b.txt'), os.path.dirname('/a/b.txt'), "
        "os.path.join('a', 'b', 'c.txt'), os.path.join('a', '/abs'))\n"
        "print(os.path.abspath('x/../y') == os.getcwd() + '/y', "
        "os.path.exists('there.txt'), os.path.exists('nothere.txt'))\n"
        "print(os.path.relpath(os.getcwd() + '/p/q'), os.path.relpath('p/q', 'p'))\n"
        "print(os.path.realpath('link.txt') == os.getcwd() + '/there.txt')",
        {"there.txt": ""},
        ["b.txt /a a/b/c.txt /abs", "True True False", "p/q q", "True"],
    ),
    (
        "os_getcwd_in_a_loaded_function_is_the_running_loads_folder",
        "load('./foo/Tiltfile', 'get_cwd')\nprint(get_cwd() == os.getcwd())",
        {"foo/Tiltfile": "def get_cwd():\n    return os.getcwd()\n"},
        ["True"],
    ),
    (
        "os_environ_and_name",
        "print(type(os.environ), os.environ['TILT_T_ENV'], os.getenv('TILT_T_ENV'), "
        "os.getenv('TILT_T_UNSET'), os.getenv('TILT_T_UNSET', 'd'), os.name)",
        {},
        [f"dict from-env from-env None d {os.name}"],
    ),
    (
        "sys_and_shlex",
        "print(type(sys.argv), type(sys.executable), shlex.quote('a b'), shlex.quote('ab'), "
        'shlex.quote("it\'s"))',
        {},
        ["list string 'a b' ab 'it'\"'\"'s'"],
    ),
    (
        "struct_is_available",
        "s = struct(a=1, b=[2])\nprint(s.a, s.b, encode_json(s).replace('\\n', ''))",
        {},
        ['1 [2] {  "a": 1,  "b": [    2  ]}'],
    ),
    (
        "exit_keeps_what_ran_before",
        "print('before')\nexit('bye')\nprint('after')",
        {},
        ["before", "bye"],
    ),
    (
        "include_runs_relative_to_the_caller",
        "include('sub/Tiltfile')\nprint('main')",
        {
            "sub/Tiltfile": "include('../other/Tiltfile')\nprint('sub')",
            "other/Tiltfile": "print('other', read_file('x.txt'))",
            "other/x.txt": "X",
        },
        ["other X", "sub", "main"],
    ),
    (
        "exit_in_an_included_file_stops_the_includer",
        "include('sub/Tiltfile')\nprint('main')",
        {"sub/Tiltfile": "print('sub')\nexit()\nprint('never')"},
        ["sub"],
    ),
]


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILT_T_ENV", "from-env")


@pytest.mark.parametrize(
    ("text", "files", "logs"),
    [pytest.param(t, f, lg, id=name) for name, t, f, lg in LOG_CASES],
)
def test_builtin_logs(
    tiltfile: Any, tmp_path: Path, text: str, files: dict[str, str], logs: list[str]
) -> None:
    if "link.txt" in text:
        (tmp_path / "link.txt").symlink_to("there.txt")
    data = tiltfile(text, files=files)
    assert data["logs"] == logs


def test_local_stdout_and_stderr_keep_their_order(tiltfile: Any) -> None:
    data = tiltfile("local('echo 1; echo 2 >&2; sleep 0.05; echo 3; echo 4 >&2')")
    assert data["logs"][1:] == [" → 1", " → 2", " → 3", " → 4"]


def test_local_large_stdin_and_output_do_not_deadlock(tiltfile: Any) -> None:
    # 1 MB through cat: more than any pipe buffer on both sides.
    data = tiltfile(
        "big = 'x' * 1000000\n"
        "out = local('cat', stdin=big, quiet=True, echo_off=True)\n"
        "print(len(out), out == big)"
    )
    assert data["logs"] == ["1000000 True"]


def test_files_read_are_recorded(tiltfile: Any, tmp_path: Path) -> None:
    data = tiltfile(
        "read_file('a.txt')\nread_file('gone.txt', '')\nwatch_file('w.txt')\n"
        "read_json('j.json')\nread_yaml('y.yaml')\nread_yaml_stream('s.yaml', [])\n"
        "listdir('d')\nos.path.exists('maybe')\n",
        files={"a.txt": "", "j.json": "1", "y.yaml": "a: 1", "d/f": ""},
    )
    want = ["Tiltfile", "a.txt", "gone.txt", "w.txt", "j.json", "y.yaml", "s.yaml", "d", "maybe"]
    want.append(".tiltignore")  # read by the settings family after the Tiltfile ran
    assert data["files_read"] == [str(tmp_path / p) for p in want]


def test_listdir(tiltfile: Any, tmp_path: Path) -> None:
    (tmp_path / "d" / "empty").mkdir(parents=True)
    data = tiltfile(
        "print(listdir('d'))\nprint(listdir('d', recursive=True))\nprint(listdir('d/empty'))",
        files={"d/b.txt": "", "d/a.txt": "", "d/sub/c.txt": "", "d/sub/deeper/e.txt": ""},
    )
    d = tmp_path / "d"
    assert data["logs"][0] == json.dumps([str(d / "a.txt"), str(d / "b.txt")])
    assert data["logs"][1] == json.dumps(
        [str(d / p) for p in ("a.txt", "b.txt", "sub/c.txt", "sub/deeper/e.txt")]
    )


def test_tilts_code_keywords_paths_and_dir(tiltfile: Any, tmp_path: Path) -> None:
    # Tilt's docs say read_file(file_path), listdir(directory); its code unpacks the
    # keywords "paths" and "dir", so Tiltfiles in the wild use those. Both load.
    data = tiltfile(
        "print(read_file(paths='d/a.txt').strip())\n"
        "print(read_file(file_path='d/a.txt').strip())\n"
        "watch_file(paths='d/b.txt')\n"
        "print(len(listdir(dir='d')), len(listdir(directory='d')))\n",
        files={"d/a.txt": "A\n", "d/b.txt": ""},
    )
    assert data["logs"][:3] == ["A", "A", "2 2"]
    assert str(tmp_path / "d" / "b.txt") in data["files_read"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("listdir()", "listdir: missing argument for directory"),
        ("listdir('d', dir='d')", "listdir: got directory and dir, which name the same argument"),
        ("read_file()", "read_file: missing argument for file_path"),
    ],
)
def test_alias_keywords_errors(tiltfile_error: Any, text: str, message: str) -> None:
    assert message in tiltfile_error(text + "\n", files={"d/a.txt": ""})


def test_warn_is_a_warning_with_location(tiltfile: Any) -> None:
    data = tiltfile("x = 1\nwarn('watch out')\n")
    assert data["warnings"] == [
        {"message": "watch out", "location": {"file": "Tiltfile", "line": 2}}
    ]
    assert data["logs"] == ["WARNING: Tiltfile:2: watch out"]


def test_exit_keeps_resources_declared_before(tiltfile: Any) -> None:
    data = tiltfile(
        "local_resource('kept', cmd='true')\nexit()\nlocal_resource('dropped', cmd='true')\n"
    )
    assert list(resources_by_name(data)) == ["kept"]


def test_sys_executable_is_the_tilt_command(tiltfile: Any) -> None:
    data = tiltfile("print(sys.executable)")
    exe = data["logs"][0]
    tilt_next_to_python = Path(sys.executable).parent / "tilt"
    if tilt_next_to_python.exists():
        assert exe == str(tilt_next_to_python)
    else:
        assert exe == sys.executable


# (Tiltfile text, files, expected first line of the rendered error). Each names the
# builtin, says what is wrong, and points at the call.
ERROR_CASES: list[tuple[str, str, dict[str, str], str]] = [
    (
        "local_nonzero_exit",
        "x = 1\ny = local('echo oops >&2; exit 3')\n",
        {},
        'Error: Tiltfile:2:5: local: command "echo oops >&2; exit 3" failed: exit status 3',
    ),
    (
        "local_missing_executable",
        "local(['no-such-binary-xyz', 'a'])\n",
        {},
        'Error: Tiltfile:1:1: local: command "no-such-binary-xyz a" failed: executable file '
        '"no-such-binary-xyz" not found in $PATH',
    ),
    (
        "local_empty_command",
        "local('')\n",
        {},
        "Error: Tiltfile:1:1: local: command must not be empty",
    ),
    (
        "local_bad_env_type",
        "local('true', env=['A=1'])\n",
        {},
        "Error: Tiltfile:1:1: local: for parameter 'env': got list, want dict",
    ),
    (
        "read_file_missing",
        "\nread_file('dne.txt')\n",
        {},
        "Error: Tiltfile:2:1: read_file: {tmp}/dne.txt: no such file or directory",
    ),
    (
        "read_file_bad_default",
        "read_file('a.txt', 5)\n",
        {"a.txt": ""},
        "Error: Tiltfile:1:1: read_file: default must be None or a string, got int",
    ),
    (
        "read_json_missing",
        "read_json('dne.json')\n",
        {},
        "Error: Tiltfile:1:1: read_json: {tmp}/dne.json: no such file or directory",
    ),
    (
        "read_json_invalid",
        "v = read_json('bad.json')\n",
        {"bad.json": '{\n  "a": 1,\n  "b": \n}\n'},
        "Error: Tiltfile:1:5: read_json: error parsing JSON from {tmp}/bad.json: "
        "Expecting value (line 4 column 1)",
    ),
    (
        "decode_json_invalid",
        "decode_json('[1, 2')\n",
        {},
        "Error: Tiltfile:1:1: decode_json: error parsing JSON: Expecting ',' delimiter "
        "(line 1 column 6)",
    ),
    (
        "encode_json_non_string_key",
        "encode_json({1: 'hello'})\n",
        {},
        "Error: Tiltfile:1:1: encode_json: only string keys are supported in maps. "
        "found key '1' of type int",
    ),
    (
        "read_yaml_invalid",
        "read_yaml('bad.yaml')\n",
        {"bad.yaml": 'key1: foo\nkey2:\n    key3: "bar\n    key4: true\n'},
        "Error: Tiltfile:1:1: read_yaml: error parsing YAML from {tmp}/bad.yaml: "
        "found unexpected end of stream (line 5 column 1)",
    ),
    (
        "read_yaml_on_a_stream",
        "read_yaml('s.yaml')\n",
        {"s.yaml": "a: 1\n---\nb: 2\n"},
        "Error: Tiltfile:1:1: read_yaml: expected a yaml document but found a yaml stream "
        "(documents separated by `---`). use decode_yaml_stream instead to decode a yaml "
        "stream",
    ),
    (
        "decode_yaml_invalid",
        "decode_yaml('a: [1, 2')\n",
        {},
        "Error: Tiltfile:1:1: decode_yaml: error parsing YAML: did not find expected ',' or "
        "']' (line 2 column 1)",
    ),
    (
        "read_yaml_stream_bad_default",
        "read_yaml_stream('x.yaml', 'no')\n",
        {},
        "Error: Tiltfile:1:1: read_yaml_stream: default must be a list, got str",
    ),
    (
        "os_getenv_bad_key",
        "os.getenv(1)\n",
        {},
        "Error: Tiltfile:1:1: os.getenv: for parameter 'key': got int, want string",
    ),
    (
        "include_missing",
        "include('nope/Tiltfile')\n",
        {},
        "Error: Tiltfile:1:1: file not found: {tmp}/nope/Tiltfile",
    ),
    (
        "unknown_argument",
        "read_file('a.txt', nope=1)\n",
        {"a.txt": ""},
        "Error: Tiltfile:1:1: read_file: got an unexpected keyword argument 'nope'",
    ),
]


@pytest.mark.parametrize(
    ("text", "files", "first_line"),
    [pytest.param(t, f, e, id=name) for name, t, f, e in ERROR_CASES],
)
def test_errors(
    tiltfile_error: Any, tmp_path: Path, text: str, files: dict[str, str], first_line: str
) -> None:
    msg = tiltfile_error(text, files=files)
    assert msg.splitlines()[0] == first_line.format(tmp=tmp_path)
    assert "Traceback" not in msg


def test_local_failure_names_exit_code_and_stderr(tiltfile_error: Any) -> None:
    msg = tiltfile_error("local('echo to-out; echo to-err >&2; exit 3')\n")
    assert msg.splitlines()[:4] == [
        'Error: Tiltfile:1:1: local: command "echo to-out; echo to-err >&2; exit 3" failed: '
        "exit status 3",
        "stderr:",
        "  to-err",
        "  |",
    ]


def test_quiet_local_failure_includes_stdout(tiltfile_error: Any) -> None:
    msg = tiltfile_error("local('echo to-out; exit 1', quiet=True)\n")
    assert "failed: exit status 1\nstdout:\n  to-out\n  |" in msg


def test_local_in_a_missing_dir(tiltfile_error: Any, tmp_path: Path) -> None:
    msg = tiltfile_error("local('true', dir='nope')\n")
    assert msg.splitlines()[0] == (
        f'Error: Tiltfile:1:1: local: command "true" failed: working directory '
        f"{tmp_path}/nope does not exist"
    )


# --- the fixture: one Tiltfile using the whole family ----------------------------------


def test_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    root = FIXTURES / "data"
    monkeypatch.chdir(root)
    monkeypatch.setenv("DATA_FIXTURE_MODE", "fixture")
    data = dump_of(root / "Tiltfile")
    resources = resources_by_name(data)
    assert list(resources) == ["api", "web", "migrate"]
    # Names and commands came from JSON, YAML, local() and the environment.
    api = resources["api"]
    assert api["local"]["cmd"]["argv"] == ["sh", "-c", "echo serving api on 8080"]
    assert api["labels"] == ["fixture"]
    web = resources["web"]
    assert web["local"]["cmd"]["argv"] == ["sh", "-c", "echo serving web on 3000"]
    assert web["local"]["env"] == {"VERSION": "1.2.3", "MODE": "fixture"}
    migrate = resources["migrate"]
    assert migrate["local"]["cmd"]["argv"] == ["sh", "-c", "./migrate.sh 'a b' up"]
    assert migrate["resource_deps"] == ["api"]
    assert data["files_read"] == [
        str(root / p)
        for p in (
            "Tiltfile",
            "lib/Tiltfile",
            "lib/ports.yaml",
            "services.json",
            "VERSION",
            "migrations",
            ".tiltignore",
        )
    ]
    assert data["logs"] == [
        "local: cat VERSION",
        " → 1.2.3",
        "migrations: 001_init.sql, 002_users.sql",
        'encoded: {"api":8080,"web":3000}',
    ]
