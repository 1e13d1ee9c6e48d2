"""Runs a Tiltfile on the Starlark interpreter: modules, load()/include(), errors.

Each Starlark file gets its own module. A builtin resolves relative paths against
the folder of the file whose *load is running* (Tilt's rule, `starkit.AbsWorkingDir`):
while ``ext/Tiltfile`` runs its top-level code that is ``ext/``; when the main
Tiltfile later calls a function defined in ``ext/Tiltfile``, it is the main
Tiltfile's folder.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import starlark as sl

from tilt.model import SourceLocation
from tilt.tiltfile._context import (
    BUILTINS,
    CONSTANTS,
    Builtin,
    Ctx,
    LoadState,
    TiltfileError,
    doc_section,
    typename,
)
from tilt.tiltfile._dialect import (
    SET_MARK,
    WHILE_ITERATOR,
    Chunk,
    Rewritten,
    dynamic_plan,
    rewrite,
)

__all__ = [
    "FUNCTION_PARAMS",
    "FunctionRef",
    "TiltfileLoadError",
    "call_column",
    "call_function",
    "current_run",
    "display_path",
    "evaluate",
    "function_ref",
]

PRELUDE = "<tilt prelude>"

_FRAME_RE = re.compile(r"^\s*\* (.+):(\d+), in (.+)$")
_ARROW_RE = re.compile(r"^\s*--> (.+):(\d+):(\d+)$")
_PLAIN = (str, int, float, bool, list, dict, type(None))


class TiltfileLoadError(Exception):
    """The Tiltfile could not be loaded. ``str()`` is the whole user-facing message."""

    def __init__(self, message: str, location: SourceLocation | None, column: int = 0) -> None:
        self.message = message
        self.location = location
        self.column = column
        super().__init__(self.render())

    def render(self) -> str:
        if self.location is None:
            return f"Error: {self.message}"
        col = f":{self.column}" if self.column else ""
        head = f"Error: {self.location}{col}: {self.message}"
        snippet = _snippet(self.location, self.column)
        return head + ("\n" + snippet if snippet else "")


def _snippet(loc: SourceLocation, column: int) -> str:
    try:
        with open(loc.file, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    if not 1 <= loc.line <= len(lines):
        return ""
    text = lines[loc.line - 1]
    num = str(loc.line)
    pad = " " * len(num)
    out = [f"{pad} |", f"{num} | {text}"]
    if column:
        out.append(f"{pad} | {' ' * (column - 1)}^")
    return "\n".join(out)


def display_path(path: str) -> str:
    """How a file is named in messages: relative to the working folder when below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


@dataclass
class _Frame:
    file: str
    line: int
    func: str = ""
    source: str = ""


def _frames(text: str) -> list[_Frame]:
    """The frames of an interpreter traceback, each with the source line shown under it."""
    out: list[_Frame] = []
    for line in text.splitlines():
        m = _FRAME_RE.match(line)
        if m:
            out.append(_Frame(m.group(1), int(m.group(2)), m.group(3)))
        elif out and not out[-1].source and line.startswith("      "):
            out[-1].source = line[6:]
    return out


def _failing_builtin(text: str) -> str:
    """The builtin whose call failed, when the call went through a prelude shim."""
    for f in _frames(text):
        if f.file == PRELUDE and f.func.startswith("__b_"):
            flat = f.func.removeprefix("__b_")
            name = next((n for n in BUILTINS if n.replace(".", "_") == flat), flat)
            return name.rsplit(".", 1)[-1]
    return ""


def call_column(path: str, line: int, name: str) -> int:
    """Where ``name(`` starts on ``line`` of ``path`` (1-based; 0 when not found)."""
    if not name:
        return 0
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, text in enumerate(f, start=1):
                if i == line:
                    m = re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", text)
                    return m.start() + 1 if m else 0
    except OSError:
        pass
    return 0


def _location_from_stack(stack: str, run: _Run | None = None) -> SourceLocation | None:
    frames = [f for f in _frames(stack) if f.file != PRELUDE]
    if not frames:
        return None
    line = frames[-1].line if run is None else run.user_line(frames[-1].file, frames[-1].line)
    return SourceLocation(file=frames[-1].file, line=line)


def _convert_error(err: sl.StarlarkError, state: _Run) -> TiltfileLoadError:
    """Turn the interpreter's error text into one message with file:line:column."""
    if state.inner_error is not None:
        inner, state.inner_error = state.inner_error, None
        return inner
    text = str(err)
    lines = text.splitlines()
    msg_lines: list[str] = []
    loc: SourceLocation | None = None
    col = 0
    in_msg = False
    for line in lines:
        if line.startswith("error: ") and not msg_lines:
            # Only the first: our own messages may contain lines starting "error: ".
            in_msg = True
            msg_lines = [line[len("error: ") :]]
            continue
        m = _ARROW_RE.match(line)
        if m and in_msg:
            in_msg = False
            loc = SourceLocation(file=m.group(1), line=state.user_line(m.group(1), int(m.group(2))))
            col = state.user_column(m.group(1), int(m.group(2)), int(m.group(3)))
            continue
        if in_msg:
            msg_lines.append(line)
    message = "\n".join(msg_lines).strip() or text.strip()
    for prefix in ("TiltfileError: ", "StarlarkError: "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if loc is None or loc.file == PRELUDE:
        # The failing call went through a prelude shim: name the user's line instead.
        # A prelude function's own fail() (set's, say) reads as a builtin's error.
        message = message.removeprefix("fail: ")
        col = 0
        builtin_name = _failing_builtin(text)
        loc = _location_from_stack(text, state) or loc
        if loc is not None and loc.file == PRELUDE:
            loc = None
        if loc is not None:
            real = state.real_path.get(loc.file, loc.file)
            col = call_column(real, loc.line, builtin_name)
    if loc is not None:
        loc = SourceLocation(file=state.real_path.get(loc.file, loc.file), line=loc.line)
        loc = SourceLocation(file=display_path(loc.file), line=loc.line)
    return TiltfileLoadError(message, loc, col)


def _better_parse_error(err: TiltfileLoadError, src: str) -> TiltfileLoadError:
    """Point an unclosed bracket at the bracket.

    The interpreter reports a bracket left open until the end of the file at 1:1 ("unexpected
    new line"). Starlark's syntax is close enough to Python's that Python's parser finds the
    bracket that was never closed.
    """
    loc = err.location
    if loc is None or (loc.line, err.column) != (1, 1) or "unexpected new line" not in err.message:
        return err
    try:
        compile(src, loc.file, "exec", dont_inherit=True)
    except SyntaxError as py:
        if py.lineno and "never closed" in py.msg:
            where = SourceLocation(file=loc.file, line=py.lineno)
            return TiltfileLoadError(f"Parse error: {py.msg}", where, py.offset or 0)
    except (ValueError, OverflowError):
        pass
    return err


def _wrap_result(v: object) -> object:
    if isinstance(v, _PLAIN):
        return v
    if isinstance(v, tuple):
        return list(v)
    return sl.OpaquePythonObject(v)


# Tilt's Blob is a plain string here. So that ``type()`` can still say "blob" (extensions
# branch on it: a Blob of YAML or a path), the texts the Blob-returning builtins gave during
# the running load are remembered; a string with one of those texts is taken for a Blob
# (``str(blob)`` too, unlike Tilt; an empty text never is).
BLOB_BUILTINS = frozenset(
    {"blob", "encode_yaml", "encode_yaml_stream", "filter_yaml", "helm", "kustomize", "local",
     "read_file"}
)  # fmt: skip
_BLOBS: set[str] = set()


def _remember_blobs(value: object) -> None:
    for text in value if isinstance(value, tuple) else (value,):
        if isinstance(text, str) and text:
            _BLOBS.add(text)


def _call(b: Builtin, ctx: Ctx, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
    try:
        got = b.fn(ctx, *args, **kwargs)
        if b.name in BLOB_BUILTINS:
            _remember_blobs(got)
        return _wrap_result(got)
    except TypeError as e:
        # Argument errors name the builtin and the parameter, as Tilt's do.
        import inspect

        try:
            inspect.signature(b.fn).bind(ctx, *args, **kwargs)
        except TypeError as bind_err:
            raise TiltfileError(f"{b.name}: {bind_err}") from None
        raise e from None


#: Located builtins that take a Starlark function: builtin name -> its parameter.
FUNCTION_PARAMS = {"workload_to_resource_function": "func"}


@dataclass(frozen=True)
class FunctionRef:
    """A Starlark function a builtin was given: a top-level ``def`` of a loaded file."""

    path: str  # the file that defines it
    name: str
    text: str  # str() of the function: ``<file>.<name>``
    params: int


def function_ref(state: LoadState, fn: str, param: str, value: object) -> FunctionRef:
    """The function a `FUNCTION_PARAMS` builtin got (the prelude sends its type and text).

    starlark-pyo3 cannot hand a Starlark function to Python, so it is found again by its
    name in the file that defines it, which must bind it at its top level (a ``def``).
    """
    import ast

    assert isinstance(value, dict)
    kind, text = str(value.get("type")), str(value.get("text"))
    if kind != "function":
        raise TiltfileError(f"{fn}: for parameter {param}: got {kind}, want function")
    run = current_run(state)
    displays = sorted((d for d in run.real_path if text.startswith(d + ".")), key=len)
    name = text[len(displays[-1]) + 1 :] if displays else ""
    path = run.real_path[displays[-1]] if displays else ""
    try:
        body = ast.parse(run.sources.get(path, "")).body
    except (SyntaxError, ValueError):
        body = []
    defs = [d for d in body if isinstance(d, ast.FunctionDef) and d.name == name]
    if not defs:
        raise TiltfileError(
            f"{fn}: {param} must be a function defined with def at the top level of a file "
            f"(got {text}); a lambda or a nested function is not supported here"
        )
    a = defs[-1].args
    params = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs)
    params += (a.vararg is not None) + (a.kwarg is not None)
    return FunctionRef(path=path, name=name, text=text, params=params)


def call_function(state: LoadState, ref: FunctionRef, fields: dict[str, str]) -> object:
    """Call ``ref`` with one argument, a struct of ``fields``, once the load has run.

    Raises:
        TiltfileLoadError: the function failed (located in its own code).
        TiltfileError: the file does not bind ``ref`` at its top level any more.
    """
    run = current_run(state)
    frozen = run.cache.get(ref.path)
    if frozen is None:
        raise TiltfileError(f"{ref.text} is no longer defined")
    src = (
        f"load('m', __tilt_fn={_symbol(ref.name)!r})\n"
        f"same = str(__tilt_fn) == {ref.text!r}\n"
        "def call(fields):\n"
        "    return __tilt_fn(struct(**fields))\n"
    )
    mod = sl.Module()
    try:
        sl.eval(
            mod, sl.parse(PRELUDE, src, _dialect()), _globals(), sl.FileLoader(lambda _: frozen)
        )
    except sl.StarlarkError:
        raise TiltfileError(f"{ref.text} is not a global of {display_path(ref.path)}") from None
    if not mod["same"]:
        raise TiltfileError(
            f"{ref.name} in {display_path(ref.path)} was rebound after it was registered"
        )
    try:
        return mod.freeze().call("call", fields)
    except sl.StarlarkError as e:
        raise _convert_error(e, run) from None


def _build_prelude() -> str:
    """Starlark that builds the namespaces (os, config, ...) and the located shims."""
    lines = []
    tree: dict[str, Any] = {}
    for name, b in BUILTINS.items():
        flat = "__b_" + name.replace(".", "_")
        if b.located and name in FUNCTION_PARAMS:
            # A Starlark function cannot cross into Python: it goes as its name (see
            # `function_ref`) and is called back after the load (`call_function`).
            target = "__l_" + name.replace(".", "_")
            param = FUNCTION_PARAMS[name]
            lines.append(
                f"def {flat}({param}):\n"
                f"    return {target}(call_stack(strip_frames=1), "
                f"{{'type': type({param}), 'text': str({param})}})"
            )
        elif b.located:
            target = "__l_" + name.replace(".", "_")
            lines.append(
                f"def {flat}(*args, **kwargs):\n"
                f"    return {target}(call_stack(strip_frames=1), *args, **kwargs)"
            )
        parts = name.split(".")
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = flat
    for name in CONSTANTS:
        parts = name.split(".")
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = "__c_" + name.replace(".", "_")

    def expr(node: dict[str, Any] | str) -> str:
        if isinstance(node, str):
            return node
        return "struct(" + ", ".join(f"{k}={expr(v)}" for k, v in node.items()) + ")"

    for top, node in tree.items():
        lines.append(f"{top} = {expr(node)}")
    lines.append("def print(*args, sep = ' '):\n    __tilt_print(sep.join([str(a) for a in args]))")
    lines.append(_DIALECT_PRELUDE)
    return _DIALECT_LOAD + "\n".join(lines) + "\n"


# Tilt's dialect beyond what starlark-pyo3 has (see _dialect.py):
# - `while` loops iterate this (the rewrite turns them into guarded `for` loops);
# - `set` (go.starlark.net's AllowSet): a dict whose values are all SET_MARK. `type`, `str`
#   and `repr` are wrapped to show it as a set; the set methods and the operators a dict
#   lacks are the __tilt_* functions the rewrite calls (native for anything not a set);
# - `load_dynamic(path)`: Tilt's builtin, returning the file's globals as a dict. A Starlark
#   value cannot cross from one module to another except through `load`, so functions come
#   back as proxies that call into the loaded module (see _Run.load_dynamic).
# The set functions (and load_dynamic's encoders) live in one module, evaluated once per
# process and frozen (a frozen function can be called from any module); each file's prelude
# loads them.
DIALECT_MODULE = "<tilt dialect>"
_DIALECT_MODULE_SRC = """
__TILT_SET_MARK = SET_MARK_LITERAL
__TILT_SET_MARK_REPR = repr(__TILT_SET_MARK)
__TILT_ITERABLE = ("list", "tuple", "dict", "range")
__TILT_CONTAINERS = ("list", "tuple", "dict", "struct")
__TILT_OPAQUE = "opaque_python_object"
__TILT_OPAQUE_REPR = "<opaque python object>"

def __tilt_is_set(x):
    if type(x) != "dict" or not x:
        return False
    for v in x.values():
        if v != __TILT_SET_MARK:
            return False
    return True

def __tilt_set_like(x):
    return type(x) == "dict" and (not x or __tilt_is_set(x))

def __tilt_typename(x):
    return "set" if __tilt_is_set(x) else type(x)

def __tilt_hashable(fn, x):
    t = type(x)
    if t == "list" or t == "dict":
        fail("%s: unhashable type: %s" % (fn, __tilt_typename(x)))

def __tilt_elements(fn, items):
    t = type(items)
    if t not in __TILT_ITERABLE:
        fail("%s: got %s, want iterable" % (fn, __tilt_typename(items)))
    return items

def set(*args):
    if len(args) > 1:
        fail("set: got %d arguments, want at most 1" % len(args))
    out = {}
    if args:
        for x in __tilt_elements("set", args[0]):
            __tilt_hashable("set", x)
            out[x] = __TILT_SET_MARK
    return out

def tilt_type(x):
    t = type(x)
    if t == "dict" and __tilt_is_set(x):
        return "set"
    if t == __TILT_OPAQUE:
        return __tilt_opaque_type(x)
    if t == "string" and x and __tilt_is_blob(x):
        return "blob"
    return t

def __tilt_repr(x):
    t = type(x)
    if t == "dict":
        if __tilt_is_set(x):
            return "set([" + ", ".join([__tilt_repr(k) for k in x]) + "])"
        items = [__tilt_repr(k) + ": " + __tilt_repr(v) for k, v in x.items()]
        return "{" + ", ".join(items) + "}"
    if t == "list":
        return "[" + ", ".join([__tilt_repr(v) for v in x]) + "]"
    if t == "tuple":
        if len(x) == 1:
            return "(" + __tilt_repr(x[0]) + ",)"
        return "(" + ", ".join([__tilt_repr(v) for v in x]) + ")"
    if t == "struct":
        return "struct(" + ", ".join([k + "=" + __tilt_repr(getattr(x, k)) for k in dir(x)]) + ")"
    if t == __TILT_OPAQUE:
        return __tilt_opaque_str(x)
    return repr(x)

def __tilt_shown(t, s):
    if t in __TILT_CONTAINERS:
        return __TILT_SET_MARK_REPR in s or __TILT_OPAQUE_REPR in s
    return t == __TILT_OPAQUE

def tilt_repr(x):
    s = repr(x)
    if __tilt_shown(type(x), s):
        return __tilt_repr(x)
    return s

def tilt_str(x):
    t = type(x)
    if t == "string":
        return x
    s = str(x)
    if __tilt_shown(t, s):
        return __tilt_repr(x)
    return s

def __tilt_set_add(s, x):
    __tilt_hashable("add", x)
    s[x] = __TILT_SET_MARK

def __tilt_set_discard(s, x):
    if x in s:
        s.pop(x)

def __tilt_set_remove(s, x):
    if x not in s:
        fail("remove: missing key " + repr(x))
    s.pop(x)

def __tilt_set_pop(s):
    if not s:
        fail("pop: empty set")
    for x in s:
        break
    s.pop(x)
    return x

def __tilt_set_union(s, other):
    out = dict(s)
    for x in __tilt_elements("union", other):
        __tilt_hashable("union", x)
        out[x] = __TILT_SET_MARK
    return out

def __tilt_set_intersection(s, other):
    o = set(__tilt_elements("intersection", other))
    return {x: __TILT_SET_MARK for x in s if x in o}

def __tilt_set_difference(s, other):
    o = set(__tilt_elements("difference", other))
    return {x: __TILT_SET_MARK for x in s if x not in o}

def __tilt_set_symmetric_difference(s, other):
    o = set(__tilt_elements("symmetric_difference", other))
    out = {x: __TILT_SET_MARK for x in s if x not in o}
    for x in o:
        if x not in s:
            out[x] = __TILT_SET_MARK
    return out

def __tilt_set_issubset(s, other):
    o = set(__tilt_elements("issubset", other))
    for x in s:
        if x not in o:
            return False
    return True

def __tilt_set_issuperset(s, other):
    for x in __tilt_elements("issuperset", other):
        if x not in s:
            return False
    return True

__TILT_SET_METHODS = {
    "add": __tilt_set_add,
    "difference": __tilt_set_difference,
    "discard": __tilt_set_discard,
    "intersection": __tilt_set_intersection,
    "issubset": __tilt_set_issubset,
    "issuperset": __tilt_set_issuperset,
    "pop": __tilt_set_pop,
    "remove": __tilt_set_remove,
    "symmetric_difference": __tilt_set_symmetric_difference,
    "union": __tilt_set_union,
}

def __tilt_set_call(name, s, args, kwargs):
    if kwargs:
        fail("%s: unexpected keyword arguments" % name)
    want = 0 if name == "pop" else 1
    if len(args) != want:
        fail("%s: got %d arguments, want %d" % (name, len(args), want))
    return __TILT_SET_METHODS[name](s, *args)

def tilt_m(v, name):
    if __tilt_set_like(v):
        return lambda *args, **kwargs: __tilt_set_call(name, v, args, kwargs)
    return getattr(v, name)

def __tilt_sets(a, op, b):
    if type(a) == "dict" and __tilt_set_like(a) and __tilt_set_like(b):
        return True
    if __tilt_is_set(a) or __tilt_is_set(b):
        fail("unknown binary op: %s %s %s" % (__tilt_typename(a), op, __tilt_typename(b)))
    return False

def tilt_sub(a, b):
    if __tilt_sets(a, "-", b):
        return __tilt_set_difference(a, b)
    return a - b

def tilt_and(a, b):
    if __tilt_sets(a, "&", b):
        return __tilt_set_intersection(a, b)
    return a & b

def tilt_xor(a, b):
    if __tilt_sets(a, "^", b):
        return __tilt_set_symmetric_difference(a, b)
    return a ^ b

def tilt_le(a, b):
    if __tilt_sets(a, "<=", b):
        return __tilt_set_issubset(a, b)
    return a <= b

def tilt_lt(a, b):
    if __tilt_sets(a, "<", b):
        return len(a) < len(b) and __tilt_set_issubset(a, b)
    return a < b

def tilt_ge(a, b):
    if __tilt_sets(a, ">=", b):
        return __tilt_set_issuperset(a, b)
    return a >= b

def tilt_gt(a, b):
    if __tilt_sets(a, ">", b):
        return len(a) > len(b) and __tilt_set_issuperset(a, b)
    return a > b

# `FORMAT % MAPPING` with `%(name)s` conversions (go.starlark.net's interpolate); the
# rewrite calls this for a string literal that has one.
def tilt_fmt(f, x):
    if type(x) != "dict":
        return f % x
    out = []
    i = 0
    n = len(f)
    for _ in range(n + 1):
        if i >= n:
            break
        j = f.find("%", i)
        if j < 0:
            out.append(f[i:])
            break
        out.append(f[i:j])
        if f[j + 1:j + 2] == "%":
            out.append("%")
            i = j + 2
            continue
        if f[j + 1:j + 2] != "(":
            # A positional conversion takes the mapping itself (go.starlark.net).
            out.append(("%" + f[j + 1:j + 2]) % (x,))
            i = j + 2
            continue
        k = f.find(")", j + 2)
        if k < 0:
            fail("incomplete format key")
        key = f[j + 2:k]
        if key not in x:
            fail("key not found: " + key)
        out.append(("%" + f[k + 1:k + 2]) % (x[key],))
        i = k + 2
    return "".join(out)

# Values a load_dynamic proxy hands across modules go through Python as plain data, so
# tuples and structs are wrapped on the way and unwrapped on arrival.
def tilt_enc(what, x):
    t = type(x)
    if t == "tuple":
        return {"__tilt_tuple__": [tilt_enc(what, v) for v in x]}
    if t == "list":
        return [tilt_enc(what, v) for v in x]
    if t == "dict":
        # Python hands Starlark only string keys: a dict crosses as its pairs.
        return {"__tilt_dict__": [[tilt_enc(what, k), tilt_enc(what, v)] for k, v in x.items()]}
    if t == "struct":
        return {"__tilt_struct__": {k: tilt_enc(what, getattr(x, k)) for k in dir(x)}}
    if t == "function" or t == "python_callable_value":
        fail("load_dynamic: " + what + ": a function cannot cross into or out of a file "
             + "that load_dynamic() loaded inside a function, loop or branch; call "
             + "load_dynamic() in a top-level statement to get the file's own functions")
    return x

def tilt_dec(x):
    t = type(x)
    if t == "list":
        return [tilt_dec(v) for v in x]
    if t == "dict":
        if len(x) == 1 and "__tilt_tuple__" in x:
            return tuple([tilt_dec(v) for v in x["__tilt_tuple__"]])
        if len(x) == 1 and "__tilt_struct__" in x:
            return struct(**{k: tilt_dec(v) for k, v in x["__tilt_struct__"].items()})
        if len(x) == 1 and "__tilt_dict__" in x:
            return {tilt_dec(k): tilt_dec(v) for k, v in x["__tilt_dict__"]}
        return {k: tilt_dec(v) for k, v in x.items()}
    return x
""".replace("SET_MARK_LITERAL", repr(SET_MARK))
_DIALECT_LOAD = (
    f"load({DIALECT_MODULE!r}, 'set', type='tilt_type', str='tilt_str', repr='tilt_repr', "
    + ", ".join(
        f"__tilt_{n}='tilt_{n}'"
        for n in ("m", "sub", "and", "xor", "le", "lt", "ge", "gt", "enc", "dec", "fmt")
    )
    + ")\n"
)
_DIALECT_PRELUDE = f"""
def {WHILE_ITERATOR}():
    return range(2147483647)

def __tilt_dyn_fn(handle, name):
    def call(*args, **kwargs):
        what = "the arguments of " + name
        got = __tilt_dyn_call(handle, name, __tilt_enc(what, args), __tilt_enc(what, kwargs))
        return __tilt_dec(got)
    return call

# Tilt's os.environ methods that change the environment (os/environ_methods.go); the
# rewrite calls these for `os.environ.update(...)` and the like.
def __tilt_environ_update(*args, **kwargs):
    if len(args) > 1:
        fail("update: got %d arguments, want at most 1" % len(args))
    for k, v in dict(*args, **kwargs).items():
        os.putenv(k, v)

def __tilt_environ_setdefault(key, default = None):
    env = __tilt_environ()
    if key in env:
        return env[key]
    os.putenv(key, default)
    return default

def __tilt_environ_pop(key, *default):
    env = __tilt_environ()
    if key in env:
        os.unsetenv(key)
        return env[key]
    if default:
        return default[0]
    fail("pop: missing key")

def __tilt_environ_popitem():
    env = __tilt_environ()
    if not env:
        fail("popitem: empty environ")
    k = sorted(env.keys())[0]
    os.unsetenv(k)
    return (k, env[k])

def __tilt_environ_clear():
    for k in __tilt_environ().keys():
        os.unsetenv(k)

def load_dynamic(path):
    info = __tilt_load_dynamic(path)
    out = {{}}
    for name in info["names"]:
        if name in info["functions"]:
            out[name] = __tilt_dyn_fn(info["handle"], name)
        else:
            out[name] = __tilt_dec(info["values"][name])
    return out
"""


@functools.cache
def _globals() -> sl.Globals:
    return sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.CallStack])


@functools.cache
def _prelude_src() -> str:
    return _build_prelude()


@functools.cache
def _dialect_module() -> sl.FrozenModule:
    mod = sl.Module()
    mod.add_callable("__tilt_opaque_type", _opaque_type)
    mod.add_callable("__tilt_opaque_str", _opaque_str)
    mod.add_callable("__tilt_is_blob", _BLOBS.__contains__)
    sl.eval(mod, sl.parse(PRELUDE, _DIALECT_MODULE_SRC, _dialect()), _globals())
    return mod.freeze()


def _opaque_type(v: object) -> str:
    """``type()`` of a value a builtin returned (a live_update step, a probe...): Tilt's name."""
    from tilt.tiltfile._context import typename

    return typename(v)


def _opaque_str(v: object) -> str:
    """``str()`` of a value a builtin returned: Tilt's text where we know it."""
    from tilt.tiltfile._images import step_text

    text = step_text(v)
    return text if text is not None else "<" + _opaque_type(v) + ">"


def _load_dialect_module(spec: str) -> sl.FrozenModule:
    if spec != DIALECT_MODULE:
        raise TiltfileError(f"the prelude cannot load {spec!r}")
    return _dialect_module()


_DIALECT_LOADER = sl.FileLoader(_load_dialect_module)


def _dialect() -> sl.Dialect:
    d = sl.Dialect.extended()
    d.enable_f_strings = False
    return d


class _Run:
    """One evaluation: the module cache and the chain of files being loaded."""

    def __init__(self, state: LoadState) -> None:
        self.state = state
        self.cache: dict[str, sl.FrozenModule] = {}
        self.loading: list[str] = []
        self.inner_error: TiltfileLoadError | None = None
        self.real_path: dict[str, str] = {}
        self.contexts: dict[str, Ctx] = {}
        # Files the dialect rewrite changed, by the name the interpreter knows them by.
        self.rewritten: dict[str, Rewritten] = {}
        self.exited = False
        self.sources: dict[str, str] = {}
        self.dynamic: dict[str, tuple[int, sl.FrozenModule]] = {}
        self.dynamic_modules: dict[int, sl.FrozenModule] = {}
        # Top-level load_dynamic: the modules of exports by load key, and the key by path.
        self.shims: dict[str, sl.FrozenModule] = {}
        self.shim_keys: dict[str, str] = {}
        self.dyn_paths: dict[int, object] = {}
        self.call_shims: dict[tuple[int, str], sl.FrozenModule] = {}

    def resolve(self, spec: str, from_file: str) -> str:
        if spec.startswith("ext://"):
            return self.resolve_extension(spec[len("ext://") :])
        return os.path.normpath(os.path.join(os.path.dirname(from_file), spec))

    def resolve_extension(self, name: str) -> str:
        from tilt.tiltfile._extensions import resolve_extension

        return resolve_extension(self.state, name)

    def new_module(self, path: str) -> sl.Module:
        display = display_path(path)
        self.real_path[display] = path
        state = self.state
        mod = sl.Module()
        base = Ctx(state=state, file=path, display_file=display)
        for name, b in BUILTINS.items():
            flat = name.replace(".", "_")
            if b.located:
                mod.add_callable("__l_" + flat, self._located(b))
            else:
                mod.add_callable("__b_" + flat, self._plain(b))
        for name, (value, _doc) in CONSTANTS.items():
            mod["__c_" + name.replace(".", "_")] = _constant_value(value, base)
        mod.add_callable("__tilt_print", state.log)
        mod.add_callable("__tilt_load_dynamic", self.load_dynamic)
        mod.add_callable("__tilt_dyn_call", self.dynamic_call)
        mod.add_callable("__tilt_dyn_path", self.dyn_paths.__setitem__)
        # Tilt's os.environ reads the environment as it is when used (the dialect rewrite
        # turns `os.environ` into a call of this).
        mod.add_callable("__tilt_environ", lambda: dict(state.env))
        # Tilt predeclares __file__ in every file: the path of that file.
        mod["__file__"] = path
        # __name__ is "__main__" in the main Tiltfile (so `if __name__ == "__main__":`
        # holds there) and the file's path in any file loaded from it.
        mod["__name__"] = "__main__" if path == state.main_path else path
        sl.eval(mod, sl.parse(PRELUDE, _prelude_src(), _dialect()), _globals(), _DIALECT_LOADER)
        return mod

    def user_line(self, file: str, line: int) -> int:
        """The line of the user's file for a line of the (maybe rewritten) text we ran."""
        got = self.rewritten.get(file)
        return line if got is None else got.original_line(line)

    def user_column(self, file: str, line: int, column: int) -> int:
        """The column in the user's file for one in the (maybe rewritten) text we ran."""
        got = self.rewritten.get(file)
        return column if got is None else got.original_column(line, column)

    def ctx(self) -> Ctx:
        """The context of a builtin call: the file whose load is running (Tilt's rule).

        One per file, shared by the calls that carry no location.
        """
        path = self.loading[-1]
        got = self.contexts.get(path)
        if got is None:
            got = self.contexts[path] = Ctx(
                state=self.state, file=path, display_file=display_path(path)
            )
        return got

    def _plain(self, b: Builtin) -> Callable[..., object]:
        def call(*args: Any, **kwargs: Any) -> object:
            return _call(b, self.ctx(), args, kwargs)

        return call

    def _located(self, b: Builtin) -> Callable[..., object]:
        def call(stack: str, *args: Any, **kwargs: Any) -> object:
            base = self.ctx()
            ctx = Ctx(state=base.state, file=base.file, display_file=base.display_file)
            ctx.location = _location_from_stack(stack, self)
            return _call(b, ctx, args, kwargs)

        return call

    def run_file(self, path: str) -> sl.FrozenModule:
        """Evaluate one file (cached), raising TiltfileLoadError on failure."""
        if path in self.cache:
            return self.cache[path]
        if path in self.loading:
            chain = [display_path(p) for p in [*self.loading[self.loading.index(path) :], path]]
            raise TiltfileError("load cycle: " + " -> ".join(chain))
        try:
            with open(path, encoding="utf-8") as f:
                src = f.read()
        except FileNotFoundError:
            raise TiltfileError(f"file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise TiltfileError(f"cannot read {path}: {e}") from None
        self.state.record_read(path)
        self.loading.append(path)
        try:
            mod = self.new_module(path)
            code = rewrite(src)
            self.sources[path] = code.text
            if code.line_map or code.spans:
                self.rewritten[display_path(path)] = code
            ast = sl.parse(display_path(path), code.text, _dialect())
            plan = dynamic_plan(code.text) if "load_dynamic" in code.text else None
            loader = sl.FileLoader(lambda spec: self.shims.get(spec) or self.load(spec, path))
            try:
                if plan is None:
                    sl.eval(mod, ast, _globals(), loader)
                else:
                    self._eval_plan(mod, path, plan, loader)
            except sl.StarlarkError as e:
                if self.exited:
                    return mod.freeze()
                raise _convert_error(e, self) from None
            except TiltfileError:
                if self.exited:
                    return mod.freeze()
                raise
            self._alias_private_globals(mod, code.text)
            frozen = mod.freeze()
        except sl.StarlarkError as e:  # a parse error
            raise _better_parse_error(_convert_error(e, self), src) from None
        finally:
            self.loading.pop()
        self.cache[path] = frozen
        return frozen

    @staticmethod
    def _alias_private_globals(mod: sl.Module, text: str) -> None:
        """Give each bound ``_name`` global a public alias, so load_dynamic can read it.

        Tilt's load_dynamic returns all of a file's globals, ``_``-prefixed ones too, but a
        Starlark ``load()`` cannot import those. The alias is bound after the file has run,
        in its own module; a name bound only on a branch not taken gets none.
        """
        if not _maybe_private(text):
            return
        names = _global_names(text, private=True)

        def alias(names: list[str]) -> bool:
            src = "".join(f"{PRIVATE_ALIAS}{n} = {n}\n" for n in names)
            try:
                sl.eval(mod, sl.parse("<load_dynamic>", src, _dialect()), _globals())
            except sl.StarlarkError:
                return False  # one is not bound on this run
            return True

        if names and not alias(names):
            for name in names:
                alias([name])

    def load(self, spec: str, from_file: str) -> sl.FrozenModule:
        try:
            frozen = self.run_file(self.resolve(spec, from_file))
        except TiltfileLoadError as e:
            # Keep the innermost error: the interpreter wraps it in the load() call's.
            if self.inner_error is None:
                self.inner_error = e
            raise
        if self.exited:
            # exit() in a loaded file ends the whole Tiltfile, keeping what was declared.
            raise TiltfileError("exit")
        return frozen

    def _eval_plan(
        self, mod: sl.Module, path: str, plan: list[Chunk], loader: sl.FileLoader
    ) -> None:
        """Run a file cut at its top-level ``load_dynamic`` calls (see `dynamic_plan`).

        Each call's path is computed first; its module's globals then come in through a
        ``load()`` of a small module whose ``exports`` is their dict, so its functions and
        values are the file's own (any arguments, structs stay structs).
        """
        display = display_path(path)
        for chunk in plan:
            for dyn in chunk.loads:
                sl.eval(mod, sl.parse(display, dyn.arg, _dialect()), _globals(), loader)
                key = self._shim(self.dyn_paths.pop(dyn.index, None), path, dyn.line)
                load = "\n" * (dyn.line - 1) + f"load({key!r}, __tilt_dyn_{dyn.index}='exports')\n"
                sl.eval(mod, sl.parse(display, load, _dialect()), _globals(), loader)
            if chunk.text.strip():
                sl.eval(mod, sl.parse(display, chunk.text, _dialect()), _globals(), loader)

    def _shim(self, spec: object, path: str, line: int) -> str:
        """The load key of a module whose ``exports`` is the dict of ``spec``'s globals."""
        display = display_path(path)
        if not isinstance(spec, str):
            raise TiltfileLoadError(
                f"load_dynamic: for parameter path: got {typename(spec)}, want string",
                SourceLocation(file=display, line=self.user_line(display, line)),
            )
        target = self.resolve(spec, path)
        frozen = self.load(spec, path)
        key = self.shim_keys.get(target)
        if key is None:
            names = self._bound_names(frozen, _exported_names(self.sources.get(target, "")))
            src = ""
            if names:
                src = (
                    "load('m', "
                    + ", ".join(f"v{i}={_symbol(n)!r}" for i, n in enumerate(names))
                    + ")\n"
                )
            src += "exports = {" + ", ".join(f"{n!r}: v{i}" for i, n in enumerate(names)) + "}\n"
            shim = sl.Module()
            sl.eval(
                shim,
                sl.parse("<load_dynamic>", src, _dialect()),
                _globals(),
                sl.FileLoader(lambda _spec: frozen),
            )
            key = self.shim_keys[target] = f"<load_dynamic {len(self.shims)}>"
            self.shims[key] = shim.freeze()
        return key

    @staticmethod
    def _bound_names(frozen: sl.FrozenModule, names: list[str]) -> list[str]:
        """The names a module has a value for (one bound only on a branch not taken has not)."""
        out = []
        for name in names:
            probe = sl.Module()
            try:
                sl.eval(
                    probe,
                    sl.parse("<load_dynamic>", f"load('m', v={_symbol(name)!r})\n", _dialect()),
                    _globals(),
                    sl.FileLoader(lambda _spec: frozen),
                )
            except sl.StarlarkError:
                continue
            out.append(name)
        return out

    def include(self, spec: str, from_file: str) -> None:
        self.load(spec, from_file)

    def load_dynamic(self, spec: object) -> dict[str, object]:
        """``load_dynamic(path)``: run the file (once) and describe its globals."""
        if not isinstance(spec, str):
            raise TiltfileError(
                f"load_dynamic: for parameter path: got {type(spec).__name__}, want string"
            )
        path = self.resolve(spec, self.loading[-1])
        frozen = self.load(spec, self.loading[-1])
        handle = self.dynamic.setdefault(path, (len(self.dynamic), frozen))[0]
        self.dynamic_modules[handle] = frozen
        names, functions, values = self._exports(path, frozen)
        return {"handle": handle, "names": names, "functions": functions, "values": values}

    def _exports(
        self, path: str, frozen: sl.FrozenModule
    ) -> tuple[list[str], list[str], dict[str, object]]:
        names = _exported_names(self.sources.get(path, ""))
        functions: list[str] = []
        values: dict[str, object] = {}
        kept: list[str] = []
        loader = sl.FileLoader(lambda spec: _dialect_module() if spec == DIALECT_MODULE else frozen)
        for name in self._bound_names(frozen, names):
            probe = sl.Module()
            src = f"load('m', v={_symbol(name)!r})\nkind = type(v)\n"
            sl.eval(probe, sl.parse(PRELUDE, src, _dialect()), _globals(), loader)
            if probe["kind"] == "function":
                kept.append(name)
                functions.append(name)
                continue
            src = f"load({DIALECT_MODULE!r}, enc='tilt_enc')\nvalue = enc({name!r}, v)\n"
            try:
                sl.eval(probe, sl.parse(PRELUDE, src, _dialect()), _globals(), loader)
                values[name] = probe["value"]
            except Exception:  # a value holding functions cannot cross modules here
                self.state.warn(
                    f"load_dynamic: {name!r} of {display_path(path)} holds functions and "
                    "is left out of the result; load() the file to use it"
                )
                continue
            kept.append(name)
        return kept, functions, values

    def dynamic_call(self, handle: int, name: str, args: object, kwargs: object) -> object:
        """Call a function of a module ``load_dynamic`` returned (tilt_enc'd arguments)."""
        caller = self.call_shims.get((handle, name))
        if caller is None:
            caller = _call_shim(self.dynamic_modules[handle], name)
            self.call_shims[handle, name] = caller
        try:
            got = caller.call_with(sl.EvalOptions(), "call", name, args, kwargs).value
        except sl.StarlarkError as e:
            err = _convert_error(e, self)
            if err.location is None:
                # Failed in the crossing itself: the caller's line is the place to name.
                raise TiltfileError(err.message) from None
            if self.inner_error is None:
                self.inner_error = err
            raise
        return _wrap_result(got)


def _call_shim(frozen: sl.FrozenModule, name: str) -> sl.FrozenModule:
    """A module whose ``call(name, args, kwargs)`` calls ``frozen``'s function ``name``.

    The arguments come tilt_enc'd (through Python); they are decoded, and the result is
    encoded, so tuples and structs cross as themselves.
    """
    src = (
        f"load('m', __tilt_fn={_symbol(name)!r})\n"
        f"load({DIALECT_MODULE!r}, enc='tilt_enc', dec='tilt_dec')\n"
        "def call(name, args, kwargs):\n"
        "    return enc('the result of ' + name, __tilt_fn(*dec(args), **dec(kwargs)))\n"
    )
    mod = sl.Module()
    loader = sl.FileLoader(lambda spec: _dialect_module() if spec == DIALECT_MODULE else frozen)
    sl.eval(mod, sl.parse(PRELUDE, src, _dialect()), _globals(), loader)
    return mod.freeze()


# The public alias of a file's ``_name`` global (see _Run._alias_private_globals).
PRIVATE_ALIAS = "tilt_private_global"


def _maybe_private(text: str) -> bool:
    """A cheap test before parsing: can the file bind a ``_`` name at all?

    (Substring scans: a regex over a large Tiltfile costs 2 ms, these 0.6 ms.)
    """
    return text.startswith("_") or any(s in text for s in ("\n_", " _", "\t_", "(_", ",_", "[_"))


def _symbol(name: str) -> str:
    """The name ``load()`` imports for a global of a file: private ones by their alias."""
    return PRIVATE_ALIAS + name if name.startswith("_") else name


def _exported_names(src: str) -> list[str]:
    """The names Tilt's load_dynamic returns: all the file's top-level globals."""
    return _global_names(src) + _global_names(src, private=True)


def _global_names(src: str, *, private: bool = False) -> list[str]:
    """The public (or, with ``private``, the ``_``-prefixed) names a file binds at its top
    level."""
    return [n for n in _top_level_names(src) if n.startswith("_") == private]


@functools.lru_cache(maxsize=64)
def _top_level_names(src: str) -> tuple[str, ...]:
    """The names a file binds at its top level, parsed once per text (the private-alias
    step after a file runs and a later load_dynamic of it both ask)."""
    import ast

    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return ()
    names: dict[str, None] = {}

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names[node.id] = None
        elif isinstance(node, ast.Tuple | ast.List):
            for elt in node.elts:
                targets(elt)

    def walk(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef):
                names[stmt.name] = None
            elif isinstance(stmt, ast.Assign):
                for t in stmt.targets:
                    targets(t)
            elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
                targets(stmt.target)
            elif isinstance(stmt, ast.For):
                targets(stmt.target)
                walk(stmt.body)
            elif isinstance(stmt, ast.If | ast.While):
                walk(stmt.body)
                walk(stmt.orelse)

    walk(tree.body)
    return tuple(n for n in names if not n.startswith(PRIVATE_ALIAS))


def _constant_value(value: object, ctx: Ctx) -> object:
    if callable(value) and not isinstance(value, Enum):
        value = value(ctx)
    return _wrap_result(value)


def evaluate(state: LoadState) -> None:
    """Run the main Tiltfile of ``state``; builtins record what it declares into ``state``.

    Raises:
        TiltfileLoadError: the first error, with its location.
    """
    import tempfile

    from tilt.tiltfile._apply import SPOOL_ENV, read_spool, remove_spool
    from tilt.tiltfile._v1alpha1 import ensure_object

    run = _Run(state)
    state.family(_RunHolder).run = run
    _BLOBS.clear()
    # `tilt apply -f` run by local() during the load appends its objects here (see _apply).
    fd, spool = tempfile.mkstemp(prefix="tilt-apply-", suffix=".jsonl")
    os.close(fd)
    state.env = {**state.env, SPOOL_ENV: spool}
    try:
        run.run_file(state.main_path)
        for obj in read_spool(spool):
            ensure_object(state, obj)  # the Tiltfile's own object of that name wins
    except TiltfileError as e:
        raise TiltfileLoadError(e.message, e.location) from None
    finally:
        remove_spool(spool)
        _BLOBS.clear()


class _RunHolder:
    run: _Run | None = None


def current_run(state: LoadState) -> _Run:
    run = state.family(_RunHolder).run
    assert run is not None
    return run


doc_section(
    "Starlark dialect",
    """
Tilt runs go.starlark.net with recursion, `while`, `set`, global reassignment and top-level
`if`/`for` allowed, and its scanner takes tab indentation; all of that works here too (on
starlark-pyo3, a file with a tab, a `while` or a set call is rewritten before it is parsed;
error locations stay the file's own lines).

- **Relative paths** resolve against the folder of the file whose *load is running*
  (Tilt's rule): while `lib/Tiltfile` runs its own top-level code, against `lib/`; when the
  main Tiltfile later calls a function `lib/Tiltfile` defines, against the main Tiltfile's
  folder. A helper that wants its own folder uses `os.path.dirname(__file__)`.
- **`__file__`** is predeclared in every file: that file's absolute path.
- **`__name__`** is `"__main__"` in the main Tiltfile and the file's absolute path in a
  file that `load()`, `load_dynamic()` or `include()` runs, so
  `if __name__ == "__main__":` holds only in the main Tiltfile.
- **`"%(name)s" % mapping`**: go.starlark.net's conversions that take their value from a
  dict by key (mixed with `%%` and positional ones) work when the format is a string
  literal (the file is rewritten to call a prelude function); a format held in a
  variable still takes only positional conversions.
- **`set(iterable=[])`** is go.starlark.net's set, as Tilt enables it: `type()` says `set`;
  `len`, `in`, iteration in insertion order, `list()`/`sorted()`, `==`, truth, `str()`/
  `repr()`/`print()` (`set([1, 2])`), the methods `add`, `clear`, `difference`, `discard`,
  `intersection`, `issubset`, `issuperset`, `pop`, `remove`, `symmetric_difference`,
  `union`, and the operators `|`, `&`, `-`, `^`, `<`, `<=`, `>`, `>=` (and `|=`, `&=`,
  `-=`, `^=`); an unhashable element (a list, a dict, a set) is an error naming the line.
  Builtins that take a list of strings take a set. starlark-pyo3 has no set type and
  cannot get one from Python, so a set is a dict whose values are all one marker, and the
  methods and the operators a dict lacks are rewritten into calls (in a file that calls
  `set(` or a set-only method: `add`, `union`, `intersection`, `difference`,
  `symmetric_difference`, `issubset`, `issuperset`, `discard`). What differs from Tilt:
  an **empty** set is indistinguishable from `{}` (`type(set())` is `dict`, it prints
  `{}`, and `set() == {}`); a set nested in a value shows as a set only through
  `str`/`repr`/`print` (not `"%s" %`, `.format()` or `json.encode`); dict methods
  (`keys`, `get`, `items`, indexing) answer on a set instead of failing; and a file that
  never calls `set(` nor a set-only method gets the dict's own `-`, `&`, `^` and
  comparisons, which fail on sets (`remove`/`pop()` on a set there fail too).
- **`load_dynamic(path)`** runs a file whose path is computed (once, like `load`; the path
  relative to the calling file) and returns its top-level names as a frozen dict -- all of
  them, `_`-prefixed ones included, as in Tilt (a name bound only on a branch not taken is
  absent).
  Called in a top-level statement (`lib = load_dynamic(...)`, `x = load_dynamic(p)['f']`),
  the file is cut at that statement and the dict comes in through a `load()`, so its
  values are the loaded file's own: functions take any arguments (functions, structs,
  tuples, sets) and return any value, structs stay structs. Elsewhere -- inside a function,
  a loop, a branch, a comprehension, a conditional expression -- or in a file where that
  cut would hide a later global from a function defined before the call, its functions are
  proxies whose arguments and results cross as data (strings, numbers, lists, tuples,
  dicts, sets, structs, None, values builtins return) but not as functions (an error names
  the call), and a top-level value holding functions is left out, with a warning. Either
  way, relative paths in the loaded file's functions resolve against the file whose load
  is running (the caller's, for a call from the main Tiltfile). `load()` itself still
  cannot import a `_` name: after a file runs, each of its bound `_name` globals gets a
  public alias (`tilt_private_global_name`), which is what load_dynamic imports.
- **Values builtins return** (live_update steps, `probe()`, `link()`, `port_forward()`,
  trigger modes): `type()` gives Tilt's type name (`live_update_sync_step`,
  `live_update_run_step`, `live_update_fall_back_on_step`,
  `live_update_restart_container_step`, `Probe`, `link`, `port_forward`, `trigger_mode`...)
  and `str()`/`repr()`/`print()` of a live_update step its Tilt text (`sync step:
  'LOCAL'->'REMOTE'`; a run step's triggers are shown absolute). What differs from Tilt:
  a Blob is a plain string, so `type()` of what `blob()`, `local()`, `read_file()`,
  `helm()`... return is `string` (Tilt: `blob`), and `"%s" %`/`.format()` of a step show
  `<opaque python object>`.
""",
)

doc_section(
    "Checks where Tilt is silent",
    """
Where Tilt accepts a Tiltfile, so does this tilt; a check Tilt does not make is at most a
warning (shown in the Tiltfile log and in `tilt dump tiltfile`'s `warnings`). The places
where this tilt warns and Tilt says nothing:

- `live_update`: a `run(..., trigger=[...])` path that lies outside every `sync()` source
  of the same live_update (the step can never fire: no change there is synced).
- `k8s_kind('')`: an empty kind (an empty regexp: every kind of object matches).
- `ext://` loads: a branch of an extension repository that cannot be updated at
  `tilt up` (offline); the copy fetched earlier is used. (Tilt logs the fetch error on the
  ExtensionRepo object and retries with a back-off instead.)
- `probe()`: `initial_delay_secs` < 0, or `timeout_secs`, `period_secs`,
  `success_threshold`, `failure_threshold` < 1: the default (0, 1, 10, 1, 3) is used.
- `http_get_action()` / `tcp_socket_action()`: a port outside 1-65535, and
  `http_get_action(scheme=)` other than `http`/`https`: the probe loads and fails on each
  attempt (as Tilt's does).
- `exec_action([])`: an empty command; the probe fails on each attempt.
- `docker_build(context=)`: a context that does not exist (or is not a folder) when the
  Dockerfile does not come from it (`dockerfile=` elsewhere or `dockerfile_contents=`);
  Tilt reads only the Dockerfile at load. (With the default `<context>/Dockerfile`, Tilt
  fails reading it, and so does this tilt.)
- `docker_build(only=)`: an entry outside the context (it matches nothing).
- `port_forward()`: a port outside 0-65535, or a `host=` that is not a hostname or IP
  address (Tilt checks both only in the `port_forwards=` int and `'host:local:container'`
  string forms, which stay errors here too).
- `test(timeout=)`: a string that is not a duration (Tilt documents `timeout` and never
  reads it); the test runs without a limit.
- `ci_settings()`: a negative duration (`timeout='-5m'`); Tilt parses it with Go's
  `time.ParseDuration`, which keeps the sign, and stores it. Here the setting is ignored
  (the default stays).
- `live_update` of an image that no resource deploys: its `sync()` sources and
  `fall_back_on()` files are not checked against what the image watches (Tilt checks
  only deployed images; the image gets the "Image not used" warning).
- `link()` and `links=` strings: whitespace outside the host (`'localhost:8000/a b'`).
  Whitespace in the host, a control character or an empty URL are errors, as Go's
  `url.Parse` makes them in Tilt.

Each converted check has a test that the Tiltfile loads, with its warning at file:line
(`tests/tiltfile/test_compat_validation.py`).

Argument types follow Tilt's too: where Tilt takes a string or a list of strings it takes
any Starlark sequence, so a `set()` works there (`deps=`, `resource_deps=`, `ignore=`,
`only=`, `extra_tag=`, ...). Env and build-arg values may also be numbers or bools
(stringified; beyond Tilt, which wants strings or Blobs).
""",
)
