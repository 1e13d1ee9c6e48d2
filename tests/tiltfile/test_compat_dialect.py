"""Tilt's Starlark dialect: one fixture per feature under fixtures/dialect/.

Tilt enables, beyond core Starlark, while loops, recursion, set, global reassignment and
top-level if/for (starkit/environment.go), takes tab indentation, predeclares __file__ in
every file and has load_dynamic(path).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tilt.tiltfile import TiltfileLoadError, load_tiltfile
from tilt.tiltfile._dialect import dynamic_plan, rewrite

DIALECT = Path(__file__).parent / "fixtures" / "dialect"

CASES = {
    "while": ["collatz 41 total 4 n 12"],
    "recursion": ["fib 610 flat [1, 2, 3, 4, 5]"],
    "set": ['len 2 True False [8000, 8001] ["api", "web"] empty True'],
    # Each line as go.starlark.net prints it (insertion order kept, strings quoted).
    "set_ops": [
        "type set True set",
        "len/in 3 True False True",
        "iter [3, 1, 2] [3, 1, 2] [1, 2, 3]",
        'str set([3, 1, 2]) set([3, 1, 2]) set([3, 1, 2]) set(["a", "b"]) '
        'nested [set([1])] {"k": set(["z"])}',
        "eq True False False",
        "truth False True yes",
        'add set([4, "x"]) 2',
        "union set([3, 1, 2, 9]) set([3, 1, 2, 7]) set([3, 1, 2, 8])",
        "intersection set([3, 2]) set([2])",
        "difference set([3, 2]) set([1, 2])",
        "symmetric_difference set([1, 2, 4]) set([3, 2, 5])",
        "subset True True True False",
        "superset True True False",
        "discard/remove 0 False",
        'pop p set(["q"])',
        "clear 0",
        "augmented set([2, 5])",
        'from set([1, 2]) set(["k"]) set([0, 1, 2]) set([3, 1, 2])',
        "natives 7 2 5 True 2 1 dict dict",
    ],
    "reassign": ['services ["api", "web"] mode prod count 2'],
    "toplevel": ['enabled ["api", "web"]'],
    "tabs": ['tabs ["hi\\ta", "hi\\tb"] True 1'],
    "file": ["main file Tiltfile", "lib lib/Tiltfile lib"],
    "load_dynamic": [
        "api loaded",
        'keys ["PORT", "_hidden", "declare", "labels"]',
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


def test_load_dynamic_at_the_top_level_returns_the_files_own_values(tmp_path: Path) -> None:
    # Functions, structs of functions, tuples: the loaded file's values, as load() gives them.
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "Tiltfile").write_text(
        "S = struct(a=1)\n"
        "T = struct(f=lambda: 'tf')\n"
        "N = None\n"
        "_private = 1\n"
        "def apply(fn, *args, **kwargs):\n"
        "    return fn(*args, **kwargs)\n"
        "def pair(x):\n"
        "    return (x, type(x))\n"
        "if False:\n"
        "    NEVER = 1\n"
    )
    (tmp_path / "Tiltfile").write_text(
        "d = load_dynamic('lib/' + 'Tiltfile')\n"
        "print(sorted(d.keys()), type(d['S']), d['S'].a, d['T'].f())\n"
        "print(d['apply'](lambda a, b=0: a + b, 1, b=2), d['pair'](struct(k=1)))\n"
        "print(d['pair']((1, 2)), d['apply'](d['pair'], set([3])))\n"
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    assert list(result.logs) == [
        '["N", "S", "T", "_private", "apply", "pair"] struct 1 tf',
        '3 (struct(k=1), "struct")',
        '((1, 2), "tuple") (set([3]), "set")',
    ]
    assert not result.warnings


def test_load_dynamic_returns_private_globals_too(tmp_path: Path) -> None:
    # Tilt's load_dynamic returns every global of the file, `_`-prefixed ones included
    # (load() cannot import those); one bound only on a branch not taken is absent.
    (tmp_path / "lib.star").write_text(
        "_base = 40\n"
        "PUBLIC = 1\n"
        "def _add(x):\n"
        "    return x + _base\n"
        "if False:\n"
        "    _never = 1\n"
        "for _i in [1, 2]:\n"
        "    pass\n"
        "a, (_b, c) = 1, (2, 3)\n"
        "_s = struct(f=_add)\n"
    )
    (tmp_path / "Tiltfile").write_text(
        "d = load_dynamic('lib.star')\n"
        "print(sorted(d.keys()))\n"
        "print(d['_add'](2), d['_base'], d['_i'], d['_b'], d['_s'].f(1))\n"
        "def f():\n"
        "    e = load_dynamic('lib.star')\n"
        "    return sorted(e.keys()), e['_add'](3)\n"
        "print(f())\n"
        "_mine = 1\n"
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    logs = [line for line in result.logs if not line.startswith("WARNING")]
    assert logs == [
        '["PUBLIC", "_add", "_b", "_base", "_i", "_s", "a", "c"]',
        "42 40 2 2 41",
        # Inside a function the values cross as data: the struct of a function stays out.
        '(["PUBLIC", "_add", "_b", "_base", "_i", "a", "c"], 43)',
    ]
    (warning,) = result.warnings
    assert "'_s'" in warning.message


def test_a_private_global_is_still_private_to_load(tmp_path: Path) -> None:
    # The alias that lets load_dynamic see `_x` does not make load('f', '_x') work.
    msg = _error(tmp_path, {"lib.star": "_x = 1\n", "Tiltfile": "load('lib.star', '_x')\n"})
    assert "_x" in msg.splitlines()[0]


def test_load_dynamic_returns_a_frozen_dict(tmp_path: Path) -> None:
    # Tilt freezes the dict it returns.
    msg = _error(
        tmp_path, {"lib.star": "A = 1\n", "Tiltfile": "d = load_dynamic('lib.star')\nd['x'] = 1\n"}
    )
    assert msg.splitlines()[0].startswith(f"Error: {tmp_path}/Tiltfile:2:")
    assert "mmutable" in msg.splitlines()[0]


def test_load_dynamic_relative_paths_follow_the_running_load(tmp_path: Path) -> None:
    # Tilt's rule: the loaded file's own top-level code reads against its folder; its
    # function, called from the main Tiltfile, against the main Tiltfile's folder.
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "data.txt").write_text("lib\n")
    (tmp_path / "data.txt").write_text("main\n")
    (tmp_path / "lib" / "Tiltfile").write_text(
        "AT_LOAD = str(read_file('data.txt')).strip()\n"
        "def read(p):\n"
        "    return str(read_file(p)).strip()\n"
    )
    (tmp_path / "Tiltfile").write_text(
        "lib = load_dynamic(os.path.join('lib', 'Tiltfile'))\n"
        "print(lib['AT_LOAD'], lib['read']('data.txt'))\n"
        "for i in [1]:\n"
        "    again = load_dynamic('lib/Tiltfile')\n"
        "    print(again['read']('data.txt'))\n"
    )
    assert list(load_tiltfile(str(tmp_path / "Tiltfile")).logs) == ["lib main", "main"]


def test_load_dynamic_errors_name_the_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, {"Tiltfile": "x = 1\nd = load_dynamic(\n    x + 1)\n"})
    assert msg.splitlines()[0] == (
        f"Error: {tmp_path}/Tiltfile:2: load_dynamic: for parameter path: got int, want string"
    )
    msg = _error(tmp_path, {"Tiltfile": "x = 1\nd = load_dynamic(nope + 'a')\n"})
    assert msg.splitlines()[0].startswith(f"Error: {tmp_path}/Tiltfile:2:")
    assert "nope" in msg.splitlines()[0]
    msg = _error(tmp_path, {"Tiltfile": "d = load_dynamic('missing.star')\n"})
    assert "file not found" in msg


def test_load_dynamic_keeps_a_function_that_reads_a_later_global(tmp_path: Path) -> None:
    # Cutting the file at the call would hide the later `suffix` from f; such a file
    # keeps one piece, and the loaded functions are proxies (plain values cross).
    (tmp_path / "lib.star").write_text("def greet(name):\n    return 'hi ' + name\n")
    (tmp_path / "Tiltfile").write_text(
        "def f():\n"
        "    return suffix\n"
        "d = load_dynamic('lib.star')\n"
        "suffix = '!'\n"
        "print(d['greet']('a') + f())\n"
    )
    assert list(load_tiltfile(str(tmp_path / "Tiltfile")).logs) == ["hi a!"]


def test_load_dynamic_in_a_function_proxies_values_holding_functions_with_a_warning(
    tmp_path: Path,
) -> None:
    # Not at the top level (inside a function, a loop, a branch): the call cannot be a
    # load(), so a value holding functions is left out, with a warning.
    (tmp_path / "lib.star").write_text("S = struct(a=1)\nT = struct(f=lambda: 1)\nN = None\n")
    (tmp_path / "Tiltfile").write_text(
        "def get():\n    return load_dynamic('lib.star')\nprint(sorted(get().keys()))\n"
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    assert result.logs[-1] == '["N", "S"]'
    (warning,) = result.warnings
    assert warning.message.startswith("load_dynamic: 'T' of ")
    assert "holds functions and is left out of the result" in warning.message


def test_load_dynamic_in_a_loop_passes_structs_tuples_and_sets(tmp_path: Path) -> None:
    # Not at the top level, the functions are proxies; values still keep their types.
    (tmp_path / "lib.star").write_text(
        "def echo(*args, **kwargs):\n"
        "    return [args, kwargs, [type(a) for a in args]]\n"
        "def mk():\n"
        "    return struct(a=(1, 2), b={1: 'one'})\n"
        "S = struct(x=[1])\n"
    )
    (tmp_path / "Tiltfile").write_text(
        "for name in ['lib.star']:\n"
        "    d = load_dynamic(name)\n"
        "    print(d['echo'](struct(a=1), (1, (2,)), set([3]), {2: 'b'}, k=('v',)))\n"
        "    print(type(d['mk']()), d['mk'](), type(d['S']), d['S'])\n"
    )
    assert list(load_tiltfile(str(tmp_path / "Tiltfile")).logs) == [
        '[(struct(a=1), (1, (2,)), set([3]), {2: "b"}), {"k": ("v",)}, '
        '["struct", "tuple", "set", "dict"]]',
        'struct struct(a=(1, 2), b={1: "one"}) struct struct(x=[1])',
    ]


@pytest.mark.parametrize(
    ("call", "what"),
    [("d['apply'](len)", "the arguments of apply"), ("d['fn']()", "the result of fn")],
)
def test_load_dynamic_in_a_loop_says_functions_cannot_cross(
    tmp_path: Path, call: str, what: str
) -> None:
    msg = _error(
        tmp_path,
        {
            "lib.star": "def apply(f):\n    return f\ndef fn():\n    return len\n",
            "Tiltfile": f"for n in ['lib.star']:\n    d = load_dynamic(n)\n{call}\n",
        },
    )
    assert msg.splitlines()[0] == (
        f"Error: {tmp_path}/Tiltfile:3: load_dynamic: {what}: a function cannot cross into "
        "or out of a file that load_dynamic() loaded inside a function, loop or branch; call "
        "load_dynamic() in a top-level statement to get the file's own functions"
    )


def test_dynamic_plan_cuts_only_top_level_calls() -> None:
    src = "x = 1\nd = load_dynamic('a/' + 'b')  # c\nprint(d, load_dynamic(\n   'q'))\ny = 2\n"
    plan = dynamic_plan(src)
    assert plan is not None
    assert [c.text for c in plan] == [
        "x = 1\n",
        "\nd = (__tilt_dyn_0)  # c\n",
        "\n\nprint(d, (__tilt_dyn_1\n))\ny = 2\n",
    ]
    assert [[(d.index, d.arg, d.line) for d in c.loads] for c in plan] == [
        [],
        [(0, "\n__tilt_dyn_path(0, ('a/' + 'b'))\n", 2)],
        [(1, "\n\n\n__tilt_dyn_path(1, ('q'))\n", 3)],
    ]
    assert dynamic_plan("for i in [1]:\n    load_dynamic(p)\n") is None
    assert dynamic_plan("x = a if c else load_dynamic(p)\n") is None
    assert dynamic_plan("x = [load_dynamic(p) for p in ps]\n") is None
    assert dynamic_plan("a = 1; x = load_dynamic(p)\n") is None


def test_rewrite_leaves_a_malformed_while_to_the_parser(tmp_path: Path) -> None:
    src = "x = 1\nwhile x:\nx = 2\nwhile x < 3:\n    x += 1\n"
    got = rewrite(src)
    # the malformed loop is left alone (once, not duplicated), the good one rewritten
    assert got.text.count("x = 1\n") == 1
    assert got.text.startswith("x = 1\nwhile x:\nx = 2\nfor __tilt_w in __tilt_while():\n")
    msg = _error(tmp_path, {"Tiltfile": src})
    assert ":2:" in msg.splitlines()[0]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("x = set([[1]])\n", "Tiltfile:1: set: unhashable type: list"),
        ("s = set()\ns.add({})\n", "Tiltfile:2: add: unhashable type: dict"),
        ("s = set([1])\ns.add(set([2]))\n", "Tiltfile:2: add: unhashable type: set"),
        ("set(1)\n", "Tiltfile:1: set: got int, want iterable"),
        ("set([1], [2])\n", "Tiltfile:1: set: got 2 arguments, want at most 1"),
        ("s = set([1])\ns.remove(2)\n", "Tiltfile:2: remove: missing key 2"),
        ("set().pop()\n", "Tiltfile:1: pop: empty set"),
        ("s = set([1])\ns.add(1, 2)\n", "Tiltfile:2: add: got 2 arguments, want 1"),
        ("set([1]).union(1)\n", "Tiltfile:1: union: got int, want iterable"),
        ("x = set([1]) - [1]\n", "Tiltfile:1: unknown binary op: set - list"),
        ("x = [1] & set([1])\n", "Tiltfile:1: unknown binary op: list & set"),
    ],
)
def test_set_errors_name_the_line(tmp_path: Path, src: str, expected: str) -> None:
    msg = _error(tmp_path, {"Tiltfile": src})
    assert msg.splitlines()[0] == f"Error: {tmp_path}/{expected}"


def test_set_made_in_a_loaded_file_works_in_the_caller(tmp_path: Path) -> None:
    (tmp_path / "lib.star").write_text("def names():\n    return set(['b', 'a'])\n")
    (tmp_path / "Tiltfile").write_text(
        "load('lib.star', 'names')\n"
        "n = names()\n"
        "n.add('c')\n"
        "print(type(n), n - set(['a']), sorted(n))\n"
        "local_resource('r', cmd='true', deps=n)\n"
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    assert list(result.logs) == ['set set(["b", "c"]) ["a", "b", "c"]']
    (res,) = result.resources
    assert res.local is not None
    assert list(res.local.deps) == [str(tmp_path / n) for n in ("b", "a", "c")]


def test_an_empty_set_is_an_empty_dict_to_type_and_str(tmp_path: Path) -> None:
    # The one documented difference: with no element, nothing marks the dict as a set.
    (tmp_path / "Tiltfile").write_text("s = set()\nprint(type(s), s, len(s), s == {})\n")
    assert list(load_tiltfile(str(tmp_path / "Tiltfile")).logs) == ["dict {} 0 True"]


def test_a_dict_is_not_a_set(tmp_path: Path) -> None:
    (tmp_path / "Tiltfile").write_text(
        "d = {'a': None, 'b': '<set element>x'}\nx = set([1])\nprint(type(d), d)\n"
    )
    assert list(load_tiltfile(str(tmp_path / "Tiltfile")).logs) == [
        'dict {"a": None, "b": "<set element>x"}'
    ]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        # without set() or a set-only method the file is left alone
        ("y = a - b\n", "y = a - b\n"),
        ("s = set()\ny = a - (b - c)\n", "s = set()\ny = __tilt_sub(a , (__tilt_sub(b , c)))\n"),
        ("s = set()\nz = (a - b) - c\n", "s = set()\nz = __tilt_sub((__tilt_sub(a , b)) , c)\n"),
        ("s = set()\ns -= t\n", "s = set()\ns = __tilt_sub(s, t)\n"),
        ("x.union(y)\n", '__tilt_m(x, "union")(y)\n'),
        (
            "x.add(1)\nl.pop(0)\nq = l.pop()\n",
            '__tilt_m(x, "add")(1)\nl.pop(0)\nq = __tilt_m(l, "pop")()\n',
        ),
        (
            "s = set()\nv = a < b < c\nw = a <= b\n",
            "s = set()\nv = a < b < c\nw = __tilt_le(a , b)\n",
        ),
        ("s = set()\nk = a ^ b & c\n", "s = set()\nk = __tilt_xor(a , __tilt_and(b , c))\n"),
        (
            "s = set()\nu = (a\n  # x - y\n  - b)\n",
            "s = set()\nu = (__tilt_sub(a\n  # x - y\n  , b))\n",
        ),
        (
            "s = set(['é'])\nx = 'é' + a.union(b)\n",
            "s = set(['é'])\nx = 'é' + __tilt_m(a, \"union\")(b)\n",
        ),
        ("myset(1) - 2\n", "myset(1) - 2\n"),
    ],
)
def test_set_rewrite_table(src: str, expected: str) -> None:
    got = rewrite(src)
    assert got.text == expected
    assert got.line_map == ()


def test_error_on_a_set_rewritten_line_names_the_users_column(tmp_path: Path) -> None:
    msg = _error(tmp_path, {"Tiltfile": "s = set()\nx = s - s\ny = (s - s) & nope\n"})
    lines = msg.splitlines()
    assert lines[0].startswith(f"Error: {tmp_path}/Tiltfile:3:15: Variable `nope` not found")
    assert lines[2:4] == ["3 | y = (s - s) & nope", "  |               ^"]


def test_original_column_maps_through_inserted_calls() -> None:
    got = rewrite("s = set()\ny = a - b\n")
    assert got.text == "s = set()\ny = __tilt_sub(a , b)\n"
    # a, the operator (now a comma) and b, at their columns in the user's line
    assert [got.original_column(2, c) for c in (1, 16, 18, 20)] == [1, 5, 7, 9]
    assert got.original_column(1, 3) == 3
