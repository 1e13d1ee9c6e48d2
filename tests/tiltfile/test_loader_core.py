"""The loader core: Starlark evaluation, load(), errors with locations."""

from __future__ import annotations

from tests.conftest import run_tilt


def test_syntax_error_has_file_line_column(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error("x = 1\ny = [1,\n  2 3]\n")
    assert msg.startswith("Error: Tiltfile:3:5: Parse error")
    assert "3 |   2 3]" in msg


def test_unknown_builtin(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error("x = 1\nnot_a_builtin(1)\n")
    assert msg.startswith("Error: Tiltfile:2:1: Variable `not_a_builtin` not found")


def test_print_goes_to_the_tiltfile_log(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile('print("hello", [1, "a"], None)\n')
    assert data["logs"] == ['hello [1, "a"] None']


def test_cli_error_exit_1_no_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Tiltfile").write_text("1 +\n")
    proc = run_tilt("dump", "tiltfile", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("Error: Tiltfile:1:")


def test_exit_in_loaded_file_stops_the_whole_tiltfile(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "local_resource('before', 'true')\nload('lib.star', 'x')\n"
        "local_resource('after', 'true')\n",
        files={"lib.star": "x = 1\nexit('enough')\n"},
    )
    assert [r["name"] for r in data["resources"]] == ["before"]
    assert "enough" in data["logs"]


def test_multiline_error_message_keeps_every_line(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error("x = local('echo out; echo err >&2; exit 3')\n")
    assert msg.startswith("Error: Tiltfile:1:5: ")
    assert "exit status 3" in msg


def test_ext_load_from_tilt_modules(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "load('ext://hello', 'hello')\nhello('greet')\n",
        files={
            "tilt_modules/hello/Tiltfile": (
                "def hello(name):\n    local_resource(name, cmd='echo hi', deps=['src'])\n"
            )
        },
    )
    (res,) = data["resources"]
    assert res["name"] == "greet"
    # called from the main Tiltfile: deps resolve against the main Tiltfile's folder (Tilt's rule)
    assert res["local"]["deps"][0].endswith("/src")
    assert "tilt_modules" not in res["local"]["deps"][0]


def test_ext_load_from_extensions_dir_env(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import write_tree
    from tilt.tiltfile import load_tiltfile

    write_tree(tmp_path / "exts", {"greeter/Tiltfile": "GREETING = 'hi'\n"})
    write_tree(
        tmp_path / "app", {"Tiltfile": "load('ext://greeter', 'GREETING')\nprint(GREETING)\n"}
    )
    env = {"TILT_EXTENSIONS_DIR": str(tmp_path / "exts")}
    result = load_tiltfile(str(tmp_path / "app" / "Tiltfile"), env=env)
    assert result.logs == ("hi",)
    assert str(tmp_path / "exts" / "greeter" / "Tiltfile") in result.files_read


def test_load_twice_evaluates_once_and_relative_to_caller(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "load('lib/a.star', 'A')\nload('lib/b.star', 'B')\nprint(A, B)\n",
        files={
            "lib/a.star": "load('common.star', 'C')\nA = C + 1\n",
            "lib/b.star": "load('./common.star', 'C')\nB = C + 2\n",
            "lib/common.star": "print('common loaded')\nC = 10\n",
        },
    )
    assert data["logs"] == ["common loaded", "11 12"]


def test_error_in_a_builtin_call_names_the_calls_column(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error("def f():\n    x = docker_build('img', 'nope')\nf()\n")
    assert msg.splitlines()[:4] == [
        'Error: Tiltfile:2:9: docker_build: context "nope" does not exist (looked for '
        + msg.split("(looked for ", 1)[1].splitlines()[0],
        "  |",
        "2 |     x = docker_build('img', 'nope')",
        "  |         ^",
    ]


def test_error_found_after_evaluation_names_the_calls_column(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
        "    spec:\n      containers:\n      - name: c\n        image: x\n"
    )
    msg = tiltfile_error(
        "k8s_yaml('app.yaml')\nif True:\n    k8s_resource('wbe', port_forwards=8000)\n",
        files={"app.yaml": deployment},
    )
    assert msg.splitlines()[0].startswith("Error: Tiltfile:3:5: k8s_resource: ")
    assert msg.splitlines()[3] == "  |     ^"


def test_bracket_never_closed_points_at_the_bracket(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    # The interpreter reports this at 1:1; the loader finds the bracket.
    msg = tiltfile_error("x = 1\nlocal_resource('a',\n  cmd='make'\n")
    assert msg.splitlines() == [
        "Error: Tiltfile:2:15: Parse error: '(' was never closed",
        "  |",
        "2 | local_resource('a',",
        "  |               ^",
    ]
