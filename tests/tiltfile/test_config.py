"""config.*: argument parsing after --, tilt_config.json, enabled resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.tiltfile.conftest import FIXTURES, dump_of, resources_by_name

DEFINES = """
config.define_string_list('to-run', args=True, usage='resources to run')
config.define_string_list('tag')
config.define_string('env', usage='which environment')
config.define_bool('debug')
config.define_object('extra')
"""

# (args after --, tilt_config.json or None, expected config.parse() result)
PARSE_CASES: list[tuple[str, tuple[str, ...], str | None, dict[str, Any]]] = [
    ("nothing", (), None, {}),
    ("positional", ("a", "b"), None, {"to-run": ["a", "b"]}),
    ("space_separated_value", ("--env", "prod"), None, {"env": "prod"}),
    ("equals_value", ("--env=prod",), None, {"env": "prod"}),
    ("equals_empty_value", ("--env=",), None, {"env": ""}),
    ("bool_flag", ("--debug",), None, {"debug": True}),
    ("bool_explicit_false", ("--debug=false",), None, {"debug": False}),
    ("bool_go_spellings", ("--debug=T",), None, {"debug": True}),
    ("string_list_repeats", ("--tag", "x", "--tag=y"), None, {"tag": ["x", "y"]}),
    ("object_from_json", ("--extra", '{"a": [1, 2]}'), None, {"extra": {"a": [1, 2]}}),
    (
        "interspersed",
        ("a", "--tag", "x", "b", "--debug", "c"),
        None,
        {"to-run": ["a", "b", "c"], "tag": ["x"], "debug": True},
    ),
    ("double_dash_ends_flags", ("a", "--", "--debug"), None, {"to-run": ["a", "--debug"]}),
    ("single_dash_long_name", ("-env", "qa"), None, {"env": "qa"}),
    ("value_looks_like_a_flag", ("--env", "--debug"), None, {"env": "--debug"}),
    (
        "config_file_only",
        (),
        '{"env": "staging", "tag": ["t1"], "debug": true, "extra": null}',
        {"env": "staging", "tag": ["t1"], "debug": True},
    ),
    (
        "args_win_over_file",
        ("--env", "prod", "a"),
        '{"env": "staging", "to-run": ["x", "y"], "extra": {"k": "v"}}',
        {"env": "prod", "to-run": ["a"], "extra": {"k": "v"}},
    ),
    (
        "file_list_replaced_not_merged",
        ("--tag", "z"),
        '{"tag": ["t1", "t2"]}',
        {"tag": ["z"]},
    ),
]


@pytest.mark.parametrize(
    ("args", "config_file", "expected"),
    [pytest.param(a, c, e, id=name) for name, a, c, e in PARSE_CASES],
)
def test_parse(
    tiltfile: Any, args: tuple[str, ...], config_file: str | None, expected: dict[str, Any]
) -> None:
    files = {"tilt_config.json": config_file} if config_file is not None else {}
    data = tiltfile(DEFINES + "print(encode_json(config.parse()))\n", files=files, args=args)
    assert json.loads(data["logs"][0]) == expected
    assert data["config"]["values"] == expected
    assert data["config"]["args"] == list(args)


# (Tiltfile, args, tilt_config.json, expected error text: first line, or several lines)
ERROR_CASES: list[tuple[str, str, tuple[str, ...], str | None, str]] = [
    (
        "unknown_flag_with_usage",
        DEFINES + "cfg = config.parse()\n",
        ("--nope", "1"),
        None,
        "Error: Tiltfile:7:7: config.parse: unknown flag: --nope\n"
        "Usage:\n"
        "      --debug\n"
        "      --env string         which environment\n"
        "      --extra object\n"
        "      --tag list[string]",
    ),
    (
        "unknown_shorthand",
        DEFINES + "cfg = config.parse()\n",
        ("-x",),
        None,
        "Error: Tiltfile:7:7: config.parse: unknown shorthand flag: 'x' in -x",
    ),
    (
        "string_given_twice",
        DEFINES + "cfg = config.parse()\n",
        ("--env", "a", "--env", "b"),
        None,
        'Error: Tiltfile:7:7: config.parse: invalid argument "b" for "--env" flag: string '
        "settings can only be specified once. multiple values found (last value: b)",
    ),
    (
        "bool_given_twice",
        DEFINES + "cfg = config.parse()\n",
        ("--debug", "--debug"),
        None,
        'Error: Tiltfile:7:7: config.parse: invalid argument "true" for "--debug" flag: bool '
        "settings can only be specified once. multiple values found (last value: true)",
    ),
    (
        "bad_bool",
        DEFINES + "cfg = config.parse()\n",
        ("--debug=maybe",),
        None,
        'Error: Tiltfile:7:7: config.parse: invalid argument "maybe" for "--debug" flag: '
        'strconv.ParseBool: parsing "maybe": invalid syntax',
    ),
    (
        "flag_needs_an_argument",
        DEFINES + "cfg = config.parse()\n",
        ("--env",),
        None,
        "Error: Tiltfile:7:7: config.parse: flag needs an argument: --env",
    ),
    (
        "bad_object_json",
        DEFINES + "cfg = config.parse()\n",
        ("--extra", "{nope"),
        None,
        'Error: Tiltfile:7:7: config.parse: invalid argument "{nope" for "--extra" flag: '
        "decoding JSON, got '{nope': Expecting property name enclosed in double quotes",
    ),
    (
        "unexpected_positional",
        "config.define_string('env')\nconfig.parse()\n",
        ("do", "re"),
        None,
        "Error: Tiltfile:2:1: config.parse: positional args were specified, but none were "
        "expected (no setting defined with args=True)",
    ),
    (
        "positional_string_twice",
        "config.define_string('env', args=True)\nconfig.parse()\n",
        ("a", "b"),
        None,
        "Error: Tiltfile:2:1: config.parse: error setting positional arg env: string settings "
        "can only be specified once. multiple values found (last value: b)",
    ),
    (
        "defined_twice",
        "config.define_string('foo')\nconfig.define_string_list('foo')\n",
        (),
        None,
        "Error: Tiltfile:2:1: config.define_string_list: foo defined multiple times",
    ),
    (
        "two_positionals",
        "config.define_string_list('foo', args=True)\n"
        "config.define_string_list('bar', args=True)\n",
        (),
        None,
        "Error: Tiltfile:2:1: config.define_string_list: both bar and foo are defined as "
        "positional args",
    ),
    (
        "define_after_parse",
        "config.parse()\nconfig.define_bool('late')\n",
        (),
        None,
        "Error: Tiltfile:2:1: config.define_bool: config.define_bool cannot be called after "
        "config.parse is called",
    ),
    (
        "empty_name",
        "config.define_string('')\n",
        (),
        None,
        "Error: Tiltfile:1:1: config.define_string: 'name' is required",
    ),
    (
        "file_unknown_setting",
        "config.define_string('foo')\nconfig.parse()\n",
        (),
        '{"bar": "1"}',
        "Error: Tiltfile:2:1: config.parse: {tmp}/tilt_config.json specified unknown setting "
        "name 'bar'",
    ),
    (
        "file_wrong_type_list",
        "config.define_string_list('foo')\nconfig.parse()\n",
        (),
        '{"foo": "1"}',
        "Error: Tiltfile:2:1: config.parse: {tmp}/tilt_config.json specified invalid value "
        "for setting foo: expected array",
    ),
    (
        "file_wrong_item_type",
        "config.define_string_list('foo')\nconfig.parse()\n",
        (),
        '{"foo": [1, 2]}',
        "Error: Tiltfile:2:1: config.parse: {tmp}/tilt_config.json specified invalid value "
        "for setting foo: expected string, got float64",
    ),
    (
        "file_wrong_type_bool",
        "config.define_bool('foo')\nconfig.parse()\n",
        (),
        '{"foo": 5}',
        "Error: Tiltfile:2:1: config.parse: {tmp}/tilt_config.json specified invalid value "
        "for setting foo: expected bool, found float64",
    ),
    (
        "file_invalid_json",
        "config.define_bool('foo')\nconfig.parse()\n",
        (),
        '{"foo": tru}',
        "Error: Tiltfile:2:1: config.parse: error parsing json from {tmp}/tilt_config.json: "
        "Expecting value (line 1 column 9)",
    ),
    (
        "file_not_an_object",
        "config.parse()\n",
        (),
        "[1]",
        "Error: Tiltfile:1:1: config.parse: error parsing json from {tmp}/tilt_config.json: "
        "want a JSON object of setting names to values, got []interface {}",
    ),
    (
        "parse_from_two_folders",
        "config.define_string('foo')\nconfig.parse()\ninclude('inc/Tiltfile')\n",
        (),
        None,
        "Error: inc/Tiltfile:1:1: config.parse: config.parse can only be called from "
        "one Tiltfile working directory per run. It was called from {tmp} and {tmp}/inc",
    ),
    (
        "set_enabled_resources_not_a_list",
        "config.set_enabled_resources('a')\n",
        (),
        None,
        "Error: Tiltfile:1: config.set_enabled_resources: resources must be a list of "
        "string, got str",
    ),
]


@pytest.mark.parametrize(
    ("text", "args", "config_file", "expected"),
    [pytest.param(t, a, c, e, id=name) for name, t, a, c, e in ERROR_CASES],
)
def test_errors(
    tiltfile_error: Any,
    text: str,
    args: tuple[str, ...],
    config_file: str | None,
    expected: str,
) -> None:
    files = {"inc/Tiltfile": "config.parse()\n"}
    if config_file is not None:
        files["tilt_config.json"] = config_file
    msg = tiltfile_error(text, files=files, args=args)
    want = expected.replace("{tmp}", str(Path.cwd()))  # the fixture runs in its folder
    assert msg.startswith(want), msg
    assert "Traceback" not in msg


def test_usage_goes_to_the_log_too(tmp_path: Path) -> None:
    from tilt.tiltfile import TiltfileLoadError, _register_builtins
    from tilt.tiltfile._context import LoadState
    from tilt.tiltfile._loader import evaluate

    _register_builtins()
    (tmp_path / "Tiltfile").write_text(
        "config.define_string('env', usage='which env')\nconfig.parse()\n"
    )
    state = LoadState(main_path=str(tmp_path / "Tiltfile"), args=("--bad",))
    with pytest.raises(TiltfileLoadError):
        evaluate(state)
    assert state.logs == ["Usage:", "      --env string   which env"]


def test_values_are_plain_starlark(tiltfile: Any) -> None:
    data = tiltfile(
        DEFINES
        + "cfg = config.parse()\n"
        + "print(type(cfg), cfg.get('to-run', []), cfg.get('debug', False),"
        + " cfg['extra']['n'] + 1)\n",
        args=("--extra", '{"n": 41}', "a"),
    )
    assert data["logs"] == ['dict ["a"] False 42']


def test_tilt_config_json_is_watched(tiltfile: Any, tmp_path: Path) -> None:
    data = tiltfile("config.parse()\n")
    assert str(tmp_path / "tilt_config.json") in data["files_read"]


def test_constants(tiltfile: Any, tmp_path: Path) -> None:
    data = tiltfile(
        "print(config.tilt_subcommand)\nprint(config.main_path)\nprint(config.main_dir)\n"
        "include('sub/Tiltfile')\n",
        files={"sub/Tiltfile": "print(config.main_path)\n"},
    )
    main = str(tmp_path / "Tiltfile")
    assert data["logs"] == ["up", main, str(tmp_path), main]
    assert data["config"]["subcommand"] == "up"


def test_subcommand_is_passed_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tilt.tiltfile import load_tiltfile

    (tmp_path / "Tiltfile").write_text("print(config.tilt_subcommand)\n")
    monkeypatch.chdir(tmp_path)
    result = load_tiltfile(str(tmp_path / "Tiltfile"), subcommand="ci")
    assert result.logs == ("ci",)
    assert result.config.subcommand == "ci"


# --- enabled resources (Tilt's TestSetResources table, plus dependencies) ---------------

RESOURCES = """
local_resource('a', cmd='true')
local_resource('b', cmd='true', resource_deps=['a'])
local_resource('c', cmd='true')
"""

# (set_enabled_resources call or '', call config.parse?, args, expected enabled or None=all)
ENABLED_CASES: list[tuple[str, str, bool, tuple[str, ...], list[str] | None]] = [
    ("neither", "", False, (), None),
    ("neither_with_parse", "", True, (), None),
    ("args_only", "", False, ("c",), ["c"]),
    ("args_bring_their_deps", "", False, ("b",), ["a", "b"]),
    ("args_only_with_parse", "", True, ("c",), None),
    ("tiltfile_only", "config.set_enabled_resources(['c'])", False, (), ["c"]),
    ("tiltfile_only_with_parse", "config.set_enabled_resources(['c'])", True, (), ["c"]),
    ("both", "config.set_enabled_resources(['c'])", False, ("a",), ["c"]),
    ("both_with_parse", "config.set_enabled_resources(['c'])", True, ("a",), ["c"]),
    ("empty_list_is_all", "config.set_enabled_resources([])", False, (), None),
    ("clear", "config.clear_enabled_resources()", False, ("a",), []),
    (
        "clear_then_set",
        "config.clear_enabled_resources()\nconfig.set_enabled_resources(['b'])",
        False,
        (),
        ["a", "b"],
    ),
    (
        "set_then_clear",
        "config.set_enabled_resources(['b'])\nconfig.clear_enabled_resources()",
        False,
        (),
        [],
    ),
]


@pytest.mark.parametrize(
    ("call", "parse", "args", "expected"),
    [pytest.param(c, p, a, e, id=name) for name, c, p, a, e in ENABLED_CASES],
)
def test_enabled_resources(
    tiltfile: Any, call: str, parse: bool, args: tuple[str, ...], expected: list[str] | None
) -> None:
    text = RESOURCES + call + "\n"
    if parse:
        text += "config.define_string_list('resources', args=True)\nconfig.parse()\n"
    data = tiltfile(text, args=args)
    assert data["config"]["enabled_resources"] == expected
    assert list(resources_by_name(data)) == ["a", "b", "c"]  # disabled ones stay in the graph


def test_unknown_enabled_resource_from_args(tiltfile_error: Any) -> None:
    msg = tiltfile_error(RESOURCES, args=("a", "nope"))
    assert msg == (
        'Error: You specified some resources that could not be found: "nope"\n'
        'Is this a typo? Existing resources in Tiltfile: "b", "c"'
    )


def test_unknown_enabled_resource_from_tiltfile(tiltfile_error: Any) -> None:
    msg = tiltfile_error(RESOURCES + "config.set_enabled_resources(['x', 'c'])\n")
    assert msg.splitlines()[:2] == [
        'Error: Tiltfile:5: You specified some resources that could not be found: "x"',
        'Is this a typo? Existing resources in Tiltfile: "a", "b"',
    ]


# --- the fixture -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "enabled", "values"),
    [
        ((), None, {"env": "dev"}),
        (("web",), ["api", "web"], {"env": "dev", "to-run": ["web"]}),
        (
            ("--env", "prod", "--flags", "x", "--flags", "y", "frontend"),
            ["api", "web"],
            {"env": "prod", "flags": ["x", "y"], "to-run": ["frontend"]},
        ),
        (("--debug", "worker"), ["worker"], {"env": "dev", "debug": True, "to-run": ["worker"]}),
    ],
)
def test_fixture(
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    enabled: list[str] | None,
    values: dict[str, Any],
) -> None:
    root = FIXTURES / "config"
    monkeypatch.chdir(root)
    data = dump_of(root / "Tiltfile", args)
    assert data["config"]["values"] == values
    assert data["config"]["enabled_resources"] == enabled
    resources = resources_by_name(data)
    assert list(resources) == ["api", "web", "worker"]
    env = values["env"]
    assert resources["api"]["local"]["env"] == {
        "APP_ENV": env,
        "DEBUG": "1" if values.get("debug") else "0",
    }
    assert data["files_read"][:2] == [str(root / "Tiltfile"), str(root / "tilt_config.json")]
