"""Tilt's Starlark dialect: one fixture per feature under fixtures/dialect/.

Tilt enables, beyond core Starlark, while loops, recursion, set, global reassignment and
top-level if/for (starkit/environment.go), takes tab indentation, predeclares __file__ in
every file and has load_dynamic(path).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tilt.tiltfile import TiltfileLoadError, load_tiltfile
from tilt.tiltfile._dialect import rewrite

DIALECT = Path(__file__).parent / "fixtures" / "dialect"

CASES = {
    "while": ["collatz 41 total 4 n 12"],
    "recursion": ["fib 610 flat [1, 2, 3, 4, 5]"],
    "set": ['len 2 True False [8000, 8001] ["api", "web"] empty True'],
    "reassign": ['services ["api", "web"] mode prod count 2'],
    "toplevel": ['enabled ["api", "web"]'],
    "tabs": ['tabs ["hi\\ta", "hi\\tb"] True 1'],
    "file": ["main file Tiltfile", "lib lib/Tiltfile lib"],
    "load_dynamic": [
        "api loaded",
        'keys ["PORT", "declare", "labels"]',
        'values 8080 {"app": "api", "port": "8080"}',
        "same 8080",
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dialect_fixture(name: str) -> None:
    result = load_tiltfile(str(DIALECT / name / "Tiltfile"))
    assert list(result.logs) == CASES[name]


def test_toplevel_declares_resources() -> None:
    result = load_tiltfile(str(DIALECT / "toplevel" / "Tiltfile"))
    assert [r.name for r in result.resources] == ["api", "web"]


def test_load_dynamic_function_resolves_against_the_running_load() -> None:
    result = load_tiltfile(str(DIALECT / "load_dynamic" / "Tiltfile"))
    (res,) = result.resources
    assert res.name == "api"
    assert res.local is not None
    assert list(res.local.deps) == [str(DIALECT / "load_dynamic" / "src")]
    assert str(DIALECT / "load_dynamic" / "services" / "api" / "Tiltfile") in result.files_read


def _error(tmp_path: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    with pytest.raises(TiltfileLoadError) as info:
        load_tiltfile(str(tmp_path / "Tiltfile"))
    return info.value.render()


def test_error_after_a_rewritten_while_names_the_users_line(tmp_path: Path) -> None:
    msg = _error(
        tmp_path,
        {"Tiltfile": "x = 0\nwhile (x <\n  2):\n    x += 1\nwhile x < 5: x += 1\nprint(y)\n"},
    )
    lines = msg.splitlines()
    assert lines[0].endswith("Tiltfile:6:7: Variable `y` not found, did you mean `x`?")
    assert lines[2] == "6 | print(y)"


def test_error_in_a_while_condition_names_the_while_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, {"Tiltfile": "x = 0\n\nwhile x < nope:\n    x += 1\n"})
    assert ":3:" in msg.splitlines()[0]
    assert "nope" in msg


def test_error_inside_a_load_dynamic_function_names_its_line(tmp_path: Path) -> None:
    msg = _error(
        tmp_path,
        {
            "Tiltfile": "s = load_dynamic('lib.star')\ns['boom']()\n",
            "lib.star": "def boom():\n    fail('kaboom')\n",
        },
    )
    assert msg.splitlines()[0].endswith("lib.star:2:5: fail: kaboom")


def test_load_dynamic_wants_a_string(tmp_path: Path) -> None:
    msg = _error(tmp_path, {"Tiltfile": "load_dynamic(3)\n"})
    assert "load_dynamic: for parameter path: got int, want string" in msg


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("x = 1\n", "x = 1\n"),
        ("s = 'a\\tb'\n", "s = 'a\\tb'\n"),
        ("s = '\t'\n", "s = '\t'\n"),  # a tab inside a string stays a tab
        ("if x:\n\ty = [1,\t2]\n", "if x:\n        y = [1, 2]\n"),
        ("if x:\n  \tz = 1\n", "if x:\n        z = 1\n"),  # to the next multiple of 8
        ("d = '''\n\twhile x:\n'''\n", "d = '''\n\twhile x:\n'''\n"),
    ],
)
def test_rewrite_table(src: str, expected: str) -> None:
    assert rewrite(src).text == expected


def test_rewrite_while_keeps_a_line_map() -> None:
    got = rewrite("a = 1\nwhile a:\n    a = 0\nb = 2\n")
    assert got.text == (
        "a = 1\nfor __tilt_w in __tilt_while():\n    if not (a): break\n    a = 0\nb = 2\n"
    )
    assert got.line_map == (1, 2, 2, 3, 4)


def test_load_dynamic_leaves_out_values_holding_functions_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "lib.star").write_text("S = struct(a=1)\nT = struct(f=lambda: 1)\nN = None\n")
    (tmp_path / "Tiltfile").write_text("d = load_dynamic('lib.star')\nprint(sorted(d.keys()))\n")
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    assert result.logs[-1] == '["N", "S"]'
    (warning,) = result.warnings
    assert warning.message.startswith("load_dynamic: 'T' of ")
    assert "holds functions and is left out of the result" in warning.message


def test_rewrite_leaves_a_malformed_while_to_the_parser(tmp_path: Path) -> None:
    src = "x = 1\nwhile x:\nx = 2\nwhile x < 3:\n    x += 1\n"
    got = rewrite(src)
    # the malformed loop is left alone (once, not duplicated), the good one rewritten
    assert got.text.count("x = 1\n") == 1
    assert got.text.startswith("x = 1\nwhile x:\nx = 2\nfor __tilt_w in __tilt_while():\n")
    msg = _error(tmp_path, {"Tiltfile": src})
    assert ":2:" in msg.splitlines()[0]
