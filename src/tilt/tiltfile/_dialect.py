"""Tilt's Starlark dialect on starlark-pyo3: tab indentation and ``while`` loops.

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
the line of the user's file, so error locations stay the user's. Files with neither a tab
nor ``while`` are passed through untouched (the common case costs one substring search).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tokenize

__all__ = ["WHILE_ITERATOR", "Rewritten", "rewrite"]

# The prelude defines this: an iterable long enough to stand for "forever" (Tilt's while
# loops have no bound either; 2**31-1 iterations is hours of evaluation).
WHILE_ITERATOR = "__tilt_while"
_TAB_STOP = 8
_WHILE_RE = re.compile(r"\bwhile\b")


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
    if not has_tab and not has_while:
        return Rewritten(text=src)
    text = _expand_tabs(src) if has_tab else src
    if has_while:
        return _rewrite_while(text)
    return Rewritten(text=text)


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
