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

Files with no tab, no ``while`` and no set call are passed through untouched (the common
case costs a few substring searches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tokenize

__all__ = ["SET_MARK", "SET_METHODS", "WHILE_ITERATOR", "Rewritten", "rewrite"]

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

    def original_line(self, line: int) -> int:
        if not self.line_map or not 1 <= line <= len(self.line_map):
            return line
        return self.line_map[line - 1]


def rewrite(src: str) -> Rewritten:
    """The source in the dialect starlark-pyo3 parses (see the module docstring)."""
    has_tab = "\t" in src
    # The substring test first: a regexp over a large Tiltfile costs milliseconds.
    has_while = "while" in src and _WHILE_RE.search(src) is not None
    has_set = any(h in src for h in _SET_HINTS) and _SET_CALL_RE.search(src) is not None
    if not has_tab and not has_while and not has_set:
        return Rewritten(text=src)
    text = _expand_tabs(src) if has_tab else src
    out = _rewrite_while(text) if has_while else Rewritten(text=text)
    if has_set:
        out = Rewritten(text=_rewrite_sets(out.text), line_map=out.line_map)
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


def _rewrite_sets(src: str) -> str:
    """``src`` with set operators and methods turned into prelude calls (same lines)."""
    import ast

    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return src  # the Starlark parser reports it
    lines = src.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def off(lineno: int | None, col: int | None) -> int:
        assert lineno is not None and col is not None
        line = lines[lineno - 1] if lineno <= len(lines) else ""
        # ast columns count UTF-8 bytes.
        chars = col if line.isascii() else len(line.encode()[:col].decode(errors="replace"))
        return starts[lineno - 1] + chars

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

    for node in ast.walk(tree):
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
        return src
    edits.sort(key=lambda e: (e[0], e[1]))
    out: list[str] = []
    pos = 0
    for at, _rank, text, stop in edits:
        out.append(src[pos:at])
        out.append(text)
        pos = max(pos, stop, at)
    out.append(src[pos:])
    return "".join(out)
