"""Tilt's Starlark dialect on starlark-pyo3: tab indentation, ``while`` loops, set operators.

Tilt runs go.starlark.net with recursion, ``while``, ``set``, global reassignment and
top-level ``if``/``for`` allowed (``starkit/environment.go``), and its scanner takes tabs
(a tab advances the indentation to the next multiple of 8). starlark-pyo3 has recursion,
reassignment and top-level statements, but its lexer rejects tabs and reserves ``while``.
So before parsing, a file that has either is rewritten:

- a tab outside a string becomes spaces (to the next multiple of 8 in indentation, one
  space elsewhere);
- ``while COND:`` becomes ``for __tilt_w in __tilt_while():`` followed by the guard
  ``if not (COND): break`` as the first statement of the body, so ``break`` and
  ``continue`` keep their meaning.

The rewrite adds lines; `Rewritten.line_map` maps each line of the rewritten text back to
the line of the user's file, so error locations stay the user's.

go.starlark.net's ``set`` has no native counterpart in starlark-pyo3 (whose values cannot be
extended from Python), so a set is a dict whose keys are the elements and whose values are
all `SET_MARK` (the prelude's ``set()`` builds one; ``type()``/``str()`` know it). ``in``,
``len``, iteration, ``==``, truth and ``|`` are the dict's own. What a dict lacks -- the
set methods and the ``-``, ``&``, ``^``, ``<``, ``<=``, ``>``, ``>=`` operators -- is
rewritten, in a file that calls ``set(`` or a set-only method, into calls of prelude
functions that act on sets and fall back to the native operation for anything else:
``a - b`` becomes ``__tilt_sub(a, b)``, ``s.union(x)`` becomes ``__tilt_m(s, "union")(x)``.
That rewrite keeps every line where it was.

The same edit machinery turns ``"%(name)s" % mapping`` (a string literal; go.starlark.net
takes the value by key) into a prelude call, and makes ``os.environ`` live as Tilt's is:
reads become ``__tilt_environ()`` (the environment as it is then), and assignments, ``del``
and the changing methods go through ``os.putenv``/``os.unsetenv``.

Files with no tab, no ``while``, no set call, no ``%(`` and no ``os.environ`` are passed
through untouched (the common case costs a few substring searches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ast
    import tokenize
    from collections.abc import Callable

__all__ = [
    "SET_MARK",
    "SET_METHODS",
    "WHILE_ITERATOR",
    "Chunk",
    "DynamicLoad",
    "Rewritten",
    "dynamic_plan",
    "rewrite",
]

# The prelude defines this: an iterable long enough to stand for "forever" (Tilt's while
# loops have no bound either; 2**31-1 iterations is hours of evaluation).
WHILE_ITERATOR = "__tilt_while"
_TAB_STOP = 8
_WHILE_RE = re.compile(r"\bwhile\b")

# The value of every key of a dict that stands for a set (see the module docstring).
SET_MARK = "<set element>"
# go.starlark.net's set methods (library.go, setMethods) that a dict lacks or that mean
# something else on a dict (``pop()`` without an argument); ``clear`` is the dict's own.
SET_METHODS = frozenset(
    {
        "add",
        "difference",
        "discard",
        "intersection",
        "issubset",
        "issuperset",
        "pop",
        "remove",
        "symmetric_difference",
        "union",
    }
)
# A file is rewritten for sets when it calls set() or a method only sets have.
_SET_HINTS = ("set(", "set (", *(f".{m}(" for m in SET_METHODS - {"pop", "remove"}))
_SET_CALL_RE = re.compile(
    r"(?<![\w.])set\s*\(|\.(?:" + "|".join(sorted(SET_METHODS - {"pop", "remove"})) + r")\s*\("
)


@dataclass(frozen=True, kw_only=True)
class Rewritten:
    text: str
    # line_map[i] is the user's line for line i + 1 of ``text``; empty when unchanged.
    line_map: tuple[int, ...] = ()
    # The set rewrite moves columns, not lines: the pieces of ``text`` copied from
    # ``before`` (the text it rewrote), as (offset in text, offset in before, length).
    spans: tuple[tuple[int, int, int], ...] = ()
    before: str = ""

    def original_line(self, line: int) -> int:
        if not self.line_map or not 1 <= line <= len(self.line_map):
            return line
        return self.line_map[line - 1]

    def original_column(self, line: int, column: int) -> int:
        """The column (1-based) in the text before the set rewrite of one in ``text``."""
        import bisect

        if not self.spans or column < 1:
            return column
        at = _line_offset(self.text, line) + column - 1
        i = bisect.bisect_right(self.spans, (at, 1 << 62, 0)) - 1
        if i < 0:
            return column
        out, orig, length = self.spans[i]
        orig += min(at - out, length)  # inside inserted text: where the copy ended
        return orig - (self.before.rfind("\n", 0, orig) + 1) + 1


def _line_offset(text: str, line: int) -> int:
    pos = 0
    for _ in range(line - 1):
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
    return pos


def rewrite(src: str) -> Rewritten:
    """The source in the dialect starlark-pyo3 parses (see the module docstring)."""
    has_tab = "\t" in src
    # The substring test first: a regexp over a large Tiltfile costs milliseconds.
    has_while = "while" in src and _WHILE_RE.search(src) is not None
    has_set = any(h in src for h in _SET_HINTS) and _SET_CALL_RE.search(src) is not None
    has_keys = "%(" in src
    has_environ = "os.environ" in src
    if not (has_tab or has_while or has_set or has_keys or has_environ):
        return Rewritten(text=src)
    text = _expand_tabs(src) if has_tab else src
    out = _rewrite_while(text) if has_while else Rewritten(text=text)
    if has_set or has_keys or has_environ:
        text, spans = _rewrite_sets(out.text, sets=has_set, keys=has_keys, environ=has_environ)
        if spans:
            out = Rewritten(text=text, line_map=out.line_map, spans=spans, before=out.text)
    return out


def _tokens(src: str) -> list[tokenize.TokenInfo] | None:
    import io
    import tokenize

    try:
        return list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None  # let the Starlark parser report it


def _line_offsets(src: str) -> list[int]:
    offsets = [0, 0]  # 1-based rows
    for i, ch in enumerate(src):
        if ch == "\n":
            offsets.append(i + 1)
    return offsets


def _string_spans(src: str, tokens: list[tokenize.TokenInfo]) -> list[tuple[int, int]]:
    import tokenize

    lines = _line_offsets(src)
    return [
        (lines[t.start[0]] + t.start[1], lines[t.end[0]] + t.end[1])
        for t in tokens
        if t.type == tokenize.STRING
    ]


def _expand_tabs(src: str) -> str:
    tokens = _tokens(src)
    spans = _string_spans(src, tokens) if tokens is not None else []
    out: list[str] = []
    col = 0
    in_indent = True
    span_i = 0
    i = 0
    while i < len(src):
        while span_i < len(spans) and spans[span_i][1] <= i:
            span_i += 1
        if span_i < len(spans) and spans[span_i][0] <= i < spans[span_i][1]:
            end = spans[span_i][1]
            chunk = src[i:end]
            out.append(chunk)
            nl = chunk.rfind("\n")
            col = len(chunk) - nl - 1 if nl >= 0 else col + len(chunk)
            in_indent = False
            i = end
            continue
        ch = src[i]
        if ch == "\t":
            width = _TAB_STOP - col % _TAB_STOP if in_indent else 1
            out.append(" " * width)
            col += width
        else:
            out.append(ch)
            if ch == "\n":
                col = 0
                in_indent = True
            else:
                col += 1
                if ch != " ":
                    in_indent = False
        i += 1
    return "".join(out)


class _Builder:
    """Output text plus, for each output line, the user's line it came from."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.line_map: list[int] = []
        self._at_line_start = True

    def add(self, text: str, orig_line: int, *, synthetic: bool = False) -> None:
        line = orig_line
        for piece in text.splitlines(keepends=True):
            if self._at_line_start:
                self.line_map.append(line)
            self.parts.append(piece)
            self._at_line_start = piece.endswith("\n")
            if self._at_line_start and not synthetic:
                line += 1


def _rewrite_while(src: str) -> Rewritten:
    import tokenize

    tokens = _tokens(src)
    if tokens is None:
        return Rewritten(text=src)
    lines = _line_offsets(src)

    def off(pos: tuple[int, int]) -> int:
        return lines[pos[0]] + pos[1]

    out = _Builder()
    pos = 0  # offset in src copied so far
    changed = False
    pos_line = 1
    prev = tokenize.NEWLINE  # the previous significant token's type
    for i, tok in enumerate(tokens):
        starts_stmt = prev in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            prev = tok.type
        if not (tok.type == tokenize.NAME and tok.string == "while" and starts_stmt):
            continue
        colon = _header_colon(tokens, i + 1)
        if colon is None:
            continue
        after = colon + 1
        while after < len(tokens) and tokens[after].type == tokenize.COMMENT:
            after += 1
        if after >= len(tokens):
            continue
        row = tok.start[0]
        indent = " " * tok.start[1]
        cond = src[off(tok.end) : off(tokens[colon].start)].strip(" ")
        cond_line = tokens[i + 1].start[0]
        block = tokens[after].type == tokenize.NEWLINE
        body_indent = ""
        if block:
            body = after + 1
            while body < len(tokens) and tokens[body].type in (tokenize.NL, tokenize.COMMENT):
                body += 1
            if body >= len(tokens) or tokens[body].type != tokenize.INDENT:
                continue  # not a well-formed loop: the parser will say why
            body_indent = tokens[body].string
        changed = True
        out.add(src[pos : off(tok.start)], pos_line)
        header = f"for __tilt_w in {WHILE_ITERATOR}():"
        if block:
            # Block body: the guard goes first in the body, at the body's indentation.
            eol = off(tokens[after].end)
            out.add(header, row, synthetic=True)
            out.add(src[off(tokens[colon].end) : eol], tokens[colon].start[0])
            out.add(f"{body_indent}if not (", row, synthetic=True)
            out.add(cond, cond_line)
            out.add("): break\n", row, synthetic=True)
            pos, pos_line = eol, tokens[after].end[0] + 1
        else:
            # Simple statements on the header's line.
            inner = indent + "    "
            out.add(header + "\n", row, synthetic=True)
            out.add(f"{inner}if not (", row, synthetic=True)
            out.add(cond, cond_line)
            out.add("): break\n", row, synthetic=True)
            out.add(inner, row, synthetic=True)
            start = off(tokens[colon].end)
            while start < len(src) and src[start] == " ":
                start += 1
            pos, pos_line = start, tokens[colon].end[0]
    if not changed:
        return Rewritten(text=src)
    out.add(src[pos:], pos_line)
    return Rewritten(text="".join(out.parts), line_map=tuple(out.line_map))


def _header_colon(tokens: list[tokenize.TokenInfo], start: int) -> int | None:
    """The index of the ``:`` that ends a compound statement's header (bracket depth 0)."""
    import tokenize

    depth = 0
    for j in range(start, len(tokens)):
        t = tokens[j]
        lambda_at_top = t.type == tokenize.NAME and t.string == "lambda" and depth == 0
        if t.type == tokenize.NEWLINE or lambda_at_top:
            return None
        if t.type == tokenize.OP:
            if t.string in "([{":
                depth += 1
            elif t.string in ")]}":
                depth -= 1
            elif t.string == ":" and depth == 0:
                return j
    return None


# --- set operators and methods -------------------------------------------------------------

_BINOPS = {"Sub": ("__tilt_sub", "-"), "BitAnd": ("__tilt_and", "&"), "BitXor": ("__tilt_xor", "^")}
_CMPOPS = {"Lt": "__tilt_lt", "LtE": "__tilt_le", "Gt": "__tilt_gt", "GtE": "__tilt_ge"}


def _is_environ(node: ast.AST) -> bool:
    """Whether ``node`` is the expression ``os.environ``."""
    import ast

    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _rewrite_sets(
    src: str, *, sets: bool = True, keys: bool = False, environ: bool = False
) -> tuple[str, tuple[tuple[int, int, int], ...]]:
    """``src`` with set operators and methods (``sets``), ``%`` of a string literal that
    names mapping keys (``keys``: ``"%(name)s" % d``) and uses of ``os.environ``
    (``environ``: Tilt's is a live view of the environment) turned into prelude calls
    (same lines), and the pieces it copied from ``src`` (see `Rewritten.spans`); no
    pieces: unchanged."""
    import ast

    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return src, ()  # the Starlark parser reports it
    off = _offsets(src)  # ast columns count UTF-8 bytes

    def start(node: ast.AST) -> int:
        return off(getattr(node, "lineno", None), getattr(node, "col_offset", None))

    def end(node: ast.AST) -> int:
        return off(getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None))

    # (position, rank, text, end of the replaced span): rank orders edits at one position.
    edits: list[tuple[int, int, str, int]] = []

    def wrap(node: ast.AST, fn: str) -> None:
        a, b = start(node), end(node)
        edits.append((a, -(b - a), fn + "(", a))  # outer calls open first
        edits.append((b, -(1 << 40), ")", b))  # closes before any open at the same spot

    def op_token(lo: int, hi: int, token: str) -> int:
        """Where ``token`` is between two operands (skipping parentheses and comments)."""
        i = lo
        while i < hi:
            ch = src[i]
            if ch == "#":
                nl = src.find("\n", i, hi)
                i = hi if nl < 0 else nl
                continue
            if src.startswith(token, i):
                return i
            i += 1
        return -1

    handled: set[int] = set()  # os.environ nodes an enclosing rewrite already covers
    for node in ast.walk(tree):
        if environ:
            _rewrite_environ(node, src, handled=handled, edits=edits, start=start, end=end)
        if (
            keys
            and isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and "%(" in node.left.value
        ):
            # go.starlark.net's `%(name)s` conversions take their value from a mapping;
            # starlark-pyo3 knows only positional ones.
            at = op_token(end(node.left), start(node.right), "%")
            if at >= 0:
                wrap(node, "__tilt_fmt")
                edits.append((at, 0, ",", at + 1))
        if not sets:
            continue
        if isinstance(node, ast.BinOp) and type(node.op).__name__ in _BINOPS:
            fn, tok = _BINOPS[type(node.op).__name__]
            at = op_token(end(node.left), start(node.right), tok)
            if at < 0:
                continue
            wrap(node, fn)
            edits.append((at, 0, ",", at + 1))
        elif (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and type(node.ops[0]).__name__ in _CMPOPS
        ):
            tok = {"Lt": "<", "LtE": "<=", "Gt": ">", "GtE": ">="}[type(node.ops[0]).__name__]
            lo, hi = end(node.left), start(node.comparators[0])
            at = op_token(lo, hi, tok)
            # "<" must not be read as the start of "<=" (nor ">" of ">=").
            if at < 0 or (len(tok) == 1 and src.startswith(tok + "=", at)):
                continue
            wrap(node, _CMPOPS[type(node.ops[0]).__name__])
            edits.append((at, 0, ",", at + len(tok)))
        elif isinstance(node, ast.AugAssign) and type(node.op).__name__ in _BINOPS:
            fn, tok = _BINOPS[type(node.op).__name__]
            target = src[start(node.target) : end(node.target)]
            at = op_token(end(node.target), start(node.value), tok + "=")
            if at < 0 or "\n" in target:
                continue
            edits.append((at, 0, f"= {fn}({target},", at + 2))
            edits.append((end(node), -(1 << 40), ")", end(node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SET_METHODS
            and not (node.func.attr == "pop" and (node.args or node.keywords))
        ):
            attr = node.func
            name_at = end(attr) - len(attr.attr)
            dot = src.rfind(".", end(attr.value), name_at)
            if dot < 0:
                continue
            a = start(attr)
            edits.append((a, -(end(attr) - a), "__tilt_m(", a))
            edits.append((dot, 0, f', "{attr.attr}")', end(attr)))
    if not edits:
        return src, ()
    edits.sort(key=lambda e: (e[0], e[1]))
    out: list[str] = []
    spans: list[tuple[int, int, int]] = []
    size = 0
    pos = 0
    for at, _rank, text, stop in edits:
        if at > pos:
            spans.append((size, pos, at - pos))
            out.append(src[pos:at])
            size += at - pos
        out.append(text)
        size += len(text)
        pos = max(pos, stop, at)
    spans.append((size, pos, len(src) - pos))
    out.append(src[pos:])
    return "".join(out), tuple(spans)


# go.starlark.net's dict methods that Tilt's os.environ has and that change it.
_ENVIRON_METHODS = ("update", "setdefault", "pop", "popitem", "clear")


def _rewrite_environ(
    node: ast.AST,
    src: str,
    *,
    handled: set[int],
    edits: list[tuple[int, int, str, int]],
    start: Callable[[ast.AST], int],
    end: Callable[[ast.AST], int],
) -> None:
    """Edits that make ``os.environ`` live, as Tilt's is (os/environ.go).

    ``os.environ[K] = V`` becomes ``os.putenv(K, V)``, ``del os.environ[K]`` and the
    changing methods (``update``, ``setdefault``, ``pop``, ``popitem``, ``clear``) call
    prelude functions that go through ``os.putenv``/``os.unsetenv``, and any other
    ``os.environ`` becomes ``__tilt_environ()``: a dict of the environment as it is now.
    (``ast.walk`` visits a node before its children, so the enclosing forms claim their
    ``os.environ`` first.)
    """
    import ast

    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Subscript)
        and _is_environ(node.targets[0].value)
    ):
        target = node.targets[0]
        bracket = src.find("[", end(target.value), start(target.slice))
        if bracket >= 0:
            handled.add(id(target.value))
            edits.append((start(target.value), 0, "os.putenv(", bracket + 1))
            edits.append((end(target.slice), 0, ", ", start(node.value)))
            edits.append((end(node.value), -(1 << 40), ")", end(node.value)))
    elif (
        isinstance(node, ast.Delete)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Subscript)
        and _is_environ(node.targets[0].value)
    ):
        target = node.targets[0]
        handled.add(id(target.value))
        edits.append((start(node), 0, "__tilt_environ_pop(", start(target.slice)))
        edits.append((end(target.slice), 0, ", None)", end(node)))
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _ENVIRON_METHODS
        and _is_environ(node.func.value)
    ):
        handled.add(id(node.func.value))
        edits.append((start(node.func), 0, f"__tilt_environ_{node.func.attr}", end(node.func)))
    elif (
        _is_environ(node)
        and id(node) not in handled
        and isinstance(getattr(node, "ctx", None), ast.Load)
    ):
        edits.append((start(node), 0, "__tilt_environ()", end(node)))


# --- load_dynamic at the top level --------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DynamicLoad:
    """One top-level ``load_dynamic(EXPR)`` call, hoisted out of its statement."""

    index: int  # names it: __tilt_dyn_<index> is the dict
    arg: str  # a chunk that hands EXPR to __tilt_dyn_path(<index>, EXPR), EXPR on its line
    line: int  # the statement's first line


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """Source evaluated as one unit: padded with newlines so its lines are the file's."""

    loads: tuple[DynamicLoad, ...]  # evaluated first, in order
    text: str


def dynamic_plan(src: str) -> list[Chunk] | None:
    """``src`` cut at each top-level statement that calls ``load_dynamic(EXPR)``.

    Only a ``load()`` can bring a module's values -- functions included -- into another
    module, so a top-level ``x = load_dynamic(EXPR)`` runs as: the file up to that
    statement; ``__tilt_dyn_path(N, (EXPR))``; (the loader loads that path and makes a
    module whose ``exports`` is the dict of its globals) ``load(..., __tilt_dyn_N =
    "exports")``; then the statement with the call replaced by ``__tilt_dyn_N``, and the
    rest. None when nothing can be hoisted, or when cutting would change what a function
    sees (a function defined before a cut that reads a global bound after it: each chunk
    binds its own globals, which functions compiled earlier do not see).
    """
    import ast

    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return None
    off = _offsets(src)
    lines = src.splitlines(keepends=True)

    def line_start(lineno: int) -> int:
        return off(lineno, 0)

    cuts: list[tuple[ast.stmt, list[ast.Call]]] = []
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr):
            continue
        calls = _hoistable_calls(stmt)
        if not calls or stmt.col_offset != 0:
            continue
        assert stmt.end_lineno is not None and stmt.end_col_offset is not None
        rest = lines[stmt.end_lineno - 1].encode()[stmt.end_col_offset :].decode().strip()
        if rest and not rest.startswith("#"):
            continue  # another statement shares the line
        cuts.append((stmt, calls))
    if not cuts or not _cuts_keep_meaning(tree.body, [c[0] for c in cuts]):
        return None

    starts = [line_start(stmt.lineno) for stmt, _ in cuts] + [len(src)]
    chunks = [Chunk(loads=(), text=src[: starts[0]])]
    n = 0
    for k, (stmt, calls) in enumerate(cuts):
        start = starts[k]
        text = src[start : starts[k + 1]]
        loads: list[DynamicLoad] = []
        # Replace from the last call so the earlier offsets stay valid.
        for i, call in reversed(list(enumerate(calls))):
            a, b = off(call.lineno, call.col_offset), off(call.end_lineno, call.end_col_offset)
            arg = call.args[0]
            arg_a, arg_b = off(arg.lineno, arg.col_offset), off(arg.end_lineno, arg.end_col_offset)
            idx = n + i
            # Parenthesized, so the newlines that keep the next lines in place are legal.
            here = f"(__tilt_dyn_{idx}" + "\n" * src.count("\n", a, b) + ")"
            text = text[: a - start] + here + text[b - start :]
            assign = f"__tilt_dyn_path({idx}, (" + src[arg_a:arg_b] + "))\n"
            loads.insert(0, DynamicLoad(index=idx, arg=_pad(src, arg_a) + assign, line=stmt.lineno))
        n += len(calls)
        chunks.append(Chunk(loads=tuple(loads), text=_pad(src, start) + text))
    return chunks


def _pad(src: str, offset: int) -> str:
    """Newlines that put text starting at ``offset`` of ``src`` on its own line number."""
    return "\n" * src.count("\n", 0, offset)


def _offsets(src: str) -> Callable[[int | None, int | None], int]:
    """Turns an ``ast`` (line, UTF-8 byte column) into an offset in ``src``."""
    lines = src.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def off(lineno: int | None, col: int | None) -> int:
        assert lineno is not None and col is not None
        if lineno > len(lines):
            return len(src)
        line = lines[lineno - 1]
        chars = col if line.isascii() else len(line.encode()[:col].decode(errors="replace"))
        return starts[lineno - 1] + chars

    return off


def _hoistable_calls(stmt: ast.stmt) -> list[ast.Call]:
    """The ``load_dynamic(EXPR)`` calls of a statement that run once, at its top level."""
    import ast

    out: list[ast.Call] = []

    def visit(node: ast.AST) -> None:
        if isinstance(
            node, ast.Lambda | ast.ListComp | ast.DictComp | ast.SetComp | ast.GeneratorExp
        ):
            return
        if isinstance(node, ast.IfExp | ast.BoolOp):
            return  # evaluated only on one branch
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "load_dynamic"
            and len(node.args) == 1
            and not node.keywords
            and not isinstance(node.args[0], ast.Starred)
            and not any(
                (isinstance(n, ast.Name) and n.id.startswith("__tilt_dyn"))
                or (
                    isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Name)
                    and n.func.id == "load_dynamic"
                )
                for n in ast.walk(node.args[0])
            )
        ):
            out.append(node)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(stmt)
    return out


def _cuts_keep_meaning(body: list[ast.stmt], cuts: list[ast.stmt]) -> bool:
    """Whether no function defined before a cut reads a global bound at or after it."""
    import ast

    chunk_of: list[int] = []
    k = 0
    cut_ids = {id(c) for c in cuts}
    for stmt in body:
        if id(stmt) in cut_ids:
            k += 1
        chunk_of.append(k)
    read_in_functions: dict[int, set[str]] = {}
    bound: dict[int, set[str]] = {}
    for stmt, chunk in zip(body, chunk_of, strict=True):
        reads = read_in_functions.setdefault(chunk, set())
        binds = bound.setdefault(chunk, set())
        for node in ast.walk(stmt):
            if isinstance(node, ast.FunctionDef | ast.Lambda):
                reads.update(
                    n.id
                    for n in ast.walk(node)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                )
        binds.update(_top_level_bindings(stmt))
    for i, reads in read_in_functions.items():
        for j, binds in bound.items():
            if j > i and reads & binds:
                return False
    return True


def _top_level_bindings(stmt: ast.stmt) -> set[str]:
    """The global names a top-level statement binds (not inside a function)."""
    import ast

    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef):
            out.add(node.name)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "load"
        ):
            out.update(k.arg for k in node.keywords if k.arg)
            out.update(
                a.value
                for a in node.args[1:]
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(stmt)
    return out
